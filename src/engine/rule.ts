// A compiled rule (one link of a chain) and its evaluation against a transaction.
import type { Operator } from '../operators/types.js';
import type { VariableDef, KV } from '../variables/types.js';
import type { Macro } from './macro.js';
import type { Transaction } from './transaction.js';
import type { TransformNode } from './transform-pipeline.js';
import { maybe, type PrefilterSlot } from './accel/prefilter-group.js';
import type { ValueMemo } from './value-memo.js';

/** Whole-rule prefilter built by accel/rule-precheck.ts: false = no target value can match. */
export type RulePrecheck = (tx: Transaction) => boolean;

export type Disruptive = 'pass' | 'deny' | 'drop' | 'block' | 'allow' | 'redirect' | 'proxy';
export type AllowScope = 'all' | 'phase' | 'request';

/** Key test for exclusions and regex selectors. */
export interface KeyMatcher {
  test(key: string): boolean;
}

export interface Target {
  def: VariableDef;
  /** Literal key, lower-cased; null when the whole collection or a regex key. */
  keyLower: string | null;
  keyRegex: KeyMatcher | null;
  count: boolean;
  /** "ARGS" etc.; used for MATCHED_VAR_NAME. */
  name: string;
  /** The last matched-variable name built for a key (name:key), kept so TX:name and the like build it once. */
  lastKey: string;
  lastName: string;
}

export interface Exclusion {
  collection: string; // upper-case name
  keyLower: string | null; // null = the whole collection
  keyRegex: KeyMatcher | null;
}

/** Runs at match time; compiled from setvar/ctl/... actions. */
export type RuntimeAction = (tx: Transaction, rule: Rule) => void;

export class Rule {
  id = 0;
  phase = 2;
  file = '';
  line = 0;
  /** The chain starter that carries id/metadata; `this` for a starter. */
  head: Rule = this;
  chained = false;
  child: Rule | null = null;

  targets: Target[] = [];
  exclusions: Exclusion[] = [];
  operator!: Operator;
  operatorName = 'rx';
  operatorArg = '';
  negated = false;
  pipeline: TransformNode | null = null;
  /** Prefilter slot (literal automaton or RE2.Set) for a static @rx; see accel/. */
  prefilter: PrefilterSlot | null = null;
  /** Whole-rule prefilter (accel/rule-precheck.ts): false = no target value can match. */
  precheck: RulePrecheck | null = null;
  /** Per target: its union slot (ValueCache.unionAnswer) when prechecked as a whole collection, else -1. */
  unionSlots: Int32Array | null = null;
  multiMatch = false;
  capture = false;

  msg: Macro | null = null;
  logdata: Macro | null = null;
  tags: string[] = [];
  severity: number | null = null;
  ver = '';
  rev = '';
  maturity = '';
  accuracy = '';
  /** Explicit log/nolog; null = inherit from SecDefaultAction of the phase. */
  log: boolean | null = null;
  auditlog: boolean | null = null;
  disruptive: Disruptive | null = null;
  allowScope: AllowScope = 'all';
  status: number | null = null;
  redirect: Macro | null = null;
  skipAfter: string | null = null;
  skip = 0;

  perMatch: RuntimeAction[] = [];
  afterMatch: RuntimeAction[] = [];
  /** The entry list of a TX:name target (evaluate). */
  private readonly txEntry: KV[] = [NO_ENTRY];

