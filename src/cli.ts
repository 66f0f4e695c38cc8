#!/usr/bin/env node
// sidewall — Web Application Firewall for Kubernetes (Envoy ext_authz gRPC server).
//
//   sidewall serve [--config F] [--listen A] [--admin A] [--rules F] [--mode M] [--fail-open]
//                  [--settings-dir D] [--pod-settings k=v,...]   (SIGHUP reloads rules and settings)
//   sidewall events receive --listen ADDR --secret S [--out FILE]
//   sidewall explain [--rules F|--crs D] [--json] FILE|-|[curl flags] URL
//   sidewall recommend [--since T] [--namespace NS] [--out FILE] PATH...   (src/recommend)
//   sidewall version
//   sidewall --help
//
// Exit codes: 0 ok (also after a graceful SIGTERM/SIGINT shutdown), 1 runtime failure
// (e.g. address in use), 2 usage, config or rule errors (one line on stderr, no stack trace).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { createJsonLogger } from './config/logging.js';
import { ConfigError, loadConfig, type ConfigOverrides, type SidewallConfig } from './config/config.js';
import { packageVersion } from './config/paths.js';
import type { Metrics } from './server/metrics.js';
import { SecLangError } from './seclang/ast.js';
import { isCrsDirectory } from './engine/crs-layout.js';
import { startApp, type App, type EngineHost } from './server/app.js';
import { ListenError } from './server/listen.js';
import { IdleMemoryRelease, releaseGarbage } from './server/memory-release.js';

const USAGE = `sidewall — Web Application Firewall for Kubernetes (Envoy ext_authz server, OWASP CRS v4)

Usage:
  sidewall serve [options]    run the ext_authz gRPC server
  sidewall controller [opts]  run the Kubernetes controller (admission webhook + namespace watcher)
  sidewall inject -f FILE|-   inject the sidecars into Kubernetes manifests (see: sidewall inject --help)
  sidewall events receive --listen ADDR --secret S [--out FILE] [--tolerance SECONDS]
                              reference webhook consumer: verifies signatures, dedups by
                              event id, prints events as NDJSON (or appends them to FILE)
  sidewall explain [opts] REQ  evaluate one request offline (raw HTTP file, - for stdin, or curl
                              flags and a URL) and show each matching rule (see: sidewall explain --help)
  sidewall recommend PATH...  propose exclusions for recurring false positives from security
                              events (see: sidewall recommend --help)
  sidewall version            print the version
  sidewall --help             show this help

Options for serve (flags override the config file):
  -c, --config FILE     YAML config file
      --listen ADDR     gRPC address: host:port, [ipv6]:port or unix:/path (default 127.0.0.1:9001)
      --admin ADDR      admin HTTP address for /metrics /healthz /readyz (default 127.0.0.1:9002)
      --rules PATH      SecLang entry file, or a CRS directory (crs-setup.conf, plugins/, rules/)
                        loaded in CRS's INSTALL order (default: the embedded rules/main.conf)
      --mode MODE       block | detect | off (overrides SecRuleEngine)
      --fail-open       allow requests when evaluation fails (default: deny with 503)
      --log-level LVL   fatal | error | warn | info | debug | trace | silent (default info)
      --max-check-ms N  stop an evaluation after N ms and answer per --fail-open (default 0 = unbounded)
      --overload on|off queue checks, honour gRPC deadlines, shed load (default on; off = evaluate
                        each check as it arrives)
      --events-webhook URL      send security events to URL (repeatable)
      --events-webhook-dir DIR  webhook from DIR/url, DIR/secret, DIR/format (a mounted Secret; repeatable)
      --events-secret SECRET    HMAC signing secret of --events-webhook webhooks
      --events-spool DIR        spool undelivered events on disk under DIR (one subdirectory per webhook)
      --settings-dir DIR        live settings: DIR/settings.yaml (+ exclusions.conf) for one
                                namespace, or DIR/<namespace>/settings.yaml for a shared gateway
      --pod-settings LIST       pod overrides, e.g. mode=block,paranoia_level=2
                                (keys: waf, mode, paranoia_level, anomaly_threshold)
      --staged-max-ms N         time budget of one staged (shadow) evaluation (default 50)

Rule and settings files are watched and reloaded without a restart; SIGHUP forces a reload.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage, config or rules.
`;

