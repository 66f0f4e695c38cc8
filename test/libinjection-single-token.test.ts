// detectSQLi answers "not SQLi" without running libinjection for inputs it reads as one word or one
// number (isSingleToken). This checks that shortcut against the full algorithm: every keyword of
// libinjection's table in three spellings, every string of up to three chars over the shortcut's
// alphabet plus its neighbours, generated strings, and the libinjection corpora.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYWORDS, detectSQLi, detectSQLiFull, isSingleToken } from '../src/libinjection/index.js';
import { sharedPath } from '../bench/lib/shared.js';

const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';
/** Chars next to the shortcut's alphabet that change libinjection's reading of a word. */
const NEIGHBOURS = ".`'\"&$@#-/ (";

function agrees(input: string): void {
  const full = detectSQLiFull(input);
  assert.deepEqual(detectSQLi(input), full, JSON.stringify(input));
  if (isSingleToken(input)) assert.equal(full.isSqli, false, `single token ${JSON.stringify(input)} is SQLi`);
}

test('what counts as one token', () => {
  for (const s of ['union', 'SELECT', '_ga', 'price_asc', 'a1', '42', '0', 'x', 'q', 'N', 'u']) assert.ok(isSingleToken(s), s);
  for (const s of ['', '1a', '0x1f', 'a.b', 'a b', "a'", 'a&b', 'ā', 'a\u0100', '1.5', '-1']) assert.ok(!isSingleToken(s), s);
});

test('keywords alone, in any case, are never SQLi and agree with the full algorithm', () => {
  let n = 0;
  for (const kw of KEYWORDS.keys()) {
    for (const v of [kw, kw.toLowerCase(), kw[0] + kw.slice(1).toLowerCase()]) {
      agrees(v);
      agrees(v + '1');
      agrees('_' + v);
      if (isSingleToken(v)) n++;
    }
  }
  assert.ok(n > 1000, `${n} keyword spellings took the shortcut`);
});

test('every string of up to three chars over the alphabet and its neighbours agrees', () => {
  const chars = WORD + NEIGHBOURS;
  let single = 0;
  for (const a of chars) {
    agrees(a);
    for (const b of chars) {
      agrees(a + b);
      for (const c of WORD) {
        const s = a + b + c;
        agrees(s);
        if (isSingleToken(s)) single++;
      }
    }
  }
  assert.ok(single > 200_000, `${single} three-char strings took the shortcut`);
});

test('property: generated words, numbers and near misses agree', () => {
  const word = fc.string({ unit: fc.constantFrom(...WORD), minLength: 1, maxLength: 40 });
  const keywordish = fc.tuple(fc.constantFrom(...KEYWORDS.keys()), word, fc.constantFrom('', ...NEIGHBOURS)).map(([k, w, n]) => k + n + w);
  const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1'));
  fc.assert(fc.property(fc.oneof(word, keywordish, bytes), (v) => agrees(v)), { numRuns: 100_000, seed: 42 });
});

test('libinjection corpora agree', () => {
  const dir = sharedPath('libinjection');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.(txt|tst)$/.test(e.name)) files.push(join(d, e.name));
    }
  };
  walk(dir);
  assert.ok(files.length > 0, `no libinjection corpus under ${dir}`);
  let lines = 0;
  for (const f of files) {
    for (const line of readFileSync(f, 'latin1').split('\n')) {
      agrees(line);
      lines++;
    }
  }
  assert.ok(lines > 10_000, `${lines} corpus lines`);
});
