// Keeps the app's HTTP probes working once inbound traffic goes through Envoy + the WAF.
//
// Choice (as Istio's probe rewrite): every httpGet probe aimed at a redirected port is rewritten to
// Envoy's probe listener (a port the init container never redirects), path
// /sidewall-probe/<container>/<kind>; that listener has no ext_authz filter and forwards to the
// original port and path on 127.0.0.1. So the kubelet's probes neither depend on Sidewall being up
// nor get blocked by a rule (a liveness probe denied by the WAF would restart the app), and they
// still test the app itself. tcpSocket/grpc/exec probes are left as they are (see the README).
import type { Container, HttpGetAction, Probe, ProbeKind } from './pod-types.js';
import { PROBE_KINDS } from './pod-types.js';

export const PROBE_PATH_PREFIX = '/sidewall-probe/';

/** One rewritten probe: Envoy's probe listener routes `path` to 127.0.0.1:targetPort + targetPath. */
export interface ProbeRoute {
  path: string;
  targetPort: number;
  targetPath: string;
  https: boolean;
}

export interface ProbeRewrite {
  containerIndex: number;
  kind: ProbeKind;
  probe: Probe;
}

const KIND_SUFFIX: Record<ProbeKind, string> = { livenessProbe: 'livez', readinessProbe: 'readyz', startupProbe: 'startupz' };

/** The numeric port of a probe: a number, a numeric string, or a named container port. */
export function resolvePort(port: number | string, container: Container): number | null {
  if (typeof port === 'number') return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  if (/^[0-9]+$/.test(port)) return resolvePort(Number(port), container);
  const named = container.ports?.find((p) => p.name === port);
  return named ? named.containerPort : null;
}

export function rewriteProbes(
  containers: Container[],
  probePort: number,
  isRedirected: (port: number) => boolean,
): { rewrites: ProbeRewrite[]; routes: ProbeRoute[]; warnings: string[] } {
  const rewrites: ProbeRewrite[] = [];
  const routes: ProbeRoute[] = [];
  const warnings: string[] = [];
  containers.forEach((container, containerIndex) => {
    for (const kind of PROBE_KINDS) {
      const probe = container[kind];
      const get: HttpGetAction | undefined = probe?.httpGet;
      if (!probe || !get) continue;
      if (get.host !== undefined && get.host !== '') continue; // probes another host: not through our pod's Envoy
      const port = resolvePort(get.port, container);
      if (port === null) {
        warnings.push(`container ${container.name}: ${kind} port ${JSON.stringify(get.port)} not found; probe left unchanged`);
        continue;
      }
      if (!isRedirected(port)) continue;
      const path = `${PROBE_PATH_PREFIX}${container.name}/${KIND_SUFFIX[kind]}`;
      const targetPath = get.path === undefined || get.path === '' ? '/' : get.path.startsWith('/') ? get.path : `/${get.path}`;
      routes.push({ path, targetPort: port, targetPath, https: (get.scheme ?? 'HTTP').toUpperCase() === 'HTTPS' });
      const httpGet: HttpGetAction = { path, port: probePort, scheme: 'HTTP' };
      if (get.httpHeaders !== undefined) httpGet.httpHeaders = get.httpHeaders;
      rewrites.push({ containerIndex, kind, probe: { ...probe, httpGet } });
    }
  });
  return { rewrites, routes, warnings };
}
