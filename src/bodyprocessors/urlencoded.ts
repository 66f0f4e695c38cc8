// application/x-www-form-urlencoded and query-string parsing, as ModSecurity v3 does it:
// split on the separator (empty pieces kept), split each piece on the first '=',
// decode name and value non-strictly ('+' → space, valid %XX decoded, invalid % kept).

import { isHex, x2c } from '../transformations/bytes.js';

export interface UrlEncodedResult {
  pairs: Array<[string, string]>;
  /** True when an invalid %-escape was seen (URLENCODED_ERROR). */
  invalid: boolean;
}


const decodeState = { invalid: false };

/** %XX decoding; '+' → space when `plusIsSpace`; records invalid escapes in decodeState. */
function percentDecode(s: string, plusIsSpace: boolean): string {
  if (s.indexOf('%') < 0 && (!plusIsSpace || s.indexOf('+') < 0)) return s;
  let out = '';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 43 /* + */ && plusIsSpace) {
      out += s.slice(start, i) + ' ';
      start = i + 1;
    } else if (c === 37 /* % */) {
      if (i + 2 < n && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        out += s.slice(start, i) + String.fromCharCode(x2c(s.charCodeAt(i + 1), s.charCodeAt(i + 2)));
        i += 2;
        start = i + 1;
      } else {
        decodeState.invalid = true;
      }
    }
  }
  return out + s.slice(start);
}

/** Non-strict URL decoding of a byte string ('+' → space, invalid % kept). */
export function urlDecodeNonStrict(s: string): string {
  return percentDecode(s, true);
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
  return percentDecode(s, false);
}
