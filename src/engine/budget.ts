// How long one check may run: the caller's deadline (gRPC deadline, set by Envoy from its
// timeout) and/or a per-check CPU budget (max_check_ms). The rule loop asks `exhausted()` between
// rules, before the body processor and every ~16 KB of values inside a rule
// (Transaction.budgetSpent): ~300 times per CRS check, so it must be cheap.
//
// CheckBudget therefore does not read the clock on every call (performance.now() is ~45 ns: ~14 µs,
// 7 % of a benign GET's engine time with CRS). After each reading it may answer the next `k` calls
// from that reading, where k is how many consultations at CLOCK_SAFETY times the pace measured since
// the previous reading still fit into the time left (at most CLOCK_STRIDE − 1). Near a limit k is 0
// and every call reads the clock, so a steady rule loop stops at the first consultation after the
// limit, as it did with a reading per call. The bound on overshoot: a limit is noticed late only if
// the consultations after a reading run more than CLOCK_SAFETY times slower than those before it,
// and then at most CLOCK_STRIDE − 1 consultations (rules, or ~16 KB stretches of values) late.
import { performance } from 'node:perf_hooks';

/** What Waf.evaluate consults; any object with this method works (tests use fakes). */
export interface Budget {
  /** True once the check must stop. */
  exhausted(): boolean;
}

/** Which limit ran out. */
export type BudgetReason = 'deadline' | 'max_check_ms';

/** Where an evaluation stopped because its budget ran out (reported in the Verdict). */
export interface BudgetStop {
  /** Rule the loop was about to evaluate; 0 = before the request body processor. */
  ruleId: number;
  phase: number;
}

export interface CheckBudgetOptions {
  /** Caller's deadline as a performance.now() timestamp; Infinity = none. */
  deadlineAt?: number;
  /** Longest the evaluation itself may take, ms from construction; 0 or absent = unbounded. */
  maxCheckMs?: number;
  /** performance.now() at construction (injectable for tests). */
  now?: number;
  /** The clock (injectable for tests); default performance.now. */
  clock?: () => number;
}

/** Most consultations answered from one clock reading. */
export const CLOCK_STRIDE = 16;
/** Calls are skipped only while the time left exceeds this many times their measured pace. */
export const CLOCK_SAFETY = 8;

const perfNow = (): number => performance.now();

export class CheckBudget implements Budget {
  readonly startedAt: number;
  private readonly deadlineAt: number;
  private readonly maxCheckAt: number;
  /** The earlier of the two limits. */
  private readonly limitAt: number;
  private readonly clock: () => number;
  /** Calls still answered from the last reading without reading the clock. */
  private skip = 0;
  /** Calls since the last reading (the reading's own call included). */
  private calls = 0;
  /** The last reading; NaN = none yet. */
  private readAt = NaN;
  /** Set by the first exhausted() that returned true. */
  reason: BudgetReason | null = null;
  /** Clock readings so far (for tests and the bench). */
  readings = 0;

  constructor(options: CheckBudgetOptions = {}) {
    this.clock = options.clock ?? perfNow;
    this.startedAt = options.now ?? this.clock();
    this.deadlineAt = options.deadlineAt ?? Infinity;
    const max = options.maxCheckMs ?? 0;
    this.maxCheckAt = max > 0 ? this.startedAt + max : Infinity;
    this.limitAt = Math.min(this.deadlineAt, this.maxCheckAt);
  }

  /** Whether any limit is set at all (an unbounded budget need not be passed to the engine). */
  get bounded(): boolean {
    return this.deadlineAt !== Infinity || this.maxCheckAt !== Infinity;
  }

  exhausted(): boolean {
    if (this.reason !== null) return true;
    this.calls++;
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    const now = this.clock();
    this.readings++;
    if (now >= this.maxCheckAt) this.reason = 'max_check_ms';
    else if (now >= this.deadlineAt) this.reason = 'deadline';
    if (this.reason !== null) return true;
    // The pace since the previous reading (the first reading has none, so it skips nothing).
    const prev = this.readAt;
    this.readAt = now;
    const calls = this.calls;
    this.calls = 0;
    if (prev !== prev || this.limitAt === Infinity) {
      // Unbounded budgets never stop; NaN: no pace yet.
      this.skip = this.limitAt === Infinity ? CLOCK_STRIDE - 1 : 0;
      return false;
    }
    const pace = (now - prev) / calls;
    const fit = pace > 0 ? Math.floor((this.limitAt - now) / (pace * CLOCK_SAFETY)) : CLOCK_STRIDE - 1;
    this.skip = fit < CLOCK_STRIDE - 1 ? fit : CLOCK_STRIDE - 1;
    return false;
  }

  /** ms since construction. */
  elapsedMs(): number {
    return this.clock() - this.startedAt;
  }
}
