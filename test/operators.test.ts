// Operators: every vector of secrules-language-tests/operators, decoded and run the way
// ModSecurity's unit harness (test/unit/unit.cc, unit_test.cc) does, plus unit tests of our own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPath } from '../bench/lib/shared.js';
import { detectSQLi, detectXSS } from '../src/libinjection/index.js';
import { getOperatorFactory, operatorNames, registerOperator } from '../src/operators/index.js';
import type { Operator, OperatorInit, OperatorTx } from '../src/operators/types.js';
import { AhoCorasick } from '../src/operators/aho-corasick.js';
import { compileRegex, RegexCompileError, setRegexNoteHandler, translatePattern } from '../src/operators/regex.js';
import { luhn } from '../src/operators/verify-cc.js';
import { cString, json2bin } from './helpers/seclang-vectors.js';

// ---------------------------------------------------------------------------------------------
// Vector decoding (mirrors ModSecurity's harness; duplicated in transformations.test.ts on purpose
// so each test file stands alone).
// - yajl hands strings over as UTF-8 bytes, copied into std::string from a char*: a value stops at
//   its first NUL byte;
// - "input" (not "param") then goes through json2bin(): every literal \xHH (sscanf %x), then every
//   literal \uHHHH (sscanf %4x), is replaced, all occurrences at once, by the low byte of its value.
// ---------------------------------------------------------------------------------------------


// ---------------------------------------------------------------------------------------------
// A fake transaction.
// ---------------------------------------------------------------------------------------------

class FakeTx implements OperatorTx {
  readonly captures = new Map<number, string>();
  vars: Record<string, string> = {};
  constructor(readonly captureEnabled = false) {}
  setCapture(index: number, value: string): void {
    this.captures.set(index, value);
  }
}

function makeInit(name: string, arg: string, extra: Partial<OperatorInit> = {}): OperatorInit {
  return { name, arg, expand: null, baseDir: process.cwd(), options: {}, ruleId: 0, ...extra };
}

function op(name: string, arg: string, extra: Partial<OperatorInit> = {}): Operator {
  const factory = getOperatorFactory(name);
  assert.ok(factory, `@${name} registered`);
  return factory(makeInit(name, arg, extra));
}

// ---------------------------------------------------------------------------------------------
// Vector runner.
// ---------------------------------------------------------------------------------------------

interface OpVector {
  name: string;
  type: string;
  param?: string;
  input: string;
  ret: number;
  re_groups?: string[];
  resource?: string;
}

/** Operators deliberately not implemented (reported as skipped, never dropped). */
const NOT_IMPLEMENTED: Record<string, string> = {
  geolookup: '@geoLookup is not implemented (needs a GeoIP database)',
  rbl: '@rbl is not implemented (DNS lookups)',
  verifyssn: '@verifySSN is not implemented',
  verifycpf: '@verifyCPF is not implemented',
  verifysvnr: '@verifySVNR is not implemented',
  rxglobal: '@rxGlobal is not implemented',
  inspectfile: '@inspectFile is not implemented',
  fuzzyhash: '@fuzzyHash is not implemented',
  gsblookup: '@gsbLookup is not implemented',
};

// The libinjection port lands separately; its vectors run as soon as it is no longer the placeholder.
const SQLI_PLACEHOLDER = detectSQLi("1' or '1'='1").isSqli === false;
const XSS_PLACEHOLDER = detectXSS('<script>alert(1)</script>') === false;
const PENDING: Record<string, string | undefined> = {
  detectsqli: SQLI_PLACEHOLDER ? 'libinjection is still the placeholder (detectSQLi)' : undefined,
  detectxss: XSS_PLACEHOLDER ? 'libinjection is still the placeholder (detectXSS)' : undefined,
};

/** ModSecurity runs the vectors from its source tree; data file params are relative to it. */
const HARNESS_PREFIX = 'test-cases/secrules-language-tests/';

const VECTOR_RULE_ID = 4242;

function vectorInit(name: string, param: string): OperatorInit {
  let arg = param;
  let baseDir = sharedPath('secrules-language-tests');
  if (arg.startsWith(HARNESS_PREFIX)) arg = arg.slice(HARNESS_PREFIX.length);
  else baseDir = process.cwd();
  return {
    name,
    arg,
    expand: null,
    baseDir,
    // The harness runs PCRE, which accepts lookarounds: the vectors may use the V8 fallback.
    options: { regexFallbackRuleIds: new Set([VECTOR_RULE_ID]) },
    ruleId: VECTOR_RULE_ID,
  };
}

