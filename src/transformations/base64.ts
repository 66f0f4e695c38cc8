// t:base64Encode, t:base64Decode (strict, mbedTLS semantics as used by ModSecurity v3) and
// t:base64DecodeExt (ModSecurity's "forgiving" decoder).
import { bufToString, outBuffer, toBuffer } from './bytes.js';

export function base64Encode(input: string): string {
  return input.length === 0 ? input : toBuffer(input).toString('base64');
}

/** Standard alphabet value of a byte, or -1. */
function b64Value(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c === 0x2b) return 62;
  if (c === 0x2f) return 63;
  return -1;
}

/**
 * mbedtls_base64_decode() on the C string (up to the first NUL, ModSecurity passes strlen()):
 * line breaks and leading/trailing spaces are allowed, at most two '=' and only at the end; any
 * other invalid byte makes the whole result empty. A trailing incomplete quantum is dropped.
 */
export function base64Decode(input: string): string {
  const nul = input.indexOf('\0');
  const src = nul >= 0 ? input.slice(0, nul) : input;
  const slen = src.length;
  // First pass: validate (mbedTLS rejects the whole input on any error).
  let n = 0;
  let equals = 0;
  for (let i = 0; i < slen; i++) {
    let spaces = false;
    while (i < slen && src.charCodeAt(i) === 0x20) {
      i++;
      spaces = true;
    }
    if (i === slen) break;
    const c = src.charCodeAt(i);
    if (c === 0x0d && i + 1 < slen && src.charCodeAt(i + 1) === 0x0a) continue;
    if (c === 0x0a) continue;
    if (spaces) return '';
    if (c === 0x3d /* = */) {
      if (++equals > 2) return '';
    } else if (equals !== 0 || b64Value(c) < 0) {
      return '';
    }
    n++;
  }
  if (n === 0) return '';
  // Second pass: decode complete quanta.
  const out = outBuffer(Math.ceil((n * 3) / 4));
  let d = 0;
  let x = 0;
  let digits = 0;
  let pads = 0;
  for (let i = 0; i < slen; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x20) continue;
    x <<= 6;
    if (c === 0x3d) pads++;
    else x |= b64Value(c);
    if (++digits === 4) {
      out[d++] = (x >> 16) & 0xff;
      if (pads <= 1) out[d++] = (x >> 8) & 0xff;
      if (pads <= 0) out[d++] = x & 0xff;
      digits = 0;
      x = 0;
    }
  }
  return bufToString(out, d);
}

/** decode_forgiven_engine's table: -1 for skipped whitespace, -2 for other invalid bytes (also skipped). */
const FORGIVING: Int8Array = (() => {
  const t = new Int8Array(256).fill(-2);
  for (const c of [0x09, 0x0a, 0x0d, 0x20]) t[c] = -1;
  for (let c = 0; c < 256; c++) {
    const v = b64Value(c);
    if (v >= 0) t[c] = v;
  }
  t[0x2d] = 62; // '-' (URL-safe alphabet)
  t[0x5f] = 63; // '_'
  return t;
})();

/**
 * ModSecurity's decode_forgiven_engine(): invalid bytes are skipped, '-' and '_' are accepted. Its
 * quirks are kept: a '=' right after the first digit of a quantum (and not followed by another
 * '=') empties the result, and so does ending on a quantum of one digit when the last value seen
 * equals '=' (0x3D, which the digit '9' also decodes to).
 */
export function base64DecodeExt(input: string): string {
  const len = input.length;
  const out = outBuffer(Math.ceil((len * 3) / 4) + 1);
  let i = 0; // digits consumed
  let j = 0; // output bytes
  let ch = 0;
  for (let p = 0; p < len; p++) {
    ch = input.charCodeAt(p);
    if (ch === 0x3d) {
      const next = p + 1 < len ? input.charCodeAt(p + 1) : 0;
      if (next !== 0x3d && i % 4 === 1) return '';
      continue;
    }
    ch = FORGIVING[ch]!;
    if (ch < 0) continue;
    switch (i % 4) {
      case 0:
        out[j] = ch << 2;
        break;
      case 1:
        out[j++] |= ch >> 4;
        out[j] = (ch & 0x0f) << 4;
        break;
      case 2:
        out[j++] |= ch >> 2;
        out[j] = (ch & 0x03) << 6;
        break;
      default:
        out[j++] |= ch;
    }
    i++;
  }
  if (ch === 0x3d && i % 4 === 1) return '';
  return bufToString(out, j);
}
