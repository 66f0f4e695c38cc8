// Regex key selectors that are plain ASCII literals — `TX:/^header_name_920450_/` (prefix),
// `TX:/rfi_parameter_.*/` (anywhere) — tested without RE2: a case-insensitive comparison of
// ASCII bytes, no native call and no per-key memo. A key whose compared chars are not all ASCII
// goes to the regex, so Unicode case folding stays RE2's.
import type { KeyMatcher } from './rule.js';

const LITERAL = /^[A-Za-z0-9_-]+$/;

class AsciiLiteralKeyMatcher implements KeyMatcher {
  constructor(
    /** Lower case. */
    private readonly literal: string,
    private readonly prefixOnly: boolean,
    private readonly regex: KeyMatcher,
  ) {}

  test(key: string): boolean {
    const lit = this.literal;
    const n = lit.length;
    const last = this.prefixOnly ? 0 : key.length - n;
    for (let at = 0; at <= last; at++) {
      let j = 0;
      while (j < n) {
        let c = key.charCodeAt(at + j);
        // Only a char compared can decide; a non-ASCII one may fold to ASCII (U+212A is k).
        if (c > 0x7f) return this.regex.test(key);
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        if (c !== lit.charCodeAt(j)) break;
        j++;
      }
      if (j === n) return true;
    }
    return false;
  }
}

/** A literal matcher for `pattern` when it is `^literal`, `literal` or `literal.*`; null otherwise. */
export function literalKeyMatcher(pattern: string, regex: KeyMatcher): KeyMatcher | null {
  const prefixOnly = pattern.startsWith('^');
  let body = prefixOnly ? pattern.slice(1) : pattern;
  if (body.endsWith('.*')) body = body.slice(0, -2);
  if (!LITERAL.test(body)) return null;
  return new AsciiLiteralKeyMatcher(body.toLowerCase(), prefixOnly, regex);
}

/** Whether `m` is one of these (cheaper than remembering its answers). */
export function isLiteralKeyMatcher(m: KeyMatcher): boolean {
  return m instanceof AsciiLiteralKeyMatcher;
}
