// Unit tests for the CRS runner's conversion: go-ftw YAML → HTTP bytes → Envoy → CheckRequest.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sharedPath } from '../../bench/lib/shared.js';
import { buildCheckRequest, sanitizeUtf8 } from '../../bench/lib/check-request.js';
import { planStage, type ApplicablePlan, type NotApplicablePlan, type StagePlan } from './convert.js';
import { DEFAULT_ENVOY_OPTIONS, envoyProcess, envoyRefererValid, envoyUrlValid } from '../../bench/lib/envoy-http1.js';
import { buildExpectation, evaluateExpectation, parseOverrides, regexToIds } from './expectations.js';
import { loadCorpus, parseFtwYaml, type FtwStage } from './ftw-corpus.js';
import { buildFtwRequest, encodeFormData, expandGoTemplate } from './ftw-request.js';

function stageFrom(yaml: string): FtwStage {
  const stages = parseFtwYaml(yaml, 'inline.yaml', 'REQUEST-920-PROTOCOL-ENFORCEMENT');
  assert.equal(stages.length, 1);
  return stages[0]!;
}

function applicable(plan: StagePlan): ApplicablePlan {
  assert.ok(plan.applicable, `expected applicable, got ${(plan as NotApplicablePlan).reason}: ${(plan as NotApplicablePlan).detail}`);
  return plan;
}

function notApplicable(plan: StagePlan): NotApplicablePlan {
  assert.ok(!plan.applicable, `expected not applicable for ${plan.name}`);
  return plan;
}

function headerMap(plan: ApplicablePlan): Array<[string, string]> {
  return plan.checkRequest.attributes.request.http.header_map!.headers.map((h) => [h.key, h.raw_value.toString('latin1')]);
}

const b64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

describe('go-ftw YAML loading', () => {
  it('keeps scalars as written (failsafe schema) and converts typed fields', () => {
    const s = stageFrom(`
rule_id: 920181
tests:
  - test_id: 1
    desc: "numbers stay strings"
    stages:
      - input:
          dest_addr: 127.0.0.1
          port: 80
          headers:
            Host: localhost
            Content-Length: 7
            Keep-Alive: 1.0
          autocomplete_headers: false
        output:
          status: 200
          log:
            no_expect_ids: [920181]
`);
    assert.equal(s.ruleId, 920181);
    assert.equal(s.testId, 1);
    assert.equal(s.input.port, 80);
    assert.equal(s.input.headers!['Content-Length'], '7');
    assert.equal(s.input.headers!['Keep-Alive'], '1.0');
    assert.equal(s.input.autocomplete_headers, false);
    assert.deepEqual(s.output.log?.no_expect_ids, [920181]);
    assert.equal(s.output.status, 200);
  });

  it('infers test_id from the position and returns [] for a comment-only file', () => {
    const stages = parseFtwYaml('rule_id: 1\ntests:\n  - stages:\n      - input: {}\n        output: {}\n');
    assert.equal(stages[0]!.testId, 1);
    assert.deepEqual(parseFtwYaml('# nothing here\n'), []);
  });
});

