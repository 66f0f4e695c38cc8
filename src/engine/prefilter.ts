// Batched regex prefilter: every static RE2 @rx that reads values through the same transformation
// pipeline joins one RE2.Set. A transaction runs each set once per distinct value (one DFA pass
// instead of one call per rule) and rules whose pattern is not in the result skip their operator.
// The individual regex still decides (and captures) when the set reports a hit.
import RE2 from 're2';
import type { Rule } from './rule.js';

export interface PrefilterGroup {
  readonly id: number;
  readonly set: { match(s: string): number[] };
  readonly size: number;
}

export interface PrefilterSlot {
  group: PrefilterGroup;
  index: number;
}

/** Smallest group worth a set: below this, single calls are as cheap. */
const MIN_GROUP = 3;

/** Builds groups for all rule links; returns how many rules got a prefilter slot. */
export function buildPrefilters(rules: Iterable<Rule>): { groups: number; rules: number } {
  const byPipeline = new Map<number, Rule[]>();
  for (const head of rules) {
    for (let r: Rule | null = head; r !== null; r = r.child) {
      const pattern = r.operator.prefilterPattern;
      if (pattern === undefined || r.multiMatch) continue;
      const key = r.pipeline === null ? -1 : r.pipeline.id;
      let list = byPipeline.get(key);
      if (list === undefined) byPipeline.set(key, (list = []));
      list.push(r);
    }
  }
  let groups = 0;
  let covered = 0;
  for (const list of byPipeline.values()) {
    if (list.length < MIN_GROUP) continue;
    let set: PrefilterGroup['set'];
    try {
      set = new RE2.Set(list.map((r) => r.operator.prefilterPattern!), 's');
    } catch {
      continue; // a set RE2 cannot build just means no batching for this pipeline
    }
    const group: PrefilterGroup = { id: groups++, set, size: list.length };
    list.forEach((r, index) => {
      r.prefilter = { group, index };
      covered++;
    });
  }
  return { groups, rules: covered };
}
