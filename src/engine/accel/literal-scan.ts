// The literal index's scan: one pass over a value through a complete transition table (every
// state has a row, fail links resolved: one table load per byte), with the rare-byte test
// (rare-bytes.ts) fused in — each byte's class carries a rare flag, ORed along the way. It reports
// per value each distinct phrase the automaton outputs once; every phrase along that phrase's
// suffix chain (AhoCorasick.suffixPhrase) occurs too, and the caller accounts for them in one
// precomputed record per head instead of walking the chain per position.
//
// When the states do not fit 16 bits (or the table would be too large), it falls back to the
// automaton's own bounded layout (AhoCorasick.collect, which reports every phrase) and a separate
// rare-byte pass: the same heads contract, since a reported phrase's suffixes are reported too.
import { AhoCorasick, type DenseAutomaton } from '../../operators/aho-corasick.js';
import { hasRareByte } from './rare-bytes.js';

/** Bits of a class entry that are the class; above them the rare flag. */
const CLASS_MASK = 0x1ff;
const RARE_SHIFT = 9;

export interface LiteralScanOptions {
  /** Use the complete table when it fits (default true); false forces the fallback (tests). */
  dense?: boolean;
}

export class LiteralScan {
  private readonly classes: number;
  /** Per byte: its class, plus 1 << RARE_SHIFT when the byte is rare. */
  private readonly classOf: Uint16Array;
  private readonly table: Uint16Array | null;
  private readonly output: Int32Array;
  /** Per phrase: the scan generation that last reported it (no clearing between scans). */
  private readonly stamp: Int32Array;
  private generation = 0;
  /** The fallback's automaton and scratch (null with the dense table, which keeps only what it reads). */
  private readonly ac: AhoCorasick | null;
  private readonly seen: Uint8Array | null;

  constructor(ac: AhoCorasick, rare: Uint8Array, options: LiteralScanOptions = {}) {
    const dense: DenseAutomaton | null = options.dense === false ? null : ac.denseAutomaton();
    const phrases = ac.phrases.length;
    if (dense !== null) {
      this.classes = dense.classes;
      this.table = dense.table;
      this.output = dense.output;
      this.classOf = new Uint16Array(256);
      for (let b = 0; b < 256; b++) this.classOf[b] = dense.classOf[b]! | (rare[b] === 1 ? 1 << RARE_SHIFT : 0);
      this.stamp = new Int32Array(phrases);
      this.ac = null;
      this.seen = null;
    } else {
      this.classes = 0;
      this.table = null;
      this.output = new Int32Array(0);
      this.classOf = new Uint16Array(0);
      this.stamp = new Int32Array(0);
      this.ac = ac;
      this.seen = new Uint8Array(phrases);
    }
  }

  /** Whether the complete table is in use. */
  get dense(): boolean {
    return this.table !== null;
  }

  /**
   * Scans `input`: appends to `heads` each distinct reported phrase (its suffix chain occurs too).
   * Returns -1 when the input holds a char above 0xff (not a byte string: no answer), else
   * `count * 2 + rare` where rare = 1 when some byte is rare.
   */
  scan(input: string, heads: Int32Array): number {
    const table = this.table;
    if (table === null) return this.scanFallback(input, heads);
    const classOf = this.classOf;
    const output = this.output;
    const stamp = this.stamp;
    const classes = this.classes;
    let gen = this.generation + 1;
    if (gen === 0x7fffffff) {
      stamp.fill(0);
      gen = 1;
    }
    this.generation = gen;
    let n = 0;
    let s = 0;
    let flags = 0;
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c > 0xff) return -1;
      const k = classOf[c]!;
      flags |= k;
      s = table[s * classes + (k & CLASS_MASK)]!;
      const p = output[s]!;
      if (p >= 0 && stamp[p] !== gen) {
        stamp[p] = gen;
        heads[n++] = p;
      }
    }
    return (n << 1) | ((flags >>> RARE_SHIFT) & 1);
  }

  private scanFallback(input: string, heads: Int32Array): number {
    const seen = this.seen!;
    const n = this.ac!.collect(input, seen, heads);
    if (n < 0) return -1;
    for (let k = 0; k < n; k++) seen[heads[k]!] = 0;
    return (n << 1) | (hasRareByte(input) ? 1 : 0);
  }
}
