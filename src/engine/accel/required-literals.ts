// Necessary conditions for a regex to match: a set of literals at least one of which occurs in
// every string the pattern matches. The prefilter may then skip the regex for a value that contains
// none of them; it never decides a match. Literals are ASCII and lower-cased (the prefilter folds
// the value's ASCII letters too, which only makes it say "maybe" more often), so case-insensitive and
// case-sensitive patterns share one automaton. Any doubt (a character above 0x7f under (?i), a set too large
// to enumerate, syntax the parser does not know) gives "no condition".
import { parseRegex, UnsupportedSyntax, type Node } from './regex-syntax.js';

/** Largest set of exact strings kept for a node (bounds cross products). */
const MAX_EXACT = 64;
/** Largest class enumerated as single characters. */
const MAX_CLASS_CHARS = 16;
/** Largest literal set we accept as a condition (beyond that the rule is not worth filtering). */
const MAX_REQUIRED = 4000;

interface Info {
  /** The node matches no string at all (only under an alphabet restriction). */
  never?: true;
  /** Every string the node can match (folded), when finite and small; else null. */
  exact: Set<string> | null;
  /** Literals one of which every match contains (none empty), or null when unknown. */
  required: Set<string> | null;
}

/**
 * The required literals of an RE2 pattern (as compiled with flags 's'), or null when no sound
 * condition could be derived.
 */
export function requiredLiterals(pattern: string): string[] | null {
  return literalConditions(pattern).any;
}

export interface LiteralConditions {
  /** Required literals for any value; null = no condition. */
  any: string[] | null;
  /**
   * Required literals for values made of bytes outside `excluded` only (and no char above 0xff);
   * [] = the pattern cannot match such a value at all; null = nothing sharper than `any`.
   */
  plain: string[] | null;
}

/**
 * The literal conditions of an RE2 pattern (as compiled with flags 's'): for every value, and,
 * when `excluded` is given, for values without any of the excluded bytes (see rare-bytes.ts).
 */
export function literalConditions(pattern: string, excluded: Uint8Array | null = null): LiteralConditions {
  const key = excluded ?? NO_EXCLUSION;
  let memo = memos.get(key);
  if (memo === undefined) memos.set(key, (memo = new Map()));
  let c = memo.get(pattern);
  if (c === undefined) {
    if (memo.size >= MAX_MEMO) memo.clear();
    c = analysePattern(pattern, excluded);
    if (c.any !== null) Object.freeze(c.any);
    if (c.plain !== null) Object.freeze(c.plain);
    memo.set(pattern, Object.freeze(c));
  }
  return c;
}

/**
 * Conditions already derived in this process, per exclusion table and pattern: compiling the same
 * rules again (a reload, one engine per namespace's settings) skips the analysis (~110 ms for CRS
 * v4). The patterns and literals are strings the compiled rules and prefilters hold anyway; the
 * results are frozen and only ever read. Bounded.
 */
const memos = new WeakMap<Uint8Array, Map<string, LiteralConditions>>();
const NO_EXCLUSION = new Uint8Array(0);
const MAX_MEMO = 10_000;

function analysePattern(pattern: string, excluded: Uint8Array | null): LiteralConditions {
  let node: Node;
  try {
    node = parseRegex(pattern);
  } catch (e) {
    if (e instanceof UnsupportedSyntax) return { any: null, plain: null };
    throw e;
  }
  const any = condition(analyse(node, null));
  if (excluded === null) return { any, plain: null };
  const info = analyse(node, excluded);
  if (info.never === true) return { any, plain: [] };
  const plain = condition(info);
  if (plain === null || (any !== null && !better(new Set(plain), new Set(any)))) return { any, plain: null };
  return { any, plain };
}

function condition(info: Info): string[] | null {
  const set = best(info);
  if (set === null || set.size > MAX_REQUIRED) return null;
  return [...minimal(set)];
}

