// Rule engine semantics (ModSecurity v3 compatible), on small inline rule sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waf } from '../src/engine/waf.js';
import type { HttpRequest } from '../src/engine/api.js';

function req(over: Partial<HttpRequest> = {}): HttpRequest {
  return {
    id: 'req-1',
    method: 'GET',
    uri: '/',
    protocol: 'HTTP/1.1',
    headers: [['Host', 'example.com'], ['User-Agent', 'test']],
    body: null,
    bodyPartial: false,
    clientIp: '10.0.0.1',
    clientPort: 40000,
    serverIp: '10.0.0.2',
    serverPort: 8080,
    ...over,
  };
}

function load(text: string, mode?: 'block' | 'detect' | 'off'): Waf {
  return Waf.fromString(text, '/virtual/test.conf', mode ? { mode } : {});
}

const BASE = 'SecRuleEngine On\nSecRequestBodyAccess On\nSecDefaultAction "phase:1,log,pass"\nSecDefaultAction "phase:2,log,pass"\n';

test('deny in On mode, detect in DetectionOnly, nothing when Off', () => {
  const rules = 'SecRule ARGS "@contains attack" "id:10,phase:1,deny,status:418,msg:\'x\'"';
  const on = load(BASE + rules).evaluate(req({ uri: '/?q=an+attack' }));
  assert.equal(on.action, 'deny');
  assert.equal(on.status, 418);
  assert.deepEqual(on.ruleIds, [10]);
  assert.equal(on.interruptingRuleId, 10);
  const det = load(BASE + rules, 'detect').evaluate(req({ uri: '/?q=an+attack' }));
  assert.equal(det.action, 'detect');
  assert.equal(det.mode, 'detect');
  assert.deepEqual(det.ruleIds, [10]);
  const off = load(BASE + rules, 'off').evaluate(req({ uri: '/?q=an+attack' }));
  assert.equal(off.action, 'allow');
  assert.deepEqual(off.ruleIds, []);
});

test('chain: all links must match; the chain reports the starter id once', () => {
  const rules = `SecRule REQUEST_METHOD "@streq POST" "id:20,phase:1,deny,chain"
  SecRule ARGS:a "@eq 1" "chain"
    SecRule ARGS:b "@eq 2" "t:none"`;
  const waf = load(BASE + rules);
  assert.equal(waf.evaluate(req({ method: 'POST', uri: '/?a=1&b=2' })).action, 'deny');
  assert.deepEqual(waf.evaluate(req({ method: 'POST', uri: '/?a=1&b=2' })).ruleIds, [20]);
  assert.equal(waf.evaluate(req({ method: 'POST', uri: '/?a=1&b=3' })).action, 'allow');
  assert.equal(waf.evaluate(req({ method: 'GET', uri: '/?a=1&b=2' })).action, 'allow');
});

test('setvar =, =+, =-, ! and macros; anomaly score reported', () => {
  const rules = `SecAction "id:1,phase:1,nolog,pass,setvar:tx.crit=5,setvar:tx.blocking_inbound_anomaly_score=0"
SecRule ARGS "@rx evil" "id:2,phase:1,pass,setvar:'tx.blocking_inbound_anomaly_score=+%{tx.crit}'"
SecAction "id:3,phase:1,nolog,pass,setvar:tx.tmp=7,setvar:tx.tmp=-2"
SecRule TX:tmp "@eq 5" "id:4,phase:1,pass,setvar:!tx.tmp"
SecRule &TX:tmp "@eq 0" "id:5,phase:1,pass"`;
  const v = load(BASE + rules).evaluate(req({ uri: '/?a=evil&b=evil2' }));
  // setvar runs once per matching value (ModSecurity v3): two args matched.
  assert.equal(v.anomalyScore, 10);
  assert.deepEqual(v.ruleIds, [2, 4, 5]);
});

test('nolog rules match silently; log overrides default', () => {
  const rules = `SecRule ARGS "@contains x" "id:30,phase:1,pass,nolog"
SecRule ARGS "@contains x" "id:31,phase:1,pass"`;
  assert.deepEqual(load(BASE + rules).evaluate(req({ uri: '/?q=x' })).ruleIds, [31]);
});

