// check-decoder.ts (CheckRequest bytes → engine request, the server's Check deserializer) against
// the reference path it replaces: proto-loader decode + check-mapper.ts. Generated CheckRequests
// (fast-check: every field the mapper reads, non-ASCII and lone surrogates, raw bytes, both header
// encodings, pseudo-headers, repeated messages) are encoded with protobufjs and decoded both ways;
// the results must be identical. Malformed bytes are answered over a real socket with
// INVALID_ARGUMENT, counted and logged at a bounded rate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { pino } from 'pino';
import { mapCheckRequest, CheckRequestError, type CheckRequestMsg, type MappedCheck } from '../src/server/check-mapper.js';
import { checkRequestDeserializer, decodeCheckRequest, protoLoaderMetadataDecoder } from '../src/server/check-decoder.js';
import { loadProtos, AUTHORIZATION_SERVICE } from '../src/server/proto.js';
import { startApp } from '../src/server/app.js';
import type { SidewallConfig } from '../src/config/config.js';
import type { WafLike } from '../src/server/check-service.js';
import type { HttpRequest, Verdict } from '../src/engine/api.js';
import { RateLimitedLog } from '../src/server/rate-limited-log.js';
import { buildCheckRequest, type RequestSpec } from './helpers/check-client.js';

const method = loadProtos().authorization.Check!;
const serialize = (m: unknown): Buffer => method.requestSerialize(m);
const metadataDecoder = protoLoaderMetadataDecoder((b) => method.requestDeserialize(b));

function reference(bytes: Buffer): MappedCheck {
  return mapCheckRequest(method.requestDeserialize(bytes) as CheckRequestMsg);
}
function direct(bytes: Buffer): MappedCheck {
  return decodeCheckRequest(bytes, metadataDecoder);
}

/** Both ways; a request without any id gets a random UUID on each side, so that one is masked. */
function assertSame(bytes: Buffer, label = ''): void {
  let want: MappedCheck | Error;
  let got: MappedCheck | Error;
  try { want = reference(bytes); } catch (e) { want = e as Error; }
  try { got = direct(bytes); } catch (e) { got = e as Error; }
  if (want instanceof Error || got instanceof Error) {
    assert.ok(want instanceof CheckRequestError && got instanceof CheckRequestError, `${label}: reference ${String(want)} / direct ${String(got)}`);
    assert.equal(got.message, want.message, label);
    return;
  }
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  if (uuid.test(want.context.requestId) && uuid.test(got.context.requestId) && want.context.requestId !== got.context.requestId) {
    got.context.requestId = want.context.requestId;
    got.request.id = want.request.id;
  }
  assert.deepEqual(normalise(got), normalise(want), label);
}

/** Plain data (Buffers as bytes, records as plain objects) for deepEqual. */
function normalise(m: MappedCheck): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v: unknown) => (Buffer.isBuffer(v) ? { bytes: v.toString('hex') } : v)));
}

// ---- generators ----

