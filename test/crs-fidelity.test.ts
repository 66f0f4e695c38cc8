// Issue #5 fidelity details, end to end from an Envoy CheckRequest (encoded and decoded with the
// real protos) through the mapper into the engine: each variable as ModSecurity v3 builds it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Waf } from '../src/engine/waf.js';
import { mapCheckRequest, type CheckRequestMsg } from '../src/server/check-mapper.js';
import { loadProtos } from '../src/server/proto.js';
import { buildCheckRequest, type RequestSpec } from './helpers/check-client.js';

/** Round-trips a CheckRequest object through the wire format, like the server receives it. */
function decode(message: unknown): CheckRequestMsg {
  const method = loadProtos().authorization.Check!;
  return method.requestDeserialize(method.requestSerialize(message)) as CheckRequestMsg;
}

/** Loads `rules` (phase 1/2 @streq probes) and returns the ids that matched for `spec`. */
function hits(rules: string, spec: RequestSpec): number[] {
  const waf = Waf.fromString('SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n' + rules, 'fidelity.conf');
  return [...waf.evaluate(mapCheckRequest(decode(buildCheckRequest(spec))).request).ruleIds];
}

// REQUEST_URI is the %-decoded target (v3 processURI: m_uri_decoded), REQUEST_URI_RAW the raw one.
describe('URI variables from the raw :path, as ModSecurity builds them from the request line', () => {
  const rules = `SecRule REQUEST_FILENAME "@streq /shop/a b/" "id:1,phase:1,pass"
SecRule REQUEST_BASENAME "@streq " "id:2,phase:1,pass"
SecRule REQUEST_URI "@streq /shop/a b/?q='x'&&a" "id:3,phase:1,pass"
SecRule REQUEST_URI_RAW "@streq /shop/a%20b/?q=%27x%27&&a" "id:4,phase:1,pass"
SecRule QUERY_STRING "@streq q=%27x%27&&a" "id:5,phase:1,pass"
SecRule REQUEST_LINE "@streq POST /shop/a%20b/?q=%27x%27&&a HTTP/1.1" "id:6,phase:1,pass"
SecRule REQUEST_METHOD "@streq POST" "id:7,phase:1,pass"`;

  test('every variable of a path with an escape, a trailing slash and a query', () => {
    assert.deepEqual(hits(rules, { method: 'POST', path: "/shop/a%20b/?q=%27x%27&&a" }), [1, 2, 3, 4, 5, 6, 7]);
  });

  test('"/" has an empty basename and no query string', () => {
    const r = `SecRule REQUEST_BASENAME "@streq " "id:10,phase:1,pass"
SecRule REQUEST_FILENAME "@streq /" "id:11,phase:1,pass"
SecRule QUERY_STRING "@streq " "id:12,phase:1,pass"
SecRule &ARGS_GET "@eq 0" "id:13,phase:1,pass"`;
    assert.deepEqual(hits(r, { path: '/' }), [10, 11, 12, 13]);
    assert.deepEqual(hits(r, { path: '/?' }), [10, 11, 12, 13]);
  });
});

describe('ARGS_GET from malformed query strings', () => {
  test('"a&=b": a name without value and a value without name', () => {
    const r = `SecRule &ARGS_GET "@eq 2" "id:20,phase:1,pass"
SecRule ARGS_GET:a "@streq " "id:21,phase:1,pass"
SecRule ARGS_GET_NAMES "@streq " "id:22,phase:1,pass"
SecRule ARGS_GET "@streq b" "id:23,phase:1,pass"`;
    assert.deepEqual(hits(r, { path: '/p?a&=b' }), [20, 21, 22, 23]);
  });

  test('% sequences: valid ones decoded, invalid kept and flagged', () => {
    const r = `SecRule ARGS_GET:x "@streq A%zz%" "id:30,phase:1,pass"
SecRule ARGS_GET_NAMES "@streq n m" "id:31,phase:1,pass"
SecRule URLENCODED_ERROR "@eq 1" "id:32,phase:1,pass"`;
    assert.deepEqual(hits(r, { path: '/p?x=%41%zz%&n+m=1' }), [30, 31, 32]);
  });

  test('repeated names are all kept, in order', () => {
    const r = `SecRule &ARGS_GET:a "@eq 3" "id:40,phase:1,pass"
SecRule ARGS_GET:a "@streq 3" "id:41,phase:1,pass,capture"`;
    assert.deepEqual(hits(r, { path: '/p?a=1&a=2&b=x&a=3' }), [40, 41]);
  });
});

describe('headers, protocol and request id', () => {
  test('header names keep the case Envoy gives in header_map; the headers map is lower-case', () => {
    const r = `SecRule REQUEST_HEADERS_NAMES "@streq X-Mixed-Case" "id:50,phase:1,pass"
SecRule REQUEST_HEADERS_NAMES "@streq x-mixed-case" "id:51,phase:1,pass"
SecRule REQUEST_HEADERS:x-mixed-case "@streq v" "id:52,phase:1,pass"`;
    const raw = buildCheckRequest({ rawHeaders: true, headers: { 'x-other': 'o' } }) as any;
    raw.attributes.request.http.header_map.headers.push({ key: 'X-Mixed-Case', raw_value: Buffer.from('v') });
    const waf = Waf.fromString('SecRuleEngine DetectionOnly\n' + r, 'fidelity.conf');
    assert.deepEqual([...waf.evaluate(mapCheckRequest(decode(raw)).request).ruleIds], [50, 52]);
    assert.deepEqual(hits(r, { headers: { 'X-Mixed-Case': 'v' } }), [51, 52]);
  });

  test('multi-valued headers: one value per header line (header_map), Envoy-joined otherwise', () => {
    const r = `SecRule &REQUEST_HEADERS:x-multi "@eq 2" "id:60,phase:1,pass"
SecRule REQUEST_HEADERS:x-multi "@streq two" "id:61,phase:1,pass"
SecRule REQUEST_HEADERS:x-multi "@streq one,two" "id:62,phase:1,pass"`;
    assert.deepEqual(hits(r, { rawHeaders: true, headers: { 'x-multi': ['one', 'two'] } }), [60, 61]);
    assert.deepEqual(hits(r, { headers: { 'x-multi': ['one', 'two'] } }), [62]);
  });

  test('REQUEST_PROTOCOL is the request protocol; UNIQUE_ID is Envoy x-request-id', () => {
    const r = `SecRule REQUEST_PROTOCOL "@streq HTTP/2" "id:70,phase:1,pass"
SecRule REQUEST_LINE "@endsWith HTTP/2" "id:71,phase:1,pass"
SecRule UNIQUE_ID "@streq 4f1c-req-9" "id:72,phase:1,pass"
SecRule REQUEST_PROTOCOL "@streq HTTP/1.0" "id:73,phase:1,pass"`;
    assert.deepEqual(hits(r, { protocol: 'HTTP/2', requestId: '4f1c-req-9' }), [70, 71, 72]);
    assert.deepEqual(hits(r, { protocol: 'HTTP/1.0', requestId: 'other' }), [73]);
  });

  test('cookies as ModSecurity v3 splits them', () => {
    const r = `SecRule REQUEST_COOKIES:a "@streq 1=2" "id:80,phase:1,pass"
SecRule &REQUEST_COOKIES "@eq 3" "id:81,phase:1,pass"
SecRule REQUEST_COOKIES:c "@streq " "id:82,phase:1,pass"`;
    assert.deepEqual(hits(r, { headers: { cookie: 'a=1=2; b=x;c' } }), [80, 81, 82]);
  });
});
