// Evaluation trace: what each rule that did something saw and did (Waf.evaluateTraced).
// The engine calls the recorder only when Transaction.trace is set, so an untraced evaluation pays
// a null check at the hook points and nothing else. The recorder only reads the transaction (its
// transformation calls go through the same per-transaction cache), so tracing cannot change a verdict.
import type { KV } from '../variables/types.js';
import type { Verdict } from './api.js';
import type { Rule, Target } from './rule.js';
import type { Transaction } from './transaction.js';

/** Longest value kept in a trace; longer ones are cut and flagged. */
export const TRACE_VALUE_MAX = 1024;

export interface TraceValue {
  text: string;
  /** Length of the whole value (bytes); > text.length when cut. */
  length: number;
}

/** One operator match of one chain link on one value. */
export interface TraceOperatorMatch {
  /** 0 = the chain starter, 1 = its first chained rule, ... */
  link: number;
  /** e.g. "ARGS:q", "REQUEST_HEADERS:User-Agent", "&ARGS" for a count. */
  variable: string;
  /** The value before transformations (a count for &VAR). */
  value: TraceValue;
  /** Transformations applied before the operator saw the value, in order. */
  transformations: string[];
  /** The value the operator matched. */
  transformed: TraceValue;
  /** e.g. "@rx" or "!@eq". */
  operator: string;
  argument: string;
}

/** A setvar (or capture-free TX change) made while the rule ran. */
export interface TraceVarChange {
  /** "TX.inbound_anomaly_score_pl1", "IP.block" ... */
  variable: string;
  before: string | null;
  /** null = deleted. */
  after: string | null;
}

export interface TraceScoreContribution {
  variable: string;
  delta: number;
}

export interface TraceRule {
  id: number;
  phase: number;
  msg: string;
  logdata: string;
  severity: number | null;
  tags: string[];
  file: string;
  line: number;
  /** Links in the chain (1 = not chained). */
  chainLength: number;
  /** Whether every link of the chain matched (actions ran, the rule "fired"). */
  matched: boolean;
  /** Whether a matched rule is logged (a Verdict.matches entry). */
  logged: boolean;
  operatorMatches: TraceOperatorMatch[];
  /** Variable changes in order (setvar, including per-match ones of a chain that then failed). */
  setvars: TraceVarChange[];
  /** Numeric changes to *anomaly_score* variables (not the per-severity points or thresholds). */
  scores: TraceScoreContribution[];
  /** Disruptive action after block/SecDefaultAction resolution; null when the rule did not match. */
  disruptive: string | null;
  /** The action interrupted (or, in DetectionOnly, would have interrupted) the request. */
  interrupts: boolean;
  /** skipAfter marker or skip count taken. */
  skipAfter: string | null;
}

export interface EvaluationTrace {
  /** Phases that ran, in order. */
  phases: number[];
  /** Every rule that matched or changed a variable, in evaluation order. */
  rules: TraceRule[];
  /** Request body processor that ran (URLENCODED, JSON, XML, MULTIPART), null = none. */
  bodyProcessor: string | null;
  bodyError: string | null;
  /** Final values of the TX variables whose name contains anomaly_score. */
  anomalyScores: Record<string, string>;
  /** Operator matches recorded in total (before any cut). */
  operatorMatchCount: number;
}

/** Operator matches kept per rule; a rule matching thousands of values keeps the first ones. */
const MATCHES_PER_RULE_MAX = 50;
const CAPTURE_KEY = /^\d$/;
const SCORE_NAME = /anomaly_score/i;
// Settings that share the name but are not scores: per-severity points and thresholds.
const SCORE_SETTING = /^(critical|error|warning|notice)_anomaly_score$|threshold/i;

function traceValue(value: string): TraceValue {
  return { text: value.length > TRACE_VALUE_MAX ? value.slice(0, TRACE_VALUE_MAX) : value, length: value.length };
}

function chainLinks(head: Rule): Rule[] {
  const out: Rule[] = [];
  for (let r: Rule | null = head; r !== null; r = r.child) out.push(r);
  return out;
}

export class TraceRecorder {
  private readonly rules: TraceRule[] = [];
  private readonly phases: number[] = [];
  private current: TraceRule | null = null;
  private currentHead: Rule | null = null;
  private links: Rule[] = [];
  private matchCount = 0;

  constructor(private readonly tx: Transaction) {}

  phaseStart(phase: number): void {
    this.current = null;
    this.currentHead = null;
    if (this.phases[this.phases.length - 1] !== phase) this.phases.push(phase);
  }

  ruleStart(rule: Rule): void {
    this.currentHead = rule;
    this.current = null;
    this.links = [];
  }

