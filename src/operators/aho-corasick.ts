// Aho-Corasick automaton over bytes, for @pm / @pmFromFile: finds whether any phrase occurs as a
// substring, in one pass over the input, whatever the number of phrases.
//
// Layout (built once at load time, read-only afterwards; the search allocates nothing):
//  - bytes are mapped to classes (one per byte some phrase holds, 0 for every other byte, which
//    always leads back to the root); the root and the states near it (depth ≤ DENSE_DEPTH, within a
//    size bound) have a dense row per class holding the complete transition, fail links resolved —
//    scanning text spends nearly all its steps there, one table load per byte;
//  - deeper states keep their children as a sorted run in shared typed arrays (edgeByte/edgeTarget),
//    searched linearly when short, by bisection when long, falling back along fail links to a
//    dense state;
//  - fail links as usual, plus `output[state]`: the phrase reported when the automaton is in that
//    state (its own phrase if it ends one, otherwise the nearest phrase along the fail chain).
// Case-insensitive mode folds ASCII letters only (C tolower() in the C locale, as ModSecurity).

const ROOT = 0;
const NONE = -1;
/** States this close to the root get dense rows ... */
const DENSE_DEPTH = 3;
/** ... unless the rows would exceed this many entries (then fewer levels). */
const MAX_DENSE_ENTRIES = 1 << 18;

/** ASCII lower-case folding table. */
const FOLD: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  return t;
})();

const IDENTITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = c;
  return t;
})();

/** `phrase` as the automaton's byte key: each char reduced to its byte, then folded by `fold`. */
function foldKey(phrase: string, fold: Uint8Array, caseInsensitive: boolean): string {
  // Pure ASCII (nearly every phrase): toLowerCase() folds exactly A-Z there, and no reduction applies.
  if (/^[\x00-\x7f]*$/.test(phrase)) return caseInsensitive ? phrase.toLowerCase() : phrase;
  let key = '';
  for (let i = 0; i < phrase.length; i++) key += String.fromCharCode(fold[phrase.charCodeAt(i) & 0xff]!);
  return key;
}

/**
 * The automaton as one complete transition table: a row for every state, fail links resolved, so a
 * scan makes one table load per byte and never walks fail links (see AhoCorasick.denseAutomaton).
 */
export interface DenseAutomaton {
  /** Number of byte classes (class 0: bytes no phrase holds). */
  readonly classes: number;
  /** Per byte (folded as the automaton folds): its class. */
  readonly classOf: Uint16Array;
  /** `state * classes + class` → next state (states numbered breadth first, root 0). */
  readonly table: Uint16Array;
  /** Per state: the phrase reported there (its own or the nearest along its fail chain), or -1. */
  readonly output: Int32Array;
}

export class AhoCorasick {
  /** The phrases, as given (duplicates after folding keep the first spelling). */
  readonly phrases: readonly string[];
  private readonly fold: Uint8Array;
  /** Per (folded) byte its class; 0 = no phrase holds it. */
  private readonly classOf = new Uint16Array(256);
  private readonly classes: number;
  /** Per state its dense row index, or NONE. */
  private readonly denseIndex: Int32Array;
  /** Dense rows: denseIndex[s] * classes + class → next state. */
  private readonly table: Int32Array;
  private readonly edgeStart: Int32Array; // per state: first edge index
  private readonly edgeCount: Int32Array; // per state: number of edges
  private readonly edgeByte: Uint8Array;
  private readonly edgeTarget: Int32Array;
  private readonly fail: Int32Array;
  private readonly output: Int32Array; // phrase index or NONE
  private readonly phraseState: Int32Array; // per phrase: the state where it ends
  /** Per phrase: the next phrase along the fail chain of the state where it ends (its longest proper suffix phrase), or NONE. */
  private readonly nextOutput: Int32Array;

  constructor(phrases: readonly string[], caseInsensitive = true) {
    this.fold = caseInsensitive ? FOLD : IDENTITY;
    const kept: string[] = [];

    // 1. Distinct phrases as folded byte keys (the first spelling is kept), in the given order.
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const phrase of phrases) {
      if (phrase.length === 0) continue; // ModSecurity ignores empty phrases
      const key = foldKey(phrase, this.fold, caseInsensitive);
      if (seen.has(key)) continue;
      seen.add(key);
      keys.push(key);
      kept.push(phrase);
    }
    this.phrases = kept;