/** Drops literals that contain another literal of the set (the shorter one occurs whenever they do). */
function minimal(set: Set<string>): Set<string> {
  const sorted = [...set].sort((a, b) => a.length - b.length);
  const kept = new Set<string>();
  const lengths: number[] = []; // distinct lengths of kept literals, ascending
  for (const s of sorted) {
    // Look up each substring of s of a kept length (literals are short: cheaper than scanning kept).
    let contained = false;
    for (let li = 0; li < lengths.length && !contained; li++) {
      const len = lengths[li]!;
      if (len === s.length) break; // a distinct literal of the same length cannot be inside s
      for (let i = 0; i + len <= s.length; i++) {
        if (kept.has(s.slice(i, i + len))) {
          contained = true;
          break;
        }
      }
    }
    if (contained) continue;
    kept.add(s);
    if (lengths[lengths.length - 1] !== s.length) lengths.push(s.length);
  }
  return kept;
}

const NOTHING: Info = { exact: null, required: null };
const NEVER: Info = { never: true, exact: null, required: null };

/**
 * `excluded`: analyse the pattern as if values held none of these bytes and no char above 0xff
 * (a set left without characters then matches nothing); null = any value.
 */
function analyse(node: Node, excluded: Uint8Array | null): Info {
  switch (node.kind) {
    case 'empty':
      return { exact: new Set(['']), required: null };
    case 'any':
      return NOTHING;
    case 'set':
      if (excluded !== null && isEmptyWithout(node, excluded)) return NEVER;
      return { exact: setChars(node, excluded), required: null };
    case 'concat': {
      const items = node.items.map((n) => analyse(n, excluded));
      return items.some((i) => i.never === true) ? NEVER : concat(items);
    }
    case 'alt': {
      const items = node.items.map((n) => analyse(n, excluded)).filter((i) => i.never !== true);
      return items.length === 0 ? NEVER : alternation(items);
    }
    case 'repeat': {
      const item = analyse(node.item, excluded);
      if (item.never === true) return node.min === 0 ? { exact: new Set(['']), required: null } : NEVER;
      return repeat(item, node.min, node.max);
    }
  }
}

/** Whether a set has no character left once `excluded` bytes (and every char above 0xff) are gone. */
function isEmptyWithout(node: Extract<Node, { kind: 'set' }>, excluded: Uint8Array): boolean {
  const c = node.single;
  if (c !== undefined) {
    // The loops below for a one-byte set (most nodes: every literal character), without 2×256 steps.
    if (!excluded[c]) return false;
    if (!node.fold || c < 0x41 || c > 0x7a) return true;
    return excluded[c <= 0x5a ? c | 0x20 : c & ~0x20] === 1;
  }
  for (let c = 0; c < 256; c++) {
    if (!node.chars[c] || excluded[c]) continue;
    // Under (?i) a letter also matches its other case; excluded bytes are never letters, but be exact.
    return false;
  }
  if (node.fold) {
    for (let c = 0x41; c <= 0x7a; c++) {
      if (!node.chars[c]) continue;
      const other = c <= 0x5a ? c | 0x20 : c & ~0x20;
      if (!excluded[other]) return false;
    }
  }
  return true;
}