/** Prints one line to stderr and exits with `code`. */
function die(message: string, code = 2): never {
  process.stderr.write(`sidewall: ${message}\n`);
  process.exit(code);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function main(argv: string[]): void {
  const command = argv[0];
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === undefined) {
      process.stderr.write(USAGE);
      process.exitCode = 2;
    } else {
      process.stdout.write(USAGE);
    }
    return;
  }
  if (command === 'version' || command === '--version' || command === '-v') {
    process.stdout.write(`sidewall ${packageVersion()}\n`);
    return;
  }
  if (command === 'controller' || command === 'inject') {
    void runKubernetesCommand(command, argv.slice(1));
    return;
  }
  if (command === 'events') {
    void events(argv.slice(1));
    return;
  }
  if (command === 'explain') {
    void import('./explain/command.js').then(({ explainCommand }) => {
      process.exitCode = explainCommand(argv.slice(1));
    });
    return;
  }
  if (command === 'recommend') {
    void import('./recommend/command.js').then(({ recommendCommand }) => (process.exitCode = recommendCommand(argv.slice(1))));
    return;
  }
  if (command !== 'serve') die(`unknown command ${JSON.stringify(command)} (try: sidewall --help)`);
  void serve(argv.slice(1));
}

/** `controller` and `inject` live in src/k8s/ and are loaded only when asked for. */
async function runKubernetesCommand(command: 'controller' | 'inject', args: string[]): Promise<void> {
  if (command === 'inject') {
    const { injectCommand } = await import('./k8s/inject-command.js');
    process.exitCode = injectCommand(args);
    return;
  }
  const { controllerCommand } = await import('./k8s/controller.js');
  const code = await controllerCommand(args);
  process.exit(code);
}

async function serve(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string' },
        admin: { type: 'string' },
        rules: { type: 'string' },
        mode: { type: 'string' },
        'fail-open': { type: 'boolean' },
        'log-level': { type: 'string' },
        'max-check-ms': { type: 'string' },
        'staged-max-ms': { type: 'string' },
        overload: { type: 'string' },
        'settings-dir': { type: 'string' },
        'pod-settings': { type: 'string' },
        'events-webhook': { type: 'string', multiple: true },
        'events-webhook-dir': { type: 'string', multiple: true },
        'events-secret': { type: 'string' },
        'events-spool': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    die(`${errorMessage(err)} (try: sidewall --help)`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }

  const overrides: ConfigOverrides = {};
  if (values.listen !== undefined) overrides.listen = values.listen;
  if (values.admin !== undefined) overrides.admin = values.admin;
  if (values.rules !== undefined) overrides.rules = values.rules;
  if (values.mode !== undefined) overrides.mode = values.mode;
  if (values['fail-open'] !== undefined) overrides.failOpen = values['fail-open'];
  if (values['log-level'] !== undefined) overrides.logLevel = values['log-level'];
  if (values['max-check-ms'] !== undefined) overrides.maxCheckMs = values['max-check-ms'];
  if (values.overload !== undefined) overrides.overload = values.overload;
  if (values['staged-max-ms'] !== undefined) overrides.stagedMaxMs = values['staged-max-ms'];
  if (values['settings-dir'] !== undefined) overrides.settingsDir = values['settings-dir'];
  if (values['pod-settings'] !== undefined) overrides.podSettings = values['pod-settings'];
  if (values['events-webhook'] !== undefined) overrides.eventsWebhooks = values['events-webhook'];
  if (values['events-webhook-dir'] !== undefined) overrides.eventsWebhookDirs = values['events-webhook-dir'];
  if (values['events-secret'] !== undefined) overrides.eventsSecret = values['events-secret'];
  if (values['events-spool'] !== undefined) overrides.eventsSpool = values['events-spool'];

  let config: SidewallConfig;
  try {
    config = loadConfig({ file: values.config, overrides });
  } catch (err) {
    if (err instanceof ConfigError) die(err.message);
    throw err;
  }
  checkRulesFile(config.rules);

  // The engine is loaded only now, so help/version/config errors never depend on it.
  let EngineReloader: typeof import('./server/reload.js').EngineReloader;
  try {
    ({ EngineReloader } = await import('./server/reload.js'));
  } catch (err) {
    die(`cannot load the rule engine: ${errorMessage(err).split('\n')[0]}`, 1);
  }

  // JSON logs on stdout, buffered (flushed on exit).
  const { logger, destination } = createJsonLogger(config.logLevel, 'sidewall');
  const exit = (code: number): never => {
    try {
      destination.flushSync();
    } catch {
      // nothing buffered / stdout closed
    }
    process.exit(code);
  };

  process.on('uncaughtException', (err) => {
    logger.fatal({ err: { message: err.message, stack: err.stack } }, 'uncaught exception');
    exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: errorMessage(reason) }, 'unhandled promise rejection');
    exit(1);
  });

  logger.info({ version: packageVersion(), config: config.configFile, pid: process.pid }, 'sidewall starting');
  const regexFallbackRuleIds = new Set(config.regexFallbackRuleIds);
  const startEngines = async ({ metrics }: { metrics: Metrics }): Promise<EngineHost> => {
    try {
      return await EngineReloader.start({
        rulesFile: config.rules,
        settingsDir: config.settingsDir ?? null,
        pod: config.podSettings ?? {},
        defaults: { mode: config.mode },
        regexFallbackRuleIds,
        acceleration: config.acceleration,
        sidewallLayer: config.sidewallLayer,
        logger,
        metrics,
      });
    } catch (err) {
      throw new RuleLoadError(err, config.rules);
    }
  };

  // The compile's garbage goes before the first check arrives, later garbage when checks stop
  // coming (see memory-release.ts).
  const beforeReady = (): void => {
    const released = releaseGarbage();
    if (released === null) {
      logger.debug('garbage left to the V8 memory reducer (no gc function)');
      return;
    }
    logger.debug({ gc_ms: Math.round(released.ms), heap_before_mb: mb(released.heapBefore), heap_after_mb: mb(released.heapAfter) }, 'startup garbage released');
    new IdleMemoryRelease({
      onRelease: (r) => logger.debug({ gc_ms: Math.round(r.ms), heap_before_mb: mb(r.heapBefore), heap_after_mb: mb(r.heapAfter) }, 'idle: garbage released'),
    }).start();
  };

  startApp({ config, logger, startEngines, beforeReady }).then(
    (app) => installSignalHandlers(app, logger, exit),
    (err: unknown) => {
      if (err instanceof RuleLoadError) {
        logger.fatal({ err: err.message }, 'cannot load rules');
        destination.flushSync();
        die(err.message, 2);
      }
      if (err instanceof ListenError) {
        logger.fatal({ err: err.message }, 'cannot listen');
        destination.flushSync();
        die(err.message, 1);
      }
      logger.fatal({ err: { message: errorMessage(err), stack: (err as Error)?.stack } }, 'startup failed');
      destination.flushSync();
      die(`startup failed: ${errorMessage(err)}`, 1);
    },
  );
}

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20 * 10) / 10;

