// Turns the request Envoy's filter chain sees (envoy-http1.ts) into the CheckRequest its
// ext_authz filter sends (extensions/filters/common/ext_authz/check_request_utils.cc), as a
// plain object for @grpc/proto-loader (keepCase) encoding.
//
// Modelled ext_authz filter config: with_request_body { max_request_bytes: 1 MiB (option),
// allow_partial_message: true, pack_as_bytes: true }, and either
//   headerEncoding 'raw'  → encode_raw_headers: true  → attributes.request.http.header_map, one
//                           HeaderValue {key, raw_value} per header-map entry (byte exact);
//   headerEncoding 'map'  → encode_raw_headers: false → attributes.request.http.headers, a
//                           map<string,string>: repeated names joined with ",", values passed
//                           through MessageUtil::sanitizeUtf8String (invalid UTF-8 → '!').
// Both include the pseudo-headers (:authority, :path, :method, :scheme). When a body is buffered
// Envoy also adds `x-envoy-auth-partial-body: true|false`.
import type { EnvoyRequest } from './envoy-http1.js';

export type HeaderEncoding = 'raw' | 'map';

export interface CheckRequestOptions {
  headerEncoding: HeaderEncoding;
  maxRequestBytes: number;
  /** Downstream peer (what go-ftw's connection would look like). */
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
  /** Envoy stream id (decimal string). */
  streamId: string;
}

export const DEFAULT_CHECK_OPTIONS: Readonly<CheckRequestOptions> = Object.freeze({
  headerEncoding: 'raw',
  maxRequestBytes: 1024 * 1024,
  sourceAddress: '127.0.0.1',
  sourcePort: 40000,
  destinationAddress: '127.0.0.1',
  destinationPort: 80,
  streamId: '1',
});

export interface CheckRequestObject {
  attributes: {
    source: { address: { socket_address: { address: string; port_value: number } } };
    destination: { address: { socket_address: { address: string; port_value: number } } };
    request: {
      time: { seconds: number; nanos: number };
      http: {
        id: string;
        method: string;
        path: string;
        host: string;
        scheme: string;
        protocol: string;
        size: number;
        headers?: Record<string, string>;
        header_map?: { headers: Array<{ key: string; raw_value: Buffer }> };
        raw_body?: Buffer;
      };
    };
  };
}

/** MessageUtil::sanitizeUtf8String: every byte that is not part of a valid UTF-8 sequence → '!'. */
export function sanitizeUtf8(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let len = 0;
    if (b < 0x80) len = 1;
    else if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) len = 3;
    else if (b >= 0xf0 && b <= 0xf4) len = 4;
    if (len > 0 && i + len <= bytes.length) {
      const seq = bytes.subarray(i, i + len);
      const text = seq.toString('utf8');
      if (!text.includes('\ufffd') || (len === 3 && seq.equals(Buffer.from([0xef, 0xbf, 0xbd])))) {
        out += text;
        i += len;
        continue;
      }
    }
    out += '!';
    i += 1;
  }
  return out;
}

export function buildCheckRequest(req: EnvoyRequest, options: CheckRequestOptions = DEFAULT_CHECK_OPTIONS): CheckRequestObject {
  const now = Date.now();
  let body: Buffer | null = req.body;
  let partial: 'true' | 'false' | null = null;
  if (body !== null && body.length > 0) {
    partial = body.length > options.maxRequestBytes ? 'true' : 'false';
    if (body.length > options.maxRequestBytes) body = body.subarray(0, options.maxRequestBytes);
  } else {
    body = null;
  }
  const headerList: Array<[string, Buffer]> = [...req.headers];
  if (partial !== null) headerList.push(['x-envoy-auth-partial-body', Buffer.from(partial)]);

  const http: CheckRequestObject['attributes']['request']['http'] = {
    id: options.streamId,
    method: req.method,
    path: req.path,
    host: req.authority,
    scheme: req.scheme,
    protocol: req.protocol,
    size: req.body?.length ?? 0,
  };
  if (options.headerEncoding === 'raw') {
    http.header_map = { headers: headerList.map(([key, value]) => ({ key, raw_value: value })) };
  } else {
    const map: Record<string, string> = {};
    for (const [key, value] of headerList) {
      const v = sanitizeUtf8(value);
      map[key] = Object.prototype.hasOwnProperty.call(map, key) ? `${map[key]},${v}` : v;
    }
    http.headers = map;
  }
  if (body !== null) http.raw_body = body;
  return {
    attributes: {
      source: { address: { socket_address: { address: options.sourceAddress, port_value: options.sourcePort } } },
      destination: { address: { socket_address: { address: options.destinationAddress, port_value: options.destinationPort } } },
      request: { time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, http },
    },
  };
}
