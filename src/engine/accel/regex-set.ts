// Batched regex prefilter: static RE2 @rx rules that read values through the same transformation
// pipeline (and have no literal condition, see literal-prefilter.ts) join one RE2.Set. A
// transaction runs each set once per distinct value (one DFA pass instead of one call per rule) and
// rules whose pattern is not in the result skip their operator. The individual regex still
// decides (and captures) when the set reports a hit.
import RE2 from 're2';
import type { Rule } from '../rule.js';
import { byPipeline, emptyAnswer, type PrefilterGroup } from './prefilter-group.js';

/** Smallest group worth a set: below this, single calls are as cheap. */
const MIN_GROUP = 3;

class RegexSetGroup implements PrefilterGroup {
  readonly none: Uint32Array;
  readonly wordFrom = 0;
  readonly wordTo: number;
  constructor(
    readonly id: number,
    readonly cacheSlot: number,
    private readonly set: { match(s: string): number[] },
    readonly size: number,
  ) {
    this.none = emptyAnswer(size);
    this.wordTo = this.none.length;
  }

  answer(value: string): Uint32Array | null {
    try {
      const matched = this.set.match(value);
      if (matched.length === 0) return this.none;
      const hits = emptyAnswer(this.size);
      for (let i = 0; i < matched.length; i++) hits[matched[i]! >>> 5] |= 1 << (matched[i]! & 31);
      return hits;
    } catch {
      return null; // e.g. RE2.Set out of memory on a huge value: fall back to the single regexes
    }
  }
}

/**
 * Builds RE2.Set groups for the given rule links (each must have a prefilterPattern); group ids
 * and answer cache slots (one per set) start at `firstId` and `firstSlot`. Returns how many groups
 * were built and how many rules they cover.
 */
export function buildRegexSets(rules: Iterable<Rule>, firstId: number, firstSlot: number): { groups: number; rules: number } {
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
    const group = new RegexSetGroup(firstId + groups, firstSlot + groups, set, list.length);
    groups++;
    list.forEach((r, index) => {
      r.prefilter = { group, index };
      covered++;
    });
  }
  return { groups, rules: covered };
}
