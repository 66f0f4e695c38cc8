// t:escapeSeqDecode (ModSecurity v3 ansi_c_sequences_decode_inplace): ANSI C escapes
// \a \b \f \n \r \t \v \\ \? \' \", \xHH and \O to \OOO (octal, truncated to a byte).
// An unrecognised escape drops the backslash; a trailing backslash is kept.
import { bufToString, copyPrefix, isHex, isOctal, outBuffer, x2c } from './bytes.js';

const SIMPLE_ESCAPES: Readonly<Record<number, number>> = {
  0x61: 0x07, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b,
  0x5c: 0x5c, 0x3f: 0x3f, 0x27: 0x27, 0x22: 0x22,
};

export function escapeSeqDecode(input: string): string {
  const first = input.indexOf('\\');
  if (first < 0 || first === input.length - 1) return input;
  const n = input.length;
  const out = outBuffer(n);
  let d = copyPrefix(input, out, first);
  let i = first;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c !== 0x5c || i + 1 >= n) {
      out[d++] = c;
      i++;
      continue;
    }
    const c1 = input.charCodeAt(i + 1);
    const simple = SIMPLE_ESCAPES[c1];
    if (simple !== undefined) {
      out[d++] = simple;
      i += 2;
    } else if (c1 === 0x78 || c1 === 0x58) {
      if (i + 3 < n && isHex(input.charCodeAt(i + 2)) && isHex(input.charCodeAt(i + 3))) {
        out[d++] = x2c(input.charCodeAt(i + 2), input.charCodeAt(i + 3));
        i += 4;
      } else {
        out[d++] = c1; // invalid \x: keep the 'x'
        i += 2;
      }
    } else if (isOctal(c1)) {
      let j = 1;
      while (j < 3 && i + 1 + j < n && isOctal(input.charCodeAt(i + 1 + j))) j++;
      out[d++] = parseInt(input.slice(i + 1, i + 1 + j), 8) & 0xff;
      i += 1 + j;
    } else {
      out[d++] = c1;
      i += 2;
    }
  }
  return bufToString(out, d);
}
