// The identity declarations of transformations/identity.ts: a transformation must return its input
// unchanged for every string whose signature misses its declared classes (the engine then skips
// it), checked on many generated strings biased towards the bytes the transformations act on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALWAYS,
  DASH_DASH,
  declaredIdentities,
  DOT,
  identityUnless,
  NON_ASCII,
  SLASH_SLASH,
  SPACE,
  SPACE_BEFORE_SLASH_PAREN,
  SPACE_RUN,
  signature,
  UPPER,
} from '../src/transformations/identity.js';
import { getTransformation } from '../src/transformations/index.js';

/** Bytes the transformations treat specially, drawn more often than the others. */
const SPECIAL = [...' /.-*#%+&\\\t\n\v\f\r(,;"\'^Aaz0x!<>\0', '\xa0', '\xc2', '\xff', 'u', 'U', '=', '\u0100'];

function* strings(count: number): Generator<string> {
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  for (let k = 0; k < count; k++) {
    const len = Math.floor(next() * 12);
    let s = '';
    for (let i = 0; i < len; i++) {
      const r = next();
      s += r < 0.6 ? SPECIAL[Math.floor(next() * SPECIAL.length)]! : String.fromCharCode(Math.floor(next() * 256));
    }
    yield s;
  }
}

test('every declared transformation is the identity on strings without its classes', () => {
  const declared = [...declaredIdentities()];
  assert.ok(declared.length >= 20, `${declared.length} declarations`);
  const corpus = [...strings(200_000)];
  for (const [fn, unless] of declared) {
    let checked = 0;
    for (const s of corpus) {
      if ((signature(s) & unless) !== 0) continue;
      checked++;
      assert.equal(fn(s), s, `${fn.name} changed ${JSON.stringify(s)} (declared identity unless 0x${unless.toString(16)})`);
    }
    // The declaration must leave room to check it: strings without its classes were drawn.
    assert.ok(checked >= 1000, `${fn.name}: only ${checked} strings without its classes`);
  }
});

test('a declaration too narrow is caught by the same check', () => {
  // lowercase declared as never changing anything would be wrong on the corpus.
  const lower = getTransformation('lowercase')!;
  const wrong = [...strings(20_000)].filter((s) => lower(s) !== s);
  assert.ok(wrong.length > 100, `${wrong.length} counterexamples`);
});

test('signatures: classes and pairs', () => {
  assert.equal(signature(''), ALWAYS);
  assert.equal(signature('abc'), ALWAYS);
  assert.ok(signature('aBc') & UPPER);
  assert.ok(signature('a b') & SPACE);
  assert.equal(signature('a b') & SPACE_RUN, 0);
  assert.ok(signature('a  b') & SPACE_RUN);
  assert.ok(signature('a \tb') & SPACE_RUN);
  assert.ok(signature('a /b') & SPACE_BEFORE_SLASH_PAREN);
  assert.ok(signature('a (b') & SPACE_BEFORE_SLASH_PAREN);
  assert.equal(signature('a/b') & SLASH_SLASH, 0);
  assert.ok(signature('a//b') & SLASH_SLASH);
  assert.ok(signature('a.b') & DOT);
  assert.equal(signature('a-b') & DASH_DASH, 0);
  assert.ok(signature('a--b') & DASH_DASH);
  assert.ok(signature('\xe9') & NON_ASCII);
  assert.ok(signature('\u0100') & NON_ASCII);
});

test('undeclared transformations always run', () => {
  for (const name of ['base64Decode', 'hexDecode', 'length', 'sha1', 'md5', 'hexEncode', 'urlEncode', 'sqlHexDecode', 'uppercase']) {
    assert.equal(identityUnless(getTransformation(name)!), ALWAYS, name);
  }
});