const counts = { pass: 0, fail: 0, skip: 0, files: 0 };
after(() => {
  console.log(`operators vectors: ${counts.files} files, ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
});

const dir = sharedPath('secrules-language-tests', 'operators');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('operator vector folder is present', () => {
  assert.ok(files.length > 0, `no vectors in ${dir}`);
});

setRegexNoteHandler(() => {}); // fallback notes are asserted explicitly below

for (const file of files) {
  const vectors = JSON.parse(readFileSync(join(dir, file), 'utf8')) as OpVector[];
  counts.files++;
  test(`operators/${file}`, async (t) => {
    for (const [i, v] of vectors.entries()) {
      await t.test(`${file} #${i} @${v.name}`, (st) => {
        const name = v.name.toLowerCase();
        const reason = NOT_IMPLEMENTED[name] ?? PENDING[name];
        const factory = getOperatorFactory(name);
        if (reason !== undefined || factory === undefined) {
          counts.skip++;
          st.skip(reason ?? `@${v.name} not implemented`);
          return;
        }
        const param = cString(v.param ?? '');
        const input = json2bin(cString(v.input));
        let operator: Operator | undefined;
        try {
          operator = factory(vectorInit(name, param));
        } catch {
          // ModSecurity's harness ignores init() errors and evaluates the operator anyway; an
          // operator whose argument did not load (e.g. ipMatch 10.0.0.0/100) matches nothing.
          operator = undefined;
        }
        const plain = operator?.evaluate(new FakeTx(false), input) ?? false;
        const tx = new FakeTx(true);
        const captured = operator?.evaluate(tx, input) ?? false;
        const ok = plain === (v.ret === 1) && captured === plain;
        if (ok) counts.pass++;
        else counts.fail++;
        assert.equal(plain ? 1 : 0, v.ret, `@${v.name} ${JSON.stringify(param)} on ${JSON.stringify(input)}`);
        assert.equal(captured, plain, 'same result with capture enabled');
        if (v.re_groups !== undefined) {
          assert.deepEqual(
            v.re_groups.map((_, k) => tx.captures.get(k)),
            v.re_groups.map(cString),
            'captures TX:0..n',
          );
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Unit tests of our own.
// ---------------------------------------------------------------------------------------------

test('registry: names, lookup, custom registration', () => {
  for (const name of ['rx', 'pm', 'pmf', 'pmfromfile', 'streq', 'within', 'ipmatch', 'ipmatchfromfile', 'verifycc', 'detectsqli']) {
    assert.ok(operatorNames().includes(name), name);
  }
  assert.equal(getOperatorFactory('RX'), getOperatorFactory('rx'));
  assert.equal(getOperatorFactory('nope'), undefined);
  registerOperator('alwaysTrueForTest', () => ({ evaluate: () => true }));
  assert.ok(getOperatorFactory('alwaystruefortest'));
});

test('rx: capture fills TX:0..9, unmatched groups are empty', () => {
  const tx = new FakeTx(true);
  assert.equal(op('rx', '(a)(x)?(b)').evaluate(tx, 'zab'), true);
  assert.deepEqual([...tx.captures.entries()], [[0, 'ab'], [1, 'a'], [2, ''], [3, 'b']]);

  const many = new FakeTx(true);
  op('rx', '(1)(2)(3)(4)(5)(6)(7)(8)(9)(a)(b)').evaluate(many, '123456789ab');
  assert.deepEqual([...many.captures.keys()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(many.captures.get(9), '9');

  const none = new FakeTx(true);
  assert.equal(op('rx', '(q)').evaluate(none, 'abc'), false);
  assert.equal(none.captures.size, 0);
  const off = new FakeTx(false);
  assert.equal(op('rx', '(a)').evaluate(off, 'a'), true);
  assert.equal(off.captures.size, 0);
});

test('rx: byte semantics, dot-all, not multi-line, PCRE escapes', () => {
  const tx = new FakeTx(false);
  assert.equal(op('rx', '\\xe9').evaluate(tx, 'caf\xe9'), true);
  assert.equal(op('rx', '\\xe9').evaluate(tx, 'caf\xc3\xa9'), false); // UTF-8 é is two other bytes
  assert.equal(op('rx', 'caf\xe9').evaluate(tx, 'un caf\xe9'), true); // raw byte in the pattern
  assert.equal(op('rx', '^[\\x80-\\xff]+$').evaluate(tx, '\x80\xff\xc3'), true);
  assert.equal(op('rx', 'a.b').evaluate(tx, 'a\nb'), true);
  assert.equal(op('rx', '^b').evaluate(tx, 'a\nb'), false);
  assert.equal(op('rx', 'a$').evaluate(tx, 'a\nb'), false);
  assert.equal(op('rx', 'a$').evaluate(tx, 'a\n'), false); // $ is the very end (DOLLAR_ENDONLY)
  assert.equal(op('rx', '(?i)SeLeCt').evaluate(tx, 'select'), true);
  assert.equal(op('rx', 'union\\s+select').evaluate(tx, 'union\x0bselect'), true); // PCRE \s has \v
  assert.equal(op('rx', 'a[\\s]b').evaluate(tx, 'a\x0bb'), true);
  assert.equal(op('rx', 'a\\x9').evaluate(tx, 'a\t'), true); // one-digit \xH
  assert.equal(op('rx', '').evaluate(tx, 'anything'), true);
  const c = new FakeTx(true);
  op('rx', '(\\w+)\\Z').evaluate(c, 'abc\n');
  assert.equal(c.captures.get(1), 'abc');
});

test('rx: RE2-rejected constructs are named; V8 fallback when the rule id allows it', () => {
  const cases: Array<[string, RegExp]> = [
    ['a(?=b)', /lookahead/],
    ['a(?!b)', /negative lookahead/],
    ['(?<=a)b', /lookbehind/],
    ['(a)\\1', /backreference/],
    ['a++', /possessive quantifier/],
    ['(?>a)', /atomic group/],
  ];
  for (const [pattern, construct] of cases) {
    assert.throws(() => op('rx', pattern, { ruleId: 77 }), (e: Error) => e instanceof RegexCompileError && construct.test(e.message) && /rule 77/.test(e.message), pattern);
  }
  const notes: string[] = [];
  setRegexNoteHandler((m) => notes.push(m));
  try {
    const o = op('rx', '<\\?(?!xml)', { ruleId: 77, options: { regexFallbackRuleIds: new Set([77]) } });
    assert.equal(o.evaluate(new FakeTx(false), '<?php'), true);
    assert.equal(o.evaluate(new FakeTx(false), '<?xml'), false);
    const tx = new FakeTx(true);
    assert.equal(op('rx', '(?i)(a)\\1', { ruleId: 78, options: { regexFallbackRuleIds: new Set([78]) } }).evaluate(tx, 'xAa'), true);
    assert.equal(tx.captures.get(0), 'Aa');
    assert.equal(notes.length, 2);
    assert.match(notes[0]!, /rule 77.*negative lookahead.*V8/);
    // Another rule id is not covered by the allow-list.
    assert.throws(() => op('rx', 'a(?=b)', { ruleId: 79, options: { regexFallbackRuleIds: new Set([77]) } }), RegexCompileError);
  } finally {
    setRegexNoteHandler(() => {});
  }
});

test('rx: compiling the same patterns again (a reload) gives the same answers and the same rejections', () => {
  for (let round = 0; round < 2; round++) {
    const re = compileRegex('(?i)un(i)on\\s+select', { ruleId: 80 });
    assert.equal(re.test('UNION  SELECT'), true, `round ${round}`);
    assert.deepEqual(re.exec('x union select'), ['union select', 'i']);
    assert.equal(re.test('union'), false);
    // Case-insensitive is part of what was validated: the same text with other flags is its own entry.
    assert.equal(compileRegex('un(i)on', { ruleId: 81, caseInsensitive: true }).test('UNION'), true);
    assert.equal(compileRegex('un(i)on', { ruleId: 82 }).test('UNION'), false);
    assert.throws(() => compileRegex('a(?=b)', { ruleId: 83 }), RegexCompileError, `round ${round}`);
  }
});

test('V8 fallback: possessive quantifiers keep PCRE semantics and numbering; (?i:...) wrappers become flags', () => {
  const warnings: string[] = [];
  const allow = { regexFallbackRuleIds: new Set([90]), warn: (m: string) => warnings.push(m) };
  // a*+a can never match: the possessive run gives nothing back (greedy a*a would match "aaa").
  const never = op('rx', 'a*+a', { ruleId: 90, options: allow });
  assert.equal(never.evaluate(new FakeTx(false), 'aaa'), false);
  const tx = new FakeTx(true);
  assert.equal(op('rx', '(x)\\d++(y)', { ruleId: 90, options: allow }).evaluate(tx, '-x123y-'), true);
  assert.equal(tx.captures.get(0), 'x123y');
  assert.equal(tx.captures.get(1), 'x', 'the emulation group is not visible in the captures');
  assert.equal(tx.captures.get(2), 'y');
  for (const [pattern, input, expected] of [
    ['^(?:\\s*+;\\s*+[a-z]++)*$', ' ; ab;c', true],
    ['^[a-z]{2,3}+c', 'abcc', true],
    ['^[a-z]{2,3}+c', 'abc', false],
    ['^(?:ab)?+b', 'ab', false],
    ['^(?:ab)?+b', 'abb', true],
  ] as const) {
    assert.equal(op('rx', pattern, { ruleId: 90, options: allow }).evaluate(new FakeTx(false), input), expected, `${pattern} on ${input}`);
  }
  // CRS 3.3.4 942130 style: the whole pattern in (?i:...) plus a lookahead with a backreference.
  const ci = op('rx', '(?i:\\b(\\w+)\\b=(?!\\b\\1\\b)\\w+)', { ruleId: 90, options: allow });
  assert.equal(ci.evaluate(new FakeTx(false), 'A=b'), true);
  assert.equal(ci.evaluate(new FakeTx(false), 'A=A'), false);
  // The warning goes to the loader's warn hook and states the risk.
  assert.ok(warnings.length >= 6);
  assert.ok(warnings.every((w) => /rule 90: .*V8 RegExp fallback.*ReDoS/.test(w)), warnings[0]);
  // An option group that does not span the pattern: V8 accepts it only where it has RegExp modifiers
  // (ES2025; V8 12.5+, i.e. Node 24 but not Node 22). With them it keeps the PCRE meaning (the flag
  // covers the group only); without them the pattern is refused with both engines named.
  if (v8HasRegexpModifiers()) {
    const scoped = op('rx', '(?i:a)(?!b)', { ruleId: 90, options: allow });
    assert.equal(scoped.evaluate(new FakeTx(false), 'Ac'), true);
    assert.equal(scoped.evaluate(new FakeTx(false), 'Ab'), false);
    assert.equal(op('rx', '(?i:a)b(?!c)', { ruleId: 90, options: allow }).evaluate(new FakeTx(false), 'AB'), false, 'i does not leak past its group');
  } else {
    assert.throws(() => op('rx', '(?i:a)(?!b)', { ruleId: 90, options: allow }), /rejected by RE2 .* and by the V8 fallback/);
  }
});

test('@geoLookup and @rbl never match (no GeoIP database, no DNS on the check path)', () => {
  for (const name of ['geoLookup', 'rbl']) {
    const o = op(name.toLowerCase(), name === 'rbl' ? 'sbl-xbl.spamhaus.org' : '');
    assert.equal(o.evaluate(new FakeTx(false), '1.2.3.4'), false);
  }
});

test('compileRegex: reusable helper (selectors), engine and groups', () => {
  const re = compileRegex('^foo(\\d)?', { ruleId: 1, fallbackAllowed: false });
  assert.equal(re.engine, 're2');
  assert.equal(re.groupCount, 1);
  assert.equal(re.test('foo'), true);
  assert.deepEqual(re.exec('foo7'), ['foo7', '7']);
  assert.deepEqual(re.execFrom('xfoo', 1), null); // ^ is still the start of the value
  assert.equal(compileRegex('ab', { caseInsensitive: true }).test('AB'), true);
  assert.equal(compileRegex('^b', { multiline: true }).test('a\nb'), true);
  assert.equal(translatePattern('[\\s\\d]\\s\\Q\\s\\E', 're2'), '[\\t-\\r \\d][\\t-\\r ]\\Q\\s\\E');
});

test('pm: Aho-Corasick, overlapping phrases, case-insensitive, capture', () => {
  const o = op('pm', 'she He hers his');
  const tx = new FakeTx(true);
  assert.equal(o.evaluate(tx, 'uSHErs'), true);
  assert.equal(tx.captures.get(0), 'she'); // ends first (at "uSHE"), longest there
  const tx2 = new FakeTx(true);
  assert.equal(o.evaluate(tx2, 'xhix'), false);
  assert.equal(o.evaluate(tx2, 'ahHIS'), true);
  assert.equal(tx2.captures.get(0), 'his');
  // A phrase only reachable through a deeper fail link.
  const ac = new AhoCorasick(['abcqz', 'bcy', 'cqw']);
  assert.equal(ac.firstMatch('abcqw'), 'cqw');
  assert.equal(ac.firstMatch('ABCQZ'), 'abcqz');
  assert.equal(ac.firstMatch('abcq'), undefined);
  // Bytes >= 0x80 are compared exactly, and only ASCII letters fold.
  assert.equal(op('pm', '\xe9t\xe9').evaluate(new FakeTx(), 'L\xc9T\xc9 \xe9T\xe9'), true);
  assert.equal(op('pm', '\xe9t\xe9').evaluate(new FakeTx(), '\xc9t\xc9'), false);
  // Quoted argument, hex bytes, escapes (documented @pm syntax).
  assert.equal(op('pm', '"|41 42|c"').evaluate(new FakeTx(), 'xabcx'), true);
  assert.equal(op('pm', 'a\\:b').evaluate(new FakeTx(), 'xa:b'), true);
  assert.equal(op('pm', '').evaluate(new FakeTx(), 'anything'), false);
});

test('pm: large phrase lists stay linear', () => {
  const phrases = Array.from({ length: 5000 }, (_, i) => `phrase${i}x`);
  const ac = new AhoCorasick(phrases);
  const input = 'phrase'.repeat(100000) + 'phrase4999x';
  const t0 = performance.now();
  assert.equal(ac.firstMatch(input), 'phrase4999x');
  assert.ok(performance.now() - t0 < 2000);
});

test('pmFromFile: path relative to the rule file, comments and blank lines skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-pm-'));
  writeFileSync(join(dir, 'words.data'), '# comment\n\n   \n  # indented comment\nfoo bar\r\nBaz\n\xe9t\xe9\n', 'latin1');
  writeFileSync(join(dir, 'more.data'), 'qux\n', 'latin1');
  const o = op('pmFromFile', 'words.data more.data', { baseDir: dir });
  const tx = new FakeTx(true);
  assert.equal(o.evaluate(tx, 'xx FOO BAR yy'), true);
  assert.equal(tx.captures.get(0), 'foo bar');
  assert.equal(o.evaluate(new FakeTx(), 'foo'), false);
  assert.equal(o.evaluate(new FakeTx(), 'baz'), true);
  assert.equal(o.evaluate(new FakeTx(), '\xe9t\xe9'), true);
  assert.equal(o.evaluate(new FakeTx(), 'QUX'), true);
  assert.equal(o.evaluate(new FakeTx(), '# comment'), false);
  assert.equal(op('pmf', 'words.data', { baseDir: dir }).evaluate(new FakeTx(), 'baz'), true);
  assert.throws(() => op('pmFromFile', 'missing.data', { baseDir: dir }), /missing\.data/);
});

test('macro arguments are expanded per evaluation', () => {
  const expandX = (tx: OperatorTx): string => (tx as FakeTx).vars.x ?? '';
  const withMacro = (name: string, arg = '%{tx.x}'): Operator => op(name, arg, { expand: expandX });
  const tx = new FakeTx(false);

  tx.vars.x = 'GET HEAD POST';
  const within = withMacro('within');
  assert.equal(within.evaluate(tx, 'HEAD'), true);
  assert.equal(within.evaluate(tx, 'PUT'), false);
  tx.vars.x = 'PUT';
  assert.equal(within.evaluate(tx, 'PUT'), true);

  tx.vars.x = '5';
  assert.equal(withMacro('ge').evaluate(tx, '7'), true);
  assert.equal(withMacro('eq').evaluate(tx, '5'), true);
  tx.vars.x = '9';
  assert.equal(withMacro('ge').evaluate(tx, '7'), false);
  assert.equal(withMacro('lt').evaluate(tx, '7'), true);

  tx.vars.x = 'abc';
  assert.equal(withMacro('streq').evaluate(tx, 'abc'), true);
  assert.equal(withMacro('beginsWith').evaluate(tx, 'abcdef'), true);
  assert.equal(withMacro('endsWith').evaluate(tx, 'xxabc'), true);
  assert.equal(withMacro('contains').evaluate(tx, 'xabcx'), true);

  const rx = withMacro('rx');
  tx.vars.x = '^a+$';
  assert.equal(rx.evaluate(tx, 'aaa'), true);
  tx.vars.x = '^b+$';
  assert.equal(rx.evaluate(tx, 'aaa'), false);
  tx.vars.x = '(?=bad';
  assert.equal(rx.evaluate(tx, 'aaa'), false); // does not compile: no match, no throw

  tx.vars.x = '10.0.0.0/8';
  const ip = withMacro('ipMatch');
  assert.equal(ip.evaluate(tx, '10.1.2.3'), true);
  tx.vars.x = '192.168.0.0/16';
  assert.equal(ip.evaluate(tx, '10.1.2.3'), false);

  tx.vars.x = 'foo bar';
  assert.equal(withMacro('pm').evaluate(tx, 'xBARx'), true);
});

test('ipMatch: IPv4/IPv6 addresses and CIDR blocks', () => {
  const o = op('ipMatch', '127.0.0.1,::1, 10.0.0.0/8,192.168.1.0/24,2001:db8::/32,fe80::/10,1.2.3.4/0');
  const tx = new FakeTx();
  for (const ip of ['127.0.0.1', '10.255.0.1', '192.168.1.77', '::1', '0:0:0:0:0:0:0:1', '2001:db8:1::5', 'fe80::1', 'febf::1', '8.8.8.8']) {
    assert.equal(o.evaluate(tx, ip), true, ip);
  }
  const v6only = op('ipMatch', '2001:db8::/32,fe80::/10,::ffff:10.0.0.0/104');
  for (const ip of ['2001:db9::1', 'fec0::1', '10.0.0.1', '::2', 'not an ip', '', '127.0.0.1 ']) {
    assert.equal(v6only.evaluate(tx, ip), false, ip);
  }
  assert.equal(v6only.evaluate(tx, '::ffff:10.9.8.7'), true);
  const v4 = op('ipMatch', '10.10.10.0/21');
  assert.equal(v4.evaluate(tx, '10.10.8.1'), true);
  assert.equal(v4.evaluate(tx, '10.10.16.1'), false);
  assert.equal(v4.evaluate(tx, '010.10.8.1'), false); // inet_pton rejects leading zeros
  assert.throws(() => op('ipMatch', '10.0.0.0/33'), /mask/);
  assert.throws(() => op('ipMatch', '10.0.0.300'), /invalid IP/);
  assert.throws(() => op('ipMatch', '2001:db8::/129'), /mask/);
});

test('ipMatchFromFile: lines, comments, lists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-ip-'));
  writeFileSync(join(dir, 'ips.txt'), '# blocked\n10.0.0.0/8 # corp\n\n192.168.0.1,192.168.0.2\n2001:db8::/48\n');
  const o = op('ipMatchFromFile', 'ips.txt', { baseDir: dir });
  const tx = new FakeTx();
  assert.equal(o.evaluate(tx, '10.3.3.3'), true);
  assert.equal(o.evaluate(tx, '192.168.0.2'), true);
  assert.equal(o.evaluate(tx, '192.168.0.3'), false);
  assert.equal(o.evaluate(tx, '2001:db8:0:ffff::1'), true);
  assert.equal(o.evaluate(tx, '2001:db8:1::1'), false);
});

