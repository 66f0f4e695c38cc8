// What the rule loop sees of a prefilter: a group of rules that read values through the same
// transformation pipeline, and per value an answer: a bitset with one bit per rule slot (0 = cannot
// match, skip the operator; 1 = maybe, run it). A transaction keeps each value's answer in the
// value's memo (ValueMemo.answers) under the group's cache slot; groups that compute one answer for
// all of them (the literal groups, see literal-prefilter.ts) share a slot and a bit numbering.
import type { Rule } from '../rule.js';

export interface PrefilterGroup {
  /** Unique among the groups of one rule set. */
  readonly id: number;
  /** Where a value's answer is cached; groups sharing a slot give the same answer for a value. */
  readonly cacheSlot: number;
  /** The answer when nothing can match (all zero; shared, never written). */
  readonly none: Uint32Array;
  /** The words of an answer that hold this group's bits: [wordFrom, wordTo). */
  readonly wordFrom: number;
  readonly wordTo: number;
  /** The answer for `value`; null = no answer, run every operator. */
  answer(value: string): Uint32Array | null;
}

/** The cache slot a memo keeps in a field (ValueMemo.answer0): the one asked for nearly every string. */
export const HOT_CACHE_SLOT = 0;

export interface PrefilterSlot {
  group: PrefilterGroup;
  /** The rule's bit in the group's answers. */
  index: number;
}

/** Bit `index` of an answer: 1 = the rule may match. */
export function maybe(answer: Uint32Array, index: number): boolean {
  return ((answer[index >>> 5]! >>> (index & 31)) & 1) === 1;
}

/** An all-zero answer with room for `bits` bits. */
export function emptyAnswer(bits: number): Uint32Array {
  return new Uint32Array((bits + 31) >>> 5);
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
