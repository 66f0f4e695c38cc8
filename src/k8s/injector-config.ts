// What the injector puts into pods: images, ports, filter defaults, resources. Shared by
// `sidewall controller` (webhook) and `sidewall inject` so both produce the same pod spec;
// both take the same flags (injectorFlagOptions / injectorConfigFromFlags).
import { packageVersion } from '../config/paths.js';

export interface ResourceSpec {
  requests: { cpu: string; memory: string };
  limits: { memory: string; cpu?: string };
}

export interface InjectorConfig {
  sidewallImage: string;
  envoyImage: string;
  /** Image of the iptables init container (needs `sh` and `iptables`; the Sidewall image has both). */
  initImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** uid/gid of both sidecars: they share the Unix socket, so one identity keeps it private to them. */
  proxyUid: number;
  envoyInboundPort: number;
  /** Envoy listener for rewritten app probes and Envoy's own readiness (never redirected, no WAF). */
  envoyProbePort: number;
  envoyAdminPort: number;
  sidewallAdminPort: number;
  /** ext_authz gRPC timeout. */
  checkTimeoutMs: number;
  /** Defaults for the per-namespace policy (annotations override). */
  maxRequestBytes: number;
  allowPartialMessage: boolean;
  /** null = by mode: detect → true (never break traffic while only detecting), block → false. */
  failOpen: boolean | null;
  /** Ports never redirected to Envoy in any pod. */
  excludeInboundPorts: number[];
  sidewallResources: ResourceSpec;
  envoyResources: ResourceSpec;
}

export const SOCKET_DIR = '/var/run/sidewall';
export const SOCKET_PATH = `${SOCKET_DIR}/authz.sock`;
export const SETTINGS_DIR = '/etc/sidewall/settings';
export const WEBHOOK_DIR = '/etc/sidewall/webhook';

export function defaultInjectorConfig(): InjectorConfig {
  return {
    sidewallImage: `ghcr.io/sidewall/sidewall:${packageVersion()}`,
    // The Envoy release the real-Envoy suites run (test/envoy, bench/lib/envoy-process.ts ENVOY_PINNED_VERSION).
    envoyImage: 'envoyproxy/envoy:v1.36.4',
    initImage: `ghcr.io/sidewall/sidewall:${packageVersion()}`,
    imagePullPolicy: 'IfNotPresent',
    proxyUid: 1337,
    envoyInboundPort: 15006,
    envoyProbePort: 15021,
    envoyAdminPort: 15000,
    sidewallAdminPort: 9002,
    checkTimeoutMs: 500,
    maxRequestBytes: 1024 * 1024,
    allowPartialMessage: true,
    failOpen: null,
    excludeInboundPorts: [],
    sidewallResources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    envoyResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  };
}

/** parseArgs option declarations for the injector flags. */
export const injectorFlagOptions = {
  'sidewall-image': { type: 'string' },
  'envoy-image': { type: 'string' },
  'init-image': { type: 'string' },
  'image-pull-policy': { type: 'string' },
  'check-timeout': { type: 'string' },
  'max-request-bytes': { type: 'string' },
  'allow-partial-message': { type: 'string' },
  'fail-open': { type: 'string' },
  'exclude-inbound-ports': { type: 'string' },
} as const;

export const INJECTOR_FLAGS_USAGE = `Injection options (controller and inject):
      --sidewall-image IMG        Sidewall container image (default ghcr.io/sidewall/sidewall:<version>)
      --envoy-image IMG           Envoy image (default envoyproxy/envoy:v1.36.4)
      --init-image IMG            iptables init container image (default: the Sidewall image)
      --image-pull-policy P       Always | IfNotPresent | Never (default IfNotPresent)
      --check-timeout MS          ext_authz timeout in milliseconds (default 500)
      --max-request-bytes N       request body bytes sent to the WAF (default 1048576)
      --allow-partial-message B   true | false: send the first N bytes of larger bodies (default true)
      --fail-open B               true | false | auto: allow when Sidewall is unreachable (default auto:
                                  true in detect mode, false in block mode)
      --exclude-inbound-ports L   comma-separated ports never redirected to Envoy
`;

export type InjectorFlagValues = Partial<Record<keyof typeof injectorFlagOptions, string>>;

function int(value: string, flag: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(`--${flag}: must be an integer ${min}..${max} (got ${JSON.stringify(value)})`);
  }
  return Number(value);
}

function bool(value: string, flag: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`--${flag}: must be true or false (got ${JSON.stringify(value)})`);
}

function image(value: string, flag: string): string {
  if (value === '' || /\s/.test(value)) throw new Error(`--${flag}: must be an image reference (got ${JSON.stringify(value)})`);
  return value;
}

/** Builds the config from parsed flags; throws an Error naming the flag on a bad value. */
export function injectorConfigFromFlags(v: InjectorFlagValues): InjectorConfig {
  const c = defaultInjectorConfig();
  if (v['sidewall-image'] !== undefined) c.sidewallImage = c.initImage = image(v['sidewall-image'], 'sidewall-image');
  if (v['envoy-image'] !== undefined) c.envoyImage = image(v['envoy-image'], 'envoy-image');
  if (v['init-image'] !== undefined) c.initImage = image(v['init-image'], 'init-image');
  if (v['image-pull-policy'] !== undefined) {
    const p = v['image-pull-policy'];
    if (p !== 'Always' && p !== 'IfNotPresent' && p !== 'Never') {
      throw new Error(`--image-pull-policy: must be one of Always, IfNotPresent, Never (got ${JSON.stringify(p)})`);
    }
    c.imagePullPolicy = p;
  }
  if (v['check-timeout'] !== undefined) c.checkTimeoutMs = int(v['check-timeout'], 'check-timeout', 1, 60_000);
  if (v['max-request-bytes'] !== undefined) c.maxRequestBytes = int(v['max-request-bytes'], 'max-request-bytes', 1, 64 * 1024 * 1024);
  if (v['allow-partial-message'] !== undefined) c.allowPartialMessage = bool(v['allow-partial-message'], 'allow-partial-message');
  if (v['fail-open'] !== undefined) c.failOpen = v['fail-open'] === 'auto' ? null : bool(v['fail-open'], 'fail-open');
  if (v['exclude-inbound-ports'] !== undefined) {
    c.excludeInboundPorts = v['exclude-inbound-ports']
      .split(',')
      .filter((p) => p.trim() !== '')
      .map((p) => int(p.trim(), 'exclude-inbound-ports', 1, 65535));
  }
  return c;
}
