// A reusable ext_authz client for tests and tools: builds CheckRequests from a simple
// description the way Envoy's ext_authz filter does, calls Check over real gRPC with a
// deadline, and decodes the answer (HTTP status, headers, body, dynamic metadata).
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { AUTHORIZATION_SERVICE, HEALTH_SERVICE, loadProtos } from '../../src/server/proto.js';

export interface PeerSpec {
  address: string;
  port: number;
  principal?: string;
  service?: string;
  labels?: Record<string, string>;
}

/** One HTTP request as the downstream client sent it. */
export interface RequestSpec {
  method?: string; // default GET
  /** Raw request target (path + query), sent undecoded. Default "/". */
  path?: string;
  /** :authority; default "example.com" (or the Host header given in headers). */
  host?: string;
  scheme?: string; // default http
  protocol?: string; // default HTTP/1.1
  /** Request headers; names are lower-cased like Envoy does. Arrays = repeated header lines. */
  headers?: Record<string, string | string[]> | Array<[string, string]>;
  body?: string | Buffer;
  /** Envoy encode_raw_headers: header_map with raw_value bytes instead of the headers map. */
  rawHeaders?: boolean;
  /** Envoy pack_as_bytes: body in raw_body (bytes) instead of body (string). */
  packAsBytes?: boolean;
  /** Envoy truncated the body (x-envoy-auth-partial-body: true). */
  partialBody?: boolean;
  /** x-request-id header; default a fresh UUID like Envoy generates; null = no header. */
  requestId?: string | null;
  source?: PeerSpec;
  destination?: PeerSpec;
  contextExtensions?: Record<string, string>;
}

/** The decoded CheckResponse. */
export interface CheckResult {
  /** google.rpc.Status code of the CheckResponse (0 OK, 7 PERMISSION_DENIED). */
  code: number;
  message: string;
  allowed: boolean;
  /** denied_response.status.code as a number; null on OK answers. */
  httpStatus: number | null;
  /** denied_response headers (lower-cased names); {} on OK answers. */
  headers: Record<string, string>;
  body: string;
  /** dynamic_metadata as plain JS (waf_action, waf_mode, waf_rule_ids, ...). */
  metadata: Record<string, unknown>;
  /** The response object as decoded by proto-loader. */
  raw: Record<string, any>;
}

let streamIds = 0;

function headerPairs(headers: RequestSpec['headers']): Array<[string, string]> {
  if (!headers) return [];
  if (Array.isArray(headers)) return headers.map(([k, v]) => [k.toLowerCase(), v]);
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(headers)) {
    for (const value of Array.isArray(v) ? v : [v]) out.push([k.toLowerCase(), value]);
  }
  return out;
}

function peer(spec: PeerSpec | undefined, fallback: PeerSpec) {
  const p = spec ?? fallback;
  return {
    address: { socket_address: { address: p.address, port_value: p.port } },
    service: p.service ?? '',
    labels: p.labels ?? {},
    principal: p.principal ?? '',
    certificate: '',
  };
}