  /**
   * Evaluates this link and, if it matches, the rest of the chain. Per-match actions (setvar)
   * run for every matching value as ModSecurity v3 does; after-match actions run only once the
   * whole chain has matched (children first, as in v3).
   */
  evaluate(tx: Transaction): boolean {
    tx.captureEnabled = this.capture;
    if (this.precheck !== null && !this.precheck(tx)) return false;
    const runtimeExcl = tx.runtimeExclusionsFor(this.head);
    let matched = false;
    const targets = this.targets;
    if (targets.length === 0) {
      // SecAction: no variables, one unconditional evaluation.
      matched = this.operator.evaluate(tx, '') !== this.negated;
      if (matched) for (let i = 0; i < this.perMatch.length; i++) this.perMatch[i]!(tx, this);
    }
    for (let t = 0; t < targets.length; t++) {
      const target = targets[t]!;
      if (target.count) {
        const n = String(this.countEntries(tx, target, runtimeExcl));
        if (this.pipeline === null && this.prefilter === null) {
          // &TX:name "@eq 0" and the like (CRS setup): nothing to transform or prefilter.
          if (this.matchValue(tx, target, null, n, this.operator.evaluate(tx, n))) matched = true;
        } else if (this.test(tx, target, null, tx.values.memo(n))) matched = true;
        continue;
      }
      const us = this.unionSlots;
      if (us !== null && us[t]! >= 0) {
        // A whole collection the precheck saw: its union answer, then per value the memos it filled.
        const pf = this.prefilter!;
        const union = tx.values.unionAnswer(us[t]!, pf.group, this.pipeline, target.def);
        if (union !== null && !maybe(union, pf.index)) continue;
        const entries = target.def.read(tx);
        const memos = tx.values.entryMemos(target.def, entries);
        for (let i = 0; i < entries.length; i++) {
          const kv = entries[i]!;
          const raw = tx.values.entryMemo(memos, i, kv);
          const m = tx.values.through(raw, this.pipeline);
          const h = tx.values.answer(pf.group, m);
          if (h !== null && !maybe(h, pf.index)) continue;
          if (target.keyRegex !== null && !target.keyRegex.test(kv.key)) continue;
          if (this.exclusions.length > 0 && excluded(this.exclusions, target.name, kv.key)) continue;
          if (runtimeExcl !== null && excluded(runtimeExcl, target.name, kv.key)) continue;
          if (tx.budget !== null && tx.budgetSpent(m.value.length)) return false;
          if (this.matchValue(tx, target, kv, m.value, this.operator.evaluate(tx, m.value))) matched = true;
        }
        continue;
      }
      let entries: readonly KV[];
      let memos: ValueMemo[] | null = null;
      let keys: readonly string[] | null = null;
      if (target.keyLower !== null && target.def.name === 'TX') {
        const kv = tx.txGet(target.keyLower);
        if (kv === undefined) entries = EMPTY;
        else {
          // One reusable list per rule: nothing runs this rule again while it iterates.
          this.txEntry[0] = kv;
          entries = this.txEntry;
        }
      } else {
        entries = target.def.read(tx);
        if (target.def.dynamic) {
          // Rules may modify it while we iterate (TX's read is a fresh list already).
          if (entries.length > 0 && target.def.name !== 'TX') entries = entries.slice();
        } else {
          memos = tx.values.entryMemos(target.def, entries);
          if (target.keyLower !== null) keys = tx.values.entryKeysLower(target.def, entries);
        }
      }
      for (let i = 0; i < entries.length; i++) {
        const kv = entries[i]!;
        if (target.keyLower !== null && target.def.name !== 'TX' && (keys === null ? kv.key.toLowerCase() : keys[i]) !== target.keyLower) continue;
        if (target.keyRegex !== null && !target.keyRegex.test(kv.key)) continue;
        if (this.exclusions.length > 0 && excluded(this.exclusions, target.name, kv.key)) continue;
        if (runtimeExcl !== null && excluded(runtimeExcl, target.name, kv.key)) continue;
        // The budget is consulted per value too: one rule over a hostile body can be long.
        if (tx.budget !== null && tx.budgetSpent(kv.value.length)) return false;
        if (this.pipeline === null && this.prefilter === null) {
          // Nothing to transform or prefilter (TX numbers, t:none checks): no memo needed.
          if (this.matchValue(tx, target, kv, kv.value, this.operator.evaluate(tx, kv.value))) matched = true;
        } else if (this.test(tx, target, kv, memos === null ? tx.values.memo(kv.value) : tx.values.entryMemo(memos, i, kv))) {
          matched = true;
        }
      }
      if (entries === this.txEntry) this.txEntry[0] = NO_ENTRY; // keep no request's value past the request
    }
    if (!matched) return false;
    if (this.child !== null && !this.child.evaluate(tx)) return false;
    const after = this.afterMatch;
    for (let i = 0; i < after.length; i++) after[i]!(tx, this);
    return true;
  }