const text = fc.oneof(
  fc.constantFrom('', 'a', 'GET', 'POST', 'x-request-id', 'host', ':authority', 'true', 'false', 'é', '日本', '123', '__proto__'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }), // lone surrogates → invalid UTF-8 on the wire
);
const headerName = fc.oneof(
  fc.constantFrom(':authority', ':method', ':path', ':scheme', 'host', 'x-request-id', 'x-envoy-auth-partial-body', 'content-type', 'cookie', '0', '42'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
  text,
);
const bytes = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
const peer = fc.option(
  fc.record(
    {
      address: fc.oneof(
        fc.record({ socket_address: fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6(), text), port_value: fc.nat(70000) }, { requiredKeys: [] }) }),
        fc.record({ pipe: fc.record({ path: text }) }),
        fc.constant({}),
      ),
      service: text,
      principal: fc.oneof(text, fc.constant('spiffe://cluster.local/ns/shop/sa/web')),
      labels: fc.dictionary(text, text, { maxKeys: 3 }),
      certificate: text,
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);
const struct = fc.dictionary(text, fc.oneof(fc.string().map((s) => ({ stringValue: s })), fc.double({ noNaN: true }).map((n) => ({ numberValue: n })), fc.boolean().map((b) => ({ boolValue: b }))), { maxKeys: 3 });
const http = fc.record(
  {
    id: text,
    method: text,
    headers: fc.dictionary(headerName, text, { maxKeys: 8 }),
    header_map: fc.record({ headers: fc.array(fc.record({ key: headerName, value: text, raw_value: bytes }, { requiredKeys: ['key'] }), { maxLength: 8 }) }),
    path: fc.oneof(text, fc.constantFrom('/a?b=c', "/item?id=1'%20OR%20'1'='1")),
    host: text,
    scheme: fc.constantFrom('', 'http', 'https'),
    query: text,
    size: fc.integer({ min: -1, max: 1 << 20 }),
    protocol: fc.constantFrom('', 'HTTP/1.0', 'HTTP/1.1', 'HTTP/2'),
    body: text,
    raw_body: bytes,
  },
  { requiredKeys: [] },
);
const checkRequest = fc.record(
  {
    attributes: fc.record(
      {
        source: peer,
        destination: peer,
        request: fc.record({ time: fc.constant({ seconds: 1700000000, nanos: 5 }), http: fc.option(http, { nil: undefined }) }, { requiredKeys: [] }),
        context_extensions: fc.dictionary(text, text, { maxKeys: 3 }),
        metadata_context: fc.record({ filter_metadata: fc.dictionary(text, struct.map((fields) => ({ fields })), { maxKeys: 2 }) }),
        tls_session: fc.record({ sni: text }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

describe('check-decoder: same result as proto-loader + check-mapper', () => {
  test('generated CheckRequests (both header encodings, all mapped fields)', () => {
    fc.assert(fc.property(checkRequest, (msg) => assertSame(serialize(msg))), { numRuns: 3000, seed: 11 });
  });

  test('requests built like Envoy does (test helper), raw and map headers, bodies', () => {
    const specs: RequestSpec[] = [
      { method: 'POST', path: '/a%20b?x=%27', headers: { 'Content-Type': 'application/json', 'X-Multi': ['one', 'two'] }, body: '{"a":"é"}', requestId: 'r1' },
      { rawHeaders: true, packAsBytes: true, headers: { 'x-bin': '\xff\xfe', Host: 'h.example' }, body: Buffer.from([0, 255, 10]), partialBody: true, requestId: 'r2' },
      { method: 'CONNECT', path: '', host: 'up.example:443', requestId: null },
      { host: '', headers: [['host', '']] as Array<[string, string]>, requestId: 'r4', contextExtensions: { namespace: 'shop' } },
    ];
    for (const spec of specs) assertSame(serialize(buildCheckRequest(spec)), JSON.stringify(spec));
  });

  test('a repeated message field replaces the earlier one (concatenated encodings)', () => {
    fc.assert(fc.property(checkRequest, checkRequest, (a, b) => assertSame(Buffer.concat([serialize(a), serialize(b)]))), { numRuns: 500, seed: 12 });
  });

  test('unknown fields of every wire type are skipped', () => {
    const base = serialize(buildCheckRequest({ path: '/x', requestId: 'u1' }));
    // field 15 varint, field 16 fixed64, field 17 bytes, field 18 fixed32, field 19 group { field 1 varint }
    const unknown = Buffer.from([0x78, 0x96, 0x01, 0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0x8a, 0x01, 2, 0x61, 0x62, 0x95, 0x01, 1, 2, 3, 4, 0x9b, 0x01, 0x08, 0x01, 0x9c, 0x01]);
    assertSame(Buffer.concat([unknown, base]), 'unknown top-level fields');
  });

  test('truncated and corrupted bytes: a CheckRequestError naming the offset, never another exception', () => {
    fc.assert(
      fc.property(checkRequest, fc.nat(), fc.nat(255), (msg, cut, flip) => {
        const buf = Buffer.from(serialize(msg));
        if (buf.length === 0) return;
        const variants = [buf.subarray(0, cut % buf.length), Buffer.from(buf)];
        variants[1]![cut % buf.length] = flip;
        for (const v of variants) {
          try {
            direct(v);
          } catch (err) {
            assert.ok(err instanceof CheckRequestError, `not a CheckRequestError: ${String(err)}`);
            assert.match(err.message, /CheckRequest/);
          }
        }
      }),
      { numRuns: 2000, seed: 13 },
    );
    assert.throws(() => direct(Buffer.from([0x0a, 0x05, 0x22])), /CheckRequest is malformed: CheckRequest\.attributes: length 5 runs past the end of the message at byte 2/);
    assert.throws(() => direct(Buffer.from([0x17])), /invalid wire type 7/);
    assert.throws(() => direct(Buffer.from([0x08, 0x01])), /CheckRequest\.attributes: wire type 0, expected 2/);
  });

  test('the deserializer never throws: decode failures are handed to the handler', () => {
    const deserialize = checkRequestDeserializer(metadataDecoder);
    const bad = deserialize(Buffer.from([0xff, 0xff]));
    assert.equal(bad.mapped, null);
    assert.ok(bad.error instanceof CheckRequestError);
    const good = deserialize(serialize(buildCheckRequest({ path: '/ok', requestId: 'g1' })));
    assert.equal(good.error, null);
    assert.equal(good.mapped?.request.uri, '/ok');
  });
});

test('rate-limited log: one line per interval, with the suppressed count', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  let now = 1000;
  const log = new RateLimitedLog(logger, 'invalid_request', 'malformed CheckRequest', 10_000, () => now);
  for (let i = 0; i < 5; i++) log.warn(`bad ${i}`);
  now += 10_000;
  log.warn('bad later');
  assert.deepEqual(lines.map((l) => [l.err, l.suppressed]), [['bad 0', 0], ['bad later', 4]]);
});

describe('malformed CheckRequest bytes over a real socket', () => {
  test('INVALID_ARGUMENT naming the problem, counted, logged once per interval, server keeps serving', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
    const waf: WafLike = {
      mode: 'block',
      ruleCount: 0,
      evaluate: (req: HttpRequest): Verdict => ({
        action: 'allow', mode: 'block', status: 403, redirectUrl: null, interruptingRuleId: 0, ruleIds: [], matches: [],
        anomalyScore: 0, requestId: req.id, requestBodyError: null, bodyPartial: req.bodyPartial,
      }),
    };
    const config: SidewallConfig = {
      listen: '127.0.0.1:0', admin: '127.0.0.1:0', rules: '/dev/null', mode: null, failOpen: false,
      denyResponse: { body: null, contentType: 'application/json' }, logLevel: 'info', regexFallbackRuleIds: [], configFile: null,
    };
    const app = await startApp({ config, logger, loadEngine: () => waf, drainTimeoutMs: 3000, defaultMetrics: false });
    // A client that sends raw bytes as the request message.
    const client = new grpc.Client(app.grpcAddress, grpc.credentials.createInsecure());
    const call = (payload: Buffer) =>
      new Promise<{ code: number; details: string }>((resolve) => {
        client.makeUnaryRequest(`/${AUTHORIZATION_SERVICE}/Check`, (b: Buffer) => b, (b: Buffer) => b, payload, { deadline: Date.now() + 5000 }, (err) =>
          resolve({ code: err ? err.code : 0, details: err ? err.details : '' }),
        );
      });
    try {
      const truncated = serialize(buildCheckRequest({ path: '/x', requestId: 't1' })).subarray(0, 20);
      const answers = [await call(Buffer.from([0x0a, 0x7f, 0x01])), await call(truncated), await call(Buffer.from([0xff])), await call(Buffer.alloc(0))];
      for (const a of answers) {
        assert.equal(a.code, grpc.status.INVALID_ARGUMENT);
        assert.match(a.details, /^CheckRequest/);
      }
      assert.match(answers[0]!.details, /runs past the end of the message at byte 2/);
      assert.match(answers[3]!.details, /attributes is missing/);
      const ok = await call(serialize(buildCheckRequest({ path: '/fine', requestId: 'ok1' })));
      assert.equal(ok.code, 0, 'a valid request after the bad ones is answered');
      const metrics = await (await fetch(`${app.adminUrl}/metrics`)).text();
      assert.match(metrics, /^sidewall_errors_total\{kind="invalid_request"\} 4$/m);
      const lines = logs.filter((l) => l.event === 'invalid_request');
      assert.equal(lines.length, 1, 'logged once within the interval');
      assert.match(String(lines[0]!.err), /runs past the end/);
    } finally {
      client.close();
      await app.shutdown('test');
    }
  });
});
