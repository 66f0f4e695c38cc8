// Literal prefilter: every static RE2 @rx with required literals (required-literals.ts), and every
// static @pm / @pmFromFile (whose phrases are exactly its condition), gets a condition slot in the
// group of its transformation pipeline. All literals of all groups live in one Aho-Corasick
// automaton (LiteralIndex): one pass over a distinct value finds every literal of every rule, and
// because most transformations are identities on benign values, the many pipelines that see the
// same string share that pass (the transaction keeps the scan per string, see Transaction). Each
// group then turns the literals found into its answer: a rule none of whose literals occurred cannot
// match that value and skips its operator. The operator still decides (and captures) on "maybe".
//
// A rule may carry two conditions: one for any value, and a sharper one for "plain" values without
// rare bytes (rare-bytes.ts). Both are slots of the group (rule and size + rule); which one applies
// is decided per value by one scan for rare bytes.
import { AhoCorasick } from '../../operators/aho-corasick.js';
import type { Rule } from '../rule.js';
import { byPipeline, type LiteralScan, type PrefilterGroup, type ScanMemo } from './prefilter-group.js';
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

const NO_LITERALS = new Int32Array(0);
const EMPTY_PLAIN: LiteralScan = { found: NO_LITERALS, rare: false };
const EMPTY_RARE: LiteralScan = { found: NO_LITERALS, rare: true };

/** The one automaton over every literal of a rule set's literal groups. */
export class LiteralIndex {
  private readonly ac: AhoCorasick;
  private readonly seen: Uint8Array;
  private readonly found: Int32Array;
  readonly size: number;

  constructor(literals: readonly string[]) {
    this.ac = new AhoCorasick(literals, true);
    if (this.ac.phrases.length !== literals.length) throw new Error('literal prefilter: literals must be distinct and folded');
    this.size = literals.length;
    this.seen = new Uint8Array(literals.length);
    this.found = new Int32Array(literals.length);
  }

  /** Literals occurring in `value` (indices into the constructor's list); null when it is not a byte string. */
  scan(value: string): LiteralScan | null {
    const n = this.ac.collect(value, this.seen, this.found);
    if (n < 0) return null;
    const rare = hasRareByte(value);
    if (n === 0) return rare ? EMPTY_RARE : EMPTY_PLAIN;
    for (let k = 0; k < n; k++) this.seen[this.found[k]!] = 0;
    return { found: this.found.slice(0, n), rare };
  }

  /** The scan of `value`, computed once per distinct string in `memo`. */
  scanMemo(value: string, memo: ScanMemo | undefined): LiteralScan | null {
    if (memo === undefined) return this.scan(value);
    const hit = memo.get(value);
    if (hit !== undefined) return hit;
    const s = this.scan(value);
    memo.set(value, s);
    return s;
  }
}

class LiteralGroup implements PrefilterGroup {
  /**
   * Per index literal, the rules it makes "maybe": for values with rare bytes (their any-value
   * condition) and for plain values (their plain condition, or the any-value one when they have no
   * plain one). entry[literal] is -1 (none of this group) or where its record starts in `packed`:
   * [rare count, rare rules..., plain count, plain rules...]. Flat arrays: this is looked up for
   * every literal found in every value the group sees.
   */
  private readonly entry: Int32Array;
  private readonly packed: Int32Array;
  /** Answers when no literal of the group occurs (shared, never written): plain value, value with rare bytes. */
  readonly none: Uint8Array;
  private readonly noneRare: Uint8Array;

  constructor(
    readonly id: number,
    readonly size: number,
    private readonly index: LiteralIndex,
    slotsByLiteral: Map<number, number[]>,
    mode: Uint8Array,
  ) {
    this.entry = new Int32Array(index.size).fill(-1);
    const packed: number[] = [];
    for (const [lit, slots] of slotsByLiteral) {
      const rare: number[] = [];
      const plain: number[] = [];
      for (const slot of slots) {
        if (slot < size) {
          // any-value condition: applies to rare values unless SPLIT_NO_ANY (always maybe there), and to plain values under ANY_ONLY
          if (mode[slot] !== SPLIT_NO_ANY) rare.push(slot);
          if (mode[slot] === ANY_ONLY) plain.push(slot);
        } else {
          plain.push(slot - size);
        }
      }
      this.entry[lit] = packed.length;
      packed.push(rare.length, ...rare, plain.length, ...plain);
    }
    this.packed = Int32Array.from(packed);
    this.none = new Uint8Array(size);
    this.noneRare = mode.map((m) => (m === SPLIT_NO_ANY ? 1 : 0));
  }

  hits(value: string, memo?: ScanMemo): Uint8Array | null {
    const scan = this.index.scanMemo(value, memo);
    if (scan === null) return null;
    const found = scan.found;
    const rare = scan.rare;
    const base = rare ? this.noneRare : this.none;
    const entry = this.entry;
    const packed = this.packed;
    let hits: Uint8Array | null = null;
    for (let k = 0; k < found.length; k++) {
      let at = entry[found[k]!]!;
      if (at < 0) continue;
      if (!rare) at += 1 + packed[at]!; // skip the rare record
      const n = packed[at]!;
      if (n === 0) continue;
      if (hits === null) hits = base.slice();
      for (let j = at + 1; j <= at + n; j++) hits[packed[j]!] = 1;
    }
    return hits ?? base;
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
  const phrases = r.operator.prefilterPhrases;
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
  const idOf = (lit: string): number => {
    let id = literalIds.get(lit);
    if (id === undefined) literalIds.set(lit, (id = literalIds.size));
    return id;
  };
  const plans: Array<{ list: Rule[]; slotsByLiteral: Map<number, number[]>; mode: Uint8Array }> = [];
  for (const list of byPipeline(conditionsOf.keys()).values()) {
    const size = list.length;
    const slotsByLiteral = new Map<number, number[]>();
    const add = (lit: string, slot: number): void => {
      const id = idOf(lit.length > MAX_LITERAL ? lit.slice(0, MAX_LITERAL) : lit);
      let slots = slotsByLiteral.get(id);
      if (slots === undefined) slotsByLiteral.set(id, (slots = []));
      if (slots[slots.length - 1] !== slot) slots.push(slot);
    };
    const mode = new Uint8Array(size);
    list.forEach((rule, slot) => {
      const c = conditionsOf.get(rule)!;
      if (rule.operator.prefilterPhrases !== undefined) stats.phraseRules++;
      if (c.any !== null) for (const lit of c.any) add(lit, slot);
      if (c.plain !== null) {
        for (const lit of c.plain) add(lit, size + slot);
        mode[slot] = c.any === null ? SPLIT_NO_ANY : SPLIT;
        stats.plainRules++;
      }
    });
    plans.push({ list, slotsByLiteral, mode });
  }
  if (plans.length === 0) return { rest, stats };
  const index = new LiteralIndex([...literalIds.keys()]);
  stats.literals = index.size;
  for (const { list, slotsByLiteral, mode } of plans) {
    const group = new LiteralGroup(firstId + stats.groups++, list.length, index, slotsByLiteral, mode);
    list.forEach((rule, i) => (rule.prefilter = { group, index: i }));
    stats.rules += list.length;
  }
  return { rest, stats };
}
