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
import { LiteralScan, type LiteralScanOptions } from './literal-scan.js';
import { RARE } from './rare-bytes.js';

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


/** Distinct answers kept for reuse (a power of two); answers repeat across the strings of requests. */
const INTERNED = 1024;

/** Whether a[aAt ..] and b[bAt ..] hold the same `n` words. */
function sameWords(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number, n: number): boolean {
  for (let w = 0; w < n; w++) if (a[aAt + w] !== b[bAt + w]) return false;
  return true;
}

/** A hash of the `n` words from words[at]. */
function hashWords(words: Uint32Array, at: number, n: number): number {
  let h = 0;
  for (let w = 0; w < n; w++) h = Math.imul(h ^ words[at + w]!, 0x9e3779b1) ^ (h >>> 15);
  return h;
}

/** The one automaton over every literal of a rule set's literal groups, and what each literal makes "maybe". */
export class LiteralIndex {
  private readonly scanner: LiteralScan;
  /** Scratch: the keys a scan reported. */
  private readonly keys: Int32Array;
  /** Scratch: the answer being ORed together. */
  private readonly acc: Uint32Array;
  /**
   * Per key, what a literal of that key and every literal along its suffix chain (all occur when
   * it does) make "maybe", as (word, mask) pairs: for values with rare bytes (their any-value
   * condition) and for plain values (their plain condition, or the any-value one when they have
   * none). Key k's pairs are pairs[start[k] .. start[k + 1]). Literals whose chains make the same
   * slots "maybe" share a key. Flat arrays: read for every key every scan reports.
   */
  private readonly rareStart: Int32Array;
  private readonly rarePairs: Int32Array;
  private readonly plainStart: Int32Array;
  private readonly plainPairs: Int32Array;
  /**
   * Answers given out, by hash of their words (a newer one replaces an older one on collision):
   * shared and never written, like every answer, so equal answers need not be allocated again.
   */
  private readonly interned: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(INTERNED).fill(undefined);
  /** Answers when no literal occurs (shared, never written): plain value, value with rare bytes. */
  readonly none: Uint32Array;
  private readonly noneRare: Uint32Array;

  /** `slotsByLiteral[i]`: literal i's slots, an any-value condition as `slot`, a plain one as `~slot`. */
  constructor(literals: readonly string[], slotsByLiteral: ReadonlyArray<readonly number[]>, mode: Uint8Array, options: LiteralScanOptions = {}) {
    const ac = new AhoCorasick(literals, true);
    if (ac.phrases.length !== literals.length) throw new Error('literal prefilter: literals must be distinct and folded');
    this.none = emptyAnswer(mode.length);
    this.noneRare = emptyAnswer(mode.length);
    mode.forEach((m, slot) => {
      if (m === SPLIT_NO_ANY) this.noneRare[slot >>> 5] |= 1 << (slot & 31);
    });
    const words = this.none.length;
    this.acc = new Uint32Array(words);
    // Each literal's own bits, for rare and for plain values (one row of 2 * words each).
    const own = new Uint32Array(literals.length * 2 * words);
    slotsByLiteral.forEach((slots, lit) => {
      for (const slot of slots) {
        // any-value condition: applies to rare values unless SPLIT_NO_ANY (always maybe there), and to plain values under ANY_ONLY
        const s = slot >= 0 ? slot : ~slot;
        const bit = 1 << (s & 31);
        if (slot >= 0 ? mode[s] !== SPLIT_NO_ANY : false) own[lit * 2 * words + (s >>> 5)] |= bit;
        if (slot >= 0 ? mode[s] === ANY_ONLY : true) own[(lit * 2 + 1) * words + (s >>> 5)] |= bit;
      }
    });
    // Per literal the union along its suffix chain, in place: shorter literals first, so a
    // literal's suffix (a shorter phrase) already holds its own chain's union.
    const row = 2 * words;
    const byLength: number[][] = [];
    literals.forEach((l, lit) => (byLength[l.length] ??= []).push(lit));
    for (const list of byLength) {
      if (list === undefined) continue;
      for (const lit of list) {
        const q = ac.suffixPhrase(lit);
        if (q >= 0) for (let w = 0; w < row; w++) own[lit * row + w] |= own[q * row + w]!;
      }
    }
    // Equal unions share one key (found by hash).
    const keyOf = new Int32Array(literals.length);
    const keyBits = new Uint32Array(literals.length * row); // per key its union (first `keys` rows used)
    const byHash = new Map<number, number[]>();
    let keys = 0;
    for (let lit = 0; lit < literals.length; lit++) {
      const at = keys * row; // the union, copied to the next free key row
      for (let w = 0; w < row; w++) keyBits[at + w] = own[lit * row + w]!;
      const h = hashWords(keyBits, at, row);
      if (h === 0 && keyBits.subarray(at, at + row).every((x) => x === 0)) {
        keyOf[lit] = -1; // makes nothing "maybe": not worth reporting
        continue;
      }
      let bucket = byHash.get(h);
      if (bucket === undefined) byHash.set(h, (bucket = []));
      let key = bucket.find((k) => sameWords(keyBits, k * row, keyBits, at, row));
      if (key === undefined) bucket.push((key = keys++));
      keyOf[lit] = key;
    }
    // Per key its (word, mask) pairs, for rare values (first half of its row) and plain ones.
    const pack = (half: number): { start: Int32Array; pairs: Int32Array } => {
      const start = new Int32Array(keys + 1);
      const pairs: number[] = [];
      for (let k = 0; k < keys; k++) {
        for (let w = 0; w < words; w++) {
          const m = keyBits[k * row + half + w]!;
          if (m !== 0) pairs.push(w, m | 0);
        }
        start[k + 1] = pairs.length;
      }
      return { start, pairs: Int32Array.from(pairs) };
    };
    ({ start: this.rareStart, pairs: this.rarePairs } = pack(0));
    ({ start: this.plainStart, pairs: this.plainPairs } = pack(words));
    this.scanner = new LiteralScan(ac, RARE, { keyOf, count: keys }, options);
    this.keys = new Int32Array(keys);
  }