/** Builds a CheckRequest object (proto-loader input shape) the way Envoy fills it. */
export function buildCheckRequest(spec: RequestSpec = {}): Record<string, unknown> {
  const method = spec.method ?? 'GET';
  const path = spec.path ?? '/';
  const scheme = spec.scheme ?? 'http';
  const lines = headerPairs(spec.headers);
  // HTTP/1 Host becomes :authority in Envoy; it is not repeated as a header.
  let authority = spec.host ?? 'example.com';
  const hostLine = lines.find(([k]) => k === 'host');
  if (hostLine && spec.host === undefined) authority = hostLine[1];
  const regular = lines.filter(([k]) => k !== 'host');
  if (spec.requestId !== null && !regular.some(([k]) => k === 'x-request-id')) {
    regular.push(['x-request-id', spec.requestId ?? randomUUID()]);
  }
  const body = spec.body === undefined ? null : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
  if (body !== null) regular.push(['x-envoy-auth-partial-body', spec.partialBody ? 'true' : 'false']);
  const all: Array<[string, string]> = [
    [':authority', authority],
    [':path', path],
    [':method', method],
    [':scheme', scheme],
    ...regular,
  ];

  const http: Record<string, unknown> = {
    id: String(++streamIds),
    method,
    path,
    host: authority,
    scheme,
    query: '',
    fragment: '',
    size: body ? body.length : -1,
    protocol: spec.protocol ?? 'HTTP/1.1',
  };
  if (spec.rawHeaders) {
    http.header_map = { headers: all.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) };
  } else {
    const map: Record<string, string> = {};
    for (const [k, v] of all) map[k] = k in map ? `${map[k]},${v}` : v;
    http.headers = map;
  }
  if (body !== null) {
    if (spec.packAsBytes) http.raw_body = body;
    else http.body = body.toString('utf8');
  }
  return {
    attributes: {
      source: peer(spec.source, { address: '10.1.2.3', port: 45678 }),
      destination: peer(spec.destination, { address: '10.9.8.7', port: 8080 }),
      request: { time: { seconds: Math.floor(Date.now() / 1000), nanos: 0 }, http },
      context_extensions: spec.contextExtensions ?? {},
    },
  };
}

let httpStatusByName: Map<string, number> | null = null;

function httpStatusNumber(code: unknown): number {
  if (typeof code === 'number') return code;
  if (!httpStatusByName) {
    httpStatusByName = new Map();
    const def = loadProtos().packageDefinition['envoy.type.v3.StatusCode'] as { type?: { value?: Array<{ name: string; number: number }> } };
    for (const v of def.type?.value ?? []) httpStatusByName.set(v.name, v.number);
  }
  return httpStatusByName.get(String(code)) ?? Number.NaN;
}

/** google.protobuf.Value (as decoded) → plain JS. */
export function structValue(v: Record<string, any> | null | undefined): unknown {
  if (!v) return null;
  switch (v.kind) {
    case 'stringValue':
      return v.stringValue;
    case 'numberValue':
      return v.numberValue;
    case 'boolValue':
      return v.boolValue;
    case 'nullValue':
      return null;
    case 'listValue':
      return (v.listValue?.values ?? []).map(structValue);
    case 'structValue':
      return structToJs(v.structValue);
    default:
      return undefined;
  }
}

export function structToJs(s: Record<string, any> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = structValue(v as Record<string, any>);
  return out;
}

/** Decoded CheckResponse → CheckResult. */
export function toCheckResult(raw: Record<string, any>): CheckResult {
  const denied = raw.denied_response as Record<string, any> | null | undefined;
  const headers: Record<string, string> = {};
  for (const h of denied?.headers ?? []) headers[String(h.header.key).toLowerCase()] = h.header.value;
  return {
    code: raw.status?.code ?? 0,
    message: raw.status?.message ?? '',
    allowed: (raw.status?.code ?? 0) === 0,
    httpStatus: denied ? httpStatusNumber(denied.status?.code) : null,
    headers,
    body: denied?.body ?? '',
    metadata: structToJs(raw.dynamic_metadata),
    raw,
  };
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: any) => void,
) => grpc.ClientUnaryCall;

export class CheckClient {
  private readonly auth: grpc.Client & { Check: UnaryMethod };
  private readonly health: grpc.Client & { Check: UnaryMethod; Watch: (req: unknown, options?: grpc.CallOptions) => grpc.ClientReadableStream<any> };

  /** `address`: host:port or unix:/path, as given to --listen. */
  constructor(readonly address: string) {
    const protos = loadProtos();
    const AuthClient = grpc.makeGenericClientConstructor(protos.authorization, AUTHORIZATION_SERVICE);
    const HealthClient = grpc.makeGenericClientConstructor(protos.health, HEALTH_SERVICE);
    const creds = grpc.credentials.createInsecure();
    this.auth = new AuthClient(address, creds) as unknown as CheckClient['auth'];
    this.health = new HealthClient(address, creds) as unknown as CheckClient['health'];
  }

  /** Sends a CheckRequest built from `spec`. Rejects with the grpc ServiceError on non-OK gRPC status. */
  check(spec: RequestSpec = {}, options: { deadlineMs?: number } = {}): Promise<CheckResult> {
    return this.checkRaw(buildCheckRequest(spec), options);
  }

