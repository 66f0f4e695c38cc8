// Prefilter soundness, per rule: for every CRS v4 rule link with a prefilter and every corpus value,
// at every stage of the rule's transformation pipeline, when the rule's operator matches the
// transformed value the prefilter must have said "maybe". Plus the literal derivation on known
// patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import RE2 from 're2';
import type { OperatorTx } from '../src/operators/types.js';
import type { Rule } from '../src/engine/rule.js';
import { literalConditions, requiredLiterals } from '../src/engine/accel/required-literals.js';
import { hasRareByte, RARE } from '../src/engine/accel/rare-bytes.js';
import { maybe, ruleLinks } from '../src/engine/accel/prefilter-group.js';
import { entryConfText } from '../bench/lib/crs-config.js';
import { enginePair } from './helpers/differential.js';
import { sharedPath } from '../bench/lib/shared.js';
import { loadValueCorpus, sample } from './helpers/value-corpus.js';
import { detectXSSFactory } from '../src/operators/libinjection.js';
import { detectXSS } from '../src/libinjection/index.js';

const NO_CAPTURE: OperatorTx = { captureEnabled: false, setCapture: () => {} };

test('required literals of known patterns', () => {
  const cases: Array<[string, string[] | null]> = [
    ['union[\\t-\\r ]+select', ['select']],
    ['(?i)UNION\\s+ALL', ['union']],
    ['foo|bar', ['foo', 'bar']],
    ['ab(?:c|d)e', ['abce', 'abde']],
    ['(?i:x)y?z', ['xyz', 'xz']],
    ['a.*b', ['a']],
    ['^$', null],
    ['.', null],
    ['[^a]', null],
    ['(?i)caf\\x{e9}', ['caf']],
    ['\\x{e9}', ['\xe9']], // non-ASCII, case-sensitive: exact byte
    ['(?i)\\x{e9}', null], // non-ASCII under (?i): RE2 folds it, the automaton does not
    ['(?:abc)*', null],
    ['x\\d', ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9']],
    ['a|', null],
    ['\\Qa.b\\E', ['a.b']],
    ['(?P<n>select)\\b', ['select']],
    ['\\pL+abc', null], // \p: unknown to the parser -> no condition at all
    ['\\.{2,3}', ['..']], // min copies of an exact item are required in a row
    ['(?:^|[/;\\x5c])\\.{2,3}[/;\\x5c]', ['..']], // CRS 930110
    ['(?:a|b){2}', ['aa', 'ab', 'ba', 'bb']],
    ['(?:a?){3,}', null],
  ];
  for (const [p, want] of cases) {
    const got = requiredLiterals(p);
    assert.deepEqual(got === null ? null : [...got].sort(), want === null ? null : [...want].sort(), p);
  }
});

test('property: a literal condition never excludes a match (random patterns from pieces)', () => {
  const piece = fc.constantFrom('a', 'B', 'ab', '(?i)c', '[xY]', '\\d', '.', 'q?', 'z+', '(?:m|n)', '\\b', '^', '$', '[^k]', 'é', 'K', 's',
    '\\.{2,3}', '(?:a|b?){2}', '(?:m|n\\.){2,}', 'z{3}', '(?i:x|y){2,4}');
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 12 }), (pieces, input) => {
      const pattern = pieces.join('');
      let re: RE2;
      try {
        re = new RE2(pattern, 's');
      } catch {
        return;
      }
      const lits = requiredLiterals(pattern);
      const bytes = Buffer.from(input, 'utf8').toString('latin1');
      for (const s of [input, bytes, input.toUpperCase()]) {
        // Values above 0xff are not byte strings: the prefilter answers "no answer" for them.
        if (lits === null || /[^\x00-\xff]/.test(s) || !re.test(s)) continue;
        const folded = s.replace(/[A-Z]/g, (c) => c.toLowerCase());
        assert.ok(lits.some((l) => folded.includes(l)), `${pattern} matches ${JSON.stringify(s)} but lacks ${JSON.stringify(lits)}`);
      }
    }),
    { numRuns: 3000, seed: 7 },
  );
});

test('plain-text conditions of known patterns (values without rare bytes)', () => {
  const cases: Array<[string, string[] | null]> = [
    // CRS evasion gaps between letters vanish on plain text: the command name is required.
    ['b["\'\\)\\[\\x5c]*u["\'\\)\\[\\x5c]*s["\'\\)\\[\\x5c]*y', ['busy']],
    ['\\[?\\$(?:eq|ne)', []], // needs '$': cannot match plain text at all
    ['(?i)a[;|]?b', ['ab']],
    ['foo|bar', null], // nothing sharper than the any-value condition
  ];
  for (const [p, want] of cases) {
    const got = literalConditions(p, RARE).plain;
    assert.deepEqual(got === null ? null : [...got].sort(), want === null ? null : [...want].sort(), p);
  }
});

