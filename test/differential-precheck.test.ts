// Differential test for the whole-rule precheck (accel/rule-precheck.ts) and the shared literal
// index with @pm phrases (accel/literal-prefilter.ts): a small rule set built to stress what they
// cache per transaction — unions over ARGS computed in phase 1 must not survive the body arguments
// of phase 2, TX values changed by setvar between rules of one group, keyed targets, exclusions
// (static and ctl), capture, chains, negation, multiMatch, values above 0xff — evaluated with
// acceleration on and off over generated requests must give identical verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HttpRequest } from '../src/engine/api.js';
import { compare, enginePair, percentEncode } from './helpers/differential.js';

const RULES = `
SecRuleEngine On
SecRequestBodyAccess On
SecArgumentsLimit 100000
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/x-www-form-urlencoded" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=URLENCODED"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.score=0"
SecRule ARGS "@rx evil(?:one|two)" "id:10,phase:1,pass,log,t:lowercase,setvar:tx.score=+1"
SecRule ARGS "@rx evil(?:one|two)" "id:11,phase:2,pass,log,t:lowercase,setvar:tx.score=+1"
SecRule ARGS|!ARGS:skip "@rx bad(?:x|y)" "id:12,phase:2,pass,log,t:lowercase,setvar:tx.score=+2"
SecRule ARGS:q "@rx bad(?:x|y)" "id:13,phase:2,pass,log,t:lowercase,capture,setvar:tx.cap=%{TX.0}"
SecRule ARGS_NAMES "@pm danger PERIL" "id:14,phase:2,pass,log,t:lowercase,capture,setvar:tx.pm=%{TX.0}"
SecRule REQUEST_HEADERS:X-Probe "@rx (?:probe|sonde)[0-9]" "id:15,phase:1,pass,log,t:lowercase,capture,setvar:tx.probe=%{TX.0}"
SecRule REQUEST_HEADERS "@pm danger peril" "id:16,phase:1,pass,log,t:lowercase"
SecRule TX:probe "@rx probe[0-9]" "id:17,phase:2,pass,log,t:lowercase"
SecAction "id:18,phase:2,pass,nolog,setvar:tx.foo=worse%{tx.score}"
SecRule TX:foo "@rx worse[1-9]" "id:19,phase:2,pass,log,t:lowercase"
SecRule ARGS "@rx evil(?:one|two)" "id:20,phase:2,pass,log,t:lowercase,chain"
  SecRule ARGS_NAMES "@pm danger peril" "t:lowercase,setvar:tx.chain=1"
SecRule ARGS "!@rx evil(?:one|two)" "id:21,phase:2,pass,log,t:lowercase"
SecRule ARGS "@rx evil(?:one|two)" "id:22,phase:2,pass,log,t:none,t:urlDecodeUni,t:lowercase,multiMatch"
SecRule REQUEST_COOKIES|REQUEST_COOKIES_NAMES "@rx bad(?:x|y)" "id:23,phase:1,pass,log,t:lowercase"
SecRule ARGS:ctl "@streq off" "id:24,phase:1,pass,nolog,ctl:ruleRemoveTargetById=25;ARGS:q"
SecRule ARGS "@rx bad(?:x|y)" "id:25,phase:2,pass,log,t:lowercase"
SecRule ARGS "@pm evilone badx" "id:26,phase:2,pass,log,t:none"
SecRule ARGS_POST "@rx evil(?:one|two)|bad(?:x|y)" "id:27,phase:2,pass,log,t:lowercase"
SecRule ARGS|ARGS_NAMES "@rx evil(?:one|two)" "id:28,phase:2,pass,log,t:none,t:urlDecodeUni,t:lowercase"
SecRule ARGS "@pm danger.x" "id:29,phase:2,pass,log,t:none,t:removeWhitespace"
SecRule TX:score "@ge 3" "id:90,phase:2,deny,status:403,log"
`;

const pair = enginePair(RULES);

