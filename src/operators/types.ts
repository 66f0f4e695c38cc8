// Contract between the rule engine and operators.
// Operators are compiled once at rule-load time (factory) and evaluated per value on the hot path.

/** The part of a transaction an operator may touch. */
export interface OperatorTx {
  /** True when the rule carries the `capture` action: matching operators then fill TX:0..9. */
  readonly captureEnabled: boolean;
  /** Store capture group `index` (0 = whole match) as TX:<index>. */
  setCapture(index: number, value: string): void;
}

export interface OperatorInit {
  /** Canonical lower-case operator name ("rx", "pm", ...). */
  name: string;
  /** The raw argument as written in the rule (macros not expanded). */
  arg: string;
  /** Non-null when `arg` contains `%{...}` macros: expands it against the running transaction. */
  expand: ((tx: OperatorTx) => string) | null;
  /** Directory of the rule file, for pmFromFile/ipMatchFromFile relative paths. */
  baseDir: string;
  /** Engine-level options that affect compilation (e.g. regex fallback allow-list). */
  options: OperatorCompileOptions;
  /** Rule id, for error messages and per-rule options (0 when unknown). */
  ruleId: number;
}

export interface OperatorCompileOptions {
  /** Rule ids for which a regex RE2 rejects may fall back to V8 RegExp (issue 5). */
  regexFallbackRuleIds?: ReadonlySet<number>;
  /** Load-time warnings (e.g. a regex using the V8 fallback); default: process warnings. */
  warn?: (message: string) => void;
}

/** A compiled operator. `input` is a byte string (one char per byte, latin1). */
export interface Operator {
  evaluate(tx: OperatorTx, input: string): boolean;
  /**
   * For a static @rx compiled by RE2: the RE2 pattern (flags 's'). The engine may batch such
   * patterns into one RE2.Set per transformation pipeline and skip `evaluate` when the set
   * reports no match — a pure optimisation, `evaluate` stays the reference.
   */
  readonly prefilterPattern?: string;
  /**
   * For a static @pm / @pmFromFile: its phrases. It matches exactly when one occurs (ASCII case
   * folded), so the engine's literal prefilter may skip `evaluate` when none does.
   */
  readonly prefilterPhrases?: readonly string[];
  /**
   * Literals one of which occurs (ASCII case folded) in every input the operator matches: a
   * necessary condition only, so the engine's literal prefilter may skip `evaluate` when none does.
   */
  readonly prefilterRequired?: readonly string[];
}

/** Builds an operator at load time; throws an Error with a clear message for a bad argument. */
export type OperatorFactory = (init: OperatorInit) => Operator;
