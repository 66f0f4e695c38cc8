// Transformations: every vector of secrules-language-tests/transformations, decoded the way
// ModSecurity's unit harness (test/unit/unit_test.cc) decodes them, plus unit tests of our own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '../bench/lib/shared.js';
import { getTransformation, transformationNames } from '../src/transformations/index.js';
import { normalizePathBytes } from '../src/transformations/path.js';
import { cString, json2bin } from './helpers/seclang-vectors.js';

// ---------------------------------------------------------------------------------------------
// Vector decoding (mirrors ModSecurity's harness; duplicated in operators.test.ts on purpose so
// each test file stands alone).
// - yajl hands strings over as UTF-8 bytes, copied into std::string from a char*: the value stops
//   at the first NUL byte (a JSON "\u0000" truncates the string);
// - "input" and "output" then go through json2bin(): every literal \xHH (sscanf %x) and then every
//   literal \uHHHH (sscanf %4x) is replaced, all occurrences at once, by the low byte of its value.
// ---------------------------------------------------------------------------------------------


interface TfnVector {
  name: string;
  type: string;
  input: string;
  output: string;
  ret?: number;
}

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

const counts = { pass: 0, fail: 0, skip: 0, files: 0 };
after(() => {
  console.log(
    `transformations vectors: ${counts.files} files, ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`,
  );
});

const dir = sharedPath('secrules-language-tests', 'transformations');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('transformation vector folder is present', () => {
  assert.ok(files.length > 0, `no vectors in ${dir}`);
});

