// The literal index's scan (accel/literal-scan.ts: complete transition table, rare-byte flag in the
// class table, one record per reported phrase) against the automaton it replaces: on the CRS v4
// literal index and on generated indexes, over random bytes, mixed-case literals and attack
// payloads, the scan must find exactly the literals AhoCorasick.collect finds and the rare flag
// hasRareByte gives, and LiteralIndex.answer must equal the answer computed literal by literal,
// slot by slot, from the index's inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { AhoCorasick } from '../src/operators/aho-corasick.js';
import { LiteralScan } from '../src/engine/accel/literal-scan.js';
import { LiteralIndex, literalIndexInputs } from '../src/engine/accel/literal-prefilter.js';
import { hasRareByte, RARE } from '../src/engine/accel/rare-bytes.js';
import { ruleLinks } from '../src/engine/accel/prefilter-group.js';
import { Rule } from '../src/engine/rule.js';
import { Waf } from '../src/engine/waf.js';
import { entryConfText } from '../bench/lib/crs-config.js';
import { REPO_ROOT, sharedPath } from '../bench/lib/shared.js';
import { loadValueCorpus, sample } from './helpers/value-corpus.js';

interface Inputs {
  literals: string[];
  slotsByLiteral: number[][];
  mode: Uint8Array;
}

const crs: Inputs = (() => {
  const waf = Waf.fromString(entryConfText({ crsDir: sharedPath('crs'), testSetup: true }), join(REPO_ROOT, 'literal-scan-entry.conf'), { onWarning: () => {} });
  const heads = waf.ruleset.phases.flat().filter((i): i is Rule => i instanceof Rule);
  return literalIndexInputs(ruleLinks(heads));
})();

/** The literals `collect` reports, sorted. */
function collected(ac: AhoCorasick, value: string): number[] | null {
  const seen = new Uint8Array(ac.phrases.length);
  const found = new Int32Array(ac.phrases.length);
  const n = ac.collect(value, seen, found);
  return n < 0 ? null : [...found.subarray(0, n)].sort((a, b) => a - b);
}

/** The literals the scan reports, each head's suffix chain expanded, sorted; and the rare flag. */
function scanned(scan: LiteralScan, ac: AhoCorasick, value: string): { literals: number[]; rare: boolean } | null {
  const heads = new Int32Array(ac.phrases.length);
  const r = scan.scan(value, heads);
  if (r < 0) return null;
  const all = new Set<number>();
  for (let k = 0; k < r >>> 1; k++) for (let q = heads[k]!; q >= 0; q = ac.suffixPhrase(q)) all.add(q);
  return { literals: [...all].sort((a, b) => a - b), rare: (r & 1) === 1 };
}

/** The answer as the index defines it: per literal found, per slot of it, by the slot's mode. */
function referenceAnswer(ac: AhoCorasick, inputs: Inputs, value: string): Uint32Array | null {
  const found = collected(ac, value);
  if (found === null) return null;
  const rare = hasRareByte(value);
  const out = new Uint32Array((inputs.mode.length + 31) >>> 5);
  const set = (slot: number): void => {
    out[slot >>> 5] |= 1 << (slot & 31);
  };
  // Modes: 0 any-value condition only, 1 split, 2 split without an any-value condition (rare: maybe).
  if (rare) inputs.mode.forEach((m, slot) => m === 2 && set(slot));
  for (const lit of found) {
    for (const slot of inputs.slotsByLiteral[lit]!) {
      if (slot < 0) {
        if (!rare) set(~slot);
      } else if (rare ? inputs.mode[slot] !== 2 : inputs.mode[slot] === 0) set(slot);
    }
  }
  return out;
}

/** Strings made to hit the automaton: literals in mixed case, joined by random bytes. */
function literalMixes(literals: readonly string[], count: number, seed: number): string[] {
  const lit = fc.constantFrom(...literals).chain((l) =>
    fc.array(fc.boolean(), { minLength: l.length, maxLength: l.length }).map((up) => [...l].map((ch, i) => (up[i] ? ch.toUpperCase() : ch)).join('')),
  );
  const noise = fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b).toString('latin1'));
  const piece = fc.oneof(lit, noise, fc.constantFrom(' ', '=', '&', "'", '<', '%2', 'é'));
  return fc.sample(fc.array(piece, { maxLength: 12 }).map((p) => p.join('')), { numRuns: count, seed });
}

