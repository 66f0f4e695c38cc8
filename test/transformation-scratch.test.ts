// The decoders share one scratch output buffer up to 16 KB (transformations/bytes.ts outBuffer) and
// allocate beyond it: results of every size, met in any order, must be exactly the decoded bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeWhitespace } from '../src/transformations/whitespace.js';
import { urlDecode } from '../src/transformations/url.js';

function unit(i: number): string {
  return i % 7 === 0 ? ' ' : i % 11 === 0 ? '%41' : String.fromCharCode(0x61 + (i % 26));
}
function build(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += unit(i);
  return s;
}

test('decoded values are exact across the scratch size boundary and growth', () => {
  const sizes = [1, 40, 1023, 1025, 5000, 16_383, 16_384, 16_385, 40_000, 3, 20_000, 16_000, 2];
  const inputs = sizes.map(build);
  const expectRw = inputs.map((s) => s.replace(/[\t\n\v\f\r \xa0\xc2]/g, ''));
  const expectUd = inputs.map((s) => s.replace(/%41/g, 'A'));
  for (let round = 0; round < 2; round++) {
    const rw = inputs.map(removeWhitespace);
    const ud = inputs.map(urlDecode);
    // Interleaved too: a result must not change when the next decoder reuses the scratch.
    const mixed = inputs.map((s, i) => (i % 2 === 0 ? removeWhitespace(s) : urlDecode(s)));
    inputs.forEach((_, i) => {
      assert.equal(rw[i], expectRw[i], `removeWhitespace, ${sizes[i]} chars`);
      assert.equal(ud[i], expectUd[i], `urlDecode, ${sizes[i]} chars`);
      assert.equal(mixed[i], i % 2 === 0 ? expectRw[i] : expectUd[i], `interleaved, ${sizes[i]} chars`);
    });
  }
});