describe('go-ftw request bytes', () => {
  it('sorts map headers, url-encodes form data and autocompletes CT / Connection / Content-Length', () => {
    const built = buildFtwRequest({
      method: 'POST',
      uri: '/post',
      headers: { 'User-Agent': 'OWASP CRS test agent', Host: 'localhost', Accept: '*/*' },
      data: 'var=a b&x=<script>',
    });
    const text = built.raw.toString('latin1');
    assert.equal(
      text,
      'POST /post HTTP/1.1\r\nAccept: */*\r\nHost: localhost\r\nUser-Agent: OWASP CRS test agent\r\n' +
        'Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\nContent-Length: 22\r\n\r\n' +
        'var=a+b&x=%3Cscript%3E',
    );
  });

  it('leaves already-encoded form data alone and adds Content-Length: 0 to a body-less POST', () => {
    assert.equal(encodeFormData(Buffer.from('a=%27b')).toString(), 'a=%27b');
    assert.equal(encodeFormData(Buffer.from('a=1+1')).toString(), 'a=1+1');
    const built = buildFtwRequest({ method: 'POST', headers: { Host: 'h' } });
    assert.match(built.raw.toString(), /Content-Length: 0\r\n\r\n$/);
    const get = buildFtwRequest({ headers: { Host: 'h' } });
    assert.equal(get.raw.toString(), 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
  });

  it('turns LF into CRLF for multipart bodies and expands the sprig repeat template', () => {
    const built = buildFtwRequest({
      method: 'POST',
      headers: { Host: 'h', 'Content-Type': 'multipart/form-data; boundary=x' },
      data: '--x\nContent-Disposition: form-data; name="a"\n\n{{ "1" | repeat 3 }}\n--x--\n',
    });
    assert.equal(built.body!.toString(), '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n111\r\n--x--\r\n');
    assert.equal(expandGoTemplate('a{{ "ab" | repeat 2 }}b'), 'aababb');
  });

  it('does not autocomplete when autocomplete_headers is false', () => {
    const built = buildFtwRequest({ method: 'POST', headers: { Host: 'h' }, data: 'x=1', autocomplete_headers: false });
    assert.equal(built.raw.toString(), 'POST / HTTP/1.1\r\nHost: h\r\n\r\nx=1');
  });
});

describe('Envoy HTTP/1 model → CheckRequest', () => {
  it('encoded_request with two Content-Type headers: one merged inline header, Host → :authority', () => {
    const raw = 'GET /get HTTP/1.1\r\nHost: localhost\r\nUser-Agent: UA\r\nContent-Type: application/json\r\nContent-Type: application/xml\r\n\r\n';
    const plan = applicable(planStage(stageFrom(`
rule_id: 920620
tests:
  - test_id: 1
    stages:
      - input:
          encoded_request: "${b64(raw)}"
        output:
          log:
            no_expect_ids: [920620]
`), null));
    const headers = headerMap(plan);
    assert.deepEqual(headers.filter(([k]) => k === 'content-type'), [['content-type', 'application/json,application/xml']]);
    assert.deepEqual(headers.slice(0, 4), [[':authority', 'localhost'], [':path', '/get'], [':method', 'GET'], [':scheme', 'http']]);
    assert.ok(!headers.some(([k]) => k === 'host'));
    assert.ok(headers.some(([k, v]) => k === 'x-forwarded-proto' && v === 'http'));
    assert.ok(headers.some(([k]) => k === 'x-request-id'));
    const http = plan.checkRequest.attributes.request.http;
    assert.equal(http.method, 'GET');
    assert.equal(http.path, '/get');
    assert.equal(http.host, 'localhost');
    assert.equal(http.protocol, 'HTTP/1.1');
    assert.equal(http.raw_body, undefined);
    assert.deepEqual(plan.expectation.noExpectIds, [920620]);
  });

  it('absolute-form target: Envoy sets :path and :authority from it', () => {
    const plan = applicable(planStage(stageFrom(`
rule_id: 920100
tests:
  - test_id: 16
    stages:
      - input:
          uri: "http://Example.COM:80/a/../b?x=1"
          headers:
            Host: localhost
        output:
          log:
            expect_ids: [920100]
`), null));
    assert.equal(plan.request.path, '/b?x=1');
    assert.equal(plan.request.authority, 'example.com');
    assert.equal(plan.request.scheme, 'http');
    assert.ok(plan.alterations.some((a) => a.startsWith('absolute-form')));
    assert.equal(plan.checkRequest.attributes.request.http.host, 'example.com');
  });

  it('repeated non-inline headers stay separate in header_map and are joined with "," in the headers map', () => {
    const raw = Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nX-Foo: a\r\nX-Foo: b\xff\r\nCookie: c=1\r\nCookie: d=2\r\n\r\n', 'latin1');
    const out = envoyProcess(raw);
    assert.equal(out.kind, 'forwarded');
    if (out.kind !== 'forwarded') return;
    const rawCheck = buildCheckRequest(out.request);
    const foo = rawCheck.attributes.request.http.header_map!.headers.filter((h) => h.key === 'x-foo');
    assert.deepEqual(foo.map((h) => h.raw_value.toString('latin1')), ['a', 'b\xff']);
    const mapCheck = buildCheckRequest(out.request, { ...rawDefaults(), headerEncoding: 'map' });
    assert.equal(mapCheck.attributes.request.http.headers!['x-foo'], 'a,b!');
    assert.equal(mapCheck.attributes.request.http.headers!['cookie'], 'c=1,d=2');
    assert.equal(mapCheck.attributes.request.http.headers![':path'], '/');
  });

  it('de-chunks a chunked body and drops Transfer-Encoding; adds x-envoy-auth-partial-body', () => {
    const raw = 'POST / HTTP/1.1\r\nAccept: */*\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nHi \r\n3\r\nCRS\r\n0\r\n\r\n';
    const out = envoyProcess(Buffer.from(raw));
    assert.equal(out.kind, 'forwarded');
    if (out.kind !== 'forwarded') return;
    assert.equal(out.request.body!.toString(), 'Hi CRS');
    assert.ok(!out.request.headers.some(([k]) => k === 'transfer-encoding'));
    const check = buildCheckRequest(out.request);
    assert.equal(check.attributes.request.http.raw_body!.toString(), 'Hi CRS');
    const partial = check.attributes.request.http.header_map!.headers.find((h) => h.key === 'x-envoy-auth-partial-body');
    assert.equal(partial?.raw_value.toString(), 'false');
  });

  it('body is cut at Content-Length; a short body means Envoy waits (not applicable)', () => {
    const long = envoyProcess(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcdef'));
    assert.ok(long.kind === 'forwarded' && long.request.body!.toString() === 'abc');
    const short = envoyProcess(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc'));
    assert.equal(short.kind, 'incomplete');
  });

  // Observed with real Envoy 1.36.4 (test/crs/real-envoy.ts and a header-echo run): the codec's
  // sanitizeConnectionHeader, HCM's TE sanitising and use_remote_address headers, before ext_authz.
  it('headers nominated by Connection are removed; nominating X-Forwarded-* / pseudo-headers / 10+ tokens is a 400', () => {
    const out = envoyProcess(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\nX-Foo: 1\r\nAccept: a\r\nConnection: User-Agent, x-foo, close\r\n\r\n'));
    assert.equal(out.kind, 'forwarded');
    if (out.kind !== 'forwarded') return;
    const names = out.request.headers.map(([k]) => k);
    assert.ok(!names.includes('user-agent') && !names.includes('x-foo') && !names.includes('connection'), names.join(','));
    assert.ok(names.includes('accept'));
    assert.ok(out.rewrites.includes('hop-by-hop:nominated'));
    for (const t of ['X-Forwarded-For', 'x-forwarded-proto', 'X-Forwarded-Host', ':authority', 'a,b,c,d,e,f,g,h,i,j']) {
      const r = envoyProcess(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nConnection: ${t}\r\n\r\n`));
      assert.ok(r.kind === 'rejected' && r.status === 400 && r.reason === 'connection_header_rejected', `${t}: ${JSON.stringify(r)}`);
    }
    const nine = envoyProcess(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nConnection: a,b,c,d,e,f,g,h,i\r\n\r\n'));
    assert.equal(nine.kind, 'forwarded');
    const host = envoyProcess(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nConnection: Host\r\n\r\n'));
    assert.ok(host.kind === 'rejected' && host.reason === 'missing_host_header', JSON.stringify(host));
  });

  it('TE is kept only as "trailers"; use_remote_address appends X-Forwarded-For and sets x-envoy-external-address', () => {
    const te = (value: string, nominate = false) => {
      const r = envoyProcess(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\nTE: ${value}\r\nConnection: ${nominate ? 'te, ' : ''}close\r\n\r\n`));
      assert.equal(r.kind, 'forwarded');
      return r.kind === 'forwarded' ? r.request.headers.find(([k]) => k === 'te')?.[1].toString() : undefined;
    };
    assert.equal(te('trailers'), 'trailers');
    assert.equal(te('gzip, trailers'), 'trailers');
    assert.equal(te('gzip'), undefined);
    assert.equal(te('Trailers'), undefined, 'HCM compares case-sensitively');
    assert.equal(te('gzip, Trailers', true), 'trailers', 'a nominated TE is compared case-insensitively');
    const r = envoyProcess(Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n'), { ...DEFAULT_ENVOY_OPTIONS, remoteAddress: '10.1.2.3' });
    assert.equal(r.kind, 'forwarded');
    if (r.kind !== 'forwarded') return;
    const h = (n: string) => r.request.headers.find(([k]) => k === n)?.[1].toString();
    assert.equal(h('x-forwarded-for'), '1.2.3.4,10.1.2.3');
    assert.equal(h('x-envoy-external-address'), '10.1.2.3');
  });

  it('CONNECT: authority-form host:port → 404 (no CONNECT route), anything else → 400 invalid_url', () => {
    const c = (target: string) => envoyProcess(Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: h\r\n\r\n`));
    assert.deepEqual([c('1.2.3.4:80'), c('www.coreruleset.org:80'), c('www.coreruleset.org')].map((r) => r.kind === 'rejected' && r.status), [404, 404, 400]);
  });

  it('removes hop-by-hop headers and an invalid Referer, keeps header names with underscores', () => {
    const raw = 'GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\nKeep-Alive: 300\r\nReferer: #x=foo\r\nX_Filename: a.php\r\n\r\n';
    assert.ok(envoyRefererValid('http://www.example.com/foo?bar=xyz') && envoyRefererValid('/resource.html') && envoyRefererValid('http'));
    assert.ok(!envoyRefererValid('mal  formed') && !envoyRefererValid('http://www.example.com/?a#frag') && !envoyRefererValid('foo=bar#x') && !envoyRefererValid('a:b'));
    assert.ok(!envoyRefererValid('http://user@host/'));
    const out = envoyProcess(Buffer.from(raw));
    assert.ok(out.kind === 'forwarded');
    if (out.kind !== 'forwarded') return;
    const names = out.request.headers.map(([k]) => k);
    assert.ok(!names.includes('connection') && !names.includes('keep-alive') && !names.includes('referer'));
    assert.ok(names.includes('x_filename'));
    assert.ok(out.alterations.some((a) => a.startsWith('Referer')));
  });

  it('reports HTTP/1.0 as HTTP/1.0 and odd versions as HTTP/1.0 with an alteration', () => {
    const v10 = envoyProcess(Buffer.from('GET / HTTP/1.0\r\nHost: h\r\n\r\n'));
    assert.ok(v10.kind === 'forwarded' && v10.request.protocol === 'HTTP/1.0' && v10.alterations.length === 0);
    const v40 = envoyProcess(Buffer.from('GET / HTTP/4.0\r\nHost: h\r\n\r\n'));
    assert.ok(v40.kind === 'forwarded' && v40.request.protocol === 'HTTP/1.0' && v40.alterations.length === 1);
    const strict = envoyProcess(Buffer.from('GET / HTTP/1.0\r\nHost: h\r\n\r\n'), { ...DEFAULT_ENVOY_OPTIONS, acceptHttp10: false });
    assert.ok(strict.kind === 'rejected' && strict.status === 426);
  });

  it('URL validation follows Balsa/http-parser', () => {
    assert.ok(envoyUrlValid('/a?b=<c>', false));
    assert.ok(!envoyUrlValid('/a b', false));
    assert.ok(!envoyUrlValid('/\u00e9', false));
    assert.ok(!envoyUrlValid('\\index.html', false));
    assert.ok(envoyUrlValid('http://localhost', false));
    assert.ok(envoyUrlValid('*', false));
  });
});

describe('not-applicable detection', () => {
  const cases: Array<[string, string, string]> = [
    ['custom method', 'method: REALLYLONGUNREALMETHOD\n          headers: {Host: localhost}', 'envoy-rejects:invalid_method'],
    ['leading white space before the method', 'method: "     GET"\n          headers: {Host: localhost}', 'envoy-rejects:invalid_method'],
    ['version without minor', 'version: HTTP/2\n          headers: {Host: localhost}', 'envoy-rejects:invalid_version'],
    ['space inside the target', 'uri: "/a b"\n          headers: {Host: localhost}', 'envoy-rejects:invalid_version'],
    ['non-ASCII target', 'uri: "/\u2460"\n          headers: {Host: localhost}', 'envoy-rejects:invalid_url'],
    ['fragment', 'uri: "/#frag"\n          headers: {Host: localhost}', 'envoy-rejects:fragment_in_path'],
    ['CL + TE', 'method: POST\n          headers: {Host: localhost, Content-Length: "7", Transfer-Encoding: chunked}\n          data: "7\\r\\nfoo=bar\\r\\n0\\r\\n\\r\\n"\n          autocomplete_headers: false', 'envoy-rejects:content_length_and_chunked'],
    ['missing Host on HTTP/1.0', 'version: HTTP/1.0\n          headers: {}', 'envoy-rejects:missing_host_header'],
    ['missing Host on HTTP/1.1', 'headers: {Accept: "*/*"}', 'envoy-rejects:missing_host_header'],
    ['non-numeric Content-Length', 'headers: {Host: localhost, Content-Length: NotDigits}', 'envoy-rejects:invalid_content_length'],
    ['NUL in a header value', 'headers: {Host: localhost, X-A: "a\\0b"}', 'envoy-rejects:invalid_header_value'],
    ['header name with a space', 'headers: {Host: localhost, "X A": b}', 'envoy-rejects:invalid_header_name'],
    ['CONNECT', 'method: CONNECT\n          uri: "1.2.3.4:80"\n          headers: {Host: localhost}', 'envoy-rejects:connect_not_routed'],
    ['OPTIONS *', 'method: OPTIONS\n          uri: "*"\n          headers: {Host: localhost}', 'envoy-rejects:absolute_path'],
    ['unsupported Transfer-Encoding', 'method: POST\n          headers: {Host: localhost, Transfer-Encoding: gzip}\n          autocomplete_headers: false', 'envoy-rejects:invalid_transfer_encoding'],
  ];
  for (const [what, input, reason] of cases) {
    it(what, () => {
      const plan = notApplicable(planStage(stageFrom(`
rule_id: 920100
tests:
  - test_id: 1
    stages:
      - input:
          ${input}
        output:
          log:
            expect_ids: [920100]
`), null));
      assert.equal(plan.reason, reason, plan.detail);
    });
  }

  it('response-phase rules, expect_error and status-only stages', () => {
    const response = parseFtwYaml('rule_id: 951110\ntests:\n  - test_id: 1\n    stages:\n      - input: {headers: {Host: h}}\n        output: {log: {expect_ids: [951110]}}\n', 'x', 'RESPONSE-951-DATA-LEAKAGES-SQL');
    assert.equal(notApplicable(planStage(response[0]!, null)).reason, 'response-phase');
    const err = stageFrom('rule_id: 920430\ntests:\n  - test_id: 5\n    stages:\n      - input: {version: "", headers: {Host: h}}\n        output: {expect_error: true, log: {expect_ids: [920430]}}\n');
    assert.equal(notApplicable(planStage(err, null)).reason, 'expects-transport-error');
    const status = stageFrom('rule_id: 920274\ntests:\n  - test_id: 1\n    stages:\n      - input: {headers: {Host: "localhost%1F"}}\n        output: {status: 400}\n');
    assert.equal(notApplicable(planStage(status, null)).reason, 'not-observable');
  });

  it('overrides replace the expectation or make a stage not applicable', () => {
    const overrides = parseOverrides(`
test_overrides:
  - rule_id: 920100
    test_ids: [1]
    reason: "explained"
    output:
      log:
        no_expect_ids: [920100]
  - rule_id: 920100
    test_ids: [2]
    reason: "not for Envoy"
    ignore: true
`);
    const s = stageFrom('rule_id: 920100\ntests:\n  - test_id: 1\n    stages:\n      - input: {headers: {Host: h}}\n        output: {log: {expect_ids: [920100]}}\n');
    const plan = applicable(planStage(s, overrides));
    assert.deepEqual(plan.expectation.expectIds, []);
    assert.deepEqual(plan.expectation.noExpectIds, [920100]);
    const ignored = notApplicable(planStage({ ...s, testId: 2 }, overrides));
    assert.equal(ignored.reason, 'override');
    assert.throws(() => parseOverrides('test_overrides:\n  - rule_id: 1\n    test_ids: [1]\n    ignore: true\n'), /reason/);
  });
});

describe('expectations', () => {
  it('maps go-ftw log regexes onto rule ids', () => {
    assert.deepEqual(regexToIds('\\[id "\\d+"\\]'), ['*']);
    assert.deepEqual(regexToIds('Inbound Anomaly Score Exceeded \\(Total Score: '), [949110]);
    // Which parser error was reported is not observable through rule ids.
    assert.equal(
      regexToIds('Multipart parsing error: Multipart: Invalid part header \\(contains invalid character\\)|\\[id "922130"\\].*\\[msg "x"\\]'),
      null,
    );
    assert.deepEqual(regexToIds('Multipart parsing error|\\[id "922130"\\]'), [200002, 922130]);
    assert.equal(regexToIds('found within ARGS:x'), null);
  });

  it('evaluates expect / no_expect / any-of / no-rules', () => {
    const e = buildExpectation({ log: { expect_ids: [1, 2], no_expect_ids: [3] } });
    assert.ok(evaluateExpectation(e, [1, 2, 4]).pass);
    assert.deepEqual(evaluateExpectation(e, [1, 3]).missing, [2]);
    assert.deepEqual(evaluateExpectation(e, [1, 2, 3]).unexpected, [3]);
    const none = buildExpectation({ log: { no_match_regex: '\\[id "\\d+"\\]' } });
    assert.ok(none.noRules && evaluateExpectation(none, []).pass && !evaluateExpectation(none, [5]).pass);
    const any = buildExpectation({ log: { match_regex: 'Multipart parsing error|\\[id "922130"\\]' } });
    assert.ok(evaluateExpectation(any, [200002]).pass && !evaluateExpectation(any, [1]).pass);
  });

  it('sanitizeUtf8 replaces invalid bytes like Envoy', () => {
    assert.equal(sanitizeUtf8(Buffer.from([0x61, 0xff, 0xc3, 0xa9, 0xe2, 0x28])), 'a!é!(');
  });
});

describe('the CRS corpus', { skip: !existsSync(sharedPath('crs', 'tests', 'regression', 'tests')) && 'shared CRS corpus not present' }, () => {
  it('loads every file and classifies every stage', () => {
    const corpus = loadCorpus(sharedPath('crs', 'tests', 'regression', 'tests'));
    assert.ok(corpus.stages.length > 4000, `only ${corpus.stages.length} stages`);
    assert.ok(corpus.problems.every((p) => /no tests/.test(p.problem)), JSON.stringify(corpus.problems));
    let applicableCount = 0;
    for (const s of corpus.stages) if (planStage(s, null).applicable) applicableCount++;
    assert.ok(applicableCount > corpus.stages.length * 0.9, `${applicableCount} applicable`);
  });
});

function rawDefaults() {
  return { headerEncoding: 'raw' as const, maxRequestBytes: 1 << 20, sourceAddress: '127.0.0.1', sourcePort: 1, destinationAddress: '127.0.0.1', destinationPort: 80, streamId: '1' };
}