/** The characters of a one-character set as folded strings, or null when not enumerable as ASCII. */
function setChars(node: Extract<Node, { kind: 'set' }>, excluded: Uint8Array | null): Set<string> | null {
  if (node.wide && excluded === null) return null; // (under a restriction, chars above 0xff do not occur)
  const c = node.single;
  if (c !== undefined) {
    // The loop below for a one-byte set, without its 256 steps.
    if (excluded !== null && excluded[c] && !(node.fold && isLetter(c))) return null;
    if (c >= 0x80 && node.fold) return null;
    return singleton(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  const out = new Set<string>();
  for (let c = 0; c < 256; c++) {
    if (!node.chars[c]) continue;
    // An excluded byte cannot occur; under (?i) a letter still matches its other case, so keep letters.
    if (excluded !== null && excluded[c] && !(node.fold && isLetter(c))) continue;
    // Above 0x7f only without (?i): the automaton folds ASCII only, RE2 folds more (é/É).
    if (c >= 0x80 && node.fold) return null;
    out.add(String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c));
    if (out.size > MAX_CLASS_CHARS) return null;
  }
  return out.size === 0 ? null : out;
}

/**
 * The one-string exact set of a byte, shared: sets handed between the functions below are never
 * changed once made (alternation and minimal build new ones).
 */
const SINGLETONS: Array<Set<string> | undefined> = new Array(256);

function singleton(c: number): Set<string> {
  return (SINGLETONS[c] ??= new Set([String.fromCharCode(c)]));
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function cross(a: Set<string>, b: Set<string>): Set<string> | null {
  if (a.size * b.size > MAX_EXACT) return null;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

/** A usable condition: non-empty and without the empty string (which every value contains). */
function usable(set: Set<string> | null): Set<string> | null {
  return set === null || set.size === 0 || set.has('') ? null : set;
}

/** Selectivity score: longer shortest literal first, then fewer literals. */
function better(a: Set<string>, b: Set<string> | null): boolean {
  if (b === null) return true;
  const la = shortest(a);
  const lb = shortest(b);
  if (la !== lb) return la > lb;
  return a.size < b.size;
}

function shortest(set: Set<string>): number {
  let n = Infinity;
  for (const s of set) if (s.length < n) n = s.length;
  return n;
}

function best(info: Info): Set<string> | null {
  const e = usable(info.exact);
  const r = usable(info.required);
  if (e === null) return r;
  if (r === null) return e;
  return better(e, r) ? e : r;
}

function concat(items: Info[]): Info {
  let chosen: Set<string> | null = null;
  const consider = (s: Set<string> | null): void => {
    const u = usable(s);
    if (u !== null && better(u, chosen)) chosen = u;
  };
  // `run` is the cross product of the current run of consecutive exact items: every match contains
  // one of its strings as a substring. An item that is not exact (or would overflow) ends the run.
  let run: Set<string> = new Set(['']);
  let allExact = true;
  for (let k = 0; k < items.length; k++) {
    const item = items[k]!;
    if (run.size === 1 && item.exact !== null && item.exact.size === 1) {
      // A run of one-string items (a literal word): what cross() would give step by step, built
      // as one string instead of a set and a string per character.
      let s = only(run);
      for (; k < items.length && items[k]!.exact !== null && items[k]!.exact!.size === 1; k++) s += only(items[k]!.exact!);
      k--;
      run = new Set([s]);
      continue;
    }
    if (item.exact !== null) {
      const next = cross(run, item.exact);
      if (next !== null) {
        run = next;
        continue;
      }
      allExact = false;
      consider(run);
      run = item.exact;
      consider(item.required);
      continue;
    }
    allExact = false;
    consider(run);
    run = new Set(['']);
    consider(item.required);
  }
  consider(run);
  return { exact: allExact ? run : null, required: chosen };
}

/** The one string of a one-string set. */
function only(set: Set<string>): string {
  for (const s of set) return s;
  throw new Error('empty set');
}

function alternation(items: Info[]): Info {
  let exact: Set<string> | null = new Set();
  let required: Set<string> | null = new Set();
  for (const item of items) {
    if (exact !== null) {
      if (item.exact === null) exact = null;
      else {
        for (const s of item.exact) exact.add(s);
        if (exact.size > MAX_EXACT) exact = null;
      }
    }
    if (required !== null) {
      const b = best(item);
      if (b === null) required = null;
      else for (const s of b) required.add(s);
    }
  }
  return { exact, required };
}

function repeat(item: Info, min: number, max: number): Info {
  if (min === 0) {
    // x? keeps a small exact set (with ""); x* and x{0,n} say nothing useful.
    if (max === 1 && item.exact !== null) return { exact: new Set([...item.exact, '']), required: null };
    return NOTHING;
  }
  let exact: Set<string> | null = null;
  if (item.exact !== null && max === min && min <= 4) {
    exact = new Set(['']);
    for (let k = 0; k < min && exact !== null; k++) exact = cross(exact, item.exact);
  }
  // At least one copy of the item occurs, so its own condition holds; with min ≥ 2, `min` copies
  // in a row do, so (for an exact item) one of the strings of its min-fold product is required too:
  // \.{2,3} requires "..", not just ".".
  let required = best(item);
  if (item.exact !== null && min >= 2) {
    let copies: Set<string> | null = new Set(['']);
    for (let k = 0; k < Math.min(min, MAX_COPIES) && copies !== null; k++) copies = crossUpTo(copies, item.exact, MAX_REPEAT_PRODUCT);
    const u = usable(copies);
    if (u !== null && better(u, required)) required = u;
  }
  return { exact, required };
}

/** Copies of a repeated item multiplied out for its required literals, and the largest product kept. */
const MAX_COPIES = 3;
const MAX_REPEAT_PRODUCT = 1024;

function crossUpTo(a: Set<string>, b: Set<string>, limit: number): Set<string> | null {
  if (a.size * b.size > limit) return null;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}
