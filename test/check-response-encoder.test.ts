// src/server/check-response-encoder.ts: every CheckResponse the check service builds (allow,
// deny, redirect, custom bodies, fail-open/closed and overload answers) and generated Struct trees
// decode, through the proto-loader definition Envoy's side uses, exactly like protobufjs' own
// encoding of the same object; and the real server answers through it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { encodeCheckResponse } from '../src/server/check-response-encoder.js';
import { CheckService, type CheckResponseObj, type StructValue, type WafLike } from '../src/server/check-service.js';
import { directCheckService } from '../src/server/grpc-server.js';
import { loadProtos } from '../src/server/proto.js';
import { Metrics } from '../src/server/metrics.js';
import type { HttpRequest, Verdict } from '../src/engine/api.js';
import { decodeCheckRequest, protoLoaderMetadataDecoder } from '../src/server/check-decoder.js';

const check = loadProtos().authorization.Check!;
const decode = (b: Buffer) => check.responseDeserialize(b);
const sameDecoded = (r: CheckResponseObj) => assert.deepEqual(decode(encodeCheckResponse(r)), decode(check.responseSerialize(r)));

function verdict(v: Partial<Verdict>): Verdict {
  return {
    action: 'allow', mode: 'block', status: 403, redirectUrl: null, interruptingRuleId: 0, ruleIds: [], matches: [],
    anomalyScore: 0, requestId: 'r', requestBodyError: null, bodyPartial: false, ...v,
  };
}

class FixedWaf implements WafLike {
  readonly mode = 'block' as const;
  readonly ruleCount = 1;
  constructor(private readonly answer: Verdict | Error) {}
  evaluate(): Verdict {
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

const REQUEST: HttpRequest = {
  id: 'req-1', method: 'GET', uri: '/x', protocol: 'HTTP/1.1', headers: [['host', 'h']], body: null, bodyPartial: false,
  clientIp: '10.0.0.1', clientPort: 1, serverIp: '10.0.0.2', serverPort: 2,
};

function serviceResponse(answer: Verdict | Error, opts: { failOpen?: boolean; body?: string | null; requestId?: string } = {}): CheckResponseObj {
  const svc = new CheckService({
    waf: new FixedWaf(answer),
    failOpen: opts.failOpen ?? false,
    denyResponse: { body: opts.body ?? null, contentType: opts.body ? 'text/plain; charset=utf-8' : 'application/json' },
    logger: pino({ level: 'silent' }),
    metrics: new Metrics({ defaultMetrics: false }),
  });
  const context = {
    requestId: opts.requestId ?? 'req-1', host: 'h', scheme: 'http',
    source: { address: '', port: 0, principal: '', service: '', labels: {} },
    destination: { address: '', port: 0, principal: '', service: '', labels: {} },
    contextExtensions: {}, filterMetadata: {}, sni: '',
  };
  const outcome = svc.checkMapped({ request: REQUEST, context }, performance.now());
  assert.ok(outcome.response, 'a response, not a gRPC error');
  return outcome.response;
}

describe('check-response-encoder', () => {
  it('encodes the service answers like protobufjs does', () => {
    const cases: CheckResponseObj[] = [
      serviceResponse(verdict({})),
      serviceResponse(verdict({ action: 'detect', mode: 'detect', ruleIds: [920350, 942100], anomalyScore: 8 })),
      serviceResponse(verdict({ action: 'deny', ruleIds: [942100, 949110], anomalyScore: 5, status: 403 })),
      serviceResponse(verdict({ action: 'deny', status: 418 }), { requestId: 'ünïcødé-☃' }),
      serviceResponse(verdict({ action: 'deny', status: 302, redirectUrl: 'https://example.com/blocked?x=1' })),
      serviceResponse(verdict({ action: 'deny' }), { body: 'blocked {{request_id}} — sorry', requestId: 'a b<c>' }),
      serviceResponse(verdict({ action: 'deny' }), { body: '' }),
      serviceResponse(verdict({ anomalyScore: 2.5 })),
      serviceResponse(new Error('boom')), // fail closed: 503 with waf_error
      serviceResponse(new Error('boom'), { failOpen: true }), // fail open: OK with waf_error
      serviceResponse(verdict({ action: 'allow' }), { requestId: '' }),
    ];
    for (const r of cases) sameDecoded(r);
    // The deny answers really carry what Envoy needs.
    const denied = decode(encodeCheckResponse(cases[2]!)) as { status: { code: number }; denied_response: { status: { code: string | number }; body: string } };
    assert.equal(denied.status.code, 7);
    assert.match(denied.denied_response.body, /request blocked/);
  });

  it('encodes generated Struct trees, numbers, status codes and headers like protobufjs does', () => {
    const leaf = fc.oneof(
      fc.double().map((n) => ({ numberValue: n })),
      fc.string({ unit: 'grapheme' }).map((s) => ({ stringValue: s })),
      fc.boolean().map((b) => ({ boolValue: b })),
    );
    const value: fc.Arbitrary<StructValue> = fc.letrec<{ v: StructValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('v'), { maxLength: 4 }).map((values) => ({ listValue: { values } })),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }).map((fields) => ({ structValue: { fields } })),
      ),
    })).v;
    const header = fc.record({
      header: fc.record({ key: fc.string(), value: fc.string({ unit: 'grapheme' }) }),
      append_action: fc.constantFrom('APPEND_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS') as fc.Arbitrary<'APPEND_IF_EXISTS_OR_ADD'>,
    });
    const response: fc.Arbitrary<CheckResponseObj> = fc.record({
      status: fc.record({ code: fc.integer({ min: -5, max: 1000 }), message: fc.string({ unit: 'grapheme' }) }),
      fields: fc.dictionary(fc.string(), value, { maxKeys: 6 }),
      denied: fc.option(fc.record({ code: fc.integer({ min: 0, max: 599 }), headers: fc.array(header, { maxLength: 3 }), body: fc.string({ unit: 'grapheme' }) }), { nil: undefined }),
    }).map(({ status, fields, denied }) =>
      denied === undefined
        ? { status, ok_response: {} as Record<string, never>, dynamic_metadata: { fields } }
        : { status, denied_response: { status: { code: denied.code }, headers: denied.headers, body: denied.body }, dynamic_metadata: { fields } },
    );
    fc.assert(fc.property(response, (r) => sameDecoded(r)), { numRuns: 400 });
  });

  it('is the Check response serializer of the server definition', () => {
    const def = directCheckService(loadProtos().authorization);
    const r = serviceResponse(verdict({ action: 'deny', ruleIds: [1] }));
    assert.deepEqual(def['Check']!.responseSerialize(r), encodeCheckResponse(r));
    // and the request side is still the direct decoder
    const bytes = check.requestSerialize({ attributes: { request: { http: { method: 'GET', path: '/', headers: { host: 'h' } } } } });
    const viaDef = def['Check']!.requestDeserialize(bytes) as { mapped: { request: HttpRequest } };
    assert.deepEqual(viaDef.mapped.request.headers, decodeCheckRequest(bytes, protoLoaderMetadataDecoder((b) => check.requestDeserialize(b))).request.headers);
  });
});
