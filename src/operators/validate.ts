// @validateByteRange, @validateUrlEncoding, @validateUtf8Encoding (ModSecurity v3 semantics).
// All three "match" when the input is INVALID.
import type { Operator, OperatorFactory } from './types.js';
import { parseCInteger, preparedOperator } from './util.js';

/** std::stoi(): null when there are no digits or the value overflows int. */
function stoi(s: string): number | null {
  const v = parseCInteger(s);
  return typeof v === 'number' && v >= -2147483648 && v <= 2147483647 ? v : null;
}

/**
 * The allowed bytes of a range list such as "9,10,13,32-126". Like ModSecurity (whose init never
 * fails), unparsable or out-of-range items are ignored: "xxx" allows nothing, so every byte is
 * reported.
 */
export function parseByteRanges(arg: string): Uint8Array {
  const allowed = new Uint8Array(256);
  for (const item of arg.split(',')) {
    const dash = item.indexOf('-');
    if (dash < 0) {
      const v = stoi(item);
      if (v !== null && v >= 0 && v <= 255) allowed[v] = 1;
      continue;
    }
    const start = stoi(item.slice(0, dash));
    const end = stoi(item.slice(dash + 1));
    if (start === null || end === null || start < 0 || start > 255 || end < 0 || end > 255 || start > end) continue;
    allowed.fill(1, start, end + 1);
  }
  return allowed;
}

function hasByteOutside(allowed: Uint8Array, input: string): boolean {
  for (let i = 0; i < input.length; i++) if (allowed[input.charCodeAt(i) & 0xff] === 0) return true;
  return false;
}

export const validateByteRangeFactory: OperatorFactory = (init): Operator =>
  preparedOperator(init, parseByteRanges, (allowed, _tx, input) => hasByteOutside(allowed, input));

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** True when a '%' is not followed by two hex digits (an empty input is valid). */
export function invalidUrlEncoding(input: string): boolean {
  const n = input.length;
  for (let i = input.indexOf('%'); i >= 0; i = input.indexOf('%', i)) {
    if (i + 2 >= n) return true; // not enough bytes
    if (!isHex(input.charCodeAt(i + 1)) || !isHex(input.charCodeAt(i + 2))) return true;
    i += 3;
  }
  return false;
}

export const validateUrlEncodingFactory: OperatorFactory = () => ({
  evaluate: (_tx, input) => invalidUrlEncoding(input),
});

/**
 * Length of the valid UTF-8 character at i, or 0 when it is invalid (truncated, bad continuation
 * byte, overlong, surrogate, above U+10FFFF or a lead byte that cannot start a character).
 */
function utf8CharLength(input: string, i: number): number {
  const n = input.length;
  const c = input.charCodeAt(i);
  if (c < 0x80) return 1;
  let len: number;
  let d: number;
  if ((c & 0xe0) === 0xc0) {
    len = 2;
    d = c & 0x1f;
  } else if ((c & 0xf0) === 0xe0) {
    len = 3;
    d = c & 0x0f;
  } else if ((c & 0xf8) === 0xf0) {
    if (c >= 0xf5) return 0;
    len = 4;
    d = c & 0x07;
  } else {
    return 0;
  }
  if (n - i < len) return 0;
  for (let k = 1; k < len; k++) {
    const b = input.charCodeAt(i + k);
    if ((b & 0xc0) !== 0x80) return 0;
    d = (d << 6) | (b & 0x3f);
  }
  if (d >= 0xd800 && d <= 0xdfff) return 0;
  if ((len === 2 && d < 0x80) || (len === 3 && d < 0x800) || (len === 4 && d < 0x10000)) return 0; // overlong
  return len;
}

export function invalidUtf8(input: string): boolean {
  for (let i = 0; i < input.length; ) {
    const len = utf8CharLength(input, i);
    if (len === 0) return true;
    i += len;
  }
  return false;
}

export const validateUtf8EncodingFactory: OperatorFactory = () => ({
  evaluate: (_tx, input) => invalidUtf8(input),
});
