// The Envoy sidecar's bootstrap, rendered per pod (it names the pod's ports and probe routes) and
// passed inline (`envoy --config-yaml`), so a pod needs no extra ConfigMap.
//
// Listeners:
// - inbound (0.0.0.0:<inbound port>, the iptables REDIRECT target): the original_dst listener filter
//   restores the connection's original port; one filter chain per app port runs the HTTP
//   connection manager with ext_authz → router to 127.0.0.1:<port>. Connections to undeclared
//   ports are passed through untouched (TCP proxy to their original destination).
// - probes (0.0.0.0:<probe port>, never redirected, no WAF): the app's rewritten HTTP probes and
//   Envoy's own /ready.
import { stringify } from 'yaml';
import type { ProbeRoute } from './probes.js';

export interface BootstrapOptions {
  inboundPort: number;
  probePort: number;
  adminPort: number;
  socketPath: string;
  /** TCP container ports of the app, inspected by the WAF. */
  appPorts: number[];
  probeRoutes: ProbeRoute[];
  failureModeAllow: boolean;
  maxRequestBytes: number;
  allowPartialMessage: boolean;
  checkTimeoutMs: number;
}

/** The access log: one JSON line per request with the WAF's verdict (ext_authz dynamic metadata). */
export const ACCESS_LOG_FORMAT: Record<string, string> = {
  time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  authority: '%REQ(:AUTHORITY)%',
  protocol: '%PROTOCOL%',
  status: '%RESPONSE_CODE%',
  flags: '%RESPONSE_FLAGS%',
  duration_ms: '%DURATION%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  client: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%',
  port: '%DOWNSTREAM_LOCAL_PORT%',
  request_id: '%REQ(X-REQUEST-ID)%',
  waf_action: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:waf_action)%',
  waf_mode: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:waf_mode)%',
  waf_rule_ids: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:waf_rule_ids)%',
  waf_anomaly_score: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:waf_anomaly_score)%',
  waf_request_id: '%DYNAMIC_METADATA(envoy.filters.http.ext_authz:waf_request_id)%',
};

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};
// HTTP/1.1 or HTTP/2 upstream, whichever the client spoke (gRPC apps need h2 end to end).
const DOWNSTREAM_PROTOCOL = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
  },
};

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

function staticCluster(name: string, address: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...extra,
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
  };
}

function loopback(port: number): Record<string, unknown> {
  return { socket_address: { address: '127.0.0.1', port_value: port } };
}

function accessLog(): unknown[] {
  return [
    {
      name: 'envoy.access_loggers.stdout',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
        log_format: { json_format: ACCESS_LOG_FORMAT },
      },
    },
  ];
}

function extAuthz(o: BootstrapOptions): unknown {
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: o.failureModeAllow,
      with_request_body: {
        max_request_bytes: o.maxRequestBytes,
        allow_partial_message: o.allowPartialMessage,
        pack_as_bytes: true,
      },
      grpc_service: { envoy_grpc: { cluster_name: 'sidewall' }, timeout: seconds(o.checkTimeoutMs) },
    },
  };
}

function appChain(port: number, o: BootstrapOptions): unknown {
  return {
    filter_chain_match: { destination_port: port },
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM_TYPE,
          stat_prefix: `inbound_${port}`,
          codec_type: 'AUTO',
          use_remote_address: true,
          // With use_remote_address, Envoy 1.36 treats every client as external and replaces its
          // x-request-id; keep it so the id a client (or an edge proxy) sent is the one in the
          // verdict, the deny body and the security event (found by test/envoy/integration.test.ts).
          preserve_external_request_id: true,
          access_log: accessLog(),
          route_config: {
            name: `inbound_${port}`,
            virtual_hosts: [
              // timeout 0s: no route timeout — a transparent sidecar must not cut long requests.
              { name: 'app', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: `app_${port}`, timeout: '0s' } }] },
            ],
          },
          http_filters: [extAuthz(o), ROUTER],
        },
      },
    ],
  };
}

function probeListener(o: BootstrapOptions): unknown {
  const routes: unknown[] = [
    { match: { path: '/ready' }, route: { cluster: 'envoy_admin', prefix_rewrite: '/ready' } },
    ...o.probeRoutes.map((r) => ({
      match: { path: r.path },
      route: { cluster: probeCluster(r), prefix_rewrite: r.targetPath },
    })),
  ];
  return {
    name: 'probes',
    address: { socket_address: { address: '0.0.0.0', port_value: o.probePort } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: 'probes',
              codec_type: 'AUTO',
              route_config: { name: 'probes', virtual_hosts: [{ name: 'probes', domains: ['*'], routes }] },
              http_filters: [ROUTER],
            },
          },
        ],
      },
    ],
  };
}

function probeCluster(r: ProbeRoute): string {
  return r.https ? `probe_https_${r.targetPort}` : `app_${r.targetPort}`;
}

/** The bootstrap as a plain object (JSON/YAML-serialisable). */
export function buildBootstrap(o: BootstrapOptions): Record<string, unknown> {
  const ports = [...new Set(o.appPorts)].sort((a, b) => a - b);
  const clusters: unknown[] = [
    staticCluster(
      'sidewall',
      { pipe: { path: o.socketPath } },
      {
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            explicit_http_config: { http2_protocol_options: {} },
          },
        },
      },
    ),
    ...ports.map((p) => staticCluster(`app_${p}`, loopback(p), { typed_extension_protocol_options: DOWNSTREAM_PROTOCOL })),
    staticCluster('envoy_admin', loopback(o.adminPort)),
    { name: 'passthrough', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' },
  ];
  // Probe targets that are not app ports (HTTP) or that speak HTTPS get their own cluster.
  const extra = new Map<string, unknown>();
  for (const r of o.probeRoutes) {
    const name = probeCluster(r);
    if (r.https) {
      extra.set(
        name,
        staticCluster(name, loopback(r.targetPort), {
          // kubelet does not verify probe certificates either.
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' },
          },
        }),
      );
    } else if (!ports.includes(r.targetPort)) {
      extra.set(name, staticCluster(name, loopback(r.targetPort)));
    }
  }
  clusters.push(...[...extra.keys()].sort().map((k) => extra.get(k)));

  return {
    admin: { address: loopback(o.adminPort) },
    static_resources: {
      listeners: [
        {
          name: 'inbound',
          address: { socket_address: { address: '0.0.0.0', port_value: o.inboundPort } },
          listener_filters: [
            {
              name: 'envoy.filters.listener.original_dst',
              typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
            },
          ],
          filter_chains: ports.map((p) => appChain(p, o)),
          default_filter_chain: {
            filters: [
              {
                name: 'envoy.filters.network.tcp_proxy',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                  stat_prefix: 'passthrough',
                  cluster: 'passthrough',
                },
              },
            ],
          },
        },
        probeListener(o),
      ],
      clusters,
    },
  };
}

/** Compact JSON (valid YAML) for `envoy --config-yaml`. */
export function bootstrapArg(o: BootstrapOptions): string {
  return JSON.stringify(buildBootstrap(o));
}

export function bootstrapYaml(o: BootstrapOptions): string {
  return stringify(buildBootstrap(o), { lineWidth: 0 });
}
