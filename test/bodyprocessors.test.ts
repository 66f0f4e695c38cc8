// Request body processors (JSON, XML, MULTIPART), end to end through the engine, plus hostile
// inputs with time bounds and fast-check properties (no body makes a processor throw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Waf } from '../src/engine/waf.js';
import type { HttpRequest, Verdict } from '../src/engine/api.js';
import { parseJson } from '../src/bodyprocessors/json.js';
import { parseXml } from '../src/bodyprocessors/xml.js';
import { parseMultipart, type MultipartEvents } from '../src/bodyprocessors/multipart.js';

// ---------- helpers ----------

function req(contentType: string | null, body: string | Buffer, over: Partial<HttpRequest> = {}): HttpRequest {
  const headers: Array<[string, string]> = [['Host', 'example.com']];
  if (contentType !== null) headers.push(['Content-Type', contentType]);
  return {
    id: 'req-1',
    method: 'POST',
    uri: '/upload',
    protocol: 'HTTP/1.1',
    headers,
    body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
    bodyPartial: false,
    clientIp: '10.0.0.1',
    clientPort: 40000,
    serverIp: '10.0.0.2',
    serverPort: 8080,
    ...over,
  };
}

// Limits well above the hostile bodies below, so the processors' own bounds are what is tested.
const BASE = `SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 33554432
SecRequestBodyNoFilesLimit 33554432
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:1,phase:1,pass,nolog,t:lowercase,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\\+|/)|text/)xml" "id:2,phase:1,pass,nolog,t:lowercase,ctl:requestBodyProcessor=XML"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,pass,log,msg:'%{REQBODY_ERROR_MSG}'"
`;

const wafCache = new Map<string, Waf>();
function waf(rules: string): Waf {
  let w = wafCache.get(rules);
  if (w === undefined) {
    w = Waf.fromString(BASE + rules, '/virtual/t.conf', {});
    wafCache.set(rules, w);
  }
  return w;
}

function run(rules: string, r: HttpRequest): Verdict {
  return waf(rules).evaluate(r);
}

/** Rule ids that fired, sorted. */
function ids(v: Verdict): number[] {
  return [...v.ruleIds].sort((a, b) => a - b);
}

/** Rule ids that fired, sorted, excluding the REQBODY_ERROR rule. */
function fired(v: Verdict): number[] {
  return ids(v).filter((id) => id !== 200002);
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = process.hrtime.bigint();
  const value = f();
  return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

const JSON_CT = 'application/json';
const XML_CT = 'application/xml';
const MP_CT = 'multipart/form-data; boundary=XyZ12';

// ---------- JSON ----------

test('json: nested object keys are json.a.b', () => {
  const rules = `SecRule ARGS:json.a.b "@streq x" "id:10,phase:2,pass,log"
SecRule ARGS_POST:json.top "@streq 1" "id:11,phase:2,pass,log"
SecRule ARGS_NAMES "@streq json.a.b" "id:12,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"a":{"b":"x"},"top":1}'));
  assert.deepEqual(fired(v), [10, 11, 12]);
  assert.equal(v.requestBodyError, null);
});

test('json: array elements are .array_<n> (ModSecurity v3), containers count as elements', () => {
  const rules = `SecRule ARGS:json.arr.array_0 "@streq 1" "id:10,phase:2,pass,log"
SecRule ARGS:json.arr.array_1.array_1 "@streq 3" "id:11,phase:2,pass,log"
SecRule ARGS:json.arr.array_2.c "@streq z" "id:12,phase:2,pass,log"
SecRule ARGS:json.arr.array_3 "@streq last" "id:13,phase:2,pass,log"
SecRule &ARGS_POST "@eq 5" "id:14,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"arr":[1,[2,3],{"c":"z"},"last",[],{}]}'));
  assert.deepEqual(fired(v), [10, 11, 12, 13, 14]);
});

test('json: top-level array gives json.array_<n>, a top-level scalar gives "json"', () => {
  const rules = `SecRule ARGS:json.array_0 "@streq a" "id:10,phase:2,pass,log"
SecRule ARGS:json.array_1.k "@streq v" "id:11,phase:2,pass,log"
SecRule ARGS:json "@streq scalar" "id:12,phase:2,pass,log"`;
  assert.deepEqual(fired(run(rules, req(JSON_CT, '["a",{"k":"v"}]'))), [10, 11]);
  assert.deepEqual(fired(run(rules, req(JSON_CT, '"scalar"'))), [12]);
});

test('json: true/false as words, null as empty value, numbers as written, empty key', () => {
  const rules = `SecRule ARGS:json.t "@streq true" "id:10,phase:2,pass,log"
SecRule ARGS:json.f "@streq false" "id:11,phase:2,pass,log"
SecRule &ARGS:json.n "@eq 1" "chain,id:12,phase:2,pass,log"
  SecRule ARGS:json.n "@rx ^$"
SecRule ARGS:json.num "@streq -1.50e+3" "id:13,phase:2,pass,log"
SecRule ARGS:json.empty-key "@streq e" "id:14,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"t":true,"f":false,"n":null,"num":-1.50e+3,"":"e"}'));
  assert.deepEqual(fired(v), [10, 11, 12, 13, 14]);
});

test('json: escapes decode to UTF-8 bytes (\\u00e9, surrogate pairs, \\n, \\/), raw UTF-8 kept as bytes', () => {
  const rules = `SecRule ARGS:json.e "@rx ^\\xc3\\xa9$" "id:10,phase:2,pass,log"
SecRule ARGS:json.smile "@rx ^\\xf0\\x9f\\x98\\x80$" "id:11,phase:2,pass,log"
SecRule ARGS:json.ctl "@rx ^a\\nb/c$" "id:12,phase:2,pass,log"
SecRule ARGS:json.raw "@rx ^\\xc3\\xa9$" "id:13,phase:2,pass,log"
SecRule ARGS:json.q "@streq <script>" "id:14,phase:2,pass,log"`;
  const body = Buffer.concat([
    Buffer.from('{"e":"\\u00e9","smile":"\\ud83d\\ude00","ctl":"a\\nb\\/c","raw":"'),
    Buffer.from('é', 'utf8'),
    Buffer.from('","q":"\\u003cscript\\u003e"}'),
  ]);
  assert.deepEqual(fired(run(rules, req(JSON_CT, body))), [10, 11, 12, 13, 14]);
});

test('json: invalid JSON is a REQBODY_ERROR naming the position; arguments before it stay', () => {
  const rules = `SecRule ARGS:json.a "@streq 1" "id:10,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"a":1,"b":tru}'));
  assert.deepEqual(ids(v), [10, 200002]);
  assert.match(v.requestBodyError ?? '', /^JSON parsing error: lexical error: invalid string in json text\. \(at byte offset 11\)$/);
  for (const bad of ['{"a":1}x', '{a:1}', '[1,]', '{"a" 1}', '// x', '{"a":01}', '   ', '{"a":"\x01"}', '{"a":"\\q"}']) {
    const r = run('', req(JSON_CT, bad));
    assert.match(r.requestBodyError ?? '', /^JSON parsing error: .*\(at byte offset \d+\)$/, bad);
  }
});

test('json: invalid UTF-8 inside a string is an error (yajl validates strings)', () => {
  const v = run('', req(JSON_CT, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])));
  assert.match(v.requestBodyError ?? '', /invalid bytes in UTF8 string/);
  // bytes outside strings are invalid characters
  const v2 = run('', req(JSON_CT, Buffer.from([0x5b, 0xc3, 0xa9, 0x5d])));
  assert.match(v2.requestBodyError ?? '', /invalid char in json text/);
});