  /** The record of the rule being evaluated, created on its first event. */
  private record(): TraceRule | null {
    if (this.current !== null) return this.current;
    const head = this.currentHead;
    if (head === null) return null;
    this.links = chainLinks(head);
    this.current = {
      id: head.id,
      phase: head.phase,
      msg: head.msg?.constant ?? '',
      logdata: head.logdata?.constant ?? '',
      severity: head.severity,
      tags: head.tags,
      file: head.file,
      line: head.line,
      chainLength: this.links.length,
      matched: false,
      logged: false,
      operatorMatches: [],
      setvars: [],
      scores: [],
      disruptive: null,
      interrupts: false,
      skipAfter: null,
    };
    this.rules.push(this.current);
    return this.current;
  }

  /** A link's operator matched `value` (already transformed) of `target` (entry `kv`, null for counts). */
  operatorMatched(link: Rule, target: Target, kv: KV | null, value: string): void {
    this.matchCount++;
    const rec = this.record();
    if (rec === null || rec.operatorMatches.length >= MATCHES_PER_RULE_MAX) return;
    const raw = kv === null || target.count ? value : kv.value;
    const variable = (target.count ? '&' : '') + (kv === null || !target.def.keyed ? target.name : target.name + ':' + kv.key);
    rec.operatorMatches.push({
      link: Math.max(0, this.links.indexOf(link)),
      variable,
      value: traceValue(raw),
      transformations: this.transformationsTo(link, raw, value),
      transformed: traceValue(value),
      operator: (link.negated ? '!@' : '@') + link.operatorName,
      argument: link.operatorArg,
    });
  }

  /**
   * The transformations that turned `raw` into `value`: the whole pipeline, or with multiMatch the
   * shortest prefix that produced it. Uses the transaction's cache, so nothing is recomputed.
   */
  private transformationsTo(link: Rule, raw: string, value: string): string[] {
    const pipeline = link.pipeline;
    if (pipeline === null) return [];
    const path = pipeline.path;
    if (!link.multiMatch) return path.map((n) => n.name);
    if (value === raw) return [];
    for (let i = 0; i < path.length; i++) {
      if (this.tx.values.transform(path[i]!, raw) === value) return path.slice(0, i + 1).map((n) => n.name);
    }
    return path.map((n) => n.name);
  }

  /** A collection variable changed (setvar, ctl-free). Capture slots TX:0..9 are left out. */
  varChanged(collection: string, key: string, before: string | null, after: string | null): void {
    if (before === after || (collection === 'TX' && CAPTURE_KEY.test(key))) return;
    const rec = this.record();
    if (rec === null) return;
    const variable = `${collection}.${key}`;
    rec.setvars.push({ variable, before, after });
    if (SCORE_NAME.test(key) && !SCORE_SETTING.test(key)) {
      const b = before === null ? 0 : Number(before);
      const a = after === null ? 0 : Number(after);
      if (Number.isFinite(a) && Number.isFinite(b) && a !== b) rec.scores.push({ variable, delta: a - b });
    }
  }

  /** The chain matched completely; `disruptive` is the resolved action. */
  fullMatch(rule: Rule, disruptive: string, interrupts: boolean): void {
    const rec = this.record();
    if (rec === null) return;
    rec.matched = true;
    rec.disruptive = disruptive;
    rec.interrupts = interrupts;
    rec.logged = rule.log !== false;
    const last = this.tx.matches[this.tx.matches.length - 1];
    if (rec.logged && last !== undefined && last.id === rule.id) {
      rec.msg = last.msg;
      rec.logdata = last.logdata;
    } else {
      if (rule.msg !== null && rule.msg.constant === null) rec.msg = rule.msg.expand(this.tx);
      if (rule.logdata !== null && rule.logdata.constant === null) rec.logdata = rule.logdata.expand(this.tx);
    }
    if (rule.skipAfter !== null) rec.skipAfter = rule.skipAfter;
    else if (rule.skip > 0) rec.skipAfter = `+${rule.skip}`;
  }

  finish(verdict: Verdict): EvaluationTrace {
    const tx = this.tx;
    const anomalyScores: Record<string, string> = {};
    for (const kv of tx.txEntries()) if (SCORE_NAME.test(kv.key)) anomalyScores[kv.key] = kv.value;
    const processor = tx.requestBodyProcessor ?? tx.getScalar('REQBODY_PROCESSOR') ?? null;
    const bodyRan = tx.request.body !== null && tx.request.body.length > 0 && tx.requestBodyAccess;
    return {
      phases: this.phases,
      rules: this.rules,
      bodyProcessor: bodyRan ? processor : null,
      bodyError: verdict.requestBodyError,
      anomalyScores,
      operatorMatchCount: this.matchCount,
    };
  }
}
