// Unit tests for the CRS runner additions of issue #5: the Envoy-rewrite counterfactual, the
// legacy (CRS 3.3) ftw format and client, and log-regex mapping with unobservable alternatives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planStage } from './convert.js';
import { DEFAULT_ENVOY_OPTIONS, envoyProcess } from '../../bench/lib/envoy-http1.js';
import { buildExpectation } from './expectations.js';
import { buildLegacyFtwRequest, parseLegacyFtwYaml, pyReencodeForm } from './ftw-legacy.js';

const PRESERVE = { ...DEFAULT_ENVOY_OPTIONS, preserveClientRequest: true };

function forwarded(raw: string, opts = DEFAULT_ENVOY_OPTIONS) {
  const out = envoyProcess(Buffer.from(raw, 'latin1'), opts);
  assert.equal(out.kind, 'forwarded');
  if (out.kind !== 'forwarded') throw new Error('unreachable');
  return out;
}

describe('Envoy model: rewrites and the request as the client sent it', () => {
  it('names each rewrite kind and undoes it with preserveClientRequest', () => {
    const raw = 'GET http://example.com/p?q=1 HTTP/4.0\r\nHost: localhost\r\nConnection: keep-alive\r\nReferer: cat /etc/passwd\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n';
    const envoy = forwarded(raw);
    assert.deepEqual(new Set(envoy.rewrites), new Set(['protocol', 'merged:content-type', 'absolute-form', 'hop-by-hop:connection', 'referer']));
    const names = envoy.request.headers.map(([k]) => k);
    assert.ok(!names.includes('referer') && !names.includes('connection'));
    assert.equal(envoy.request.protocol, 'HTTP/1.0');
    assert.equal(envoy.request.path, '/p?q=1');

    const sent = forwarded(raw, PRESERVE);
    const sentNames = sent.request.headers.map(([k]) => k);
    assert.ok(sentNames.includes('referer') && sentNames.includes('connection'));
    assert.equal(sentNames.filter((n) => n === 'content-type').length, 2);
    assert.equal(sent.request.protocol, 'HTTP/4.0');
    assert.equal(sent.request.path, 'http://example.com/p?q=1');
    assert.equal(sent.request.authority, 'localhost');
  });

  it('the Connection: close go-ftw adds is no rewrite; rejections stay rejections', () => {
    assert.deepEqual(forwarded('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n').rewrites, []);
    const bad = envoyProcess(Buffer.from('GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n'), PRESERVE);
    assert.equal(bad.kind, 'rejected');
  });

  it('planStage builds the counterfactual CheckRequest only when Envoy rewrote something', () => {
    const [plain] = parseLegacyFtwYaml(LEGACY.replace('Referer: "cat /etc/passwd"', 'Referer: "http://ok/"'), 'x.yaml').stages;
    const [bad] = parseLegacyFtwYaml(LEGACY, 'x.yaml').stages;
    const p1 = planStage(plain!, null);
    const p2 = planStage(bad!, null);
    assert.ok(p1.applicable && p1.preservedCheckRequest === null);
    assert.ok(p2.applicable && p2.preservedCheckRequest !== null && p2.rewrites.includes('referer'));
    if (!p2.applicable || !p2.preservedCheckRequest) return;
    const keys = p2.preservedCheckRequest.attributes.request.http.header_map!.headers.map((h) => h.key);
    assert.ok(keys.includes('referer'));
  });
});

const LEGACY = `---
meta:
  author: "t"
  enabled: true
tests:
  -
    test_title: 932160-7
    stages:
      -
        stage:
          input:
            dest_addr: "127.0.0.1"
            port: 80
            headers:
              Host: "localhost"
              User-Agent: "ModSecurity CRS 3 Tests"
              Referer: "cat /etc/passwd"
          output:
            log_contains: "id \\"932160\\""
  -
    test_title: 932160-8
    enabled: false
    stages:
      - stage: {input: {}, output: {status: 200}}
`;