function randomBytes(count: number, seed: number): string[] {
  return fc.sample(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1')), { numRuns: count, seed });
}

function mixedCase(values: readonly string[]): string[] {
  return values.map((v, i) => [...v].map((ch, j) => ((i + j) % 3 === 0 ? ch.toUpperCase() : ch)).join(''));
}

const corpus = loadValueCorpus();
const payloads = sample(corpus.sources.get('attack-payloads') ?? [], 4000);

function values(inputs: Inputs): string[] {
  return [
    '',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    "1' OR '1'='1",
    'caf\u00e9 \u0100 above a byte',
    '\u0100',
    ...inputs.literals,
    ...mixedCase(inputs.literals),
    ...payloads,
    ...mixedCase(payloads),
    ...randomBytes(3000, 11),
    ...literalMixes(inputs.literals, 6000, 12),
  ];
}

function checkScan(inputs: Inputs, dense: boolean): void {
  const ac = new AhoCorasick(inputs.literals, true);
  const scan = new LiteralScan(ac, RARE, null, { dense });
  assert.equal(scan.dense, dense);
  let literalsSeen = 0;
  for (const v of values(inputs)) {
    const want = collected(ac, v);
    const got = scanned(scan, ac, v);
    if (want === null) {
      assert.equal(got, null, `a value above 0xff must give no answer: ${JSON.stringify(v)}`);
      continue;
    }
    assert.ok(got !== null, `scan gave no answer for a byte string: ${JSON.stringify(v)}`);
    assert.deepEqual(got.literals, want, `literals of ${JSON.stringify(v)}`);
    assert.equal(got.rare, hasRareByte(v), `rare flag of ${JSON.stringify(v)}`);
    literalsSeen += want.length;
  }
  assert.ok(literalsSeen > 10_000, `the generated values found too few literals (${literalsSeen}) to test anything`);
}

function checkAnswers(inputs: Inputs, dense: boolean): void {
  const ac = new AhoCorasick(inputs.literals, true);
  const index = new LiteralIndex(inputs.literals, inputs.slotsByLiteral, inputs.mode, { dense });
  assert.equal(index.denseScan, dense);
  let nonEmpty = 0;
  for (const v of values(inputs)) {
    const want = referenceAnswer(ac, inputs, v);
    const got = index.answer(v);
    assert.deepEqual(got, want, `answer for ${JSON.stringify(v)}`);
    if (got !== null && got.some((w) => w !== 0)) nonEmpty++;
  }
  assert.ok(nonEmpty > 5000, `too few values made some slot "maybe" (${nonEmpty})`);
  // Answers are shared and never written: asking again gives the same (interned) answer, unchanged.
  const first = index.answer(payloads[0]!);
  assert.deepEqual(first, referenceAnswer(ac, inputs, payloads[0]!));
  assert.equal(index.answer(payloads[0]!), first, 'an equal answer asked again is the interned one');
}

test('CRS v4 literal index: sizes the scan figures assume', () => {
  assert.ok(crs.literals.length > 5000, `${crs.literals.length} literals`);
  assert.ok(payloads.length > 1000, `attack payloads missing under ${sharedPath('attack-payloads')}`);
  assert.equal(new LiteralIndex(crs.literals, crs.slotsByLiteral, crs.mode).denseScan, true);
});

test('CRS v4 literal index: the dense scan finds exactly the literals and rare flag of the automaton', () => {
  checkScan(crs, true);
});

test('CRS v4 literal index: the fallback scan finds exactly the literals and rare flag of the automaton', () => {
  checkScan(crs, false);
});

test('CRS v4 literal index: answers equal the literal-by-literal answers (dense and fallback)', () => {
  checkAnswers(crs, true);
  checkAnswers(crs, false);
});

test('an index too large for 16-bit states falls back to the bounded layout, with the same answers', () => {
  // 16,000 random 8-byte literals: more than 65,535 states.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789'(<;";
  const random = fc.array(fc.constantFrom(...alphabet), { minLength: 8, maxLength: 8 }).map((c) => c.join(''));
  const literals = [...new Set([...fc.sample(random, { numRuns: 16_000, seed: 5 }), 'a', 'ab', 'b', "'", 'or'])];
  const slots = 200;
  const slotsByLiteral = literals.map((_, i) => [i % slots, ~((i * 7) % slots)].filter((s, j) => j === 0 || i % 3 === 0));
  const mode = new Uint8Array(slots).map((_, s) => s % 3);
  const inputs: Inputs = { literals, slotsByLiteral, mode };
  const index = new LiteralIndex(literals, slotsByLiteral, mode);
  assert.equal(index.denseScan, false);
  const ac = new AhoCorasick(literals, true);
  for (const v of [...randomBytes(500, 3), ...literalMixes(literals, 1500, 4), ...payloads.slice(0, 500)]) {
    assert.deepEqual(index.answer(v), referenceAnswer(ac, inputs, v), `answer for ${JSON.stringify(v)}`);
  }
});
