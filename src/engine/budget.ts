// How long one check may run: the caller's deadline (gRPC deadline, set by Envoy from its
// timeout) and/or a per-check CPU budget (max_check_ms). The rule loop asks `exhausted()` between
// rules, before the body processor and every ~16 KB of values inside a rule
// (Transaction.budgetSpent), so it must be cheap: one performance.now() and two compares.
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
}

export class CheckBudget implements Budget {
  readonly startedAt: number;
  private readonly deadlineAt: number;
  private readonly maxCheckAt: number;
  /** Set by the first exhausted() that returned true. */
  reason: BudgetReason | null = null;

  constructor(options: CheckBudgetOptions = {}) {
    this.startedAt = options.now ?? performance.now();
    this.deadlineAt = options.deadlineAt ?? Infinity;
    const max = options.maxCheckMs ?? 0;
    this.maxCheckAt = max > 0 ? this.startedAt + max : Infinity;
  }

  /** Whether any limit is set at all (an unbounded budget need not be passed to the engine). */
  get bounded(): boolean {
    return this.deadlineAt !== Infinity || this.maxCheckAt !== Infinity;
  }

  exhausted(): boolean {
    if (this.reason !== null) return true;
    const now = performance.now();
    if (now >= this.maxCheckAt) this.reason = 'max_check_ms';
    else if (now >= this.deadlineAt) this.reason = 'deadline';
    return this.reason !== null;
  }

  /** ms since construction. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}
