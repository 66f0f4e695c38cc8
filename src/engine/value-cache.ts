// What one request's strings became, for Transaction: one memo per distinct string (its
// transformed forms and prefilter answers, value-memo.ts), per collection the memos of its entries
// by index, and per (prefilter group, collection) the union of the answers over its values
// (accel/rule-precheck.ts). Memos hold for the whole request; unions are dropped whenever a
// variable changes.
import type { KV, VariableDef, VariableSource } from '../variables/types.js';
import type { RuleSet } from './ruleset.js';
import type { TransformNode } from './transform-pipeline.js';
import { HOT_CACHE_SLOT, type PrefilterGroup } from './accel/prefilter-group.js';
import { ValueMemo } from './value-memo.js';
import { NON_ASCII, signature } from '../transformations/identity.js';

/** Collections with more values than this are unioned by signature (ValueCache.signatureBuckets); smaller ones value by value. */
const MIN_BUCKETED_VALUES = 8;

/** A stable collection's per-entry memos (ValueCache.entryMemos), valid while its entry array is the same. */
interface EntryMemos {
  readonly entries: readonly KV[];
  readonly memos: ValueMemo[];
  keysLower: string[] | null;
  /** ValueCache.generation when keysLower was made (a collection may change in place). */
  keysGeneration: number;
}

/** A collection's values grouped by signature (ValueCache.signatureBuckets). */
interface SignatureBuckets {
  /** Per entry, its memo (the collection's entry memo list, filled). */
  readonly memos: readonly ValueMemo[];
  /** The distinct signatures, and per signature the OR of its values' raw hot-slot answers and their entry indices. */
  readonly sigs: number[];
  readonly unions: Array<Uint32Array | null>;
  readonly members: number[][];
}

/** A small collection's values as one (ValueCache.rawUnion). */
interface RawUnion {
  /** The OR of the values' signatures. */
  readonly sigs: number;
  /** The OR of their raw hot-slot answers. */
  readonly union: Uint32Array | null;
}

/** ORs answers together: `none` while every answer was, null once one was null (no answer). */
class UnionBuilder {
  private acc: Uint32Array | null;
  private last: Uint32Array | null;
  /** Whether `acc` is our own copy (else it is an answer, shared and never written). */
  private owned = false;
  unknown = false;
  constructor(
    private readonly group: PrefilterGroup,
    /** OR every word, not only the group's (an answer the whole hot slot shares). */
    private readonly allWords = false,
  ) {
    this.acc = group.none;
    this.last = group.none;
  }

  add(h: Uint32Array | null): void {
    if (h === this.last || this.unknown) return;
    if (h === null) {
      this.unknown = true;
      this.acc = null;
      return;
    }
    this.last = h;
    let acc = this.acc!;
    if (acc === this.group.none) {
      this.acc = h; // a single distinct answer is the union itself
      return;
    }
    if (!this.owned) {
      this.acc = acc = acc.slice();
      this.owned = true;
    }
    const from = this.allWords ? 0 : this.group.wordFrom;
    const to = this.allWords ? h.length : this.group.wordTo; // only the group's bits are read
    for (let k = from; k < to; k++) acc[k] = acc[k]! | h[k]!;
  }

  result(): Uint32Array | null {
    return this.acc;
  }
}

export class ValueCache {
  /** Per distinct string: its transformed forms and prefilter answers. */
  private readonly memos = new Map<string, ValueMemo>();
  /** Per collection: the memos of its entries' values, by entry index (entryMemo checks them). */
  private readonly entryMemoLists = new Map<VariableDef, EntryMemos>();
  /** Pipeline nodes of the rule set: the length of a memo's transform array. */
  private readonly pipelineNodes: number;
  /** Acceleration on: transformations the char classes of a string show to be identities are skipped. */
  private readonly skipIdentities: boolean;
  /** Per (prefilter group, collection) union of answers; reset when any variable changes. */
  private ucache: Array<Uint32Array | null | undefined> = [];
  /** Per stable collection: its values by signature (unionAnswer); reset when any variable changes. */
  private readonly sigBuckets = new Map<VariableDef, SignatureBuckets>();
  /** Per stable collection of at most MIN_BUCKETED_VALUES values: its raw union (unionAnswer); reset when any variable changes. */
  private readonly rawUnions = new Map<VariableDef, RawUnion>();
  /** Counts variable changes (invalidate). */
  private generation = 0;

