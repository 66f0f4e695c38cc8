// Literal prefilter: every static RE2 @rx with required literals (required-literals.ts), every
// static @pm / @pmFromFile (whose phrases are exactly its condition) and every operator declaring
// literals it requires (Operator.prefilterRequired, e.g. @detectXSS) gets a condition slot in the
// group of its transformation pipeline. All literals of all groups live in one Aho-Corasick
// automaton (LiteralIndex), and all slots of all groups in one bit numbering: one pass over a
// distinct value finds every literal of every rule and gives one answer for every group at once.
// Because most transformations are identities on benign values, the many pipelines that see the
// same string share that answer (the transaction keeps it in the string's memo, under the one cache
// slot every literal group has). A rule none of whose literals occurred cannot match that value
// and skips its operator. The operator still decides (and captures) on "maybe".
//
// A rule may carry two conditions: one for any value, and a sharper one for "plain" values without
// rare bytes (rare-bytes.ts). Which one applies is decided per value by one scan for rare bytes.
import { AhoCorasick } from '../../operators/aho-corasick.js';
import type { Rule } from '../rule.js';
import { byPipeline, emptyAnswer, HOT_CACHE_SLOT, type PrefilterGroup } from './prefilter-group.js';
import { literalConditions, type LiteralConditions } from './required-literals.js';
import { hasRareByte, RARE } from './rare-bytes.js';

/** How a rule's slot is answered. */
const ANY_ONLY = 0; // the any-value condition, whatever the value
const SPLIT = 1; // rare bytes: the any-value condition; plain value: the plain one
const SPLIT_NO_ANY = 2; // rare bytes: maybe; plain value: the plain one

/**
 * Literals are cut to this many bytes: a prefix of a required literal is required too, and long
 * literals (pmFromFile paths, CRS word lists) would otherwise make the automaton large and its scan
 * memory-bound for next to no extra selectivity on benign text.
 */
const MAX_LITERAL = 8;


/** The one automaton over every literal of a rule set's literal groups, and what each literal makes "maybe". */
export class LiteralIndex {
  private readonly ac: AhoCorasick;
  private readonly seen: Uint8Array;
  private readonly found: Int32Array;
  /**
   * Per literal, the slots it makes "maybe": for values with rare bytes (their any-value condition)
   * and for plain values (their plain condition, or the any-value one when they have none).
   * entry[literal] is where its record starts in `packed`: [rare count, rare slots..., plain count,
   * plain slots...]. Flat arrays: this is read for every literal found in every distinct value.
   */
  private readonly entry: Int32Array;
  private readonly packed: Int32Array;
  /** Answers when no literal occurs (shared, never written): plain value, value with rare bytes. */
  readonly none: Uint32Array;
  private readonly noneRare: Uint32Array;

  /** `slotsByLiteral[i]`: literal i's slots, an any-value condition as `slot`, a plain one as `~slot`. */
  constructor(literals: readonly string[], slotsByLiteral: ReadonlyArray<readonly number[]>, mode: Uint8Array) {
    this.ac = new AhoCorasick(literals, true);
    if (this.ac.phrases.length !== literals.length) throw new Error('literal prefilter: literals must be distinct and folded');
    this.seen = new Uint8Array(literals.length);
    this.found = new Int32Array(literals.length);
    this.entry = new Int32Array(literals.length);
    const packed: number[] = [];
    slotsByLiteral.forEach((slots, lit) => {
      const rare: number[] = [];
      const plain: number[] = [];
      for (const slot of slots) {
        if (slot >= 0) {
          // any-value condition: applies to rare values unless SPLIT_NO_ANY (always maybe there), and to plain values under ANY_ONLY
          if (mode[slot] !== SPLIT_NO_ANY) rare.push(slot);
          if (mode[slot] === ANY_ONLY) plain.push(slot);
        } else {
          plain.push(~slot);
        }
      }
      this.entry[lit] = packed.length;
      packed.push(rare.length, ...rare, plain.length, ...plain);
    });
    this.packed = Int32Array.from(packed);
    this.none = emptyAnswer(mode.length);
    this.noneRare = emptyAnswer(mode.length);
    mode.forEach((m, slot) => {
      if (m === SPLIT_NO_ANY) this.noneRare[slot >>> 5] |= 1 << (slot & 31);
    });
  }

