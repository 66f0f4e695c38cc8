// `sidewall controller`: one process that (1) serves the Pod mutating admission webhook over HTTPS
// and (2) watches Namespaces, rendering each enabled namespace's sidewall-settings ConfigMap.
// Admin HTTP (/metrics /healthz /readyz) on a separate plain port.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { createJsonLogger } from '../config/logging.js';
import { LOG_LEVELS, parseListenAddress, type LogLevel } from '../config/config.js';
import { packageVersion } from '../config/paths.js';
import { startAdminServer } from '../server/admin.js';
import { resolveNamespacePolicy, type NamespacePolicy } from './annotations.js';
import { ControllerMetrics } from './controller-metrics.js';
import { INJECTOR_FLAGS_USAGE, injectorConfigFromFlags, injectorFlagOptions, type InjectorConfig } from './injector-config.js';
import { KubeClient, SERVICE_ACCOUNT_DIR, inClusterConfig, seg, type KubeConfig } from './kube-client.js';
import { NamespaceWatcher, type NamespaceObject } from './namespace-watcher.js';
import { fileEventSource, RecommendationsController } from './recommendations-controller.js';
import { durationMs } from '../recommend/duration.js';
import { SettingsController } from './settings-controller.js';
import { startWebhookServer } from './webhook-server.js';
import { ensureSelfSignedTls, readTlsFiles, type TlsMaterial } from './webhook-tls.js';

export const CONTROLLER_USAGE = `Usage: sidewall controller [options]

Runs the Sidewall controller: the Pod mutating admission webhook (HTTPS) and the Namespace
watcher that renders each enabled namespace's sidewall-settings ConfigMap.

Options:
      --listen ADDR          webhook HTTPS address (default 0.0.0.0:8443)
      --admin ADDR           admin HTTP address for /metrics /healthz /readyz (default 0.0.0.0:9090)
      --kube-api URL         API server URL (default: in-cluster config)
      --kube-token TOKEN     bearer token (default: the service account token)
      --kube-token-file F    file holding the bearer token
      --kube-ca FILE         CA bundle for an https --kube-api
      --namespace NS         the controller's own namespace (default: POD_NAMESPACE or the service account's)
      --tls MODE             self-signed (default): keep a CA + cert in a Secret and patch caBundle;
                             files: use --tls-cert-file/--tls-key-file (e.g. from cert-manager)
      --tls-cert-file F      serving certificate (PEM), with --tls files
      --tls-key-file F       its private key (PEM), with --tls files
      --service NAME         the webhook's Service name (default sidewall-controller)
      --webhook-config NAME  the MutatingWebhookConfiguration to patch (default sidewall)
      --tls-secret NAME      Secret holding the self-signed certificate (default sidewall-webhook-tls)
      --resync SECONDS       re-read exclusion ConfigMaps and repair settings ConfigMaps this often (default 30)
      --log-level LVL        ${LOG_LEVELS.join(' | ')} (default info)
      --recommend-events P   run the exclusion recommender continuously over the security events in
                             P (file or directory, as sidewall recommend reads; repeatable) and write
                             each namespace's sidewall-recommendations ConfigMap (never applied)
      --recommend-window D   how far back each pass looks: 7d, 24h, 30m (default 7d)
      --recommend-interval D time between passes (default 1h)

${INJECTOR_FLAGS_USAGE}`;

export interface ControllerOptions {
  listen: string;
  admin: string;
  kube: KubeConfig;
  namespace: string;
  tls: { mode: 'self-signed'; service: string; webhookConfig: string; secret: string } | { mode: 'files'; certFile: string; keyFile: string };
  resyncMs: number;
  logLevel: LogLevel;
  injector: InjectorConfig;
  /** The continuous recommender; null = off. */
  recommend: { paths: string[]; windowMs: number; intervalMs: number } | null;
}

/** A usage problem (exit 2, one line). */
export class UsageError extends Error {}

function ownNamespace(flag: string | undefined): string {
  if (flag) return flag;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  try {
    return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
  } catch {
    return 'sidewall-system';
  }
}

