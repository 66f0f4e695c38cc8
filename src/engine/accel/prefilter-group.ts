// What the rule loop sees of a prefilter: a group of rules that read values through the same
// transformation pipeline, and per value a verdict per rule slot (0 = cannot match, skip the
// operator; 1 = maybe, run it). Groups of every kind share one id space, so a transaction caches
// their answers per value in one array.
import type { Rule } from '../rule.js';

export interface PrefilterGroup {
  /** Unique among the groups of one rule set. */
  readonly id: number;
  /** Rule slots in the group. */
  readonly size: number;
  /** Per slot 0 (cannot match) or 1 (maybe) for `value`; null = no answer, run every operator. */
  hits(value: string): Uint8Array | null;
}

export interface PrefilterSlot {
  group: PrefilterGroup;
  index: number;
}

/** Every link of every chain (prefilters apply to chained links too). */
export function* ruleLinks(heads: Iterable<Rule>): Generator<Rule> {
  for (const head of heads) for (let r: Rule | null = head; r !== null; r = r.child) yield r;
}

/** Rules by transformation pipeline (-1 = none), in the order given. */
export function byPipeline(rules: Iterable<Rule>): Map<number, Rule[]> {
  const out = new Map<number, Rule[]>();
  for (const r of rules) {
    const key = r.pipeline === null ? -1 : r.pipeline.id;
    let list = out.get(key);
    if (list === undefined) out.set(key, (list = []));
    list.push(r);
  }
  return out;
}