    // 2. The trie, built from the keys in sorted order: each state's children are then created in
    // ascending byte order, so the edge runs come out sorted without per-state maps (large phrase
    // lists build in flat arrays, in time and memory linear in their size).
    const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
    const parent: number[] = [NONE];
    const byteOf: number[] = [0];
    const terminal: number[] = [NONE];
    const path: number[] = [ROOT];
    let prev = '';
    for (const idx of order) {
      const key = keys[idx]!;
      let d = 0;
      const lim = Math.min(prev.length, key.length);
      while (d < lim && prev.charCodeAt(d) === key.charCodeAt(d)) d++;
      for (let i = d; i < key.length; i++) {
        const st = parent.length;
        parent.push(path[i]!);
        byteOf.push(key.charCodeAt(i));
        terminal.push(NONE);
        path[i + 1] = st;
      }
      terminal[path[key.length]!] = idx;
      prev = key;
    }
    this.phraseState = new Int32Array(kept.length);
    for (let st = 0; st < terminal.length; st++) if (terminal[st] !== NONE) this.phraseState[terminal[st]!] = st;

    // 3. Flatten into edge runs (states were created parent before child, siblings in byte order).
    const states = parent.length;
    const edges = states - 1;
    this.edgeStart = new Int32Array(states);
    this.edgeCount = new Int32Array(states);
    this.edgeByte = new Uint8Array(edges);
    this.edgeTarget = new Int32Array(edges);
    for (let st = 1; st < states; st++) this.edgeCount[parent[st]!] = this.edgeCount[parent[st]!]! + 1;
    for (let st = 0, e = 0; st < states; st++) {
      this.edgeStart[st] = e;
      e += this.edgeCount[st]!;
    }
    const fill = new Int32Array(states);
    for (let st = 1; st < states; st++) {
      const p = parent[st]!;
      const e = this.edgeStart[p]! + fill[p]!;
      fill[p] = fill[p]! + 1;
      this.edgeByte[e] = byteOf[st]!;
      this.edgeTarget[e] = st;
    }
    // 4. Byte classes, depths and which states get a dense row.
    const classByte: number[] = [0];
    const used = new Uint8Array(256);
    for (let e = 0; e < edges; e++) used[this.edgeByte[e]!] = 1;
    for (let b = 0; b < 256; b++) {
      if (used[b] === 1) { // edge bytes are folded already
        this.classOf[b] = classByte.length;
        classByte.push(b);
      }
    }
    for (let b = 0; b < 256; b++) this.classOf[b] = this.classOf[this.fold[b]!]!;
    const classes = classByte.length;
    this.classes = classes;
    const depth = new Int32Array(states);
    for (let st = 1; st < states; st++) depth[st] = depth[parent[st]!]! + 1;
    let maxDepth = DENSE_DEPTH;
    const count = (d: number): number => {
      let n = 0;
      for (let st = 0; st < states; st++) if (depth[st]! <= d) n++;
      return n;
    };
    while (maxDepth > 0 && count(maxDepth) * classes > MAX_DENSE_ENTRIES) maxDepth--;
    this.denseIndex = new Int32Array(states).fill(NONE);
    let dense = 0;
    for (let st = 0; st < states; st++) if (depth[st]! <= maxDepth) this.denseIndex[st] = dense++;
    this.table = new Int32Array(dense * classes);