  /** Whether the scan uses the complete transition table (else the automaton's bounded layout). */
  get denseScan(): boolean {
    return this.scanner.dense;
  }

  /** Every slot's answer for `value`; null when it is not a byte string. */
  answer(value: string): Uint32Array | null {
    const keys = this.keys;
    const r = this.scanner.scan(value, keys);
    if (r < 0) return null;
    const n = r >>> 1;
    const rare = (r & 1) === 1;
    const base = rare ? this.noneRare : this.none;
    if (n === 0) return base;
    const start = rare ? this.rareStart : this.plainStart;
    const pairs = rare ? this.rarePairs : this.plainPairs;
    const acc = this.acc;
    for (let w = 0; w < acc.length; w++) acc[w] = base[w]!;
    let touched = false;
    for (let k = 0; k < n; k++) {
      const key = keys[k]!;
      const to = start[key + 1]!;
      for (let j = start[key]!; j < to; j += 2) acc[pairs[j]!] |= pairs[j + 1]!;
      touched ||= start[key]! !== to;
    }
    return touched ? this.intern(acc) : base;
  }

  /** A shared answer equal to `acc`: one given out before, or a new copy (kept for next time). */
  private intern(acc: Uint32Array): Uint32Array {
    const h = hashWords(acc, 0, acc.length);
    // Two places per hash (slot, slot ^ 1): a newer answer displaces the older of the pair.
    const slot = (h ^ (h >>> 16)) & (INTERNED - 1);
    const interned = this.interned;
    const first = interned[slot];
    if (first !== undefined && sameWords(first, 0, acc, 0, acc.length)) return first;
    const second = interned[slot ^ 1];
    if (second !== undefined && sameWords(second, 0, acc, 0, acc.length)) return second;
    const copy = acc.slice();
    if (first !== undefined) interned[slot ^ 1] = first;
    interned[slot] = copy;
    return copy;
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

/** What a LiteralIndex is built from, and the rules by pipeline in slot order. */
interface LiteralTable {
  rest: Rule[];
  stats: LiteralPrefilterStats;
  lists: Rule[][];
  literals: string[];
  slotsByLiteral: number[][];
  mode: Uint8Array;
}

function literalTableOf(rules: Iterable<Rule>): LiteralTable {
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
  stats.literals = literalIds.size;
  return { rest, stats, lists, literals: [...literalIds.keys()], slotsByLiteral, mode };
}

/**
 * The literals, per literal its slots and per slot its mode, as buildLiteralPrefilters would give
 * `rules` (LiteralIndex's constructor arguments; no rule is changed). For tests that rebuild the index.
 */
export function literalIndexInputs(rules: Iterable<Rule>): { literals: string[]; slotsByLiteral: number[][]; mode: Uint8Array } {
  const { literals, slotsByLiteral, mode } = literalTableOf(rules);
  return { literals, slotsByLiteral, mode };
}

/**
 * Gives every rule link with required literals (or phrases) a slot in its pipeline's group; ids
 * start at `firstId`. Returns the @rx links left without a condition, in order, and what was built.
 */
export function buildLiteralPrefilters(rules: Iterable<Rule>, firstId: number): { rest: Rule[]; stats: LiteralPrefilterStats } {
  const { rest, stats, lists, literals, slotsByLiteral, mode } = literalTableOf(rules);
  if (lists.length === 0) return { rest, stats };
  const index = new LiteralIndex(literals, slotsByLiteral, mode);
  let slot = 0;
  for (const list of lists) {
    const group = new LiteralGroup(firstId + stats.groups++, index, slot, slot + list.length);
    for (const rule of list) rule.prefilter = { group, index: slot++ };
    stats.rules += list.length;
  }
  return { rest, stats };
}
