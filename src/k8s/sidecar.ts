// The containers and volumes the injector adds to a pod: the iptables init container, the Envoy
// sidecar and the Sidewall container. Pure functions of the config and the pod's policy.
import type { WafSettings } from './annotations.js';
import { bootstrapArg, type BootstrapOptions } from './envoy-bootstrap.js';
import { SETTINGS_DIR, SOCKET_DIR, SOCKET_PATH, WEBHOOK_DIR, type InjectorConfig } from './injector-config.js';
import { inboundScript } from './iptables.js';
import type { Container } from './pod-types.js';
import { SETTINGS_CONFIGMAP } from './settings-render.js';

export const INIT_CONTAINER = 'sidewall-init';
export const ENVOY_CONTAINER = 'sidewall-envoy';
export const SIDEWALL_CONTAINER = 'sidewall';
export const SIDECAR_NAMES = [INIT_CONTAINER, ENVOY_CONTAINER, SIDEWALL_CONTAINER];

export const VOLUME_SOCKET = 'sidewall-socket';
export const VOLUME_SETTINGS = 'sidewall-settings';
export const VOLUME_TMP = 'sidewall-tmp';
export const VOLUME_WEBHOOK = 'sidewall-webhook';
export const VOLUME_SPOOL = 'sidewall-spool';
/** On-disk event spool: an emptyDir survives container restarts, so a crashed or OOM-killed
 * Sidewall container redelivers what it had not delivered yet. */
export const SPOOL_DIR = '/var/lib/sidewall/spool';

function hardened(uid: number): Record<string, unknown> {
  return {
    runAsUser: uid,
    runAsGroup: uid,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function initContainer(config: InjectorConfig, excludePorts: number[]): Container {
  return {
    name: INIT_CONTAINER,
    image: config.initImage,
    imagePullPolicy: config.imagePullPolicy,
    command: ['/bin/sh', '-c', inboundScript({ envoyInboundPort: config.envoyInboundPort, excludePorts })],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    // iptables needs root with NET_ADMIN/NET_RAW in the pod's network namespace (only there: the
    // rules die with the pod); it writes its lock file, so the root filesystem stays writable.
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

export function envoyContainer(config: InjectorConfig, bootstrap: BootstrapOptions): Container {
  return {
    name: ENVOY_CONTAINER,
    image: config.envoyImage,
    imagePullPolicy: config.imagePullPolicy,
    command: ['envoy'],
    args: ['--config-yaml', bootstrapArg(bootstrap), '--disable-hot-restart', '--log-level', 'warn'],
    ports: [
      { name: 'sw-inbound', containerPort: config.envoyInboundPort, protocol: 'TCP' },
      { name: 'sw-probes', containerPort: config.envoyProbePort, protocol: 'TCP' },
    ],
    readinessProbe: {
      httpGet: { path: '/ready', port: config.envoyProbePort, scheme: 'HTTP' },
      periodSeconds: 5,
      failureThreshold: 3,
    },
    resources: config.envoyResources,
    securityContext: hardened(config.proxyUid),
    volumeMounts: [
      { name: VOLUME_SOCKET, mountPath: SOCKET_DIR },
      { name: VOLUME_TMP, mountPath: '/tmp' },
    ],
  };
}

export function sidewallContainer(config: InjectorConfig, settings: WafSettings, podSettings: string): Container {
  const args = [
    'serve',
    '--listen',
    `unix:${SOCKET_PATH}`,
    '--admin',
    `0.0.0.0:${config.sidewallAdminPort}`,
    '--settings-dir',
    SETTINGS_DIR,
  ];
  if (podSettings !== '') args.push('--pod-settings', podSettings);
  const mounts: Array<Record<string, unknown>> = [
    { name: VOLUME_SOCKET, mountPath: SOCKET_DIR },
    { name: VOLUME_SETTINGS, mountPath: SETTINGS_DIR, readOnly: true },
    { name: VOLUME_TMP, mountPath: '/tmp' },
  ];
  if (settings.eventsWebhook !== undefined) {
    args.push('--events-webhook-dir', WEBHOOK_DIR, '--events-spool', SPOOL_DIR);
    mounts.push({ name: VOLUME_WEBHOOK, mountPath: WEBHOOK_DIR, readOnly: true }, { name: VOLUME_SPOOL, mountPath: SPOOL_DIR });
  }
  return {
    name: SIDEWALL_CONTAINER,
    image: config.sidewallImage,
    imagePullPolicy: config.imagePullPolicy,
    args,
    ports: [{ name: 'sw-admin', containerPort: config.sidewallAdminPort, protocol: 'TCP' }],
    // /healthz answers as soon as the process runs; /readyz once the rules are compiled.
    livenessProbe: {
      httpGet: { path: '/healthz', port: config.sidewallAdminPort, scheme: 'HTTP' },
      periodSeconds: 10,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: config.sidewallAdminPort, scheme: 'HTTP' },
      periodSeconds: 5,
      failureThreshold: 3,
    },
    resources: config.sidewallResources,
    securityContext: hardened(config.proxyUid),
    volumeMounts: mounts,
  };
}

export function sidecarVolumes(settings: WafSettings): Array<Record<string, unknown> & { name: string }> {
  const volumes: Array<Record<string, unknown> & { name: string }> = [
    { name: VOLUME_SOCKET, emptyDir: { medium: 'Memory' } },
    { name: VOLUME_SETTINGS, configMap: { name: SETTINGS_CONFIGMAP, optional: true } },
    { name: VOLUME_TMP, emptyDir: {} },
  ];
  if (settings.eventsWebhook !== undefined) {
    volumes.push(
      { name: VOLUME_WEBHOOK, secret: { secretName: settings.eventsWebhook, optional: true } },
      { name: VOLUME_SPOOL, emptyDir: { sizeLimit: '256Mi' } },
    );
  }
  return volumes;
}
