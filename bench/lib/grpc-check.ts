// A small envoy.service.auth.v3.Authorization/Check client for the CRS runner and the benchmark
// (self-contained: it loads the vendored protos itself with the project's loader options).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
// Same protos and loader options as the server, so both sides agree on every message shape.
import { AUTHORIZATION_SERVICE, LOADER_OPTIONS } from '../../src/server/proto.js';
export { AUTHORIZATION_SERVICE, LOADER_OPTIONS };

export interface CheckResult {
  /** google.rpc.Status code in the CheckResponse (0 OK, 7 PERMISSION_DENIED...). */
  statusCode: number;
  /** 'ok' | 'denied' | '' (which http_response oneof was set). */
  httpResponse: string;
  deniedStatus: number | null;
  /** dynamic_metadata as plain JS. */
  metadata: Record<string, unknown>;
  ruleIds: number[];
  action: string;
  anomalyScore: number | null;
}

let packageDefinition: protoLoader.PackageDefinition | null = null;

export function authorizationServiceDefinition(): grpc.ServiceDefinition {
  packageDefinition ??= protoLoader.loadSync(['envoy/service/auth/v3/external_auth.proto'], LOADER_OPTIONS);
  return packageDefinition[AUTHORIZATION_SERVICE] as grpc.ServiceDefinition;
}

/** google.protobuf.Struct/Value (decoded by proto-loader, snake or camel case) → plain JS. */
export function structToJs(struct: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct as { fields?: Record<string, unknown> } | null)?.fields;
  if (!fields) return out;
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJs(v);
  return out;
}

function valueToJs(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const kind = (o['kind'] as string | undefined) ?? Object.keys(o).find((k) => o[k] !== null && o[k] !== undefined);
  const pick = (snake: string, camel: string) => (o[snake] !== undefined && o[snake] !== null ? o[snake] : o[camel]);
  switch (kind) {
    case 'null_value':
    case 'nullValue':
      return null;
    case 'number_value':
    case 'numberValue':
      return pick('number_value', 'numberValue');
    case 'string_value':
    case 'stringValue':
      return pick('string_value', 'stringValue');
    case 'bool_value':
    case 'boolValue':
      return pick('bool_value', 'boolValue');
    case 'struct_value':
    case 'structValue':
      return structToJs(pick('struct_value', 'structValue'));
    case 'list_value':
    case 'listValue': {
      const list = pick('list_value', 'listValue') as { values?: unknown[] } | null;
      return (list?.values ?? []).map(valueToJs);
    }
    default:
      return null;
  }
}

type CheckFn = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

export class CheckClient {
  private readonly client: grpc.Client;
  private readonly checkFn: CheckFn;

  /** `target`: "unix:/path" or "host:port". */
  constructor(target: string) {
    const Ctor = grpc.makeGenericClientConstructor(authorizationServiceDefinition(), 'Authorization');
    this.client = new Ctor(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
    this.checkFn = (this.client as unknown as { Check: CheckFn }).Check.bind(this.client);
  }

  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Raw call: resolves with the decoded CheckResponse object. */
  checkRaw(request: unknown, deadlineMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.checkFn(request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, response) => {
        if (err) reject(err);
        else resolve(response as Record<string, unknown>);
      });
    });
  }

  async check(request: unknown, deadlineMs = 10_000): Promise<CheckResult> {
    const response = await this.checkRaw(request, deadlineMs);
    return decodeCheckResponse(response);
  }

  close(): void {
    this.client.close();
  }
}

export function decodeCheckResponse(response: Record<string, unknown>): CheckResult {
  const status = response['status'] as { code?: number } | null;
  const metadata = structToJs(response['dynamic_metadata']);
  const rawIds = metadata['waf_rule_ids'];
  const ruleIds = Array.isArray(rawIds) ? rawIds.map((x) => Number(x)).filter((x) => Number.isFinite(x)) : [];
  const denied = response['denied_response'] as { status?: { code?: number | string } } | null | undefined;
  const deniedCode = denied?.status?.code;
  const score = metadata['waf_anomaly_score'];
  return {
    statusCode: status?.code ?? 0,
    httpResponse: (response['http_response'] as string | undefined) === 'denied_response' ? 'denied' : (response['http_response'] as string | undefined) === 'ok_response' ? 'ok' : '',
    deniedStatus: deniedCode === undefined || deniedCode === null ? null : typeof deniedCode === 'number' ? deniedCode : Number.isFinite(Number(deniedCode)) ? Number(deniedCode) : null,
    metadata,
    ruleIds,
    action: typeof metadata['waf_action'] === 'string' ? (metadata['waf_action'] as string) : '',
    anomalyScore: typeof score === 'number' ? score : null,
  };
}