test('property: a plain-text condition never excludes a match on a value without rare bytes', () => {
  const piece = fc.constantFrom('a', 'B', 'ab', '(?i)c', '[xY]', '\\d', '.', 'q?', 'z+', '(?:m|n)', '\\b', '^', '$', '[^k]', 'é',
    '["\']*', '\\$', '[;|]', '(?:\\|\\||&&)?', '[^a-z]', '\\x5c?', '[\\t-\\r ]*', '(?:\\$x|y)', '\\W', '(?i)[<a]');
  const byte = fc.constantFrom('a', 'b', 'c', 'x', 'y', 'Y', 'm', 'n', 'z', 'q', 'k', 'A', 'B', 'C', '1', ' ', '.', '-', '/', '=', '@', '\xe9', '\xc9', '\x80', '"', '$', ';', '|', '\t', '\\');
  let checked = 0;
  fc.assert(
    fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.array(byte, { maxLength: 12 }), (pieces, chars) => {
      const pattern = pieces.join('');
      let re: RE2;
      try {
        re = new RE2(pattern, 's');
      } catch {
        return;
      }
      const plain = literalConditions(pattern, RARE).plain;
      // Inputs built from the pattern's own pieces match far more often than random bytes.
      const s = chars.join('') + pieces.filter((p) => /^[a-zA-Z]+$/.test(p)).join('');
      if (plain === null || hasRareByte(s) || !re.test(s)) return;
      checked++;
      const folded = s.replace(/[A-Z]/g, (c) => c.toLowerCase());
      assert.ok(plain.some((l) => folded.includes(l)), `${pattern} matches ${JSON.stringify(s)} but lacks plain ${JSON.stringify(plain)}`);
    }),
    { numRuns: 20000, seed: 11 },
  );
  assert.ok(checked > 30, `${checked} plain matches checked`);
});

test('CRS v4: no prefilter says "cannot match" where the rule matches (corpus values, every pipeline stage)', { timeout: 600_000 }, (t) => {
  const pair = enginePair(entryConfText({ crsDir: sharedPath('crs'), testSetup: true }));
  const links: Rule[] = [...ruleLinks(pair.on.ruleset.rulesById.values())].filter((r) => r.prefilter !== null);
  assert.ok(links.length > 250, `${links.length} prefiltered links`);
  const values = sample(loadValueCorpus().all, 1500);
  assert.ok(values.length > 1000 || process.env.CI !== 'true', 'corpus present');
  const violations: string[] = [];
  let matches = 0;
  for (const rule of links) {
    const slot = rule.prefilter!;
    const seen = new Set<string>();
    for (const v of values) {
      // The value before and after each transformation (multiMatch rules test them all).
      const stages = [v];
      for (const node of rule.pipeline?.path ?? []) stages.push(node.fn(stages[stages.length - 1]!));
      for (const s of stages) {
        if (seen.has(s)) continue;
        seen.add(s);
        if (!rule.operator.evaluate(NO_CAPTURE, s)) continue;
        matches++;
        const answer = slot.group.answer(s);
        if (answer !== null && !maybe(answer, slot.index)) violations.push(`${rule.head.id}: ${JSON.stringify(s).slice(0, 120)}`);
      }
    }
  }
  t.diagnostic(`${links.length} rule links, ${values.length} values, ${matches} operator matches checked`);
  assert.ok(matches > 1000, 'the corpus makes many rules match');
  assert.deepEqual(violations.slice(0, 10), [], `${violations.length} unsound prefilter answers`);
});

test("@detectXSS's required literals: libinjection flags nothing without '<' or '='", () => {
  const op = detectXSSFactory({ name: 'detectxss', arg: '', expand: null, baseDir: '.', options: {}, ruleId: 0 });
  assert.deepEqual(op.prefilterRequired, ['<', '=']);
  // The corpus, and each value with those two characters removed or blanked (their neighbours then meet).
  const values = loadValueCorpus().all;
  assert.ok(values.length > 10000 || process.env.CI !== 'true', 'corpus present');
  let flagged = 0;
  const violations: string[] = [];
  for (const v of values) {
    for (const s of [v, v.replace(/[<=]/g, ''), v.replace(/[<=]/g, ' ')]) {
      if (!detectXSS(s)) continue;
      flagged++;
      if (!s.includes('<') && !s.includes('=')) violations.push(JSON.stringify(s).slice(0, 120));
    }
  }
  assert.ok(flagged > 1000 || process.env.CI !== 'true', `${flagged} values flagged`);
  // Generated strings over the bytes libinjection's HTML5 tokenizer and attribute lists react to.
  const alphabet = [...'<=>"\'`/ \t\n\f\r!-?&#;:()[]{}\\%0xabcjavascriptonerrorstyleimportxmlDOCTYPE'];
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom(...alphabet), fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c))), { maxLength: 24 }), (chars) => {
      const s = chars.join('');
      return s.includes('<') || s.includes('=') || !detectXSS(s);
    }),
    { numRuns: 100_000 },
  );
  assert.deepEqual(violations.slice(0, 10), [], `${violations.length} flagged values without '<' or '='`);
});

test('literalConditions: a pattern analysed again gives the very same frozen answer, per exclusion table', () => {
  const pattern = '(?i)(?:union\\s+select|sleep\\s*\\()';
  const first = literalConditions(pattern, RARE);
  assert.equal(literalConditions(pattern, RARE), first);
  assert.ok(Object.isFrozen(first) && (first.any === null || Object.isFrozen(first.any)));
  assert.throws(() => (first.any as string[]).push('x'), TypeError);
  // Another exclusion table (or none) is its own analysis.
  const none = literalConditions(pattern);
  assert.equal(none.plain, null);
  assert.deepEqual(none.any, first.any);
  const other = literalConditions(pattern, new Uint8Array(256));
  assert.notEqual(other, first);
});
