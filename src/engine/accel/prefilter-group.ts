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
  /** The all-zero answer (nothing can match); shared, never written. */
  readonly none: Uint8Array;
  /**
   * Per slot 0 (cannot match) or 1 (maybe) for `value`; null = no answer, run every operator.
   * `memo` (one per transaction) lets groups share work on the same string.
   */
  hits(value: string, memo?: ScanMemo): Uint8Array | null;
}

/** Which literals of a LiteralIndex occur in a value, and whether it holds rare bytes. */
export interface LiteralScan {
  readonly found: Int32Array;
  readonly rare: boolean;
}

/** Literal scans per distinct string, for one transaction. */
export type ScanMemo = Map<string, LiteralScan | null>;

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
