// t:urlDecode, t:urlDecodeUni, t:urlEncode (ModSecurity v3: utils::urldecode_nonstrict_inplace,
// UrlDecodeUni::inplace without a SecUnicodeMapFile, UrlEncode::url_enc).
import { bufToString, copyPrefix, isHex, isHex4, outBuffer, unicodeEscapeByte, x2c } from './bytes.js';

/** Index of the first '%' or '+', or -1: both decoders are the identity without one. */
function firstEncoded(input: string): number {
  const p = input.indexOf('%');
  const q = input.indexOf('+');
  if (p < 0) return q;
  if (q < 0) return p;
  return p < q ? p : q;
}

/** Non-strict URL decoding: valid %HH decoded, invalid % sequences kept verbatim, '+' to space. */
export function urlDecode(input: string): string {
  const start = firstEncoded(input);
  if (start < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let j = copyPrefix(input, out, start);
  let i = start;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c === 0x25 /* % */) {
      if (i + 2 < n) {
        const c1 = input.charCodeAt(i + 1);
        const c2 = input.charCodeAt(i + 2);
        if (isHex(c1) && isHex(c2)) {
          out[j++] = x2c(c1, c2);
          i += 3;
          continue;
        }
      }
      out[j++] = c;
      i++;
    } else {
      out[j++] = c === 0x2b /* + */ ? 0x20 : c;
      i++;
    }
  }
  return bufToString(out, j);
}

/**
 * Like urlDecode, plus IIS %uHHHH: only the low byte is kept, except that full-width ASCII
 * (%uFF01-%uFF5E) is mapped back to ASCII by adding 0x20. Invalid or short %u copies "%u" as is.
 */
export function urlDecodeUni(input: string): string {
  const start = firstEncoded(input);
  if (start < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let j = copyPrefix(input, out, start);
  let i = start;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c !== 0x25) {
      out[j++] = c === 0x2b ? 0x20 : c;
      i++;
      continue;
    }
    const c1 = i + 1 < n ? input.charCodeAt(i + 1) : -1;
    if (c1 === 0x75 /* u */ || c1 === 0x55 /* U */) {
      if (isHex4(input, i + 2)) {
        out[j++] = unicodeEscapeByte(input, i + 2);
        i += 6;
      } else {
        out[j++] = c;
        out[j++] = c1;
        i += 2;
      }
    } else if (i + 2 < n && isHex(c1) && isHex(input.charCodeAt(i + 2))) {
      out[j++] = x2c(c1, input.charCodeAt(i + 2));
      i += 3;
    } else {
      out[j++] = c;
      i++;
    }
  }
  return bufToString(out, j);
}

const HEX_LOWER = '0123456789abcdef';

/** Bytes kept as is by url_enc: '*', digits and ASCII letters. Space becomes '+', the rest %hh. */
function keepsAsIs(c: number): boolean {
  return c === 0x2a || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function urlEncode(input: string): string {
  const n = input.length;
  let i = 0;
  while (i < n && keepsAsIs(input.charCodeAt(i))) i++;
  if (i === n) return input;
  const out = outBuffer(n * 3);
  let j = copyPrefix(input, out, i);
  for (; i < n; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x20) {
      out[j++] = 0x2b;
    } else if (keepsAsIs(c)) {
      out[j++] = c;
    } else {
      out[j++] = 0x25;
      out[j++] = HEX_LOWER.charCodeAt(c >> 4);
      out[j++] = HEX_LOWER.charCodeAt(c & 15);
    }
  }
  return bufToString(out, j);
}
