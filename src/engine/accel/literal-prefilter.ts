// Literal prefilter: every static RE2 @rx with required literals (required-literals.ts) joins the
// automaton of its transformation pipeline. One Aho-Corasick pass over a transformed value finds
// every literal of every rule of that pipeline at once; a rule none of whose literals occurred
// cannot match that value and skips its regex. The regex still decides (and captures) on "maybe".
//
// A rule may carry two conditions: one for any value, and a sharper one for "plain" values without
// rare bytes (rare-bytes.ts). Both sit in the same automaton (as condition slots rule and
// size + rule); which one applies is decided per value by one scan for rare bytes.
import { AhoCorasick } from '../../operators/aho-corasick.js';
import type { Rule } from '../rule.js';
import { byPipeline, type PrefilterGroup } from './prefilter-group.js';
import { literalConditions, type LiteralConditions } from './required-literals.js';
import { hasRareByte, RARE } from './rare-bytes.js';

/** How a rule's slot is answered. */
const ANY_ONLY = 0; // the any-value condition, whatever the value
const SPLIT = 1; // rare bytes: the any-value condition; plain value: the plain one
const SPLIT_NO_ANY = 2; // rare bytes: maybe; plain value: the plain one

class LiteralGroup implements PrefilterGroup {
  private readonly ac: AhoCorasick;
  /** Per literal (automaton phrase index): the condition slots it satisfies. */
  private readonly literalSlots: Int32Array[];
  private readonly mode: Uint8Array;
  /** Scratch for one scan (evaluation is synchronous, so one per group suffices). */
  private readonly seen: Uint8Array;
  private readonly found: Int32Array;
  private readonly conds: Uint8Array;
  /** Shared answers when no literal occurs (never written): plain value, value with rare bytes. */
  private readonly none: Uint8Array;
  private readonly noneRare: Uint8Array;
  private readonly split: boolean;

  constructor(
    readonly id: number,
    readonly size: number,
    slotsByLiteral: Map<string, number[]>,
    mode: Uint8Array,
  ) {
    const literals = [...slotsByLiteral.keys()];
    this.ac = new AhoCorasick(literals, true);
    if (this.ac.phrases.length !== literals.length) throw new Error('literal prefilter: literals must be distinct and folded');
    this.literalSlots = literals.map((l) => Int32Array.from(slotsByLiteral.get(l)!));
    this.mode = mode;
    this.split = mode.some((m) => m !== ANY_ONLY);
    this.seen = new Uint8Array(literals.length);
    this.found = new Int32Array(literals.length);
    this.conds = new Uint8Array(2 * size);
    this.none = new Uint8Array(size);
    this.noneRare = mode.map((m) => (m === SPLIT_NO_ANY ? 1 : 0));
  }

  hits(value: string): Uint8Array | null {
    const n = this.ac.collect(value, this.seen, this.found);
    if (n < 0) return null;
    const rare = this.split && hasRareByte(value);
    if (n === 0) return rare ? this.noneRare : this.none;
    const size = this.size;
    const conds = this.conds;
    for (let k = 0; k < n; k++) {
      const lit = this.found[k]!;
      this.seen[lit] = 0;
      const slots = this.literalSlots[lit]!;
      for (let j = 0; j < slots.length; j++) conds[slots[j]!] = 1;
    }
    const hits = new Uint8Array(size);
    const mode = this.mode;
    for (let i = 0; i < size; i++) {
      const m = mode[i]!;
      hits[i] = m === ANY_ONLY || rare ? (m === SPLIT_NO_ANY ? 1 : conds[i]!) : conds[size + i]!;
    }
    conds.fill(0);
    return hits;
  }
}

export interface LiteralPrefilterStats {
  groups: number;
  rules: number;
  literals: number;
  /** Rules with a sharper condition for values without rare bytes. */
  plainRules: number;
}

/**
 * Gives every rule link with required literals a slot in its pipeline's automaton; ids start at
 * `firstId`. Returns the rules left without a condition, in order, and what was built.
 */
export function buildLiteralPrefilters(rules: Iterable<Rule>, firstId: number): { rest: Rule[]; stats: LiteralPrefilterStats } {
  const stats: LiteralPrefilterStats = { groups: 0, rules: 0, literals: 0, plainRules: 0 };
  const rest: Rule[] = [];
  const conditionsOf = new Map<Rule, LiteralConditions>();
  for (const r of rules) {
    const c = literalConditions(r.operator.prefilterPattern!, RARE);
    if (c.any === null && c.plain === null) rest.push(r);
    else conditionsOf.set(r, c);
  }
  for (const list of byPipeline(conditionsOf.keys()).values()) {
    const size = list.length;
    const slotsByLiteral = new Map<string, number[]>();
    const add = (lit: string, slot: number): void => {
      let slots = slotsByLiteral.get(lit);
      if (slots === undefined) slotsByLiteral.set(lit, (slots = []));
      slots.push(slot);
    };
    const mode = new Uint8Array(size);
    list.forEach((rule, slot) => {
      const c = conditionsOf.get(rule)!;
      if (c.any !== null) for (const lit of c.any) add(lit, slot);
      if (c.plain !== null) {
        for (const lit of c.plain) add(lit, size + slot);
        mode[slot] = c.any === null ? SPLIT_NO_ANY : SPLIT;
        stats.plainRules++;
      }
    });
    const group = new LiteralGroup(firstId + stats.groups++, size, slotsByLiteral, mode);
    list.forEach((rule, index) => (rule.prefilter = { group, index }));
    stats.rules += size;
    stats.literals += slotsByLiteral.size;
  }
  return { rest, stats };
}
