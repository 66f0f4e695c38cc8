// Batched regex prefilter: static RE2 @rx rules that read values through the same transformation
// pipeline (and have no literal condition, see literal-prefilter.ts) join one RE2.Set. A
// transaction runs each set once per distinct value (one DFA pass instead of one call per rule) and
// rules whose pattern is not in the result skip their operator. The individual regex still
// decides (and captures) when the set reports a hit.
import RE2 from 're2';
import type { Rule } from '../rule.js';
import { byPipeline, type PrefilterGroup } from './prefilter-group.js';

/** Smallest group worth a set: below this, single calls are as cheap. */
const MIN_GROUP = 3;

class RegexSetGroup implements PrefilterGroup {
  readonly none: Uint8Array;
  constructor(
    readonly id: number,
    private readonly set: { match(s: string): number[] },
    readonly size: number,
  ) {
    this.none = new Uint8Array(size);
  }

  hits(value: string): Uint8Array | null {
    try {
      const matched = this.set.match(value);
      if (matched.length === 0) return this.none;
      const hits = new Uint8Array(this.size);
      for (let i = 0; i < matched.length; i++) hits[matched[i]!] = 1;
      return hits;
    } catch {
      return null; // e.g. RE2.Set out of memory on a huge value: fall back to the single regexes
    }
  }
}

/**
 * Builds RE2.Set groups for the given rule links (each must have a prefilterPattern); group ids
 * start at `firstId`. Returns how many groups were built and how many rules they cover.
 */
export function buildRegexSets(rules: Iterable<Rule>, firstId: number): { groups: number; rules: number } {
  let groups = 0;
  let covered = 0;
  for (const list of byPipeline(rules).values()) {
    if (list.length < MIN_GROUP) continue;
    let set: { match(s: string): number[] };
    try {
      set = new RE2.Set(list.map((r) => r.operator.prefilterPattern!), 's');
    } catch {
      continue; // a set RE2 cannot build just means no batching for this pipeline
    }
    const group = new RegexSetGroup(firstId + groups++, set, list.length);
    list.forEach((r, index) => {
      r.prefilter = { group, index };
      covered++;
    });
  }
  return { groups, rules: covered };
}
