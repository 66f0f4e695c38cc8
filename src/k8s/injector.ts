// Decides whether a pod gets the Sidewall sidecars and builds the RFC 6902 patch that adds them.
// The webhook sends the patch to the API server; `sidewall inject` applies it itself — one code
// path, so both produce the same pod.
import {
  A_STATUS,
  describeProblem,
  resolvePodPolicy,
  type NamespacePolicy,
  type PodPolicy,
} from './annotations.js';
import { formatPodSettings } from '../settings/pod-settings.js';
import type { BootstrapOptions } from './envoy-bootstrap.js';
import { SOCKET_PATH, type InjectorConfig } from './injector-config.js';
import { escapePointer, type JsonPatchOp } from './json-patch.js';
import type { Pod } from './pod-types.js';
import { rewriteProbes } from './probes.js';
import { SIDECAR_NAMES, envoyContainer, initContainer, sidecarVolumes, sidewallContainer } from './sidecar.js';

export const STATUS_INJECTED = 'injected';

export type InjectionResult =
  | { injected: true; patch: JsonPatchOp[]; warnings: string[]; policy: PodPolicy }
  | { injected: false; reason: string; warnings: string[] };

/** Why a pod is not injected, or null when it should be. Checked before anything else is computed. */
function skipReason(pod: Pod, policy: PodPolicy): string | null {
  const annotations = pod.metadata?.annotations ?? {};
  const names = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].map((c) => c.name);
  if (annotations[A_STATUS] !== undefined || names.some((n) => SIDECAR_NAMES.includes(n))) return 'already injected';
  if (pod.spec.hostNetwork === true) return 'host network pod (iptables would redirect the node\'s traffic)';
  if (policy.optedOut) return 'opted out (sidewall.io/inject=false)';
  if (policy.settings.waf !== 'enabled') return 'WAF not enabled for this pod (sidewall.io/waf)';
  return null;
}

/** Structural check of what we read; a pod the API server accepted always passes. */
export function checkPodShape(pod: unknown): string | null {
  if (typeof pod !== 'object' || pod === null) return 'object is not a Pod';
  const spec = (pod as Pod).spec;
  if (typeof spec !== 'object' || spec === null) return 'pod has no spec';
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) return 'pod has no containers';
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string') return 'container without a name';
    if (c.ports !== undefined && !Array.isArray(c.ports)) return `container ${c.name}: ports is not a list`;
  }
  const md = (pod as Pod).metadata;
  if (md !== undefined && (typeof md !== 'object' || md === null)) return 'metadata is not an object';
  if (md?.annotations !== undefined && (typeof md.annotations !== 'object' || md.annotations === null)) return 'annotations is not a map';
  return null;
}

export function injectPod(pod: Pod, ns: NamespacePolicy, config: InjectorConfig): InjectionResult {
  const shape = checkPodShape(pod);
  if (shape !== null) return { injected: false, reason: `malformed pod: ${shape}`, warnings: [`sidewall: not injected: ${shape}`] };
  const policy = resolvePodPolicy(pod.metadata?.annotations, ns);
  const warnings = policy.problems.map((p) => `sidewall: invalid pod annotation ignored: ${describeProblem(p)}`);
  const skip = skipReason(pod, policy);
  if (skip !== null) return { injected: false, reason: skip, warnings };

  const reserved = [config.envoyInboundPort, config.envoyProbePort, config.envoyAdminPort, config.sidewallAdminPort];
  const exclude = new Set([
    config.envoyProbePort,
    config.envoyAdminPort,
    config.sidewallAdminPort,
    ...config.excludeInboundPorts,
    ...(policy.injection.excludeInboundPorts ?? []),
  ]);
  const appPorts: number[] = [];
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP' || typeof p.containerPort !== 'number') continue;
      if (reserved.includes(p.containerPort)) {
        return {
          injected: false,
          reason: `container ${c.name} uses port ${p.containerPort}, reserved for the sidecars`,
          warnings: [...warnings, `sidewall: not injected: container ${c.name} port ${p.containerPort} is reserved for the sidecars`],
        };
      }
      if (!exclude.has(p.containerPort) && !appPorts.includes(p.containerPort)) appPorts.push(p.containerPort);
    }
  }
  appPorts.sort((a, b) => a - b);

  const probes = rewriteProbes(pod.spec.containers, config.envoyProbePort, (port) => !exclude.has(port) && port !== config.envoyInboundPort);
  warnings.push(...probes.warnings.map((w) => `sidewall: ${w}`));
  const failOpen = policy.injection.failOpen ?? config.failOpen ?? policy.settings.mode === 'detect';
  const bootstrap: BootstrapOptions = {
    inboundPort: config.envoyInboundPort,
    probePort: config.envoyProbePort,
    adminPort: config.envoyAdminPort,
    socketPath: SOCKET_PATH,
    appPorts,
    probeRoutes: probes.routes,
    failureModeAllow: failOpen,
    maxRequestBytes: policy.injection.maxRequestBytes ?? config.maxRequestBytes,
    allowPartialMessage: policy.injection.allowPartialMessage ?? config.allowPartialMessage,
    checkTimeoutMs: config.checkTimeoutMs,
  };

  const patch: JsonPatchOp[] = [];
  if (pod.metadata === undefined) patch.push({ op: 'add', path: '/metadata', value: { annotations: { [A_STATUS]: STATUS_INJECTED } } });
  else if (pod.metadata.annotations === undefined) patch.push({ op: 'add', path: '/metadata/annotations', value: { [A_STATUS]: STATUS_INJECTED } });
  else patch.push({ op: 'add', path: `/metadata/annotations/${escapePointer(A_STATUS)}`, value: STATUS_INJECTED });

  for (const r of probes.rewrites) {
    patch.push({ op: 'replace', path: `/spec/containers/${r.containerIndex}/${r.kind}`, value: r.probe });
  }
  const init = initContainer(config, [...exclude].sort((a, b) => a - b));
  if (pod.spec.initContainers === undefined) patch.push({ op: 'add', path: '/spec/initContainers', value: [init] });
  else patch.push({ op: 'add', path: '/spec/initContainers/-', value: init });
  patch.push({ op: 'add', path: '/spec/containers/-', value: envoyContainer(config, bootstrap) });
  patch.push({ op: 'add', path: '/spec/containers/-', value: sidewallContainer(config, policy.settings, formatPodSettings(policy.podSettings)) });
  const volumes = sidecarVolumes(policy.settings);
  if (pod.spec.volumes === undefined) patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: v });
  return { injected: true, patch, warnings, policy };
}