    // 5. Fail links, outputs and dense rows, breadth first (a state's fail target is shallower, so
    // its row is complete when the state's own row borrows from it).
    this.fail = new Int32Array(states);
    this.output = new Int32Array(states).fill(NONE);
    const queue = new Int32Array(states);
    let head = 0;
    let tail = 0;
    queue[tail++] = ROOT;
    while (head < tail) {
      const s = queue[head++]!;
      const d = this.denseIndex[s]!;
      if (d !== NONE) {
        const row = d * classes;
        const failRow = s === ROOT ? -1 : this.denseIndex[this.fail[s]!]! * classes;
        for (let c = 1; c < classes; c++) {
          const t = this.child(s, classByte[c]!);
          this.table[row + c] = t !== NONE ? t : s === ROOT ? ROOT : this.table[failRow + c]!;
        }
      }
      for (let e = this.edgeStart[s]!; e < this.edgeStart[s]! + this.edgeCount[s]!; e++) {
        const b = this.edgeByte[e]!;
        const t = this.edgeTarget[e]!;
        this.fail[t] = s === ROOT ? ROOT : this.step(this.fail[s]!, b);
        this.output[t] = terminal[t] !== NONE ? terminal[t]! : this.output[this.fail[t]!]!;
        queue[tail++] = t;
      }
    }
    this.nextOutput = new Int32Array(kept.length);
    for (let p = 0; p < kept.length; p++) this.nextOutput[p] = this.output[this.fail[this.phraseState[p]!]!]!;
  }

  /**
   * A complete transition table for every state (2 bytes per state and class; its own state
   * numbering, root 0), or null when the states do not fit 16 bits or the table would exceed
   * `maxEntries` entries. Built on request: the @pm operators keep their bounded layout.
   */
  denseAutomaton(maxEntries = 1 << 23): DenseAutomaton | null {
    const states = this.fail.length;
    const classes = this.classes;
    if (states > 0xffff || states * classes > maxEntries) return null;
    const table = new Uint16Array(states * classes);
    // States renumbered breadth first: the shallow states, where text spends nearly all its steps,
    // get the first rows (together in cache). And a state's fail target is shallower, so its row is
    // complete when borrowed.
    const queue = new Int32Array(states); // new number → state
    const renumbered = new Int32Array(states); // state → new number
    let head = 0;
    let tail = 0;
    queue[tail++] = ROOT;
    while (head < tail) {
      const s = queue[head]!;
      const row = head++ * classes;
      if (s !== ROOT) {
        const failRow = renumbered[this.fail[s]!]! * classes;
        table.copyWithin(row, failRow, failRow + classes);
      }
      for (let e = this.edgeStart[s]!; e < this.edgeStart[s]! + this.edgeCount[s]!; e++) {
        const t = this.edgeTarget[e]!;
        renumbered[t] = tail;
        table[row + this.classOf[this.edgeByte[e]!]!] = tail;
        queue[tail++] = t;
      }
    }
    const output = new Int32Array(states);
    for (let i = 0; i < states; i++) output[i] = this.output[queue[i]!]!;
    return { classes, classOf: this.classOf.slice(), table, output };
  }

  /** The phrase along the fail chain of the state where phrase `p` ends (its longest proper suffix phrase), or -1. */
  suffixPhrase(p: number): number {
    return this.nextOutput[p]!;
  }

  /** Child of `s` on byte `b`, or NONE (non-root states). */
  private child(s: number, b: number): number {
    const start = this.edgeStart[s]!;
    const count = this.edgeCount[s]!;
    if (count <= 8) {
      for (let e = start; e < start + count; e++) if (this.edgeByte[e] === b) return this.edgeTarget[e]!;
      return NONE;
    }
    let lo = start;
    let hi = start + count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.edgeByte[mid]!;
      if (v === b) return this.edgeTarget[mid]!;
      if (v < b) lo = mid + 1;
      else hi = mid - 1;
    }
    return NONE;
  }

  /** The automaton's transition (goto, following fail links) on folded byte `b`. */
  private step(s: number, b: number): number {
    const c = this.classOf[b]!;
    if (c === 0) return ROOT;
    for (;;) {
      const d = this.denseIndex[s]!;
      if (d !== NONE) return this.table[d * this.classes + c]!;
      const t = this.child(s, b);
      if (t !== NONE) return t;
      s = this.fail[s]!;
    }
  }

  /**
   * Index (into `phrases`) of the first phrase found: the one ending earliest in the input, the
   * longest when several end at the same byte. -1 when none occurs.
   */
  search(input: string): number {
    if (this.phrases.length === 0) return -1;
    const fold = this.fold;
    let s = ROOT;
    for (let i = 0; i < input.length; i++) {
      s = this.step(s, fold[input.charCodeAt(i) & 0xff]!);
      const out = this.output[s]!;
      if (out !== NONE) return out;
    }
    return -1;
  }

  /**
   * Every phrase that occurs in `input`: sets `seen[i] = 1` and appends i to `found` once per phrase
   * (callers clear `seen` through `found`). Returns how many were appended, or -1 when the input holds
   * a character above 0xff (not a byte string: the caller must not rely on the answer).
   */
  collect(input: string, seen: Uint8Array, found: Int32Array): number {
    const fold = this.fold;
    const output = this.output;
    const nextOutput = this.nextOutput;
    let n = 0;
    let s = ROOT;
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c > 0xff) {
        for (let k = 0; k < n; k++) seen[found[k]!] = 0; // leave the scratch clean for the next scan
        return -1;
      }
      s = this.step(s, fold[c]!);
      // Walk the outputs along the fail chain; stop at a phrase already seen (its suffixes were too).
      for (let p = output[s]!; p !== NONE && seen[p] === 0; p = nextOutput[p]!) {
        seen[p] = 1;
        found[n++] = p;
      }
    }
    return n;
  }

  /** The first phrase found (see search()), or undefined. */
  firstMatch(input: string): string | undefined {
    const i = this.search(input);
    return i < 0 ? undefined : this.phrases[i];
  }
}