test('skipAfter jumps to the marker; skip skips N rules', () => {
  const rules = `SecRule ARGS:skip "@eq 1" "id:40,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS "@unconditionalMatch" "id:41,phase:1,pass"
SecMarker END
SecRule ARGS:skip2 "@eq 1" "id:42,phase:1,pass,nolog,skip:1"
SecRule ARGS "@unconditionalMatch" "id:43,phase:1,pass"
SecRule ARGS "@unconditionalMatch" "id:44,phase:1,pass"`;
  const waf = load(BASE + rules);
  assert.deepEqual(waf.evaluate(req({ uri: '/?skip=1' })).ruleIds, [43, 44]);
  assert.deepEqual(waf.evaluate(req({ uri: '/?skip=1&skip2=1' })).ruleIds, [44]);
  assert.deepEqual(waf.evaluate(req({ uri: '/?x=0' })).ruleIds, [41, 43, 44]);
});

test('variable selection: keys case-insensitive, regex keys, exclusions, counts', () => {
  const rules = `SecRule ARGS:FOO "@streq 1" "id:50,phase:1,pass"
SecRule ARGS:/^ba/ "@streq 2" "id:51,phase:1,pass"
SecRule ARGS|!ARGS:safe "@contains bad" "id:52,phase:1,pass"
SecRule &ARGS "@eq 4" "id:53,phase:1,pass"
SecRule &REQUEST_HEADERS:host "@eq 1" "id:54,phase:1,pass"
SecRule REQUEST_HEADERS:User-Agent "@streq test" "id:55,phase:1,pass"
SecRule ARGS_NAMES "@streq bar" "id:56,phase:1,pass"`;
  const waf = load(BASE + rules);
  assert.deepEqual(waf.evaluate(req({ uri: '/?foo=1&bar=2&safe=bad&z=0' })).ruleIds, [50, 51, 53, 54, 55, 56]);
  assert.deepEqual(waf.evaluate(req({ uri: '/?foo=1&bar=2&other=bad&z=0' })).ruleIds, [50, 51, 52, 53, 54, 55, 56]);
});

test('transformations apply in order; t:none resets inherited ones; MATCHED_VAR holds the transformed value', () => {
  const rules = `SecDefaultAction "phase:1,log,pass,t:lowercase"
SecRule ARGS "@streq abc" "id:60,phase:1,pass"
SecRule ARGS "@streq ABC" "id:61,phase:1,pass,t:none"
SecRule ARGS "@streq a c" "id:62,phase:1,pass,t:none,t:urlDecodeUni,t:lowercase,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"`;
  const v = load('SecRuleEngine On\n' + rules).evaluate(req({ uri: '/?x=ABC&y=A%2520C' }));
  assert.deepEqual(v.ruleIds, [60, 61, 62]);
  assert.equal(v.matches[2]!.logdata, 'ARGS:y=a c');
});

test('capture fills TX:0..9 for later rules and macros', () => {
  const rules = `SecRule ARGS:v "@rx ^(\\w+)-(\\d+)$" "id:70,phase:1,pass,capture,setvar:tx.word=%{tx.1},setvar:tx.num=%{TX.2}"
SecRule TX:word "@streq abc" "chain,id:71,phase:1,pass"
  SecRule TX:num "@eq 42"`;
  assert.deepEqual(load(BASE + rules).evaluate(req({ uri: '/?v=abc-42' })).ruleIds, [70, 71]);
});

test('ctl:ruleRemoveById and ruleRemoveTargetById affect later rules only in this request', () => {
  const rules = `SecRule REQUEST_URI "@beginsWith /api/upload" "id:80,phase:1,pass,nolog,ctl:ruleRemoveTargetById=82;ARGS:payload,ctl:ruleRemoveById=83"
SecRule ARGS "@contains bad" "id:82,phase:1,pass"
SecRule ARGS "@contains bad" "id:83,phase:1,pass"`;
  const waf = load(BASE + rules);
  assert.deepEqual(waf.evaluate(req({ uri: '/api/upload?payload=bad' })).ruleIds, []);
  assert.deepEqual(waf.evaluate(req({ uri: '/api/upload?other=bad' })).ruleIds, [82]);
  assert.deepEqual(waf.evaluate(req({ uri: '/x?payload=bad' })).ruleIds, [82, 83]);
});

