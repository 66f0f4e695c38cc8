// Byte-string helpers shared by the body processors. A "byte string" holds one char per byte
// (latin1), which is how the engine hands request bodies and variable values around.

/**
 * Encodes a code point as UTF-8 bytes in a byte string, the way yajl's Utf32toUtf8 does
 * (so a lone surrogate becomes its 3-byte form, 0xFFFF takes the 4-byte branch, and values
 * past 0x1FFFFF become "?").
 */
export function yajlUtf8(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0xffff) return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  if (cp < 0x1fffff) {
    return String.fromCharCode(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return '?';
}

/** A JS (UTF-16) string as a UTF-8 byte string. */
export function toUtf8Bytes(s: string): string {
  // Pure ASCII needs no conversion (the common case for markup text).
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? s : Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * Index of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), or -1 when the whole string is valid.
 * When `allowTruncatedTail` is set, a sequence cut by the end of the input is not an error.
 */
export function invalidUtf8At(s: string, allowTruncatedTail = false): number {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + need >= n) {
      // The sequence runs past the end: check what is there, then decide.
      for (let k = i + 1; k < n; k++) if ((s.charCodeAt(k) & 0xc0) !== 0x80) return i;
      return allowTruncatedTail ? -1 : i;
    }
    let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const b = s.charCodeAt(i + k);
      if ((b & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** 1-based line and column of a byte offset in a byte string (columns count bytes). */
export function lineColumn(s: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, s.length);
  for (let i = s.indexOf('\n'); i >= 0 && i < end; i = s.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: end - lineStart + 1 };
}