  constructor(
    /** The transaction whose collections the unions read. */
    private readonly source: VariableSource,
    ruleset: RuleSet,
  ) {
    this.pipelineNodes = ruleset.interner.size;
    this.skipIdentities = ruleset.acceleration?.enabled === true;
  }

  /** The memo of `value` (created on first use). */
  memo(value: string): ValueMemo {
    let m = this.memos.get(value);
    if (m === undefined) {
      m = new ValueMemo(value);
      this.memos.set(value, m);
    }
    return m;
  }

  private entryRecord(def: VariableDef, entries: readonly KV[]): EntryMemos {
    let rec = this.entryMemoLists.get(def);
    if (rec === undefined || rec.entries !== entries) {
      rec = { entries, memos: [], keysLower: null, keysGeneration: -1 };
      this.entryMemoLists.set(def, rec);
    }
    return rec;
  }

  /** The memos of a collection's entries, by index; read each through entryMemo. */
  entryMemos(def: VariableDef, entries: readonly KV[]): ValueMemo[] {
    return this.entryRecord(def, entries).memos;
  }

  /** The lower-cased keys of a (stable) collection's entries, by index, for keyed targets. */
  entryKeysLower(def: VariableDef, entries: readonly KV[]): readonly string[] {
    const rec = this.entryRecord(def, entries);
    if (rec.keysLower === null || rec.keysGeneration !== this.generation) {
      rec.keysLower = entries.map((kv) => kv.key.toLowerCase());
      rec.keysGeneration = this.generation;
    }
    return rec.keysLower;
  }

  /** The memo of entry `i` (`kv`) of a list from entryMemos; a value changed in place gets its own. */
  entryMemo(memos: ValueMemo[], i: number, kv: KV): ValueMemo {
    const m = memos[i];
    if (m !== undefined && m.value === kv.value) return m;
    const fresh = this.memo(kv.value);
    memos[i] = fresh;
    return fresh;
  }

  /**
   * The memo of `m`'s string after the transformations of `node`'s path (none: `m` itself), each
   * applied once per string; with acceleration on, not at all where the string's char classes show
   * it an identity.
   */
  through(m: ValueMemo, node: TransformNode | null): ValueMemo {
    if (node === null) return m;
    if (this.skipIdentities && (this.signature(m) & node.pathUnless) === 0) return m;
    let out = m.out;
    if (out === null) m.out = out = new Array<ValueMemo | undefined>(this.pipelineNodes);
    else {
      const hit = out[node.id];
      if (hit !== undefined) return hit;
    }
    const input = this.through(m, node.parent);
    const s = this.skipIdentities && (this.signature(input) & node.unless) === 0 ? input.value : node.fn(input.value);
    const r = s === input.value ? input : this.memo(s);
    if (node.caseOnly && r !== input && r.caseTwin === null && this.skipIdentities && (this.signature(input) & NON_ASCII) === 0) {
      // ASCII only: the two strings differ in letters' case alone (a non-ASCII one may lose chars
      // above 0xff on the way). Link to the end of input's chain (a memo without a twin, never r):
      // the links stay acyclic.
      let root = input;
      while (root.caseTwin !== null) root = root.caseTwin;
      if (root !== r) r.caseTwin = root;
    }
    out[node.id] = r;
    return r;
  }

  private signature(m: ValueMemo): number {
    let sig = m.sig;
    if (sig === 0) m.sig = sig = signature(m.value);
    return sig;
  }

  /** Applies a transformation pipeline, through the memos. */
  transform(node: TransformNode, value: string): string {
    return this.through(this.memo(value), node).value;
  }

  /** `group`'s answer for `m`'s string, computed once per string and cache slot; null = run every operator. */
  answer(group: PrefilterGroup, m: ValueMemo): Uint32Array | null {
    const slot = group.cacheSlot;
    if (slot === HOT_CACHE_SLOT) {
      // The literal groups' slot, asked for nearly every string: a field, not an array.
      const hit = m.answer0;
      if (hit !== undefined) return hit;
      const twin = m.caseTwin;
      return (m.answer0 = twin !== null ? this.answer(group, twin) : group.answer(m.value));
    }
    let answers = m.answers;
    if (answers === null) m.answers = answers = [];
    else {
      const hit = answers[slot];
      if (hit !== undefined) return hit;
    }
    const a = group.answer(m.value);
    answers[slot] = a;
    return a;
  }

  /** A variable changed: the unions and lower-cased keys may be stale (memos never are: they are per string). */
  invalidate(): void {
    this.generation++;
    if (this.ucache.length !== 0) this.ucache = [];
    if (this.sigBuckets.size !== 0) this.sigBuckets.clear();
    if (this.rawUnions.size !== 0) this.rawUnions.clear();
  }