test('SecRuleRemoveById / SecRuleUpdateTargetById apply wherever they are placed', () => {
  const rules = `SecRule ARGS "@contains bad" "id:90,phase:1,pass"
SecRule ARGS "@contains bad" "id:91,phase:1,pass"
SecRule ARGS "@contains bad" "id:92,phase:1,pass"
SecRuleRemoveById 91
SecRuleUpdateTargetById 92 "!ARGS:ok"`;
  const waf = load(BASE + rules);
  assert.deepEqual(waf.evaluate(req({ uri: '/?ok=bad' })).ruleIds, [90]);
  assert.deepEqual(waf.evaluate(req({ uri: '/?no=bad' })).ruleIds, [90, 92]);
});

test('block uses the default disruptive action of the phase', () => {
  const passDefault = BASE + 'SecRule ARGS "@contains bad" "id:100,phase:1,block"';
  assert.equal(load(passDefault).evaluate(req({ uri: '/?a=bad' })).action, 'allow');
  const denyDefault = 'SecRuleEngine On\nSecDefaultAction "phase:1,log,deny,status:406"\nSecRule ARGS "@contains bad" "id:100,phase:1,block"';
  const v = load(denyDefault).evaluate(req({ uri: '/?a=bad' }));
  assert.equal(v.action, 'deny');
  assert.equal(v.status, 406);
});

test('urlencoded body becomes ARGS_POST; REQUEST_BODY set; phase 2 sees it', () => {
  const rules = `SecRule ARGS_POST:name "@streq a b" "id:110,phase:2,pass"
SecRule REQUEST_BODY "@contains name=" "id:111,phase:2,pass"
SecRule ARGS_POST:name "@streq a b" "id:112,phase:1,pass"`;
  const v = load(BASE + rules).evaluate(
    req({ method: 'POST', headers: [['Host', 'h'], ['Content-Type', 'application/x-www-form-urlencoded']], body: Buffer.from('name=a+b&x=%41') }),
  );
  assert.deepEqual(v.ruleIds, [110, 111]);
});

test('URI variables follow ModSecurity v3: FILENAME decoded, URI_RAW raw, QUERY_STRING raw', () => {
  const rules = `SecRule REQUEST_FILENAME "@streq /a b/c.php" "id:120,phase:1,pass"
SecRule REQUEST_BASENAME "@streq c.php" "id:121,phase:1,pass"
SecRule REQUEST_URI_RAW "@streq /a%20b/c.php?x=%41" "id:122,phase:1,pass"
SecRule QUERY_STRING "@streq x=%41" "id:123,phase:1,pass"
SecRule REQUEST_LINE "@streq GET /a%20b/c.php?x=%41 HTTP/1.1" "id:124,phase:1,pass"
SecRule ARGS_GET:x "@streq A" "id:125,phase:1,pass"`;
  assert.deepEqual(load(BASE + rules).evaluate(req({ uri: '/a%20b/c.php?x=%41' })).ruleIds, [120, 121, 122, 123, 124, 125]);
});

test('cookies parsed as ModSecurity v3 does', () => {
  const rules = `SecRule REQUEST_COOKIES:session "@streq a=b" "id:130,phase:1,pass"
SecRule REQUEST_COOKIES_NAMES "@streq flag" "id:131,phase:1,pass"
SecRule &REQUEST_COOKIES "@eq 2" "id:132,phase:1,pass"`;
  const v = load(BASE + rules).evaluate(req({ headers: [['Host', 'h'], ['Cookie', ' session=a=b; ;flag  ']] }));
  assert.deepEqual(v.ruleIds, [130, 131, 132]);
});