describe('legacy ftw (CRS 3.3) format and client', () => {
  it('reads titles, stage wrappers, disabled tests and log_contains ids', () => {
    const { stages, disabled } = parseLegacyFtwYaml(LEGACY, 'REQUEST-932/932160.yaml', 'REQUEST-932');
    assert.equal(stages.length, 1);
    assert.deepEqual(disabled, ['932160-8']);
    const s = stages[0]!;
    assert.equal(s.ruleId, 932160);
    assert.equal(s.testId, 7);
    assert.equal(s.client, 'ftw');
    assert.deepEqual(s.input.ordered_headers?.map((h) => h.name), ['Host', 'User-Agent', 'Referer']);
    assert.deepEqual(buildExpectation(s.output).expectIds, [932160]);
  });

  it('a disabled file yields no stages', () => {
    const { stages, disabled } = parseLegacyFtwYaml(LEGACY.replace('enabled: true', 'enabled: false'), 'x.yaml');
    assert.equal(stages.length, 0);
    assert.deepEqual(disabled, ['932160-7', '932160-8']);
  });

  it('sends what ftw sends: list data joined with CRLF, headers in written order, magic defaults', () => {
    const yaml = `tests:
  - test_title: 920400-1
    stages:
      - stage:
          input:
            method: POST
            headers:
              Host: localhost
              Content-Type: "multipart/form-data; boundary=--0000"
            data:
              - "----0000"
              - 'Content-Disposition: form-data; name="a"'
              - ""
              - "x"
              - "----0000--"
          output:
            log_contains: id "920400"
`;
    const [stage] = parseLegacyFtwYaml(yaml, 'y.yaml').stages;
    const built = buildLegacyFtwRequest(stage!.input);
    const text = built.raw.toString('latin1');
    const body = '----0000\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n----0000--';
    assert.equal(
      text,
      'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=--0000\r\n' +
        `Content-Length: ${body.length}\r\n\r\n` + body,
    );
  });

  it('form data: Content-Type added, re-encoded as urlencode(parse_qsl()) unless it holds %HH; stop_magic adds nothing', () => {
    assert.equal(pyReencodeForm('a=1 2&b&c=&d=x/y;e=~'), 'a=1+2&d=x%2Fy&e=~');
    assert.equal(pyReencodeForm('foo'), null);
    const magic = buildLegacyFtwRequest({ method: 'POST', ordered_headers: [{ name: 'Host', value: 'h' }], data: "x=' or 1=1" });
    assert.match(magic.raw.toString('latin1'), /Content-Type: application\/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\nx=%27\+or\+1%3D1$/);
    const escaped = buildLegacyFtwRequest({ method: 'POST', ordered_headers: [{ name: 'Host', value: 'h' }], data: 'x=%41 b' });
    assert.match(escaped.raw.toString('latin1'), /\r\n\r\nx=%41 b$/);
    const stop = buildLegacyFtwRequest({ method: 'POST', ordered_headers: [{ name: 'Host', value: 'h' }], data: 'a=b', stop_magic: true });
    assert.equal(stop.raw.toString('latin1'), 'POST / HTTP/1.1\r\nHost: h\r\n\r\na=b');
  });
});

describe('log regexes with alternatives that rule ids cannot show', () => {
  const regex = 'Multipart parsing error: Multipart: Invalid part header \\(contains invalid character\\)|\\[id "922130"\\].*\\[msg "x"\\]';

  it('a negative regex checks each observable alternative and reports the rest', () => {
    const e = buildExpectation({ log: { no_match_regex: regex } });
    assert.deepEqual(e.noExpectIds, [922130]);
    assert.equal(e.unchecked.length, 1);
    assert.match(e.unchecked[0]!, /Multipart parsing error: Multipart: Invalid part header/);
  });

  it('a positive regex with an unobservable alternative cannot be checked', () => {
    const e = buildExpectation({ log: { match_regex: regex } });
    assert.deepEqual(e.expectIds, []);
    assert.deepEqual(e.anyOf, []);
    assert.equal(e.unchecked.length, 1);
  });

  it('a bare "Multipart parsing error" still stands for rule 200002', () => {
    assert.deepEqual(buildExpectation({ log: { match_regex: 'Multipart parsing error' } }).expectIds, [200002]);
  });
});