export function parseControllerArgs(args: string[]): ControllerOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        admin: { type: 'string' },
        'kube-api': { type: 'string' },
        'kube-token': { type: 'string' },
        'kube-token-file': { type: 'string' },
        'kube-ca': { type: 'string' },
        namespace: { type: 'string' },
        tls: { type: 'string' },
        'tls-cert-file': { type: 'string' },
        'tls-key-file': { type: 'string' },
        service: { type: 'string' },
        'webhook-config': { type: 'string' },
        'tls-secret': { type: 'string' },
        resync: { type: 'string' },
        'log-level': { type: 'string' },
        'recommend-events': { type: 'string', multiple: true },
        'recommend-window': { type: 'string' },
        'recommend-interval': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...injectorFlagOptions,
      },
    }));
  } catch (err) {
    throw new UsageError(`controller: ${(err as Error).message}`);
  }
  if (values.help) return 'help';
  const fail = (m: string): never => {
    throw new UsageError(m);
  };
  const listen = values.listen ?? '0.0.0.0:8443';
  const admin = values.admin ?? '0.0.0.0:9090';
  for (const [flag, v] of [['--listen', listen], ['--admin', admin]] as const) {
    const p = parseListenAddress(v);
    if (typeof p === 'string' || p.kind !== 'tcp') fail(`${flag}: must be host:port (got ${JSON.stringify(v)})`);
  }
  let kube: KubeConfig;
  if (values['kube-api'] !== undefined) {
    if (!/^https?:\/\/[^/]/.test(values['kube-api'])) fail(`--kube-api: must be an http:// or https:// URL (got ${JSON.stringify(values['kube-api'])})`);
    kube = { server: values['kube-api'] };
    if (values['kube-token'] !== undefined) kube.token = values['kube-token'];
    if (values['kube-token-file'] !== undefined) kube.tokenFile = values['kube-token-file'];
    if (values['kube-ca'] !== undefined) {
      try {
        kube.ca = readFileSync(values['kube-ca'], 'utf8');
      } catch (err) {
        fail(`--kube-ca: cannot read ${values['kube-ca']}: ${(err as Error).message}`);
      }
    }
  } else {
    try {
      kube = inClusterConfig();
    } catch (err) {
      return fail((err as Error).message);
    }
    if (values['kube-token'] !== undefined) kube = { ...kube, token: values['kube-token'] };
  }
  const mode = values.tls ?? 'self-signed';
  let tls: ControllerOptions['tls'];
  if (mode === 'self-signed') {
    tls = {
      mode,
      service: values.service ?? 'sidewall-controller',
      webhookConfig: values['webhook-config'] ?? 'sidewall',
      secret: values['tls-secret'] ?? 'sidewall-webhook-tls',
    };
  } else if (mode === 'files') {
    if (!values['tls-cert-file'] || !values['tls-key-file']) fail('--tls files: needs --tls-cert-file and --tls-key-file');
    tls = { mode, certFile: values['tls-cert-file']!, keyFile: values['tls-key-file']! };
  } else {
    return fail(`--tls: must be one of self-signed, files (got ${JSON.stringify(mode)})`);
  }
  const resync = values.resync ?? '30';
  if (!/^[0-9]+(\.[0-9]+)?$/.test(resync) || Number(resync) < 0.1 || Number(resync) > 86400) {
    fail(`--resync: must be a number of seconds 0.1..86400 (got ${JSON.stringify(resync)})`);
  }
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) fail(`--log-level: must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)})`);
  let injector: InjectorConfig;
  try {
    injector = injectorConfigFromFlags(values);
  } catch (err) {
    return fail((err as Error).message);
  }
  const duration = (flag: string, text: string): number => {
    const ms = durationMs(text) ?? 0;
    if (ms <= 0) fail(`${flag}: must be a duration like 7d, 24h, 30m, 90s (got ${JSON.stringify(text)})`);
    return ms;
  };
  let recommend: ControllerOptions['recommend'] = null;
  if (values['recommend-events'] !== undefined) {
    recommend = {
      paths: values['recommend-events'],
      windowMs: duration('--recommend-window', values['recommend-window'] ?? '7d'),
      intervalMs: duration('--recommend-interval', values['recommend-interval'] ?? '1h'),
    };
  } else if (values['recommend-window'] !== undefined || values['recommend-interval'] !== undefined) {
    fail('--recommend-window/--recommend-interval: need --recommend-events PATH');
  }
  return {
    recommend,
    listen,
    admin,
    kube,
    namespace: ownNamespace(values.namespace),
    tls,
    resyncMs: Math.round(Number(resync) * 1000),
    logLevel: logLevel as LogLevel,
    injector,
  };
}

export interface ControllerHandle {
  readonly webhookPort: number;
  readonly adminUrl: string | null;
  stop(): Promise<void>;
}