const word = fc.constantFrom('evilone', 'EvilTwo', 'badx', 'BADY', 'danger', 'Peril', 'probe7', 'sonde1', 'worse', 'hello', 'q', 'skip', 'ctl', 'off', '%65vilone', 'x', 'é', 'Ā', '', ' ', '.');
const text = fc.array(word, { maxLength: 3 }).map((w) => w.join(''));
// Up to 12 pairs: collections of more than 8 values are unioned by signature buckets, smaller ones value by value.
const pairs = fc.array(fc.tuple(fc.constantFrom('q', 'skip', 'ctl', 'a', 'danger', 'peril', 'evilone'), text), { maxLength: 12 });

function build(query: Array<[string, string]>, body: Array<[string, string]>, probe: string, cookie: string): HttpRequest {
  const enc = (kv: Array<[string, string]>): string => kv.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&');
  const bodyText = enc(body);
  return {
    id: 'precheck',
    method: body.length > 0 ? 'POST' : 'GET',
    uri: query.length > 0 ? `/p?${enc(query)}` : '/p',
    protocol: 'HTTP/1.1',
    headers: [
      ['Host', 'example.com'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ['X-Probe', probe], // may hold chars above 0xff: the prefilter must answer "maybe"
      ['Cookie', `${cookie}=${cookie}`],
    ],
    body: body.length > 0 ? Buffer.from(bodyText, 'latin1') : null,
    bodyPartial: false,
    clientIp: '10.0.0.1',
    clientPort: 40000,
    serverIp: '10.0.0.2',
    serverPort: 80,
  };
}

test('the precheck and the phrase prefilter are in use', () => {
  const acc = pair.on.ruleset.acceleration!;
  assert.ok(acc.prechecked >= 12, `${acc.prechecked} links prechecked`);
  assert.ok(acc.literal.phraseRules >= 3, `${acc.literal.phraseRules} @pm links in the literal index`);
  assert.equal(pair.off.ruleset.acceleration!.prechecked, 0);
});

test('property: acceleration on = off with per-transaction unions, TX changes and exclusions', () => {
  let matched = 0;
  let denied = 0;
  fc.assert(
    fc.property(pairs, pairs, text, fc.constantFrom('a', 'badx', 'BadY', 'zz'), (query, body, probe, cookie) => {
      const { verdict, difference } = compare(pair, build(query, body, probe, cookie));
      if (difference !== null) throw new Error(difference);
      if (verdict.ruleIds.length > 0) matched++;
      if (verdict.action === 'deny') denied++;
    }),
    { numRuns: 1500, seed: 23 },
  );
  // The generated requests exercised matching rules and the blocking score, not only silence.
  assert.ok(matched > 500 && denied > 100, `${matched} requests matched, ${denied} denied`);
});

test('a body argument seen only in phase 2 still matches after phase 1 cached ARGS', () => {
  const r = build([['a', 'hello']], [['a', 'evilone']], 'x', 'a');
  const { verdict, difference } = compare(pair, r);
  assert.equal(difference, null);
  assert.ok(verdict.ruleIds.includes(11) && !verdict.ruleIds.includes(10), JSON.stringify(verdict.ruleIds));
  assert.ok(verdict.ruleIds.includes(27));
});

test('a TX value set between two rules of one group is read fresh', () => {
  const r = build([['q', 'badx'], ['a', 'evilone']], [], 'x', 'a');
  const { verdict, difference } = compare(pair, r);
  assert.equal(difference, null);
  assert.ok(verdict.ruleIds.includes(19), JSON.stringify(verdict.ruleIds)); // tx.foo = worse3, set after the unions were built
});

test('a request with 30,000 arguments through several groups gives the same verdict', () => {
  // Many values per collection, most of them sharing each group's "none" answer: the union skips
  // and the per-value loops must still find the one value that matters.
  const query: Array<[string, string]> = [];
  for (let i = 0; i < 30000; i++) query.push([i % 7 === 0 ? 'danger' : `a${i}`, i === 29990 ? 'EvilOne badx' : `v${i}`]);
  const r = build(query, [], 'x', 'a');
  const { verdict, difference } = compare(pair, r);
  assert.equal(difference, null);
  for (const id of [10, 12, 14, 20, 25, 26]) assert.ok(verdict.ruleIds.includes(id), `${id} in ${JSON.stringify(verdict.ruleIds)}`);
});