/** A rule file problem, phrased for the one stderr line ("rules: file:line: ..."). */
class RuleLoadError extends Error {
  constructor(cause: unknown, file: string) {
    const message = errorMessage(cause).split('\n')[0]!;
    // SecLangError messages already start with "file:line: "; others get the file named.
    const named = cause instanceof SecLangError || message.startsWith(file) ? message : `${file}: ${message}`;
    super(`rules: ${named}`);
    this.name = 'RuleLoadError';
  }
}

function checkRulesFile(path: string): void {
  if (!existsSync(path)) die(`rules: ${path}: file not found`);
  if (isCrsDirectory(path)) return; // a CRS installation directory, composed in CRS's order
  if (!statSync(path).isFile()) die(`rules: ${path}: not a regular file nor a CRS directory (with rules/ and crs-setup.conf)`);
}

function installSignalHandlers(app: App, logger: Logger, exit: (code: number) => never): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal, exiting now');
      exit(1);
    }
    logger.info({ signal }, 'shutdown requested');
    app.shutdown(signal).then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP: re-read rules and settings now (the outcome is logged by the reloader).
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'reload requested');
    void app.engines?.reload('signal');
  });
}

/** `sidewall events receive ...` (the reference webhook consumer). */
async function events(args: string[]): Promise<void> {
  if (args[0] !== 'receive') die(`events: unknown subcommand ${JSON.stringify(args[0] ?? '')} (try: sidewall events receive --help)`);
  let values;
  try {
    ({ values } = parseArgs({
      args: args.slice(1),
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        secret: { type: 'string' },
        'secret-file': { type: 'string' },
        out: { type: 'string' },
        tolerance: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    die(`events receive: ${errorMessage(err)} (try: sidewall --help)`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.listen === undefined) die('events receive: --listen ADDR is required');
  let secret = values.secret;
  if (values['secret-file'] !== undefined) {
    if (secret !== undefined) die('events receive: give --secret or --secret-file, not both');
    try {
      secret = readFileSync(values['secret-file'], 'utf8').trim();
    } catch (err) {
      die(`events receive: --secret-file: cannot read ${values['secret-file']}: ${errorMessage(err)}`);
    }
  }
  if (secret === undefined || secret === '') die('events receive: --secret S (or --secret-file F) is required');
  let toleranceSeconds: number | undefined;
  if (values.tolerance !== undefined) {
    toleranceSeconds = Number(values.tolerance);
    if (!/^\d+$/.test(values.tolerance)) die(`events receive: --tolerance: must be a number of seconds (got ${JSON.stringify(values.tolerance)})`);
  }
  const { startReceiver, ReceiverError } = await import('./events/receiver.js');
  let receiver;
  try {
    receiver = await startReceiver({ listen: values.listen, secret, out: values.out ?? null, toleranceSeconds });
  } catch (err) {
    if (err instanceof ReceiverError) die(`events receive: ${err.message}`, err.message.startsWith('--') ? 2 : 1);
    throw err;
  }
  const stop = () => void receiver.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2));
