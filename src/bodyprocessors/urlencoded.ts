// application/x-www-form-urlencoded and query-string parsing, as ModSecurity v3 does it:
// split on the separator (empty pieces kept), split each piece on the first '=',
// decode name and value non-strictly ('+' → space, valid %XX decoded, invalid % kept).

export interface UrlEncodedResult {
  pairs: Array<[string, string]>;
  /** True when an invalid %-escape was seen (URLENCODED_ERROR). */
  invalid: boolean;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const decodeState = { invalid: false };

/** Non-strict URL decoding of a byte string; sets decodeState.invalid on bad escapes. */
export function urlDecodeNonStrict(s: string): string {
  let i = s.indexOf('%');
  const plus = s.indexOf('+');
  if (i < 0 && plus < 0) return s;
  let out = '';
  let start = 0;
  const n = s.length;
  for (i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 43 /* + */) {
      out += s.slice(start, i) + ' ';
      start = i + 1;
    } else if (c === 37 /* % */) {
      if (i + 2 < n) {
        const h = hexVal(s.charCodeAt(i + 1));
        const l = hexVal(s.charCodeAt(i + 2));
        if (h >= 0 && l >= 0) {
          out += s.slice(start, i) + String.fromCharCode(h * 16 + l);
          i += 2;
          start = i + 1;
          continue;
        }
      }
      decodeState.invalid = true;
    }
  }
  return out + s.slice(start);
}

export function parseUrlEncoded(body: string, separator = '&'): UrlEncodedResult {
  const pairs: Array<[string, string]> = [];
  decodeState.invalid = false;
  if (body.length === 0) return { pairs, invalid: false };
  const pieces = body.split(separator);
  // std::getline-based splitting drops a single trailing empty piece ("a=1&" → one pair).
  if (pieces.length > 1 && pieces[pieces.length - 1] === '') pieces.pop();
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([urlDecodeNonStrict(name), urlDecodeNonStrict(value)]);
  }
  return { pairs, invalid: decodeState.invalid };
}

/** %XX decoding only ('+' kept), as ModSecurity's uri_decode for REQUEST_URI/REQUEST_FILENAME. */
export function uriDecode(s: string): string {
  let i = s.indexOf('%');
  if (i < 0) return s;
  let out = s.slice(0, i);
  const n = s.length;
  let start = i;
  for (; i < n; i++) {
    if (s.charCodeAt(i) !== 37) continue;
    if (i + 2 < n) {
      const h = hexVal(s.charCodeAt(i + 1));
      const l = hexVal(s.charCodeAt(i + 2));
      if (h >= 0 && l >= 0) {
        out += s.slice(start, i) + String.fromCharCode(h * 16 + l);
        i += 2;
        start = i + 1;
      }
    }
  }
  return out + s.slice(start);
}
