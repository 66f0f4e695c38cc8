// t:utf8toUnicode (ModSecurity v3 Utf8ToUnicode): every valid 2-4 byte UTF-8 sequence becomes
// %uXXXX (lower-case hex, at least four digits). Its quirks are kept: an invalid or truncated
// multi-byte sequence drops its lead byte (the continuation bytes then go through the same logic),
// overlong forms, surrogates and lead bytes >= 0xF5 additionally emit the raw lead byte, and a NUL
// byte followed by more input is dropped.

import { bufToString, copyPrefix, outBuffer } from './bytes.js';

function isCont(b: number): boolean {
  return (b & 0xc0) === 0x80;
}

export function utf8toUnicode(input: string): string {
  const n = input.length;
  let i = 0;
  // Fast path: pure 7-bit input without NUL is unchanged.
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c >= 0x80 || c === 0) break;
    i++;
  }
  if (i === n) return input;

  const at = (k: number): number => (k < n ? input.charCodeAt(k) : 0); // C string terminator
  // At most 4 output bytes per input byte (e.g. 2 bytes -> "%uXXXX" + a raw byte when overlong).
  const out = outBuffer(n * 4 + 8);
  let o = copyPrefix(input, out, i);
  const pushCode = (d: number): void => {
    const h = d.toString(16);
    out[o++] = 0x25; // %
    out[o++] = 0x75; // u
    for (let p = h.length; p < 4; p++) out[o++] = 0x30;
    for (let p = 0; p < h.length; p++) out[o++] = h.charCodeAt(p);
  };

  while (i < n) {
    const c = input.charCodeAt(i);
    let len = 0; // sequence length when valid
    let d = 0;
    if ((c & 0x80) === 0) {
      if (c !== 0 || i + 1 >= n) out[o++] = c; // a NUL with more input after it is dropped
    } else if ((c & 0xe0) === 0xc0) {
      if (isCont(at(i + 1))) {
        len = 2;
        d = ((c & 0x1f) << 6) | (at(i + 1) & 0x3f);
        pushCode(d);
      }
    } else if ((c & 0xf0) === 0xe0) {
      if (isCont(at(i + 1)) && isCont(at(i + 2))) {
        len = 3;
        d = ((c & 0x0f) << 12) | ((at(i + 1) & 0x3f) << 6) | (at(i + 2) & 0x3f);
        pushCode(d);
      }
    } else if ((c & 0xf8) === 0xf0) {
      if (c >= 0xf5) out[o++] = c;
      if (isCont(at(i + 1)) && isCont(at(i + 2)) && isCont(at(i + 3))) {
        len = 4;
        d = ((c & 0x07) << 18) | ((at(i + 1) & 0x3f) << 12) | ((at(i + 2) & 0x3f) << 6) | (at(i + 3) & 0x3f);
        pushCode(d);
      }
    } else {
      out[o++] = c; // invalid lead byte (RFC 3629)
    }
    if (d >= 0xd800 && d <= 0xdfff) out[o++] = c;
    if ((len === 4 && d < 0x10000) || (len === 3 && d < 0x800) || (len === 2 && d < 0x80)) out[o++] = c;
    i += len > 0 ? len : 1;
  }
  return bufToString(out, o);
}