for (const file of files) {
  const vectors = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TfnVector[];
  counts.files++;
  test(`transformations/${file}`, async (t) => {
    for (const [i, v] of vectors.entries()) {
      await t.test(`${file} #${i} t:${v.name}`, (st) => {
        const fn = getTransformation(v.name);
        if (fn === undefined) {
          counts.skip++;
          st.skip(`t:${v.name} not implemented`);
          return;
        }
        const input = json2bin(cString(v.input));
        const expected = json2bin(cString(v.output));
        const got = fn(input);
        if (got === expected) counts.pass++;
        else counts.fail++;
        assert.equal(hex(got), hex(expected), `t:${v.name}(${JSON.stringify(input)})`);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Unit tests of our own.
// ---------------------------------------------------------------------------------------------

function tfn(name: string): (s: string) => string {
  const fn = getTransformation(name);
  assert.ok(fn, `t:${name} registered`);
  return fn;
}

test('registry: case-insensitive lookup and aliases', () => {
  assert.equal(getTransformation('URLDECODEUNI'), getTransformation('urlDecodeUni'));
  assert.equal(getTransformation('normalisePath'), getTransformation('normalizePath'));
  assert.equal(getTransformation('normalisePathWin'), getTransformation('normalizePathWin'));
  assert.equal(getTransformation('cmd_line'), getTransformation('cmdLine'));
  assert.equal(getTransformation('nope'), undefined);
  for (const name of transformationNames()) assert.ok(getTransformation(name), name);
  assert.equal(tfn('none')('a\0b'), 'a\0b');
});

test('fast paths return the very same string when nothing changes', () => {
  const cases: Array<[string, string]> = [
    ['lowercase', 'already lower \xe9\xc9'],
    ['uppercase', 'ALREADY UPPER'],
    ['urlDecode', 'no escapes here'],
    ['urlDecodeUni', 'no escapes here'],
    ['urlEncode', 'abc123'],
    ['htmlEntityDecode', 'no entities'],
    ['jsDecode', 'plain'],
    ['cssDecode', 'plain'],
    ['escapeSeqDecode', 'plain'],
    ['removeComments', 'SELECT 1'],
    ['removeCommentsChar', 'SELECT 1'],
    ['replaceComments', 'SELECT 1'],
    ['compressWhitespace', 'a b c'],
    ['removeWhitespace', 'abc'],
    ['trim', 'x y'],
    ['trimLeft', 'x '],
    ['trimRight', ' x'],
    ['removeNulls', 'abc'],
    ['replaceNulls', 'abc'],
    ['normalizePath', '/a/b/c'],
    ['normalizePathWin', '/a/b/c'],
    ['sqlHexDecode', 'select 0x'],
    ['utf8toUnicode', 'ascii only'],
    ['cmdLine', 'cmd/c dir'],
    ['parityZero7bit', 'abc'],
    ['phpArgsNames', 'a_b'],
  ];
  for (const [name, input] of cases) {
    // A freshly built string, so reference identity is meaningful.
    const s = input.split('').join('');
    assert.ok(Object.is(tfn(name)(s), s), `t:${name} should return its input unchanged`);
  }
});

test('lowercase/uppercase touch ASCII letters only (C locale)', () => {
  assert.equal(tfn('lowercase')('ÀBC\xc9'), 'Àbc\xc9');
  assert.equal(tfn('uppercase')('abc\xe9'), 'ABC\xe9');
  // Latin1 letters before the first ASCII one stay too (the pure-ASCII fast path must not take these).
  assert.equal(tfn('lowercase')('\xc9B'), '\xc9b');
  assert.equal(tfn('uppercase')('\xe9b'), '\xe9B');
  assert.equal(tfn('lowercase')('MiXeD aScii'), 'mixed ascii');
});

test('urlDecodeUni: %u handling', () => {
  const f = tfn('urlDecodeUni');
  assert.equal(f('%u0041%u00e9%u1234'), 'A\xe9\x34');
  assert.equal(f('%uff0f%uFF1c'), '/<'); // full-width ASCII mapped back
  assert.equal(f('%u12'), '%u12');
  assert.equal(f('%U0041+%41'), 'A A');
});

test('htmlEntityDecode: numeric ranges, named table, no prefix matching', () => {
  const f = tfn('htmlEntityDecode');
  assert.equal(f('&#0000000000000000000000000000000000000000000000123;'), '{');
  assert.equal(f('&#x41&#X6a;&#65;'), 'Aj' + 'A');
  assert.equal(f('&#99999999999999999999;'), '\xff'); // strtol saturates at LONG_MAX
  assert.equal(f('&#321;'), 'A'); // 321 & 0xff
  assert.equal(f('&lt;&GT;&Quot&nbsp;&colon;&ltest;'), '<>"\xa0:&ltest;');
});

test('binary digests and hex/base64 round trips', () => {
  assert.equal(hex(tfn('md5')('')), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(hex(tfn('sha1')('abc')), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(tfn('hexEncode')('\x00\xff'), '00ff');
  assert.equal(tfn('hexDecode')('00ff4'), '\x00\xff');
  assert.equal(tfn('base64Encode')('\xe9\x00'), '6QA=');
  assert.equal(tfn('base64Decode')('6QA='), '\xe9\x00');
  assert.equal(tfn('base64Decode')('QUJD!'), ''); // strict: invalid input gives nothing
  assert.equal(tfn('base64DecodeExt')('QU!JD'), 'ABC');
  assert.equal(tfn('base64DecodeExt')('-_-_'), '\xfb\xff\xbf');
  assert.equal(tfn('sqlHexDecode')('a 0x414243 b 0x4'), 'a ABC b 0x4');
  assert.equal(tfn('length')('\xe9\xe9'), '2');
});

test('comments, whitespace, cmdLine', () => {
  assert.equal(tfn('removeComments')('a/*x*/b -- rest'), 'ab ');
  assert.equal(tfn('removeComments')('a#b'), 'a');
  assert.equal(tfn('removeCommentsChar')('a/*x*/b--c#d<!--e-->'), 'axbcde');
  assert.equal(tfn('replaceComments')('a/*x*/b/*c'), 'a b ');
  assert.equal(tfn('compressWhitespace')('a \t\v b'), 'a b');
  assert.equal(tfn('removeWhitespace')('a \xa0\xc2b\tc'), 'abc');
  assert.equal(tfn('trim')(' \t\v x \r\n'), 'x');
  assert.equal(tfn('cmdLine')('C^M"D ; /C  (x)'), 'cmd/c(x)');
});

test('normalizePath fast path agrees with the full algorithm', () => {
  const alphabet = ['a', 'b', '/', '\\', '.', '\0', 'x', '/'];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let k = 0; k < 200000; k++) {
    let s = '';
    const len = rnd(10);
    for (let i = 0; i < len; i++) s += alphabet[rnd(alphabet.length)];
    assert.equal(tfn('normalizePath')(s), normalizePathBytes(s, false), JSON.stringify(s));
    assert.equal(tfn('normalizePathWin')(s), normalizePathBytes(s, true), JSON.stringify(s));
  }
  assert.equal(tfn('normalizePathWin')('C:\\a\\..\\b\\.\\c'), 'C:/b/c');
});

test('utf8toUnicode: valid sequences, invalid lead bytes, overlong forms', () => {
  const f = tfn('utf8toUnicode');
  assert.equal(f('a\xc3\xa9b'), 'a%u00e9b');
  assert.equal(f('\xe2\x82\xac'), '%u20ac');
  assert.equal(f('\xf0\x9f\x98\x80'), '%u1f600');
  assert.equal(f('\xc3x'), 'x'); // truncated sequence: lead byte dropped
  assert.equal(f('\xc1\x81'), '%u0041\xc1'); // overlong: code + raw lead byte
  assert.equal(f('\xff'), '\xff');
});

test('long inputs: no quadratic behaviour, same result as short pieces', () => {
  const piece = 'AbC%41+%u0042&lt;\\x41/*c*/ \t';
  const long = piece.repeat(20000);
  for (const name of ['lowercase', 'urlDecode', 'urlDecodeUni', 'htmlEntityDecode', 'jsDecode', 'compressWhitespace']) {
    const f = tfn(name);
    const t0 = performance.now();
    const out = f(long);
    const ms = performance.now() - t0;
    assert.equal(out, f(piece).repeat(20000), name);
    assert.ok(ms < 2000, `${name} took ${ms} ms`);
  }
});