  private countEntries(tx: Transaction, target: Target, runtimeExcl: Exclusion[] | null): number {
    if (target.keyLower !== null && target.def.name === 'TX') return tx.txGet(target.keyLower) === undefined ? 0 : 1;
    const entries = target.def.read(tx);
    if (target.keyLower === null && target.keyRegex === null && runtimeExcl === null && this.exclusions.length === 0) {
      return entries.length;
    }
    // A stable collection's lower-cased keys are kept per request (&REQUEST_HEADERS:Host and the like).
    const keys = target.keyLower !== null && !target.def.dynamic ? tx.values.entryKeysLower(target.def, entries) : null;
    let n = 0;
    for (let i = 0; i < entries.length; i++) {
      const kv = entries[i]!;
      if (target.keyLower !== null && (keys === null ? kv.key.toLowerCase() : keys[i]) !== target.keyLower) continue;
      if (target.keyRegex !== null && !target.keyRegex.test(kv.key)) continue;
      if (this.exclusions.length > 0 && excluded(this.exclusions, target.name, kv.key)) continue;
      if (runtimeExcl !== null && excluded(runtimeExcl, target.name, kv.key)) continue;
      n++;
    }
    return n;
  }

  /** Transforms one value, runs the operator (on each stage with multiMatch) and records a match. */
  private test(tx: Transaction, target: Target, kv: KV | null, raw: ValueMemo): boolean {
    if (this.multiMatch && this.pipeline !== null) {
      let any = this.runOperator(tx, target, kv, raw);
      let prev = raw;
      for (const node of this.pipeline.path) {
        const m = tx.values.through(raw, node);
        if (m.value === prev.value) continue;
        prev = m;
        if (this.runOperator(tx, target, kv, m)) any = true;
      }
      return any;
    }
    return this.runOperator(tx, target, kv, tx.values.through(raw, this.pipeline));
  }

  private runOperator(tx: Transaction, target: Target, kv: KV | null, m: ValueMemo): boolean {
    let r: boolean;
    const pf = this.prefilter;
    if (pf !== null) {
      const h = tx.values.answer(pf.group, m);
      r = h === null || maybe(h, pf.index) ? this.operator.evaluate(tx, m.value) : false;
    } else {
      r = this.operator.evaluate(tx, m.value);
    }
    return this.matchValue(tx, target, kv, m.value, r);
  }

  /** What follows the operator's answer `r` for one value: negation, the match record, per-match actions. */
  private matchValue(tx: Transaction, target: Target, kv: KV | null, value: string, r: boolean): boolean {
    if (this.negated) r = !r;
    if (!r) return false;
    let name: string;
    if (kv === null || !target.def.keyed) name = target.name;
    else if (kv.key === target.lastKey) name = target.lastName;
    else {
      name = target.name + ':' + kv.key;
      target.lastKey = kv.key;
      target.lastName = name;
    }
    tx.recordMatchedVar(name, value);
    if (tx.trace !== null) tx.trace.operatorMatched(this, target, kv, value);
    const pm = this.perMatch;
    for (let i = 0; i < pm.length; i++) pm[i]!(tx, this);
    return true;
  }
}

const EMPTY: readonly KV[] = [];
const NO_ENTRY: KV = Object.freeze({ key: '', value: '' });

function excluded(list: Exclusion[], collection: string, key: string): boolean {
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.collection !== collection) continue;
    if (e.keyLower === null && e.keyRegex === null) return true;
    if (e.keyLower !== null && e.keyLower === key.toLowerCase()) return true;
    if (e.keyRegex !== null && e.keyRegex.test(key)) return true;
  }
  return false;
}

/** A SecMarker: target of skipAfter. */
export class Marker {
  constructor(readonly name: string) {}
}