  /**
   * The union (OR) of `group`'s answers over the values of `def`, each after `pipeline`: bit 1 when
   * the rule may match some value; null = no answer for some value. Cached until a variable changes,
   * so rules of one group reading one collection share one pass.
   */
  unionAnswer(slot: number, group: PrefilterGroup, pipeline: TransformNode | null, def: VariableDef): Uint32Array | null {
    const cached = this.ucache[slot];
    if (cached !== undefined) return cached;
    const entries = def.read(this.source);
    if (entries.length === 0) return (this.ucache[slot] = group.none);
    if (entries.length === 1) {
      // One value: its answer is the union (shared, never written).
      const m = this.entryMemo(this.entryMemos(def, entries), 0, entries[0]!);
      return (this.ucache[slot] = this.answer(group, this.through(m, pipeline)));
    }
    if (group.cacheSlot === HOT_CACHE_SLOT && this.skipIdentities && entries.length <= MIN_BUCKETED_VALUES) {
      // A pipeline none of the values' char classes can change: the union of the raw answers,
      // which every such group of the hot slot shares.
      const raw = this.rawUnion(def, group);
      if (pipeline === null || (raw.sigs & pipeline.pathUnless) === 0) return (this.ucache[slot] = raw.union);
    }
    const u = new UnionBuilder(group);
    if (group.cacheSlot === HOT_CACHE_SLOT && this.skipIdentities && entries.length > MIN_BUCKETED_VALUES) {
      // Values whose char classes make the pipeline an identity give their own (raw) answer: one
      // OR per distinct signature for those, a pipeline pass only for the others.
      const b = this.signatureBuckets(def, group);
      const mask = pipeline === null ? 0 : pipeline.pathUnless;
      for (let k = 0; k < b.sigs.length && !u.unknown; k++) {
        if ((b.sigs[k]! & mask) === 0) {
          u.add(b.unions[k]!);
          continue;
        }
        const members = b.members[k]!;
        for (let j = 0; j < members.length && !u.unknown; j++) u.add(this.answer(group, this.through(b.memos[members[j]!]!, pipeline)));
      }
    } else {
      const memos = this.entryMemos(def, entries);
      for (let i = 0; i < entries.length && !u.unknown; i++) {
        const m = this.entryMemo(memos, i, entries[i]!);
        u.add(this.answer(group, this.through(m, pipeline)));
      }
    }
    const acc = u.result();
    this.ucache[slot] = acc;
    return acc;
  }

  /**
   * The OR of `def`'s values' signatures and of their raw hot-slot answers (every group of that
   * slot shares them, `group` among them); kept until a variable changes.
   */
  private rawUnion(def: VariableDef, group: PrefilterGroup): RawUnion {
    let r = this.rawUnions.get(def);
    if (r !== undefined) return r;
    const entries = def.read(this.source);
    const memos = this.entryMemos(def, entries);
    const u = new UnionBuilder(group, true);
    let sigs = 0;
    for (let i = 0; i < entries.length; i++) {
      const m = this.entryMemo(memos, i, entries[i]!);
      sigs |= this.signature(m);
      u.add(this.answer(group, m));
    }
    r = { sigs, union: u.result() };
    this.rawUnions.set(def, r);
    return r;
  }

  /**
   * `def`'s values grouped by signature, with the OR of their raw answers in the hot slot (which
   * every group of that slot shares, `group` among them); kept until a variable changes.
   */
  private signatureBuckets(def: VariableDef, group: PrefilterGroup): SignatureBuckets {
    let b = this.sigBuckets.get(def);
    if (b !== undefined) return b;
    const entries = def.read(this.source);
    const memos = this.entryMemos(def, entries);
    const sigs: number[] = [];
    const unions: UnionBuilder[] = [];
    const members: number[][] = [];
    const index = new Map<number, number>();
    for (let i = 0; i < entries.length; i++) {
      const m = this.entryMemo(memos, i, entries[i]!);
      const sig = this.signature(m);
      let k = index.get(sig);
      if (k === undefined) {
        index.set(sig, (k = sigs.length));
        sigs.push(sig);
        unions.push(new UnionBuilder(group, true));
        members.push([]);
      }
      members[k]!.push(i);
      const u = unions[k]!;
      u.add(this.answer(group, m));
    }
    b = { memos, sigs, unions: unions.map((u) => u.result()), members };
    this.sigBuckets.set(def, b);
    return b;
  }
}
