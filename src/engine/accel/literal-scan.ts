// The literal index's scan: one pass over a value through a complete transition table (every
// state has a row, fail links resolved: one table load per byte), with the rare-byte test
// (rare-bytes.ts) fused in — each byte's class carries a rare flag, ORed along the way.
//
// What it reports per value: each distinct key of the phrases the automaton outputs. A phrase's
// output stands for its whole suffix chain (AhoCorasick.suffixPhrase: every phrase along it occurs
// too), so the caller gives each phrase one key for what the chain means to it, and phrases whose
// chains mean the same share a key — fewer reports than phrases, and no chain walk per position.
// Without keys, the key of a phrase is the phrase itself.
//
// When the states do not fit 16 bits (or the table would be too large), it falls back to the
// automaton's own bounded layout (AhoCorasick.collect, which reports every phrase occurring) and a
// separate rare-byte pass: the same contract, since a reported phrase's suffixes are reported too.
import type { AhoCorasick, DenseAutomaton } from '../../operators/aho-corasick.js';
import { hasRareByte } from './rare-bytes.js';

/** Bits of a class entry that are the class; above them the rare flag. */
const CLASS_MASK = 0x1ff;
const RARE_SHIFT = 9;

export interface LiteralScanOptions {
  /** Use the complete table when it fits (default true); false forces the fallback (tests). */
  dense?: boolean;
}

export interface LiteralKeys {
  /** Per phrase (AhoCorasick.phrases order): the key reported for its chain, or -1 for none. */
  keyOf: Int32Array;
  /** Keys are 0 .. count - 1. */
  count: number;
}

export class LiteralScan {
  private readonly classes: number;
  /** Per byte: its class, plus 1 << RARE_SHIFT when the byte is rare. */
  private readonly classOf: Uint16Array;
  private readonly table: Uint16Array | null;
  /** Per state of the table: the key of the phrase output there, or -1. */
  private readonly keyAt: Int32Array;
  /** Per key: the scan generation that last reported it (no clearing between scans). */
  private readonly stamp: Int32Array;
  private generation = 0;
  /** The fallback's automaton, key map and scratch (null with the dense table, which keeps only what it reads). */
  private readonly ac: AhoCorasick | null;
  private readonly keyOf: Int32Array | null;
  private readonly seen: Uint8Array | null;
  private readonly found: Int32Array | null;

  constructor(ac: AhoCorasick, rare: Uint8Array, keys: LiteralKeys | null = null, options: LiteralScanOptions = {}) {
    const phrases = ac.phrases.length;
    const keyOf = keys?.keyOf ?? Int32Array.from({ length: phrases }, (_, p) => p);
    if (keyOf.length !== phrases) throw new Error(`literal scan: ${keyOf.length} keys for ${phrases} phrases`);
    this.stamp = new Int32Array(keys?.count ?? phrases);
    const dense: DenseAutomaton | null = options.dense === false ? null : ac.denseAutomaton();
    if (dense !== null) {
      this.classes = dense.classes;
      this.table = dense.table;
      this.keyAt = dense.output.map((p) => (p < 0 ? -1 : keyOf[p]!));
      this.classOf = new Uint16Array(256);
      for (let b = 0; b < 256; b++) this.classOf[b] = dense.classOf[b]! | (rare[b] === 1 ? 1 << RARE_SHIFT : 0);
      this.ac = null;
      this.keyOf = null;
      this.seen = null;
      this.found = null;
    } else {
      this.classes = 0;
      this.table = null;
      this.keyAt = new Int32Array(0);
      this.classOf = new Uint16Array(0);
      this.ac = ac;
      this.keyOf = keyOf;
      this.seen = new Uint8Array(phrases);
      this.found = new Int32Array(phrases);
    }
  }

  /** Whether the complete table is in use. */
  get dense(): boolean {
    return this.table !== null;
  }

  /**
   * Scans `input`: appends to `keys` each distinct key reported (room for every key needed).
   * Returns -1 when the input holds a char above 0xff (not a byte string: no answer), else
   * `count * 2 + rare` where rare = 1 when some byte is rare.
   */
  scan(input: string, keys: Int32Array): number {
    const table = this.table;
    if (table === null) return this.scanFallback(input, keys);
    const classOf = this.classOf;
    const keyAt = this.keyAt;
    const stamp = this.stamp;
    const classes = this.classes;
    const gen = this.nextGeneration();
    let n = 0;
    let s = 0;
    let flags = 0;
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c > 0xff) return -1;
      const k = classOf[c]!;
      flags |= k;
      s = table[s * classes + (k & CLASS_MASK)]!;
      const key = keyAt[s]!;
      if (key >= 0 && stamp[key] !== gen) {
        stamp[key] = gen;
        keys[n++] = key;
      }
    }
    return (n << 1) | ((flags >>> RARE_SHIFT) & 1);
  }

  private nextGeneration(): number {
    let gen = this.generation + 1;
    if (gen === 0x7fffffff) {
      this.stamp.fill(0);
      gen = 1;
    }
    return (this.generation = gen);
  }

  private scanFallback(input: string, keys: Int32Array): number {
    const seen = this.seen!;
    const found = this.found!;
    const count = this.ac!.collect(input, seen, found);
    if (count < 0) return -1;
    const keyOf = this.keyOf!;
    const stamp = this.stamp;
    const gen = this.nextGeneration();
    let n = 0;
    for (let k = 0; k < count; k++) {
      const p = found[k]!;
      seen[p] = 0;
      const key = keyOf[p]!;
      if (key >= 0 && stamp[key] !== gen) {
        stamp[key] = gen;
        keys[n++] = key;
      }
    }
    return (n << 1) | (hasRareByte(input) ? 1 : 0);
  }
}
