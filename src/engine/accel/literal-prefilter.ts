// Literal prefilter: every static RE2 @rx with required literals (required-literals.ts) joins the
// automaton of its transformation pipeline. One Aho-Corasick pass over a transformed value finds
// every literal of every rule of that pipeline at once; a rule none of whose literals occurred
// cannot match that value and skips its regex. The regex still decides (and captures) on "maybe".
import { AhoCorasick } from '../../operators/aho-corasick.js';
import type { Rule } from '../rule.js';
import { byPipeline, type PrefilterGroup } from './prefilter-group.js';
import { requiredLiterals } from './required-literals.js';

class LiteralGroup implements PrefilterGroup {
  private readonly ac: AhoCorasick;
  /** Per literal (automaton phrase index): the rule slots it stands for. */
  private readonly literalSlots: Int32Array[];
  /** Scratch for one scan (evaluation is synchronous, so one per group suffices). */
  private readonly seen: Uint8Array;
  private readonly found: Int32Array;
  /** Shared answer for the common case "no literal occurs" (never written). */
  private readonly none: Uint8Array;

  constructor(
    readonly id: number,
    readonly size: number,
    slotsByLiteral: Map<string, number[]>,
  ) {
    const literals = [...slotsByLiteral.keys()];
    this.ac = new AhoCorasick(literals, true);
    if (this.ac.phrases.length !== literals.length) throw new Error('literal prefilter: literals must be distinct and folded');
    this.literalSlots = literals.map((l) => Int32Array.from(slotsByLiteral.get(l)!));
    this.seen = new Uint8Array(literals.length);
    this.found = new Int32Array(literals.length);
    this.none = new Uint8Array(size);
  }

  hits(value: string): Uint8Array | null {
    const n = this.ac.collect(value, this.seen, this.found);
    if (n < 0) return null;
    if (n === 0) return this.none;
    const hits = new Uint8Array(this.size);
    for (let k = 0; k < n; k++) {
      const lit = this.found[k]!;
      this.seen[lit] = 0;
      const slots = this.literalSlots[lit]!;
      for (let j = 0; j < slots.length; j++) hits[slots[j]!] = 1;
    }
    return hits;
  }
}

export interface LiteralPrefilterStats {
  groups: number;
  rules: number;
  literals: number;
}

/**
 * Gives every rule link with required literals a slot in its pipeline's automaton; ids start at
 * `firstId`. Returns the rules left without a condition, in order, and what was built.
 */
export function buildLiteralPrefilters(rules: Iterable<Rule>, firstId: number): { rest: Rule[]; stats: LiteralPrefilterStats } {
  const stats: LiteralPrefilterStats = { groups: 0, rules: 0, literals: 0 };
  const rest: Rule[] = [];
  const literalsOf = new Map<Rule, string[]>();
  for (const r of rules) {
    const literals = requiredLiterals(r.operator.prefilterPattern!);
    if (literals === null) rest.push(r);
    else literalsOf.set(r, literals);
  }
  for (const list of byPipeline(literalsOf.keys()).values()) {
    const slotsByLiteral = new Map<string, number[]>();
    list.forEach((rule, slot) => {
      for (const lit of literalsOf.get(rule)!) {
        let slots = slotsByLiteral.get(lit);
        if (slots === undefined) slotsByLiteral.set(lit, (slots = []));
        slots.push(slot);
      }
    });
    const group = new LiteralGroup(firstId + stats.groups++, list.length, slotsByLiteral);
    list.forEach((rule, index) => (rule.prefilter = { group, index }));
    stats.rules += list.length;
    stats.literals += slotsByLiteral.size;
  }
  return { rest, stats };
}
