// Differential test, generated values: attack payloads, libinjection corpora, SecLang vector inputs
// and fast-check values (random bytes, non-ASCII UTF-8, mixed-case payloads) placed where CRS v4
// (paranoia level 4, every rule on) looks; acceleration on and off must give identical verdicts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { entryConfText } from '../bench/lib/crs-config.js';
import { compare, difference, enginePair, requestWithValue } from './helpers/differential.js';
import { sharedPath } from '../bench/lib/shared.js';
import { loadValueCorpus, sample } from './helpers/value-corpus.js';

const corpus = loadValueCorpus();
const pair = enginePair(entryConfText({ crsDir: sharedPath('crs'), testSetup: true }), { mode: 'detect' });
/** What a harmless value triggers (PL4 notices about the request shape itself). */
const baseline = pair.off.evaluate(requestWithValue('hello')).anomalyScore;

test('corpora are present', () => {
  for (const [name, values] of corpus.sources) {
    if (values.length === 0 && process.env.CI !== 'true') continue;
    assert.ok(values.length > 100, `${name}: ${values.length} values (SIDEWALL_SHARED / ../shared)`);
  }
});

for (const [name, values] of corpus.sources) {
  test(`${name}: acceleration on = off`, { timeout: 300_000 }, (t) => {
    const chosen = sample(values, 1000);
    const diffs: string[] = [];
    let detected = 0;
    for (const v of chosen) {
      const { verdict, difference: d } = compare(pair, requestWithValue(v));
      if (d !== null) diffs.push(`${JSON.stringify(v).slice(0, 100)}: ${d}`);
      else if (verdict.anomalyScore > baseline) detected++;
    }
    assert.deepEqual(diffs.slice(0, 3), [], `${diffs.length} of ${chosen.length} values differ`);
    // The corpora are attacks: the comparison covered matching rules, not only silence.
    if (name !== 'seclang-vectors' && chosen.length > 0) assert.ok(detected > chosen.length / 4, `${detected} scored above a harmless value`);
    t.diagnostic(`${chosen.length} values identical, ${detected} scored above a harmless value`);
  });
}

const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1'));
const utf8 = fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
const payload = fc.constantFrom(...sample(corpus.all, 5000).filter((v) => v.length < 400));
const mixedCase = fc.tuple(payload, fc.array(fc.boolean(), { minLength: 1, maxLength: 64 })).map(([v, flips]) =>
  [...v].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join(''),
);
const spliced = fc.tuple(payload, bytes, utf8).map(([p, b, u]) => b.slice(0, 20) + p + u);

test('property: acceleration on = off for generated values', { timeout: 300_000 }, () => {
  fc.assert(
    fc.property(fc.oneof(bytes, utf8, payload, mixedCase, spliced), (v) => {
      const d = difference(pair, requestWithValue(v));
      if (d !== null) throw new Error(d);
    }),
    { numRuns: 300, seed: 11 },
  );
});
