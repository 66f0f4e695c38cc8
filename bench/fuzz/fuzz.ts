// Property-based fuzzing (fast-check) of the parsers that face the network: CheckRequest
// mapping, the urlencoded / JSON / XML / multipart body processors, and header + cookie parsing
// (Transaction setup). Each target runs --runs inputs (default 1,000,000) from a mix of random
// bytes and structure-aware generators, and checks properties, not only "does not throw":
//   - mapping: returns, or throws CheckRequestError (never another exception);
//   - body processors: return null or an error text; valid JSON (fc.json) parses without error;
//     urlencoded pairs built with encodeURIComponent come back as they were;
//   - headers/cookies: every REQUEST_HEADERS / REQUEST_COOKIES entry is a string, header count kept.
//
//   node dist/bench/fuzz/fuzz.js [--runs N] [--targets a,b] [--seed S] [--out FILE]
//
// Writes test-results/fuzz.json (inputs run, time, failures with the shrunk counterexample).
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HttpRequest } from '../../src/engine/api.js';
import { Waf } from '../../src/engine/waf.js';
import { Transaction } from '../../src/engine/transaction.js';
import { getBodyProcessor } from '../../src/bodyprocessors/index.js';
import { parseUrlEncoded } from '../../src/bodyprocessors/urlencoded.js';
import { CheckRequestError, mapCheckRequest, type CheckRequestMsg } from '../../src/server/check-mapper.js';

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const ruleset = Waf.fromString('SecRuleEngine On\nSecRequestBodyAccess On\nSecArgumentsLimit 1000\n', 'fuzz.conf').ruleset;

/** Byte strings (latin1), the engine's representation of request bytes. */
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a).toString('latin1'));
const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);

function request(headers: Array<[string, string]>, uri = '/', body: Buffer | null = null): HttpRequest {
  return { id: 'fuzz', method: 'POST', uri, protocol: 'HTTP/1.1', headers, body, bodyPartial: false, clientIp: '127.0.0.1', clientPort: 1, serverIp: '127.0.0.1', serverPort: 2 };
}

function processBody(name: string, body: string): string | null {
  const tx = new Transaction(ruleset, request([['Content-Type', 'x']]));
  const result = getBodyProcessor(name)!(tx, body);
  if (result !== null && typeof result !== 'string') throw new Error(`processor ${name} returned ${typeof result}`);
  return result;
}

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const headerValueMsg = fc.record({ key: fc.oneof(token, fc.string()), value: fc.string(), raw_value: nullable(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))) });
const peer = nullable(
  fc.record({
    address: nullable(fc.record({ socket_address: nullable(fc.record({ address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), port_value: nullable(fc.integer({ min: -1, max: 70000 })) })), pipe: nullable(fc.record({ path: fc.string() })) })),
    service: fc.string(), labels: nullable(fc.dictionary(fc.string(), fc.string())), principal: fc.string(), certificate: fc.string(),
  }),
);
const checkRequestMsg: fc.Arbitrary<CheckRequestMsg> = fc.record({
  attributes: nullable(
    fc.record({
      source: peer,
      destination: peer,
      request: nullable(
        fc.record({
          http: nullable(
            fc.record({
              id: fc.string(), method: fc.oneof(fc.constantFrom('GET', 'POST', ''), fc.string()),
              headers: nullable(fc.dictionary(fc.oneof(token, fc.string()), fc.string(), { maxKeys: 8 })),
              header_map: nullable(fc.record({ headers: nullable(fc.array(headerValueMsg, { maxLength: 8 })) })),
              path: fc.oneof(fc.webPath(), fc.string()), host: fc.string(), scheme: fc.constantFrom('http', 'https', ''), query: fc.string(), fragment: fc.string(),
              size: fc.integer({ min: -1, max: 1 << 20 }), protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2', ''), body: fc.string(),
              raw_body: nullable(fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a))),
            }),
          ),
        }),
      ),
      context_extensions: nullable(fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 })),
      metadata_context: nullable(fc.record({ filter_metadata: nullable(fc.constant({})) })),
    }),
  ),
});