  /** Every slot's answer for `value`; null when it is not a byte string. */
  answer(value: string): Uint32Array | null {
    const found = this.found;
    const n = this.ac.collect(value, this.seen, found);
    if (n < 0) return null;
    const rare = hasRareByte(value);
    const base = rare ? this.noneRare : this.none;
    const entry = this.entry;
    const packed = this.packed;
    const seen = this.seen;
    let out: Uint32Array | null = null;
    for (let k = 0; k < n; k++) {
      const lit = found[k]!;
      seen[lit] = 0;
      let at = entry[lit]!;
      if (!rare) at += 1 + packed[at]!; // skip the rare record
      const count = packed[at]!;
      if (count === 0) continue;
      if (out === null) out = base.slice();
      for (let j = at + 1; j <= at + count; j++) {
        const slot = packed[j]!;
        out[slot >>> 5] |= 1 << (slot & 31);
      }
    }
    return out ?? base;
  }
}

/** The rules of one pipeline: a range of the index's slots. */
class LiteralGroup implements PrefilterGroup {
  /** Every literal group gives the same answer for a value: they share the hot slot. */
  readonly cacheSlot = HOT_CACHE_SLOT;
  readonly none: Uint32Array;
  readonly wordFrom: number;
  readonly wordTo: number;
  constructor(
    readonly id: number,
    private readonly index: LiteralIndex,
    firstSlot: number,
    endSlot: number,
  ) {
    this.none = index.none;
    this.wordFrom = firstSlot >>> 5;
    this.wordTo = (endSlot + 31) >>> 5;
  }

  answer(value: string): Uint32Array | null {
    return this.index.answer(value);
  }
}

export interface LiteralPrefilterStats {
  groups: number;
  rules: number;
  literals: number;
  /** Rules with a sharper condition for values without rare bytes. */
  plainRules: number;
  /** Of `rules`, @pm / @pmFromFile links (their phrases as literals). */
  phraseRules: number;
}

/** ASCII letters folded to lower case, every char reduced to its byte, as the automaton reads them. */
function foldPhrase(p: string): string {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i) & 0xff;
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return out;
}

function conditionsOfRule(r: Rule): LiteralConditions | null {
  const phrases = r.operator.prefilterPhrases ?? r.operator.prefilterRequired;
  if (phrases !== undefined) return { any: phrases.filter((p) => p.length > 0).map(foldPhrase), plain: null };
  const pattern = r.operator.prefilterPattern;
  if (pattern === undefined) return null;
  const c = literalConditions(pattern, RARE);
  return c.any === null && c.plain === null ? null : c;
}

/**
 * Gives every rule link with required literals (or phrases) a slot in its pipeline's group; ids
 * start at `firstId`. Returns the @rx links left without a condition, in order, and what was built.
 */
export function buildLiteralPrefilters(rules: Iterable<Rule>, firstId: number): { rest: Rule[]; stats: LiteralPrefilterStats } {
  const stats: LiteralPrefilterStats = { groups: 0, rules: 0, literals: 0, plainRules: 0, phraseRules: 0 };
  const rest: Rule[] = [];
  const conditionsOf = new Map<Rule, LiteralConditions>();
  for (const r of rules) {
    const c = conditionsOfRule(r);
    if (c !== null) conditionsOf.set(r, c);
    else if (r.operator.prefilterPattern !== undefined) rest.push(r);
  }
  const literalIds = new Map<string, number>();
  const slotsByLiteral: number[][] = [];
  const add = (lit: string, slot: number): void => {
    const cut = lit.length > MAX_LITERAL ? lit.slice(0, MAX_LITERAL) : lit;
    let id = literalIds.get(cut);
    if (id === undefined) {
      literalIds.set(cut, (id = literalIds.size));
      slotsByLiteral.push([]);
    }
    const slots = slotsByLiteral[id]!;
    if (slots[slots.length - 1] !== slot) slots.push(slot);
  };
  const lists = [...byPipeline(conditionsOf.keys()).values()];
  const mode = new Uint8Array(conditionsOf.size);
  let slot = 0;
  for (const list of lists) {
    for (const rule of list) {
      const c = conditionsOf.get(rule)!;
      if (rule.operator.prefilterPhrases !== undefined) stats.phraseRules++;
      if (c.any !== null) for (const lit of c.any) add(lit, slot);
      if (c.plain !== null) {
        for (const lit of c.plain) add(lit, ~slot);
        mode[slot] = c.any === null ? SPLIT_NO_ANY : SPLIT;
        stats.plainRules++;
      }
      slot++;
    }
  }
  if (lists.length === 0) return { rest, stats };
  const index = new LiteralIndex([...literalIds.keys()], slotsByLiteral, mode);
  stats.literals = literalIds.size;
  slot = 0;
  for (const list of lists) {
    const group = new LiteralGroup(firstId + stats.groups++, index, slot, slot + list.length);
    for (const rule of list) rule.prefilter = { group, index: slot++ };
    stats.rules += list.length;
  }
  return { rest, stats };
}