export async function startController(o: ControllerOptions, logger: Logger): Promise<ControllerHandle> {
  const metrics = new ControllerMetrics();
  const client = new KubeClient(o.kube);
  const settings = new SettingsController({ client, logger, metrics });
  let webhookUp = false;
  const watcher = new NamespaceWatcher(
    client,
    {
      onSync: (all) => settings.sync(all),
      onUpsert: (ns) => settings.upsert(ns),
      onDelete: (ns) => settings.remove(ns),
    },
    { logger, onRestart: (reason) => metrics.watchRestart(reason) },
  );
  const admin = await startAdminServer(o.admin, {
    metrics,
    readiness: () => (webhookUp && watcher.synced ? 'ready' : 'starting'),
    onError: (err) => logger.error({ err: err.message }, 'admin server error'),
  });

  let tls: TlsMaterial;
  if (o.tls.mode === 'self-signed') {
    tls = await ensureSelfSignedTls({
      client,
      namespace: o.namespace,
      secretName: o.tls.secret,
      service: o.tls.service,
      webhookConfiguration: o.tls.webhookConfig,
      logger,
    });
  } else {
    tls = readTlsFiles(o.tls.certFile, o.tls.keyFile);
  }

  const policyFor = async (namespace: string): Promise<NamespacePolicy> => {
    const known = settings.policy(namespace);
    if (known) return known;
    // Not seen by the watcher yet (a namespace created a moment ago): read it directly.
    const ns = await client.get<NamespaceObject>(`/api/v1/namespaces/${seg(namespace)}`);
    return resolveNamespacePolicy(ns.metadata?.annotations, null).policy;
  };
  const webhook = await startWebhookServer(o.listen, tls, {
    config: o.injector,
    policyFor,
    logger,
    onResult: (r) => metrics.review(r),
  });
  webhookUp = true;
  watcher.start();
  const recommender = o.recommend
    ? new RecommendationsController({
        client,
        logger,
        metrics,
        events: fileEventSource(o.recommend.paths, logger),
        windowMs: o.recommend.windowMs,
        intervalMs: o.recommend.intervalMs,
        // Only namespaces the WAF protects; an unknown namespace (not listed yet) waits for the next pass.
        accepts: (ns) => settings.policy(ns)?.settings.waf === 'enabled',
      })
    : null;
  // The first pass waits for the namespace list, so accepts() knows which namespaces are enabled.
  const recommendStart = recommender
    ? setInterval(() => {
        if (!watcher.synced) return;
        clearInterval(recommendStart!);
        recommender.start();
      }, 200)
    : null;

  const resync = setInterval(() => {
    if (watcher.synced) void settings.resync();
  }, o.resyncMs);
  // cert-manager rotates the mounted files: pick up a new pair for new connections.
  const rotate =
    o.tls.mode === 'files'
      ? setInterval(() => {
          const files = o.tls as { certFile: string; keyFile: string };
          try {
            const next = readTlsFiles(files.certFile, files.keyFile);
            if (next.cert !== tls.cert || next.key !== tls.key) {
              webhook.setTls(next);
              tls = next;
              logger.info('webhook certificate reloaded');
            }
          } catch (err) {
            logger.warn({ err: (err as Error).message }, 'cannot reload the webhook certificate; keeping the current one');
          }
        }, 60_000)
      : null;
  logger.info({ webhook: webhook.address, admin: admin.address, namespace: o.namespace, tls: o.tls.mode }, 'sidewall controller ready');

  let stopping: Promise<void> | null = null;
  return {
    webhookPort: webhook.port,
    adminUrl: admin.url,
    stop() {
      stopping ??= (async () => {
        clearInterval(resync);
        if (rotate) clearInterval(rotate);
        if (recommendStart) clearInterval(recommendStart);
        await recommender?.stop();
        await webhook.close();
        await watcher.stop();
        await admin.close();
        client.close();
      })();
      return stopping;
    },
  };
}

/** The CLI entry: parse, start, stop on SIGTERM/SIGINT. */
export async function controllerCommand(args: string[]): Promise<number> {
  let options: ControllerOptions | 'help';
  try {
    options = parseControllerArgs(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sidewall: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    process.stdout.write(CONTROLLER_USAGE);
    return 0;
  }
  const { logger, destination } = createJsonLogger(options.logLevel, 'sidewall-controller');
  logger.info({ version: packageVersion(), pid: process.pid, kube_api: options.kube.server }, 'sidewall controller starting');
  let handle: ControllerHandle;
  try {
    handle = await startController(options, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'controller start-up failed');
    destination.flushSync();
    process.stderr.write(`sidewall: controller: ${(err as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutdown requested');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await handle.stop();
  logger.info('sidewall controller stopped');
  destination.flushSync();
  return 0;
}