const multipartBody = fc
  .tuple(token, fc.array(fc.tuple(token, fc.option(token), bytes(64), fc.boolean()), { maxLength: 8 }), fc.boolean(), bytes(16))
  .map(([boundary, parts, closed, junk]) => {
    let s = junk;
    for (const [name, file, value, crlf] of parts) {
      s += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\n${crlf ? '\r\n' : ''}${value}\r\n`;
    }
    return closed ? s + `--${boundary}--\r\n` : s;
  });

const xmlBody = fc
  .letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string().map((t) => t.replace(/[<&]/g, '')),
      fc.tuple(token, fc.array(tie('node'), { maxLength: 4 }), fc.boolean()).map(([tag, kids, attr]) => `<${tag.replace(/^[^A-Za-z]/, 'x')}${attr ? ' a="1"' : ''}>${kids.join('')}</${tag.replace(/^[^A-Za-z]/, 'x')}>`),
    ),
  }))
  .node.map((n) => `<?xml version="1.0"?><root>${n}</root>`);

interface Target {
  name: string;
  property: () => fc.IPropertyWithHooks<unknown> | fc.IProperty<unknown>;
}

const TARGETS: Target[] = [
  {
    name: 'check-mapper',
    property: () =>
      fc.property(checkRequestMsg, (msg) => {
        try {
          const mapped = mapCheckRequest(msg);
          if (typeof mapped.request.uri !== 'string' || typeof mapped.context.requestId !== 'string') throw new Error('mapped request without uri/request id');
        } catch (err) {
          if (!(err instanceof CheckRequestError)) throw err;
        }
      }),
  },
  {
    name: 'urlencoded',
    property: () =>
      fc.property(
        fc.oneof(
          bytes(512).map((b) => ({ body: b, pairs: null as Array<[string, string]> | null })),
          fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string()), { maxLength: 10 }).map((pairs) => ({
            body: pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
            pairs: pairs.map(([k, v]) => [Buffer.from(k).toString('latin1'), Buffer.from(v).toString('latin1')] as [string, string]),
          })),
        ),
        ({ body, pairs }) => {
          if (processBody('URLENCODED', body) !== null) throw new Error('urlencoded processor reported an error');
          if (pairs !== null) {
            const parsed = parseUrlEncoded(body, '&').pairs.map(([k, v]) => [k, v]);
            if (JSON.stringify(parsed) !== JSON.stringify(pairs)) throw new Error(`round trip: ${JSON.stringify(parsed)} != ${JSON.stringify(pairs)}`);
          }
        },
      ),
  },
  {
    name: 'json',
    property: () =>
      fc.property(fc.oneof(bytes(512).map((b) => ({ body: b, valid: false })), fc.json({ maxDepth: 6 }).map((j) => ({ body: Buffer.from(j).toString('latin1'), valid: true }))), ({ body, valid }) => {
        const error = processBody('JSON', body);
        if (valid && error !== null) throw new Error(`valid JSON rejected: ${error}`);
      }),
  },
  {
    name: 'xml',
    property: () => fc.property(fc.oneof(bytes(512), xmlBody), (body) => void processBody('XML', body)),
  },
  {
    name: 'multipart',
    property: () =>
      fc.property(fc.oneof(bytes(512), multipartBody), (body) => {
        const tx = new Transaction(ruleset, request([['Content-Type', 'multipart/form-data; boundary=' + (/^--([^\r]*)\r\n/.exec(body)?.[1] ?? 'b')]]));
        const r = getBodyProcessor('MULTIPART')!(tx, body);
        if (r !== null && typeof r !== 'string') throw new Error('multipart returned ' + typeof r);
      }),
  },
  {
    name: 'headers-cookies',
    property: () =>
      fc.property(
        fc.array(fc.tuple(fc.oneof(token, bytes(16), fc.constant('Cookie'), fc.constant('cookie')), fc.oneof(bytes(128), fc.array(fc.tuple(token, bytes(16)), { maxLength: 6 }).map((c) => c.map(([k, v]) => `${k}=${v}`).join('; ')))), { maxLength: 12 }),
        bytes(64),
        (headers, uri) => {
          const tx = new Transaction(ruleset, request(headers, '/' + uri));
          const hdrs = tx.collections.get('REQUEST_HEADERS') ?? [];
          if (hdrs.length !== headers.length) throw new Error(`REQUEST_HEADERS has ${hdrs.length} of ${headers.length}`);
          for (const name of ['REQUEST_HEADERS', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES', 'ARGS']) {
            for (const kv of tx.collections.get(name) ?? []) {
              if (typeof kv.key !== 'string' || typeof kv.value !== 'string') throw new Error(`${name} entry is not strings`);
            }
          }
        },
      ),
  },
];

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string' }, targets: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' } } });
  const runs = Number(values.runs ?? 1_000_000);
  const seed = Number(values.seed ?? Date.now() % 2 ** 31);
  const chosen = values.targets ? TARGETS.filter((t) => values.targets!.split(',').includes(t.name)) : TARGETS;
  const results: Array<Record<string, unknown>> = [];
  let failed = 0;
  for (const t of chosen) {
    const t0 = performance.now();
    const details = fc.check(t.property() as fc.IProperty<unknown>, { numRuns: runs, seed, endOnFailure: true });
    const seconds = (performance.now() - t0) / 1000;
    const row = {
      target: t.name,
      inputs: details.numRuns,
      seconds: Math.round(seconds * 10) / 10,
      failed: details.failed,
      counterexample: details.failed ? JSON.stringify(details.counterexample)?.slice(0, 2000) : undefined,
      error: details.failed ? String(details.errorInstance ?? '').slice(0, 500) : undefined,
    };
    if (details.failed) failed++;
    results.push(row);
    console.log(`${t.name}: ${row.inputs} inputs in ${row.seconds}s, ${details.failed ? 'FAILED: ' + row.error + ' with ' + row.counterexample : 'no findings'}`);
  }
  const out = resolve(values.out ?? join(REPO_ROOT, 'test-results', 'fuzz.json'));
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify({ generatedAt: new Date().toISOString(), node: process.version, seed, runs, results }, null, 2) + '\n');
  console.log(`seed ${seed}; wrote ${out}`);
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code), (err: unknown) => {
  console.error(`fuzz: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 2;
});
