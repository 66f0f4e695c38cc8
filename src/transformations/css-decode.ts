// t:cssDecode (ModSecurity v3 CssDecode::css_decode_inplace, CSS2 escapes):
// backslash + 1..6 hex digits -> a byte (the last two digits; full-width ASCII FFxx mapped back),
// one whitespace after a hex escape is swallowed, backslash-newline is removed, backslash + other
// char -> that char, a trailing backslash is dropped.
import { bufToString, copyPrefix, hexDigit, isHex, isSpace, outBuffer, unicodeEscapeByte, x2c } from './bytes.js';

export function cssDecode(input: string): string {
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
    if (i + 1 >= n) {
      i++; // trailing backslash: continuation to nothing
      continue;
    }
    i++; // drop the backslash
    let j = 0;
    while (j < 6 && i + j < n && isHex(input.charCodeAt(i + j))) j++;
    if (j > 0) {
      // Only the last two digits count; 4-6 digit escapes may be full-width ASCII (U+FF01-FF5E).
      let fullCheck = false;
      let b: number;
      if (j === 1) {
        b = hexDigit(input.charCodeAt(i));
      } else {
        b = x2c(input.charCodeAt(i + j - 2), input.charCodeAt(i + j - 1));
        if (j === 4) fullCheck = true;
        else if (j === 5) fullCheck = input.charCodeAt(i) === 0x30;
        else if (j === 6) fullCheck = input.charCodeAt(i) === 0x30 && input.charCodeAt(i + 1) === 0x30;
      }
      out[d++] = fullCheck ? unicodeEscapeByte(input, i + j - 4) : b;
      if (i + j < n && isSpace(input.charCodeAt(i + j))) j++; // one whitespace ends the escape
      i += j;
    } else if (input.charCodeAt(i) === 0x0a) {
      i++; // escaped newline: removed
    } else {
      out[d++] = input.charCodeAt(i++);
    }
  }
  return bufToString(out, d);
}
