// What a transaction has worked out about one distinct string: its transformed forms (per pipeline
// node, as memos of their own) and its prefilter answers (per answer cache slot). One Map lookup
// finds a string's memo; everything after it is array indexing, so rules, phases and pipelines
// that see the same string never repeat a transformation or a prefilter pass, and a
// transformation that is an identity on the string leads back to the same memo (and its answers);
// one the string's char classes show to be an identity is not even called.
export class ValueMemo {
  /** Per TransformNode id: the memo of this string after that node; filled on first use. */
  out: Array<ValueMemo | undefined> | null = null;
  /** The answer of HOT_CACHE_SLOT, every literal group's (null: none, run the operator); undefined until asked. */
  answer0: Uint32Array | null | undefined = undefined;
  /**
   * A memo whose string differs from this one only in ASCII letters' case (this one came from it
   * through t:lowercase or t:uppercase), or null. The hot slot's answer (the literal automaton
   * folds ASCII case) is the same for both, so it is asked of that memo.
   */
  caseTwin: ValueMemo | null = null;
  /** Per further PrefilterGroup.cacheSlot: the answer for this string. */
  answers: Array<Uint32Array | null | undefined> | null = null;
  /** The char classes of the string (transformations/identity.ts); 0 until first needed. */
  sig = 0;

  constructor(readonly value: string) {}
}
