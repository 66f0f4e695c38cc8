// Bootstraps for the Envoy integration suites: one HTTP listener on loopback → ext_authz (the
// configuration the README documents, with the knobs the tests vary) → router → an upstream app.
import { ACCESS_LOG_FORMAT } from '../../src/k8s/envoy-bootstrap.js';

export interface ExtAuthzOptions {
  /** Sidewall's gRPC address: a TCP port on 127.0.0.1, or a Unix socket path. */
  sidewall: { port: number } | { socketPath: string };
  failureModeAllow?: boolean;
  timeoutMs?: number;
  /** null: no with_request_body (headers only). */
  withRequestBody?: { maxRequestBytes: number; allowPartialMessage: boolean; packAsBytes: boolean } | null;
  /** encode_raw_headers (header_map with raw bytes instead of the headers map). */
  encodeRawHeaders?: boolean;
}

export interface TestBootstrapOptions extends ExtAuthzOptions {
  listenerPort: number;
  adminPort: number;
  upstreamPort: number;
  /** false: the listener has no ext_authz filter (the bench's reference). */
  extAuthz?: boolean;
  /** HCM http_protocol_options.accept_http_10 (the CRS runs assume it on). */
  acceptHttp10?: boolean;
  /** Add the verdict from dynamic metadata to every response as x-waf-* headers (CRS runs). */
  verdictHeaders?: boolean;
  /** Access log to stdout (default true). */
  accessLog?: boolean;
  /** Extra access log fields (name → Envoy format string), e.g. the client port to correlate. */
  accessLogFields?: Record<string, string>;
}

export const README_EXT_AUTHZ_DEFAULTS = {
  failureModeAllow: false,
  timeoutMs: 500,
  withRequestBody: { maxRequestBytes: 1_048_576, allowPartialMessage: true, packAsBytes: true },
} as const;

function cluster(name: string, address: Record<string, unknown>, http2: boolean): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    ...(http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
  };
}

const loopback = (port: number) => ({ socket_address: { address: '127.0.0.1', port_value: port } });
const md = (key: string) => `%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${key})%`;

export function extAuthzFilter(o: ExtAuthzOptions): Record<string, unknown> {
  const body = o.withRequestBody === undefined ? README_EXT_AUTHZ_DEFAULTS.withRequestBody : o.withRequestBody;
  return {
    name: 'envoy.filters.http.ext_authz',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      failure_mode_allow: o.failureModeAllow ?? README_EXT_AUTHZ_DEFAULTS.failureModeAllow,
      ...(body
        ? { with_request_body: { max_request_bytes: body.maxRequestBytes, allow_partial_message: body.allowPartialMessage, pack_as_bytes: body.packAsBytes } }
        : {}),
      ...(o.encodeRawHeaders ? { encode_raw_headers: true } : {}),
      grpc_service: { envoy_grpc: { cluster_name: 'sidewall' }, timeout: `${(o.timeoutMs ?? README_EXT_AUTHZ_DEFAULTS.timeoutMs) / 1000}s` },
    },
  };
}

export function testBootstrap(o: TestBootstrapOptions): Record<string, unknown> {
  const sidewallAddress = 'port' in o.sidewall ? loopback(o.sidewall.port) : { pipe: { path: o.sidewall.socketPath } };
  const verdictHeaders = o.verdictHeaders
    ? ['waf_action', 'waf_rule_ids', 'waf_anomaly_score', 'waf_request_id'].map((k) => ({
        header: { key: `x-${k.replace(/_/g, '-')}`, value: md(k) },
        keep_empty_value: false,
      }))
    : [];
  return {
    admin: { address: loopback(o.adminPort) },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: loopback(o.listenerPort),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress',
                    codec_type: 'AUTO',
                    // As the injector's bootstrap: the client's x-request-id is the id in
                    // Sidewall's verdict and event (with use_remote_address Envoy replaces it otherwise).
                    use_remote_address: true,
                    preserve_external_request_id: true,
                    ...(o.acceptHttp10 ? { http_protocol_options: { accept_http_10: true } } : {}),
                    ...(o.accessLog === false
                      ? {}
                      : {
                          access_log: [
                            {
                              name: 'envoy.access_loggers.stdout',
                              typed_config: {
                                '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
                                log_format: { json_format: { ...ACCESS_LOG_FORMAT, waf_overload: md('waf_overload'), ...o.accessLogFields } },
                              },
                            },
                          ],
                        }),
                    route_config: {
                      name: 'local',
                      virtual_hosts: [
                        {
                          name: 'app',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, route: { cluster: 'app', timeout: '10s' } }],
                          response_headers_to_add: verdictHeaders,
                        },
                      ],
                    },
                    http_filters: [
                      ...(o.extAuthz === false ? [] : [extAuthzFilter(o)]),
                      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [cluster('sidewall', sidewallAddress, true), cluster('app', loopback(o.upstreamPort), false)],
    },
  };
}
