// t:jsDecode (ModSecurity v3 JsDecode::inplace): \uHHHH (low byte, full-width ASCII mapped back),
// \xHH, \OOO (1-3 octal digits, at most one byte), \a \b \f \n \r \t \v, and \C -> C for anything
// else. A trailing lone backslash is kept.
import { bufToString, copyPrefix, isHex, isHex4, isOctal, outBuffer, unicodeEscapeByte, x2c } from './bytes.js';

const SIMPLE_ESCAPES: Readonly<Record<number, number>> = {
  0x61: 0x07, // \a
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

export function jsDecode(input: string): string {
  const first = input.indexOf('\\');
  if (first < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, first);
  let i = first;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c !== 0x5c) {
      out[d++] = c;
      i++;
      continue;
    }
    const c1 = i + 1 < n ? input.charCodeAt(i + 1) : -1;
    if (c1 === 0x75 /* u */ && isHex4(input, i + 2)) {
      out[d++] = unicodeEscapeByte(input, i + 2);
      i += 6;
    } else if (i + 3 < n && c1 === 0x78 /* x */ && isHex(input.charCodeAt(i + 2)) && isHex(input.charCodeAt(i + 3))) {
      out[d++] = x2c(input.charCodeAt(i + 2), input.charCodeAt(i + 3));
      i += 4;
    } else if (i + 1 < n && isOctal(c1)) {
      // Up to three octal digits, but only two when the first is > '3' (the value must fit a byte).
      let j = 1;
      while (j < 3 && i + 1 + j < n && isOctal(input.charCodeAt(i + 1 + j))) j++;
      if (j === 3 && c1 > 0x33) j = 2;
      out[d++] = parseInt(input.slice(i + 1, i + 1 + j), 8) & 0xff;
      i += 1 + j;
    } else if (i + 1 < n) {
      out[d++] = SIMPLE_ESCAPES[c1] ?? c1;
      i += 2;
    } else {
      out[d++] = c; // lone trailing backslash
      i++;
    }
  }
  return bufToString(out, d);
}
