// Regex key selectors (TX:/^MSC_/, !REQUEST_HEADERS:/^x-/ ...) are tested against every key of
// their collection by every rule that names them; the answer depends on the key alone, so it is
// remembered per matcher (bounded: keys can come from the client).
import type { KeyMatcher, Rule } from '../rule.js';
import { isLiteralKeyMatcher } from '../key-matchers.js';

const MAX_KEYS = 4096;

class MemoKeyMatcher implements KeyMatcher {
  private readonly known = new Map<string, boolean>();
  constructor(readonly inner: KeyMatcher) {}

  test(key: string): boolean {
    const hit = this.known.get(key);
    if (hit !== undefined) return hit;
    const r = this.inner.test(key);
    if (this.known.size < MAX_KEYS) this.known.set(key, r);
    return r;
  }
}

/** Wraps every regex key selector of `rule` (targets and exclusions) once; shared matchers stay shared. */
export function memoizeKeyMatchers(rule: Rule, wrapped: Map<KeyMatcher, KeyMatcher>): void {
  const wrap = (m: KeyMatcher): KeyMatcher => {
    if (m instanceof MemoKeyMatcher || isLiteralKeyMatcher(m)) return m;
    let w = wrapped.get(m);
    if (w === undefined) wrapped.set(m, (w = new MemoKeyMatcher(m)));
    return w;
  };
  for (const t of rule.targets) if (t.keyRegex !== null) t.keyRegex = wrap(t.keyRegex);
  for (const e of rule.exclusions) if (e.keyRegex !== null) e.keyRegex = wrap(e.keyRegex);
}
