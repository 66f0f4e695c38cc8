// Literal key selectors (`^literal`, `literal`, `literal.*`) are answered without RE2: they must
// agree with the case-insensitive regex on every key, ASCII or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import RE2 from 're2';
import { isLiteralKeyMatcher, literalKeyMatcher } from '../src/engine/key-matchers.js';
import { compileKeyRegex } from '../src/engine/compiler.js';

const LOC = { file: 'test.conf', line: 1 };
const CRS_PATTERNS = ['^header_name_920450_', '^MSC_', '^_pk_ref', 'rfi_parameter_.*', 'paramcounter_.*', 'x-Forwarded'];

test('literal patterns get the literal matcher; others keep the regex', () => {
  for (const p of CRS_PATTERNS) assert.ok(isLiteralKeyMatcher(compileKeyRegex(p, LOC)), p);
  for (const p of ['^pbjs-\\w+$', '^_ga(?:_\\w+)?$', 'MULTIPART_HEADERS_CONTENT_TYPES_*', 'a.b', '^a$', 'a|b', '']) {
    assert.ok(!isLiteralKeyMatcher(compileKeyRegex(p, LOC)), p);
  }
});

test('literal matchers agree with RE2 (case-insensitive) on generated keys', () => {
  const lit = fc.string({ unit: fc.constantFrom(...'abkKsS_-09XyZ'), minLength: 1, maxLength: 6 });
  const pattern = fc.tuple(fc.boolean(), lit, fc.boolean()).map(([anchor, l, tail]) => (anchor ? '^' : '') + l + (tail ? '.*' : ''));
  // Keys around the literal: case flips, Unicode case-folding partners of k and s, latin1, newlines.
  const key = fc.array(fc.constantFrom('a', 'B', 'k', 'K', 's', 'S', '_', '-', '0', '9', 'x', 'Y', 'z', '\u212a', '\u017f', 'é', 'É', '\n', ' '), { maxLength: 12 }).map((a) => a.join(''));
  fc.assert(
    fc.property(pattern, fc.array(key, { minLength: 1, maxLength: 8 }), (p, keys) => {
      const re = new RE2(p, 'i');
      const m = literalKeyMatcher(p, re);
      assert.ok(m !== null, p);
      for (const k of keys) assert.equal(m.test(k), re.test(k), `/${p}/ on ${JSON.stringify(k)}`);
      for (const k of keys) {
        const embedded = k + p.replace(/^\^/, '').replace(/\.\*$/, '').toUpperCase() + k;
        assert.equal(m.test(embedded), re.test(embedded), `/${p}/ on ${JSON.stringify(embedded)}`);
      }
    }),
    { numRuns: 3000, seed: 7 },
  );
});