test('json: SecRequestBodyJsonDepthLimit → "JSON depth limit exceeded"', () => {
  const rules = 'SecRequestBodyJsonDepthLimit 3';
  assert.equal(run(rules, req(JSON_CT, '{"a":{"b":[1]}}')).requestBodyError, null);
  const v = run(rules, req(JSON_CT, '{"a":{"b":[{"c":1}]}}'));
  assert.equal(v.requestBodyError, 'JSON parsing error: JSON depth limit exceeded');
});

test('json: SecArgumentsLimit honoured: arguments up to the limit, then an error', () => {
  const rules = `SecArgumentsLimit 2
SecRule &ARGS_POST "@eq 2" "id:10,phase:2,pass,log"
SecRule ARGS:json.c "@streq 3" "id:11,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"a":1,"b":2,"c":3,"d":4}'));
  assert.deepEqual(ids(v), [10, 200002]);
  assert.match(v.requestBodyError ?? '', /SecArgumentsLimit \(2\) exceeded/);
});

test('json: a body cut by Envoy (bodyPartial) keeps what was parsed and is no error', () => {
  const rules = `SecRule ARGS:json.a "@streq 1" "id:10,phase:2,pass,log"
SecRule ARGS:json.b "@streq attack-so-fa" "id:11,phase:2,pass,log"`;
  const v = run(rules, req(JSON_CT, '{"a":1,"b":"attack-so-fa', { bodyPartial: true }));
  assert.deepEqual(ids(v), [10, 11]);
  assert.equal(v.requestBodyError, null);
  // the same body, complete as far as Envoy knows, is an error
  assert.match(run(rules, req(JSON_CT, '{"a":1,"b":"attack-so-fa')).requestBodyError ?? '', /premature EOF/);
  // a syntax error before the cut is still reported
  assert.match(run(rules, req(JSON_CT, '{"a":1,,"b"', { bodyPartial: true })).requestBodyError ?? '', /invalid object key/);
});

test('json hostile: 100k-deep nesting bomb → depth error in bounded time', () => {
  const body = '['.repeat(100_000) + ']'.repeat(100_000);
  const { value: v, ms } = timed(() => run('', req(JSON_CT, body)));
  assert.equal(v.requestBodyError, 'JSON parsing error: JSON depth limit exceeded');
  assert.ok(ms < 2000, `took ${ms} ms`);
  // even with the limit disabled the parser is iterative (no stack overflow)
  const r = timed(() => parseJson('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), { maxDepth: 0, partial: false }, () => true));
  assert.equal(r.value, null);
  assert.ok(r.ms < 2000, `took ${r.ms} ms`);
});

test('json hostile: 1 MB array of 200k elements with the argument limit → bounded time', () => {
  const body = '[' + Array.from({ length: 200_000 }, (_, i) => String(i % 10)).join(',') + ']';
  const { value: v, ms } = timed(() => run('SecRule &ARGS_POST "@eq 1000" "id:10,phase:2,pass,log"', req(JSON_CT, body)));
  assert.deepEqual(ids(v), [10, 200002]);
  assert.ok(ms < 2000, `took ${ms} ms`);
});

// ---------- XML ----------

test('xml: XML:/* is the text content of the root element (v3 xmlNodeGetContent), CDATA in, comments out', () => {
  const rules = `SecRule XML:/* "@rx ^foo bar<cd>&A\\xc3\\xa9$" "id:11,phase:2,pass,log"
SecRule &XML:/* "@eq 1" "id:12,phase:2,pass,log"`;
  const body = '<?xml version="1.0"?>\n<root><a>foo</a> <b>bar</b><![CDATA[<cd>]]><!-- hidden --><?pi x?>&amp;&#x41;&#233;</root>\n';
  const v = run(rules, req(XML_CT, body));
  assert.deepEqual(fired(v), [11, 12]);
  assert.equal(v.requestBodyError, null);
});

test('xml: XML://@* holds each attribute value (xmlns declarations excluded)', () => {
  const rules = `SecRule &XML://@* "@eq 3" "id:10,phase:2,pass,log"
SecRule XML://@* "@streq two" "id:11,phase:2,pass,log"
SecRule XML://@* "@rx ^a b c$" "id:12,phase:2,pass,log"`;
  const body = '<r xmlns="urn:x" xmlns:p="urn:p" one="1"><s p:two="two" three="a\tb\nc"/></r>';
  assert.deepEqual(fired(run(rules, req(XML_CT, body))), [10, 11, 12]);
});

test('xml: malformed XML is an error with line/column; text seen before it stays', () => {
  const rules = `SecRule XML:/* "@contains before" "id:10,phase:2,pass,log"`;
  const v = run(rules, req(XML_CT, '<a>\n<b>before</b>\n<c></a>'));
  assert.deepEqual(ids(v), [10, 200002]);
  assert.match(v.requestBodyError ?? '', /^XML parsing error: XML: Failed parsing document\. \(line 3, column \d+: .+\)$/);
  for (const bad of ['not xml', '<a>x</a><b/>', '<a b="1" b="2"/>', '<a>', '<a>&unknown;</a>']) {
    assert.match(run('', req(XML_CT, bad)).requestBodyError ?? '', /^XML parsing error: .*line \d+, column \d+/, bad);
  }
});

test('xml: invalid UTF-8 is an error naming the position; declared ISO-8859-1 and UTF-16 decode', () => {
  const v = run('', req(XML_CT, Buffer.from([0x3c, 0x61, 0x3e, 0x0a, 0x78, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e])));
  assert.match(v.requestBodyError ?? '', /line 2, column 2: input is not proper UTF-8/);
  const rules = `SecRule XML:/* "@rx ^\\xc3\\xa9t\\xc3\\xa9$" "id:10,phase:2,pass,log"`;
  const latin1 = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a>'), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('</a>')]);
  assert.deepEqual(fired(run(rules, req(XML_CT, latin1))), [10]);
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>été</a>', 'utf16le')]);
  assert.deepEqual(fired(run(rules, req(XML_CT, utf16))), [10]);
});

test('xml hostile: billion laughs → error, nothing expanded, bounded time', () => {
  let dtd = '<!ENTITY lol0 "lol">';
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  const body = `<?xml version="1.0"?><!DOCTYPE lolz [${dtd}]><lolz>&lol9;</lolz>`;
  const rules = `SecRule XML:/* "@contains lollol" "id:10,phase:2,pass,log"`;
  const { value: v, ms } = timed(() => run(rules, req(XML_CT, body)));
  assert.deepEqual(ids(v), [200002]);
  assert.match(v.requestBodyError ?? '', /undefined entity/);
  assert.ok(ms < 2000, `took ${ms} ms`);
  const r = parseXml(body, { partial: false });
  assert.equal(r.text, '');
});

test('xml hostile: external entity (XXE) → error, no file read', () => {
  const body = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>';
  const rules = `SecRule XML:/* "@contains root:" "id:10,phase:2,pass,log"`;
  const v = run(rules, req(XML_CT, body));
  assert.deepEqual(ids(v), [200002]);
  assert.match(v.requestBodyError ?? '', /undefined entity/);
  // an external DTD is not fetched either; the document itself is fine
  const v2 = run(`SecRule XML:/* "@streq ok" "id:11,phase:2,pass,log"`, req(XML_CT, '<!DOCTYPE a SYSTEM "http://127.0.0.1:1/x.dtd"><a>ok</a>'));
  assert.deepEqual(ids(v2), [11]);
  // prototype names are not entities
  assert.match(run('', req(XML_CT, '<a>&constructor;</a>')).requestBodyError ?? '', /undefined entity/);
});

test('xml hostile: depth over 256 and node count over the limit are errors, in bounded time', () => {
  const deep = '<a>'.repeat(100_000) + '</a>'.repeat(100_000);
  const d = timed(() => run('', req(XML_CT, deep)));
  assert.match(d.value.requestBodyError ?? '', /Excessive depth in document: 256/);
  assert.ok(d.ms < 2000, `took ${d.ms} ms`);
  const wide = '<r>' + '<i a="1"/>'.repeat(130_000) + '</r>';
  const w = timed(() => run('', req(XML_CT, wide)));
  assert.match(w.value.requestBodyError ?? '', /node limit exceeded \(250000\)/);
  assert.ok(w.ms < 2000, `took ${w.ms} ms`);
});

test('xml: a body cut by Envoy keeps the text so far and is no error', () => {
  const rules = `SecRule XML:/* "@streq abcdef" "id:10,phase:2,pass,log"`;
  const v = run(rules, req(XML_CT, '<a><b>abc</b>def', { bodyPartial: true }));
  assert.deepEqual(ids(v), [10]);
  assert.match(run(rules, req(XML_CT, '<a><b>abc</b>def')).requestBodyError ?? '', /unclosed tag/);
});

// ---------- MULTIPART ----------

function mp(parts: string[], opts: { eol?: string; boundary?: string; preamble?: string; epilogue?: string; final?: boolean } = {}): string {
  const eol = opts.eol ?? '\r\n';
  const b = opts.boundary ?? 'XyZ12';
  let s = opts.preamble ?? '';
  for (const p of parts) s += `--${b}${eol}${p}${eol}`;
  if (opts.final !== false) s += `--${b}--${eol}`;
  return s + (opts.epilogue ?? '');
}

const field = (name: string, value: string, eol = '\r\n'): string => `Content-Disposition: form-data; name="${name}"${eol}${eol}${value}`;
const file = (name: string, filename: string, content: string, type = 'text/plain'): string =>
  `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${content}`;

const FLAGS = [
  'MULTIPART_STRICT_ERROR', 'MULTIPART_BOUNDARY_QUOTED', 'MULTIPART_BOUNDARY_WHITESPACE', 'MULTIPART_DATA_BEFORE',
  'MULTIPART_DATA_AFTER', 'MULTIPART_HEADER_FOLDING', 'MULTIPART_LF_LINE', 'MULTIPART_CRLF_LF_LINES',
  'MULTIPART_MISSING_SEMICOLON', 'MULTIPART_INVALID_QUOTING', 'MULTIPART_INVALID_PART', 'MULTIPART_INVALID_HEADER_FOLDING',
  'MULTIPART_FILE_LIMIT_EXCEEDED', 'MULTIPART_UNMATCHED_BOUNDARY',
] as const;
// Rule 100+i fires when flag i is set: non-zero, or for UNMATCHED_BOUNDARY exactly 1 (it is 2
// whenever a second boundary matched: ModSecurity's recommended rule 200004 tests "@eq 1").
const FLAG_RULES = FLAGS.map((f, i) =>
  `SecRule ${f} "${f === 'MULTIPART_UNMATCHED_BOUNDARY' ? '@eq 1' : '!@eq 0'}" "id:${100 + i},phase:2,pass,log"`,
).join('\n');

function flagsSet(rules: string, r: HttpRequest): { set: string[]; v: Verdict } {
  const v = run(FLAG_RULES + '\n' + rules, r);
  return { set: FLAGS.filter((_, i) => v.ruleIds.includes(100 + i)), v };
}

test('multipart: every flag is set, to "0" on a clean body', () => {
  const rules = FLAGS.map((f, i) => `SecRule ${f} "@streq 0" "id:${300 + i},phase:2,pass,log"`).join('\n');
  const v = run(rules, req(MP_CT, mp([field('a', '1')])));
  // UNMATCHED_BOUNDARY is 0 only with a single boundary line
  assert.deepEqual(ids(v), FLAGS.map((_, i) => 300 + i).filter((id) => id !== 300 + FLAGS.indexOf('MULTIPART_UNMATCHED_BOUNDARY')));
});

test('multipart: fields, files and their variables as ModSecurity v3 names them; clean body sets no flag', () => {
  const rules = `SecRule ARGS_POST:user "@streq alice" "id:10,phase:2,pass,log"
SecRule FILES:upload "@streq shell.php" "id:12,phase:2,pass,log"
SecRule FILES_NAMES:upload "@streq upload" "id:13,phase:2,pass,log"
SecRule FILES_COMBINED_SIZE "@eq 10" "id:15,phase:2,pass,log"
SecRule MULTIPART_PART_HEADERS:upload "@rx ^Content-Type: text/plain$" "id:16,phase:2,pass,log"
SecRule MULTIPART_PART_HEADERS:user "@rx ^Content-Disposition: form-data; name=\\"user\\"$" "id:17,phase:2,pass,log"
SecRule MULTIPART_FILENAME "@streq b.txt" "id:18,phase:2,pass,log"
SecRule MULTIPART_NAME "@streq second" "id:19,phase:2,pass,log"
SecRule FILES_TMP_CONTENT:upload "@streq <?php x;" "id:20,phase:2,pass,log"
SecRule &ARGS_POST "@eq 2" "id:21,phase:2,pass,log"
SecRule &FILES "@eq 2" "id:22,phase:2,pass,log"
SecRule REQBODY_PROCESSOR "@streq MULTIPART" "id:23,phase:2,pass,log"
SecRule ARGS_NAMES "@streq upload" "id:24,phase:2,pass,log"`;
  const body = mp([field('user', 'alice'), field('comment', 'line1\r\nline2'), file('upload', 'shell.php', '<?php x;'), file('second', 'b.txt', 'ab')]);
  const { set, v } = flagsSet(rules, req(MP_CT, body));
  assert.deepEqual(set, []);
  assert.equal(v.requestBodyError, null);
  for (const id of [10, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23]) assert.ok(v.ruleIds.includes(id), `rule ${id}: ${v.ruleIds}`);
  assert.ok(!v.ruleIds.includes(24), 'file parts are not arguments');
  // FILES_SIZES counts the content without the line break before the boundary
  const sizes = run(`SecRule FILES_SIZES:upload "@eq 8" "id:30,phase:2,pass,log"`, req(MP_CT, body));
  assert.ok(sizes.ruleIds.includes(30));
});

test('multipart: multi-line value keeps its inner CRLF', () => {
  const v = run(`SecRule ARGS:comment "@rx ^line1\\r\\nline2$" "id:10,phase:2,pass,log"`, req(MP_CT, mp([field('comment', 'line1\r\nline2')])));
  assert.deepEqual(ids(v), [10]);
});

test('multipart flag: MULTIPART_BOUNDARY_QUOTED', () => {
  const { set } = flagsSet('', req('multipart/form-data; boundary="XyZ12"', mp([field('a', '1')])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_BOUNDARY_QUOTED']);
});

test('multipart flag: MULTIPART_BOUNDARY_WHITESPACE', () => {
  const { set, v } = flagsSet('SecRule ARGS:a "@streq 1" "id:10,phase:2,pass,log"', req('multipart/form-data; boundary =XyZ12', mp([field('a', '1')])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_BOUNDARY_WHITESPACE']);
  assert.ok(v.ruleIds.includes(10));
});

test('multipart flag: MULTIPART_DATA_BEFORE', () => {
  const { set } = flagsSet('', req(MP_CT, mp([field('a', '1')], { preamble: 'preamble\r\n' })));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_DATA_BEFORE']);
});

test('multipart flag: MULTIPART_DATA_AFTER', () => {
  const { set } = flagsSet('', req(MP_CT, mp([field('a', '1')], { epilogue: 'trailing' })));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_DATA_AFTER']);
});

test('multipart flag: MULTIPART_HEADER_FOLDING', () => {
  const part = 'Content-Disposition: form-data;\r\n name="a"\r\n\r\n1';
  const { set, v } = flagsSet('SecRule ARGS:a "@streq 1" "id:10,phase:2,pass,log"', req(MP_CT, mp([part])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_HEADER_FOLDING']);
  assert.ok(v.ruleIds.includes(10));
});

test('multipart flag: MULTIPART_INVALID_HEADER_FOLDING', () => {
  const part = 'Content-Disposition: form-data;\r\n\x0bname="a"\r\n\r\n1';
  const { set } = flagsSet('', req(MP_CT, mp([part])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_HEADER_FOLDING', 'MULTIPART_INVALID_HEADER_FOLDING']);
});

test('multipart flag: MULTIPART_LF_LINE (LF only) and MULTIPART_CRLF_LF_LINES (mixed)', () => {
  const lf = flagsSet('SecRule ARGS:a "@streq 1" "id:10,phase:2,pass,log"', req(MP_CT, mp([field('a', '1', '\n')], { eol: '\n' })));
  assert.deepEqual(lf.set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_LF_LINE']);
  assert.ok(lf.v.ruleIds.includes(10));
  const mixed = flagsSet('', req(MP_CT, mp([field('a', '1', '\n')])));
  assert.deepEqual(mixed.set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_LF_LINE', 'MULTIPART_CRLF_LF_LINES']);
});

test('multipart flag: MULTIPART_MISSING_SEMICOLON', () => {
  const { set } = flagsSet('', req('multipart/form-data boundary=XyZ12', mp([field('a', '1')])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_MISSING_SEMICOLON']);
  const alias = run('SecRule MULTIPART_SEMICOLON_MISSING "@eq 1" "id:10,phase:2,pass,log"', req('multipart/form-data boundary=XyZ12', mp([field('a', '1')])));
  assert.ok(alias.ruleIds.includes(10));
});

test('multipart flag: MULTIPART_INVALID_QUOTING', () => {
  const part = "Content-Disposition: form-data; name='a'\r\n\r\n1";
  const { set, v } = flagsSet('SecRule ARGS:a "@streq 1" "id:10,phase:2,pass,log"', req(MP_CT, mp([part])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_INVALID_QUOTING']);
  assert.ok(v.ruleIds.includes(10));
});

test('multipart flag: MULTIPART_INVALID_PART (a part whose headers never end)', () => {
  const { set, v } = flagsSet('', req(MP_CT, mp(['Content-Disposition: form-data; name="a"', field('b', '2')])));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_INVALID_PART']);
  assert.equal(v.requestBodyError, null);
});

test('multipart flag: MULTIPART_FILE_LIMIT_EXCEEDED (SecUploadFileLimit) with an error', () => {
  const rules = `SecUploadFileLimit 2
SecRule &FILES "@eq 2" "id:10,phase:2,pass,log"`;
  const body = mp([file('f1', 'a.txt', 'A'), file('f2', 'b.txt', 'B'), file('f3', 'c.txt', 'C')]);
  const { set, v } = flagsSet(rules, req(MP_CT, body));
  assert.deepEqual(set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_FILE_LIMIT_EXCEEDED']);
  assert.ok(v.ruleIds.includes(10));
  assert.match(v.requestBodyError ?? '', /Upload file limit exceeded 2/);
});

test('multipart flag: MULTIPART_UNMATCHED_BOUNDARY keeps ModSecurity\'s last-event value (1 / 2 / 0)', () => {
  const rules = `SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" "id:10,phase:2,pass,log"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 2" "id:11,phase:2,pass,log"
SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 0" "id:12,phase:2,pass,log"`;
  // a boundary-like line that is not ours, and no matching boundary after it
  const one = flagsSet(rules, req(MP_CT, '--XyZ1x\r\n--XyZ12--\r\n'));
  assert.deepEqual(one.set, ['MULTIPART_STRICT_ERROR', 'MULTIPART_DATA_BEFORE', 'MULTIPART_UNMATCHED_BOUNDARY']);
  assert.ok(one.v.ruleIds.includes(10));
  // unmatched lines inside values ("-- signature", "--XyZ12" mid-line) are hidden by the later
  // boundaries, as in ModSecurity: markdown rules or e-mail signatures do not trip rule 200004
  const hidden = run(rules, req(MP_CT, mp([field('a', 'x\r\n--XyZ1\r\n-- sig'), field('b', 'see --XyZ12 here')])));
  assert.deepEqual(fired(hidden), [11]);
  assert.deepEqual(fired(run(rules, req(MP_CT, mp([field('a', '1')])))), [11]);
  assert.deepEqual(fired(run(rules, req(MP_CT, '--XyZ12--\r\n'))), [12]);
  // not part of MULTIPART_STRICT_ERROR
  assert.deepEqual(flagsSet('', req(MP_CT, mp([field('a', '-- sig')]))).set, []);
});

test('multipart fatal: boundary problems in the Content-Type header', () => {
  for (const [ct, msg] of [
    ['multipart/form-data', /Boundary not found in C-T/],
    ['multipart/form-data; BOUNDARY=XyZ12', /case sensitivity/],
    ['multipart/form-data; boundary=a; boundary=b', /Multiple boundary parameters/],
    ['multipart/form-data; boundary="XyZ12', /\(quote\)/],
    ['multipart/form-data; boundary=XyZ12; charset=utf-8', /\(characters\)/],
    ['multipart/form-data; boundary=', /\(empty\)/],
  ] as const) {
    const { set, v } = flagsSet('', req(ct, mp([field('a', '1')])));
    assert.match(v.requestBodyError ?? '', msg, ct);
    assert.match(v.requestBodyError ?? '', /^Multipart parsing error: Multipart: /);
    assert.ok(set.includes('MULTIPART_STRICT_ERROR'), ct);
  }
});

test('multipart fatal: malformed boundary lines and part headers', () => {
  for (const [body, msg] of [
    [mp([field('a', '1')]).replace('--XyZ12\r\n', '--XyZ12 \r\n'), /Invalid boundary: --XyZ12 /],
    ['--XyZ12\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n-- XyZ12--\r\n', /Invalid boundary \(whitespace\)/],
    [mp(['Content-Type: text/plain\r\n\r\n1']), /Part missing Content-Disposition header/],
    [mp(['Content-Disposition: attachment; name="a"\r\n\r\n1']), /Invalid Content-Disposition header \(-1\)/],
    [mp(['Content-Disposition: form-data; name="a"; x=1\r\n\r\n1']), /Invalid Content-Disposition header \(-11\)/],
    [mp(['Content-Disposition: form-data; filename="f"\r\n\r\n1']), /missing name field/],
    [mp(['Content-Disposition: form-data; name="a"\r\ncontent-disposition: form-data; name="b"\r\n\r\n1']), /Duplicate part header/],
    [mp(['Content-Disposition: form-data; name="a"\r\nbroken\r\n\r\n1']), /colon missing/],
    [mp(['Content-Disposition: form-data; name="a"\r\nX: \0\r\n\r\n1']), /Nul byte in part headers/],
    [mp(['Content-Disposition: form-data; name="a"\r\nX: ' + 'y'.repeat(5000) + '\r\n\r\n1']), /Part header line over 4096 bytes long/],
  ] as const) {
    const { set, v } = flagsSet('', req(MP_CT, body));
    assert.match(v.requestBodyError ?? '', msg, JSON.stringify(body.slice(0, 80)));
    assert.ok(set.includes('MULTIPART_STRICT_ERROR'));
  }
});

test('multipart: no closing boundary → error, but the parts (and the open one) are inspected', () => {
  const rules = `SecRule ARGS:a "@streq 1" "id:10,phase:2,pass,log"
SecRule ARGS:b "@contains evil" "id:11,phase:2,pass,log"`;
  const body = mp([field('a', '1'), field('b', 'evil payload')], { final: false });
  const v = run(rules, req(MP_CT, body));
  assert.deepEqual(ids(v), [10, 11, 200002]);
  assert.equal(v.requestBodyError, 'Multipart parsing error: Multipart: Final boundary missing.');
  // the same body cut by Envoy is no error
  const p = run(rules, req(MP_CT, body.slice(0, -3), { bodyPartial: true }));
  assert.deepEqual(ids(p), [10, 11]);
  assert.equal(p.requestBodyError, null);
  // no boundary at all
  assert.match(run('', req(MP_CT, 'just text\r\n')).requestBodyError ?? '', /No boundaries found in payload/);
  // the final boundary without a line break after it is complete
  assert.equal(run('', req(MP_CT, mp([field('a', '1')]).slice(0, -2))).requestBodyError, null);
});

test('multipart: filename="" is a form field (v3), CRS-style _charset_ part header lookup', () => {
  const rules = `SecRule ARGS:f "@streq data" "id:10,phase:2,pass,log"
SecRule &FILES "@eq 0" "id:11,phase:2,pass,log"
SecRule &MULTIPART_PART_HEADERS:_charset_ "!@eq 0" "id:12,phase:2,pass,log"`;
  const body = mp(['Content-Disposition: form-data; name="f"; filename=""\r\n\r\ndata', field('_charset_', 'utf-8')]);
  assert.deepEqual(fired(run(rules, req(MP_CT, body))), [10, 11, 12]);
});

test('multipart: SecArgumentsLimit stops with an error; SecRequestBodyNoFilesLimit counts headers and fields only', () => {
  const parts = Array.from({ length: 5 }, (_, i) => field(`p${i}`, 'v'));
  const v = run(`SecArgumentsLimit 3\nSecRule &ARGS_POST "@eq 3" "id:10,phase:2,pass,log"`, req(MP_CT, mp(parts)));
  assert.deepEqual(ids(v), [10, 200002]);
  assert.match(v.requestBodyError ?? '', /SecArgumentsLimit \(3\) exceeded/);
  // ModSecurity's regression body: 161 bytes of headers and field data, the file excluded
  const body = mp([field('token', 'blah'), file('attachments', 'simple_empty.txt', 'a')]);
  assert.equal(run('SecRequestBodyNoFilesLimit 161', req(MP_CT, body)).requestBodyError, null);
  assert.match(run('SecRequestBodyNoFilesLimit 160', req(MP_CT, body)).requestBodyError ?? '', /no files data length is larger than the configured limit \(160\)/);
});

test('multipart hostile: 10,000 parts finish fast (all parsed with a raised limit; limit error by default)', () => {
  const body = mp(Array.from({ length: 10_000 }, (_, i) => field(`f${i}`, `value ${i}`)));
  const all = timed(() => run('SecArgumentsLimit 20000\nSecRule &ARGS_POST "@eq 10000" "id:10,phase:2,pass,log"', req(MP_CT, body)));
  assert.deepEqual(ids(all.value), [10]);
  assert.ok(all.ms < 2000, `took ${all.ms} ms`);
  const limited = timed(() => run('SecRule &ARGS_POST "@eq 1000" "id:10,phase:2,pass,log"', req(MP_CT, body)));
  assert.deepEqual(ids(limited.value), [10, 200002]);
  assert.ok(limited.ms < 2000, `took ${limited.ms} ms`);
  // 10,000 file parts: only SecUploadFileLimit (100) of them are listed
  const files = mp(Array.from({ length: 10_000 }, (_, i) => file(`u${i}`, `f${i}.txt`, 'x')));
  const f = timed(() => run('SecRule &FILES "@eq 100" "id:10,phase:2,pass,log"', req(MP_CT, files)));
  assert.ok(f.value.ruleIds.includes(10));
  assert.ok(f.ms < 2000, `took ${f.ms} ms`);
});

test('multipart hostile: a 5 MB file with lines full of dashes, and one long line, in bounded time', () => {
  const content = ('--XyZ1 ' + 'x'.repeat(60) + '\r\n').repeat(70_000) + 'y'.repeat(500_000);
  const body = mp([file('big', 'big.bin', content, 'application/octet-stream')]);
  const { value: v, ms } = timed(() => run(`SecRule FILES_SIZES:big "@eq ${content.length}" "id:10,phase:2,pass,log"`, req(MP_CT, body)));
  assert.ok(v.ruleIds.includes(10), String(v.ruleIds));
  assert.ok(ms < 2000, `took ${ms} ms`);
});

// ---------- properties: nothing throws ----------

const sinkEvents: MultipartEvents = { field: () => true, file: () => {}, headers: () => {}, cdName: () => {}, cdFilename: () => {} };
const bytes = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a).toString('latin1'));

test('property: arbitrary bytes never make a processor throw (direct)', () => {
  fc.assert(
    fc.property(bytes, fc.boolean(), (b, partial) => {
      parseJson(b, { maxDepth: 8, partial }, () => true);
      parseXml(b, { partial });
      parseMultipart(MP_CT, b, { partial, fileLimit: 3, noFilesLimit: 100 }, sinkEvents);
    }),
    { numRuns: 2000 },
  );
});

const jsonish = fc
  .tuple(fc.json({ maxDepth: 4 }), fc.nat(), fc.constantFrom('', '{', '}', '[', ']', ',', ':', '"', '\\', '\\u12', '\xff', '\x00', '1e', '-', 'tru'))
  .map(([j, at, junk]) => {
    const i = j.length === 0 ? 0 : at % (j.length + 1);
    return j.slice(0, i) + junk + j.slice(i);
  });

test('property: JSON-ish and multipart-ish bodies never throw through the engine', () => {
  fc.assert(
    fc.property(jsonish, fc.boolean(), (b, partial) => {
      const v = run('', req(JSON_CT, b, { bodyPartial: partial }));
      assert.ok(v.requestBodyError === null || v.requestBodyError.startsWith('JSON parsing error: '));
    }),
    { numRuns: 400 },
  );
  const piece = fc.constantFrom(
    '--XyZ12', '--XyZ12--', '\r\n', '\n', 'Content-Disposition: form-data; name="a"', '; filename="f"', ' name=x', '\x0b', '"', "'",
    'Content-Type: text/plain', ':', '--', 'data', '\0', ';', '=', ' ',
  );
  const mpish = fc.array(fc.oneof(piece, fc.string({ maxLength: 8 })), { maxLength: 40 }).map((a) => a.join(''));
  fc.assert(
    fc.property(mpish, fc.boolean(), fc.constantFrom(MP_CT, 'multipart/form-data; boundary="XyZ12"', 'multipart/form-data boundary = XyZ12'), (b, partial, ct) => {
      const v = run('', req(ct, b, { bodyPartial: partial }));
      assert.ok(v.requestBodyError === null || v.requestBodyError.startsWith('Multipart parsing error: '));
    }),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(bytes, (b) => {
      const v = run('', req(XML_CT, b));
      assert.ok(v.requestBodyError === null || v.requestBodyError.startsWith('XML parsing error: '));
    }),
    { numRuns: 300 },
  );
});

/** Reference naming from JSON.parse, for documents JSON.stringify wrote. */
function referenceArgs(v: unknown, path: string | null, out: Array<[string, string]>): void {
  if (Array.isArray(v)) {
    const base = path ?? 'json';
    v.forEach((e, i) => {
      const p = `${base}.array_${i}`;
      if (e !== null && typeof e === 'object') referenceArgs(e, p, out);
      else out.push([p, leaf(e)]);
    });
  } else if (v !== null && typeof v === 'object') {
    const base = path ?? 'json';
    for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
      const p = `${base}.${k === '' ? 'empty-key' : k}`;
      if (e !== null && typeof e === 'object') referenceArgs(e, p, out);
      else out.push([p, leaf(e)]);
    }
  } else {
    out.push([path ?? 'json', leaf(v)]);
  }
}

function leaf(e: unknown): string {
  if (e === null) return '';
  if (typeof e === 'string') return Buffer.from(e, 'utf8').toString('latin1');
  return JSON.stringify(e);
}

test('property: valid JSON gives exactly the ModSecurity-named leaves, as UTF-8 bytes', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
      const text = JSON.stringify(value);
      // JSON.stringify escapes lone surrogates as \udXXX, which yajl encodes differently: skip those
      fc.pre(!/\\ud[89a-f]/i.test(text));
      const body = Buffer.from(text, 'utf8').toString('latin1');
      const got: Array<[string, string]> = [];
      const err = parseJson(body, { maxDepth: 0, partial: false }, (k, v) => {
        got.push([k, v]);
        return true;
      });
      assert.equal(err, null);
      const want: Array<[string, string]> = [];
      referenceArgs(JSON.parse(text), null, want);
      // JSON.parse reorders integer-like keys; names are unique, so compare sorted
      const key = (a: [string, string], b: [string, string]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
      assert.deepEqual(got.sort(key), want.map(([k, v]): [string, string] => [Buffer.from(k, 'utf8').toString('latin1'), v]).sort(key));
    }),
    { numRuns: 500 },
  );
});

test('property: well-formed multipart bodies round-trip their fields with no flag', () => {
  const name = fc.stringMatching(/^[A-Za-z0-9_.\[\]-]{1,12}$/);
  const value = fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')).filter((s) => !s.includes('XyZ12'));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, value), { maxLength: 12 }), (fields) => {
      const body = mp(fields.map(([n, v]) => field(n, v)));
      const got: Array<[string, string]> = [];
      const r = parseMultipart(MP_CT, body, { partial: false, fileLimit: 100, noFilesLimit: 0 }, {
        ...sinkEvents,
        field: (n, v) => {
          got.push([n, v]);
          return true;
        },
      });
      assert.equal(r.error, null);
      assert.deepEqual(got, fields);
      const f = r.flags;
      assert.equal(f.error + f.dataBefore + f.dataAfter + f.headerFolding + f.lfLine + f.invalidPart + f.invalidQuoting, 0);
    }),
    { numRuns: 300 },
  );
});