test('string and numeric operators: ModSecurity edge semantics', () => {
  const tx = new FakeTx();
  assert.equal(op('within', 'GET POST').evaluate(tx, 'ET P'), true); // substring, not tokens
  assert.equal(op('within', 'GET').evaluate(tx, ''), true);
  assert.equal(op('containsWord', 'select').evaluate(tx, 'a select_1'), true); // '_' is a boundary
  assert.equal(op('containsWord', 'select').evaluate(tx, 'selects'), false);
  assert.equal(op('eq', '5').evaluate(tx, ' 5abc'), true);
  assert.equal(op('eq', '0').evaluate(tx, '99999999999'), true); // stoi overflow -> 0
  assert.equal(op('gt', '99999999999').evaluate(tx, '100000000000'), true); // 64-bit atoll
  assert.equal(op('lt', '-1').evaluate(tx, '-99999999999999999999'), true); // saturates
  assert.equal(op('ge', '1').evaluate(tx, ''), false);
});

test('validate operators', () => {
  const tx = new FakeTx();
  const vbr = op('validateByteRange', '9,10,13,32-126');
  assert.equal(vbr.evaluate(tx, 'plain text\r\n'), false);
  assert.equal(vbr.evaluate(tx, 'nul\0'), true);
  assert.equal(vbr.evaluate(tx, '\xe9'), true);
  assert.equal(op('validateByteRange', '1-255').evaluate(tx, '\xff'), false);
  assert.equal(op('validateUrlEncoding', '').evaluate(tx, 'a%2g'), true);
  assert.equal(op('validateUrlEncoding', '').evaluate(tx, 'a%2F%41'), false);
  const utf8 = op('validateUtf8Encoding', '');
  assert.equal(utf8.evaluate(tx, 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'), false);
  for (const bad of ['\xc0\x80', '\xed\xa0\x80', '\xf5\x80\x80\x80', '\xe2\x82', '\x80', '\xf8\x88\x80\x80\x80']) {
    assert.equal(utf8.evaluate(tx, bad), true, JSON.stringify(bad));
  }
  // ModSecurity only restricts the lead byte (< 0xF5), so U+110000 (F4 90 80 80) passes.
  assert.equal(utf8.evaluate(tx, '\xf4\x90\x80\x80'), false);
});

test('verifyCC: Luhn and capture', () => {
  assert.equal(luhn('4111 1111 1111 1111'), true);
  assert.equal(luhn('4111 1111 1111 1112'), false);
  assert.equal(luhn('no digits'), false);
  const o = op('verifyCC', '\\b\\d{16}\\b');
  const tx = new FakeTx(true);
  assert.equal(o.evaluate(tx, 'card 1234567890123456 or 4111111111111111'), true);
  assert.equal(tx.captures.get(0), '4111111111111111');
  // Like ModSecurity, every start offset is tried: a Luhn-valid tail of a longer run counts.
  const tx2 = new FakeTx(true);
  assert.equal(op('verifyCC', '\\d{13,16}').evaluate(tx2, 'card 1234567890123456'), true);
  assert.equal(tx2.captures.get(0), '34567890123456');
});

test('detectSQLi / detectXSS call libinjection', () => {
  const tx = new FakeTx(true);
  const sqli = op('detectSQLi', '').evaluate(tx, "1' or '1'='1");
  assert.equal(sqli, detectSQLi("1' or '1'='1").isSqli);
  if (sqli) assert.equal(tx.captures.get(0), detectSQLi("1' or '1'='1").fingerprint);
  else assert.equal(tx.captures.size, 0);
  assert.equal(op('detectXSS', '').evaluate(tx, '<script>alert(1)</script>'), detectXSS('<script>alert(1)</script>'));
  assert.equal(op('detectSQLi', '').evaluate(tx, ''), false);
});

test('unconditionalMatch / noMatch', () => {
  assert.equal(op('unconditionalMatch', '').evaluate(new FakeTx(), ''), true);
  assert.equal(op('noMatch', '').evaluate(new FakeTx(), 'x'), false);
});

/** Whether this runtime's V8 has RegExp modifier groups, `(?i:...)` (ES2025). */
function v8HasRegexpModifiers(): boolean {
  try {
    new RegExp('(?i:a)');
    return true;
  } catch {
    return false;
  }
}

test('rx: whole-value patterns (^.*$ ...) answer without RE2 exactly as RE2 does', () => {
  const inputs = ['', 'accept', 'a\nb', '\n', 'x\r\n', 'é\u00ff\u0000z'];
  for (const pattern of ['.*', '^.*', '.*$', '^.*$', '(?:.*)', '^(?:.*)$']) {
    const re = compileRegex(pattern);
    for (const input of inputs) {
      const tx = new FakeTx(true);
      assert.equal(op('rx', pattern).evaluate(tx, input), re.test(input), `${pattern} on ${JSON.stringify(input)}`);
      assert.deepEqual([...tx.captures.entries()], [[0, re.exec(input)![0]]], `${pattern} TX:0 on ${JSON.stringify(input)}`);
      assert.equal(op('rx', pattern).prefilterPattern, undefined, 'no prefilter: nothing to skip');
    }
  }
});