  /** Sends an arbitrary CheckRequest object (e.g. a malformed one). */
  checkRaw(message: unknown, options: { deadlineMs?: number } = {}): Promise<CheckResult> {
    const deadline = Date.now() + (options.deadlineMs ?? 5000);
    return new Promise((resolve, reject) => {
      this.auth.Check(message, new grpc.Metadata(), { deadline }, (err, value) => {
        if (err) reject(err);
        else resolve(toCheckResult(value));
      });
    });
  }

  /** grpc.health.v1.Health/Check → serving status name (SERVING, NOT_SERVING, ...). */
  healthCheck(service = '', options: { deadlineMs?: number } = {}): Promise<string> {
    const deadline = Date.now() + (options.deadlineMs ?? 5000);
    return new Promise((resolve, reject) => {
      this.health.Check({ service }, new grpc.Metadata(), { deadline }, (err, value) => {
        if (err) reject(err);
        else resolve(value.status);
      });
    });
  }

  /** grpc.health.v1.Health/Watch stream. */
  healthWatch(service = ''): grpc.ClientReadableStream<{ status: string }> {
    return this.health.Watch({ service });
  }

  close(): void {
    this.auth.close();
    this.health.close();
  }
}

/** Result of a call made with the raw HTTP/2 client below. */
export interface RawCallResult {
  grpcStatus: number;
  grpcMessage: string;
  result: CheckResult | null;
}

/**
 * A Check call whose request message is delivered in two parts over plain HTTP/2, so a test
 * can hold a call in flight (headers and part of the message sent) and finish it later.
 */
export interface SplitCheckCall {
  /** Resolves once the server has accepted the stream (response headers are not awaited). */
  started: Promise<void>;
  /** Sends the rest of the message and ends the request stream. */
  finish(): void;
  /** The call's outcome. */
  done: Promise<RawCallResult>;
  close(): void;
}

export function startSplitCheck(address: string, spec: RequestSpec = {}): SplitCheckCall {
  const protos = loadProtos();
  const method = protos.authorization.Check!;
  const message = method.requestSerialize(buildCheckRequest(spec));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const split = Math.min(8, frame.length - 1);

  const session = address.startsWith('unix:')
    ? http2.connect('http://localhost', { createConnection: () => netConnect(address.slice(5)) })
    : http2.connect(`http://${address}`);
  session.on('error', () => {});
  const stream = session.request({
    ':method': 'POST',
    ':path': `/${AUTHORIZATION_SERVICE}/Check`,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  const chunks: Buffer[] = [];
  let headerStatus: string | undefined;
  let headerMessage: string | undefined;
  stream.on('response', (headers) => {
    headerStatus = headers['grpc-status'] as string | undefined;
    headerMessage = headers['grpc-message'] as string | undefined;
  });
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<RawCallResult>((resolve, reject) => {
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('error', reject);
    stream.on('close', () => {
      const statusText = (trailers['grpc-status'] as string | undefined) ?? headerStatus;
      if (statusText === undefined) {
        reject(new Error(`stream closed without grpc-status (rst code ${stream.rstCode})`));
        return;
      }
      const data = Buffer.concat(chunks);
      let result: CheckResult | null = null;
      if (data.length >= 5) {
        const len = data.readUInt32BE(1);
        result = toCheckResult(method.responseDeserialize(data.subarray(5, 5 + len)) as Record<string, any>);
      }
      resolve({
        grpcStatus: Number(statusText),
        grpcMessage: decodeURIComponent((trailers['grpc-message'] as string | undefined) ?? headerMessage ?? ''),
        result,
      });
      session.close();
    });
  });
  const started = new Promise<void>((resolve, reject) => {
    stream.once('ready', () => {
      stream.write(frame.subarray(0, split), () => resolve());
    });
    stream.once('error', reject);
  });
  return {
    started,
    finish: () => {
      stream.end(frame.subarray(split));
    },
    done,
    close: () => session.destroy(),
  };
}
