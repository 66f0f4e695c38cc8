// Wires config, engine, metrics, admin and gRPC servers together, and shuts them down.
//
// Start order: admin server (so /healthz answers and /readyz says "starting"), compile rules,
// bind gRPC, then ready (/readyz 200, health SERVING).
// Shutdown: /readyz 503 + health NOT_SERVING, stop accepting, drain in-flight checks (bounded),
// flush security events (bounded; spooled ones stay on disk), then close the admin server.
import type { Logger } from 'pino';
import type { SidewallConfig } from '../config/config.js';
import { packageVersion } from '../config/paths.js';
import { EventPipeline } from '../events/pipeline.js';
import { startAdminServer, type AdminServerHandle } from './admin.js';
import { CheckService, type WafLike } from './check-service.js';
import type { EngineSource } from './engine-provider.js';
import { startGrpcServer, type GrpcServerHandle } from './grpc-server.js';
import { HealthService } from './health.js';
import { Metrics } from './metrics.js';
import { ShadowEvaluator, StagedMetrics } from './shadow.js';

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export type AppState = 'starting' | 'ready' | 'draining' | 'stopped';

/** Engines that may change while serving (live reload, per-namespace settings; see reload.ts). */
export interface EngineHost {
  /** Picks the engine for each check. */
  readonly source: EngineSource;
  /** The current base engine (mode and rule count for logs; App.waf). */
  readonly base: WafLike;
  /** Forces a reload (SIGHUP). Never rejects. */
  reload(reason?: 'signal' | 'request'): Promise<unknown>;
  /** Stops watching files. */
  close(): void;
}

export interface AppOptions {
  config: SidewallConfig;
  logger: Logger;
  /** Builds the engine; called once the admin server listens. Its exceptions propagate. */
  loadEngine?: () => WafLike;
  /** Instead of loadEngine: starts reloadable engines, with the app's metrics. Its exceptions propagate. */
  startEngines?: (deps: { metrics: Metrics; logger: Logger }) => Promise<EngineHost>;
  /** How long a graceful shutdown waits for in-flight checks before cancelling them. */
  drainTimeoutMs?: number;
  /** Collect default process metrics (default true). */
  defaultMetrics?: boolean;
  /** Runs once everything is loaded and bound, just before the app reports ready (nothing served yet). */
  beforeReady?: () => void;
}

export interface App {
  readonly grpcAddress: string;
  readonly adminAddress: string;
  /** http://host:port of the admin server, null when it listens on a unix socket. */
  readonly adminUrl: string | null;
  readonly metrics: Metrics;
  readonly health: HealthService;
  readonly waf: WafLike;
  /** The reloadable engines when started with startEngines, else null. */
  readonly engines: EngineHost | null;
  readonly state: AppState;
  /** Graceful shutdown; safe to call more than once. */
  shutdown(reason?: string): Promise<'graceful' | 'forced'>;
}

export async function startApp(options: AppOptions): Promise<App> {
  const { config, logger } = options;
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics });
  const health = new HealthService();
  let state: AppState = 'starting';
  let check: CheckService | null = null;

  const admin: AdminServerHandle = await startAdminServer(config.admin, {
    metrics,
    readiness: () => {
      if (state !== 'ready') return state === 'starting' ? 'starting' : 'draining';
      // Only readiness reflects overload (opt-in); liveness and gRPC health stay SERVING.
      return config.readyWhenOverloaded === true && check !== null && check.admission.overloaded ? 'overloaded' : 'ready';
    },
    onError: (err) => logger.error({ err: err.message }, 'admin server error'),
  });
  logger.info({ admin: admin.address }, 'admin server listening');

  let waf: WafLike;
  let engines: EngineHost | null = null;
  let grpcServer: GrpcServerHandle;
  let events: EventPipeline | null = null;
  try {
    const t0 = performance.now();
    if (options.startEngines !== undefined) {
      engines = await options.startEngines({ metrics, logger });
      waf = engines.base;
    } else if (options.loadEngine !== undefined) {
      waf = options.loadEngine();
    } else {
      throw new Error('startApp needs loadEngine or startEngines');
    }
    metrics.setRulesLoaded(waf.ruleCount);
    logger.info(
      { rules: config.rules, rule_count: waf.ruleCount, mode: waf.mode, load_ms: Math.round(performance.now() - t0) },
      'rules loaded',
    );
    if (waf.ruleCount === 0 && waf.mode === 'block') {
      logger.warn({ rules: config.rules, mode: waf.mode }, 'rules file loaded zero rules in block mode: every request will be allowed');
    }
    // Security events: before the gRPC server, so spooled events from a previous run are
    // being delivered by the time checks arrive.
    if (config.events?.enabled && (config.events.log || config.events.webhooks.length > 0)) {
      events = new EventPipeline({ config: config.events, logger, metrics: metrics.events, userAgent: `sidewall/${packageVersion()}` });
      logger.info(
        { log: config.events.log, webhooks: config.events.webhooks.map((w) => ({ name: w.name, format: w.format, spool: w.spool?.dir ?? null, auth: w.auth?.type ?? null, signed: w.secret !== null })) },
        'security events enabled',
      );
    }
    check = new CheckService({
      waf,
      failOpen: config.failOpen,
      denyResponse: config.denyResponse,
      logger,
      metrics,
      ...(engines !== null ? { engines: engines.source } : {}),
      events,
      eventsLogged: events !== null && config.events?.log === true,
      ...(config.admission !== undefined ? { admission: config.admission } : {}),
      // Staged policies come with the reloadable engines (settings dir / pod settings).
      afterCheck:
        engines === null
          ? null
          : new ShadowEvaluator({
              metrics: new StagedMetrics(metrics.registry),
              logger,
              events,
              busy: () => check !== null && check.admission.depth > 0,
              ...(config.stagedMaxMs !== undefined ? { maxEvalMs: config.stagedMaxMs } : {}),
            }).hook(
              engines.source,
            ),
    });
    grpcServer = await startGrpcServer(config.listen, { check, health });
  } catch (err) {
    engines?.close();
    await events?.close(0);
    await admin.close();
    throw err;
  }

  options.beforeReady?.();
  state = 'ready';
  health.setStatus('SERVING');
  logger.info(
    { listen: grpcServer.address, admin: admin.address, mode: waf.mode, fail_open: config.failOpen },
    'sidewall ready',
  );

  let stopping: Promise<'graceful' | 'forced'> | null = null;
  const shutdown = (reason = 'shutdown'): Promise<'graceful' | 'forced'> => {
    stopping ??= (async () => {
      state = 'draining';
      engines?.close();
      health.setStatus('NOT_SERVING');
      health.endWatches();
      logger.info({ reason, drain_timeout_ms: drainTimeoutMs }, 'draining: no new checks accepted');
      const how = await grpcServer.shutdown(drainTimeoutMs);
      if (how === 'forced') logger.warn({ drain_timeout_ms: drainTimeoutMs }, 'drain timed out, in-flight checks cancelled');
      if (events !== null && config.events) {
        await events.close(config.events.flushTimeoutMs);
        logger.info('security events flushed');
      }
      await admin.close();
      metrics.overload.close();
      state = 'stopped';
      logger.info({ how }, 'sidewall stopped');
      return how;
    })();
    return stopping;
  };

  return {
    grpcAddress: grpcServer.address,
    adminAddress: admin.address,
    adminUrl: admin.url,
    metrics,
    health,
    waf,
    engines,
    get state() {
      return state;
    },
    shutdown,
  };
}