test('load errors name file:line and what is wrong', () => {
  assert.throws(() => load('SecRule ARGS "@rx a" "phase:1,pass"'), /test\.conf:1: .*no id/);
  assert.throws(() => load('SecRuleEngine On\nSecFooBar x'), /test\.conf:2: unsupported directive 'SecFooBar'/);
  assert.throws(() => load('SecRule NOPE "@rx a" "id:1,phase:1"'), /test\.conf:1: unknown variable 'NOPE'/);
  assert.throws(() => load('SecRule ARGS "@nope a" "id:1,phase:1"'), /test\.conf:1: unknown operator '@nope'/);
  assert.throws(() => load('SecRule ARGS "@rx a" "id:1,phase:1,t:nope"'), /test\.conf:1: unknown transformation 't:nope'/);
  assert.throws(() => load('SecRule ARGS "@rx a" "id:1,phase:1,frobnicate"'), /test\.conf:1: unknown action 'frobnicate'/);
  assert.throws(() => load('SecRule ARGS "@rx a" "id:1,phase:1"\nSecRule ARGS "@rx b" "id:1,phase:1"'), /test\.conf:2: duplicate rule id 1/);
  assert.throws(() => load('SecRule ARGS "@rx a" "id:1,phase:1,chain"'), /chain/);
  assert.throws(() => load('SecRule ARGS "@rx (?<=a)b" "id:1,phase:1"'), /test\.conf:1: @rx/);
});

test('allow stops evaluation of later rules in On mode', () => {
  const rules = `SecRule REMOTE_ADDR "@ipMatch 10.0.0.0/8" "id:140,phase:1,allow,nolog"
SecRule ARGS "@contains bad" "id:141,phase:1,deny"
SecRule ARGS "@contains bad" "id:142,phase:2,deny"`;
  const v = load(BASE + rules).evaluate(req({ uri: '/?a=bad' }));
  assert.equal(v.action, 'allow');
  assert.deepEqual(v.ruleIds, []);
});

test('request body limit with Reject denies in On mode', () => {
  const rules = 'SecRequestBodyLimit 10\nSecRequestBodyLimitAction Reject';
  const v = load(BASE + rules).evaluate(req({ method: 'POST', body: Buffer.alloc(20, 'a') }));
  assert.equal(v.action, 'deny');
  assert.equal(v.status, 413);
});

test('8 MB body with SecRequestBodyLimit 1 MB: Reject denies, ProcessPartial inspects the first 1 MB, detect reports', () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 'a');
  big.write('x=attack&', 0, 'latin1');
  const headers: Array<[string, string]> = [['Host', 'h'], ['Content-Type', 'application/x-www-form-urlencoded']];
  const limits = 'SecRequestBodyLimit 1048576\nSecRequestBodyNoFilesLimit 1048576\n';
  const rule = 'SecRule ARGS_POST:x "@streq attack" "id:150,phase:2,pass"\n';
  const t0 = Date.now();
  const rejected = load(BASE + limits + 'SecRequestBodyLimitAction Reject\n' + rule).evaluate(req({ method: 'POST', headers, body: big }));
  assert.equal(rejected.action, 'deny');
  assert.equal(rejected.status, 413);
  const partial = load(BASE + limits + 'SecRequestBodyLimitAction ProcessPartial\n' + rule).evaluate(req({ method: 'POST', headers, body: big }));
  assert.equal(partial.action, 'allow');
  assert.deepEqual(partial.ruleIds, [150]);
  const detected = load(BASE + limits + 'SecRequestBodyLimitAction Reject\n' + rule, 'detect').evaluate(req({ method: 'POST', headers, body: big }));
  assert.equal(detected.action, 'detect');
  assert.equal(detected.status, 413);
  assert.deepEqual(detected.ruleIds, [150]);
  assert.ok(Date.now() - t0 < 5000, 'bounded time');
});

test('SecRequestBodyNoFilesLimit bounds non-multipart bodies', () => {
  const v = load(BASE + 'SecRequestBodyNoFilesLimit 100\nSecRequestBodyLimitAction Reject\n').evaluate(
    req({ method: 'POST', headers: [['Host', 'h'], ['Content-Type', 'application/json']], body: Buffer.alloc(200, ' ') }),
  );
  assert.equal(v.action, 'deny');
  assert.equal(v.status, 413);
});
