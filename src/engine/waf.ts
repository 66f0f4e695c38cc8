// The WAF: a compiled RuleSet plus the per-request evaluation (phases 1, 2 and request-side 5).
import type { EngineMode, HttpRequest, RuleMatch, Verdict } from './api.js';
import { parseDirectivesFromString } from '../seclang/reader.js';
import { getBodyProcessor } from '../bodyprocessors/index.js';
import { Marker, type Rule } from './rule.js';
import { RuleSet, type PhaseItem } from './ruleset.js';
import { Transaction, type Interruption, type TxEngineMode } from './transaction.js';
import type { Directive } from '../seclang/ast.js';
import { readRulesEntry } from './crs-layout.js';
import { pinnedSetvarWarnings, pinnedTxMap } from './pinned-tx.js';
import type { Budget } from './budget.js';
import { TraceRecorder, type EvaluationTrace } from './trace.js';

export interface WafLoadOptions {
  /** Overrides SecRuleEngine from the rules (CLI --mode); ctl:ruleEngine can then not change it. */
  mode?: EngineMode;
  /** Rule ids whose regex may fall back to V8 RegExp when RE2 rejects it. */
  regexFallbackRuleIds?: ReadonlySet<number>;
  /** Called for non-fatal load warnings (unsupported log-only directives, fallbacks). */
  onWarning?: (message: string) => void;
  /**
   * TX variables every transaction starts with and setvar cannot change (operator settings such as
   * blocking_paranoia_level), so they win over the ruleset's own defaults.
   */
  pinnedTx?: Readonly<Record<string, string>>;
  /**
   * Load-time acceleration (literal and RE2.Set prefilters that skip regexes which cannot match).
   * Default true; false evaluates every operator on every value — same results, slower.
   */
  acceleration?: boolean;
}

/** How a sliced compile went (Waf.compileSliced). */
export interface SlicedCompileStats {
  /** Longest synchronous stretch, ms: how long the event loop was held at most. */
  longestSliceMs: number;
  slices: number;
}

const MODE_TO_TX: Record<EngineMode, TxEngineMode> = { block: 'On', detect: 'DetectionOnly', off: 'Off' };
const TX_TO_MODE: Record<TxEngineMode, EngineMode> = { On: 'block', DetectionOnly: 'detect', Off: 'off' };
const MAX_MATCHED_DATA = 200;

export class Waf {
  /** Per phase, per item: where a skipAfter of that rule resumes (its marker's index, or the end). */
  private readonly skipAfterTargets: Int32Array[];

  private constructor(readonly ruleset: RuleSet) {
    this.skipAfterTargets = ruleset.phases.map(skipAfterTargets);
  }

  get ruleCount(): number {
    return this.ruleset.ruleCount;
  }

  get mode(): EngineMode {
    return TX_TO_MODE[this.ruleset.engineMode];
  }

  get warnings(): readonly string[] {
    return this.ruleset.warnings;
  }

  /**
   * Loads a SecLang entry file (Includes resolved relative to it), or a CRS directory laid out as
   * CRS's INSTALL describes (see crs-layout.ts). Throws SecLangError naming file:line.
   */
  static fromFile(path: string, options: WafLoadOptions = {}): Waf {
    return Waf.build(readRulesEntry(path, options.onWarning), options);
  }

  /** Loads SecLang text; `virtualPath` names it in errors and anchors relative Includes. */
  static fromString(text: string, virtualPath: string, options: WafLoadOptions = {}): Waf {
    return Waf.build(parseDirectivesFromString(text, virtualPath), options);
  }

  /** Compiles directives already read (e.g. a cached base ruleset plus exclusion rules). */
  static fromDirectives(directives: Directive[], options: WafLoadOptions = {}): Waf {
    return Waf.build(directives, options);
  }

  /**
   * Same as fromDirectives, but compiles in slices of about `sliceMs` and yields to the event loop
   * between them, so a live reload on a serving process does not hold checks back for the whole
   * compile (CRS takes hundreds of ms).
   */
  static async compileSliced(
    directives: Directive[],
    options: WafLoadOptions = {},
    sliceMs = 10,
    stats: SlicedCompileStats = { longestSliceMs: 0, slices: 0 },
  ): Promise<Waf> {
    const rs = Waf.newRuleSet(directives, options);
    let start = performance.now();
    const endSlice = (): void => {
      const took = performance.now() - start;
      if (took > stats.longestSliceMs) stats.longestSliceMs = took;
      stats.slices++;
    };
    const pause = async (): Promise<void> => {
      endSlice();
      await new Promise<void>((resolve) => setImmediate(resolve));
      start = performance.now();
    };
    for (let i = 0; i < directives.length; i++) {
      rs.addDirectives([directives[i]!]);
      if (performance.now() - start >= sliceMs) await pause();
    }
    await pause(); // finishing (prefilter sets) is one long step of its own
    const waf = Waf.finishRuleSet(rs, options);
    endSlice();
    return waf;
  }

  private static build(directives: Directive[], options: WafLoadOptions): Waf {
    const rs = Waf.newRuleSet(directives, options);
    rs.addDirectives(directives);
    return Waf.finishRuleSet(rs, options);
  }

  private static newRuleSet(directives: Directive[], options: WafLoadOptions): RuleSet {
    const rs = new RuleSet({ regexFallbackRuleIds: options.regexFallbackRuleIds, warn: options.onWarning, acceleration: options.acceleration });
    rs.pinnedTx = pinnedTxMap(options.pinnedTx);
    if (rs.pinnedTx !== null) for (const w of pinnedSetvarWarnings(directives, rs.pinnedTx)) options.onWarning?.(w);
    return rs;
  }

  private static finishRuleSet(rs: RuleSet, options: WafLoadOptions): Waf {
    rs.finish();
    if (options.mode !== undefined) {
      rs.engineMode = MODE_TO_TX[options.mode];
      rs.modeLocked = true;
    }
    return new Waf(rs);
  }

  /**
   * Runs phases 1, 2 and request-side phase 5 for one request. Synchronous. With a budget, stops
   * as soon as it is exhausted (checked before each rule, before the body processor and every
   * ~16 KB of values inside a rule; no further phase runs, phase 5 included) and reports where in
   * Verdict.budgetStop.
   */
  evaluate(request: HttpRequest, budget: Budget | null = null): Verdict {
    return this.run(new Transaction(this.ruleset, request), budget);
  }

  /**
   * evaluate() with a record of what every rule that matched (or changed a variable) saw and did:
   * for `sidewall explain` and debugging, not the Check path. The verdict is the same as evaluate's.
   */
  evaluateTraced(request: HttpRequest): { verdict: Verdict; trace: EvaluationTrace } {
    const tx = new Transaction(this.ruleset, request);
    const recorder = new TraceRecorder(tx);
    tx.trace = recorder;
    const verdict = this.run(tx, null);
    return { verdict, trace: recorder.finish(verdict) };
  }

  private run(tx: Transaction, budget: Budget | null): Verdict {
    tx.budget = budget;
    if (tx.mode !== 'Off') {
      this.runPhase(tx, 1);
      if (!tx.interrupted && !tx.allowAll && !tx.allowRequest && tx.budgetStop === null) {
        if (budget !== null && budget.exhausted()) tx.budgetStop = { ruleId: 0, phase: 2 };
        else this.processRequestBody(tx);
        if (!tx.interrupted && tx.budgetStop === null) {
          tx.allowPhase = false;
          this.runPhase(tx, 2);
        }
      }
      tx.allowPhase = false;
      // Logging phase: runs after an interruption too, as ModSecurity's logging phase does.
      if ((tx.mode as TxEngineMode) !== 'Off' && tx.budgetStop === null) this.runPhase(tx, 5);
    }
    return this.verdict(tx);
  }

  private runPhase(tx: Transaction, phase: number): void {
    const budget = tx.budget;
    const trace = tx.trace;
    if (trace !== null) trace.phaseStart(phase);
    const items = this.ruleset.phases[phase]!;
    const skipTo = this.skipAfterTargets[phase]!;
    let skip = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (item instanceof Marker) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (tx.mode === 'Off' || (phase !== 5 && (tx.allowAll || tx.allowPhase || (tx.allowRequest && phase <= 2)))) return;
      const rule = item;
      if (budget !== null && budget.exhausted()) {
        tx.budgetStop = { ruleId: rule.id, phase };
        return;
      }
      if ((tx.removedIds !== null || tx.removedTags !== null || tx.removedMsgs !== null) && tx.isRuleRemoved(rule)) continue;
      tx.currentRule = rule;
      tx.clearMatchedVars();
      if (trace !== null) trace.ruleStart(rule);
      if (!rule.evaluate(tx)) {
        if (tx.budgetStop !== null) return; // stopped inside the rule (Transaction.budgetSpent)
        continue;
      }
      this.onFullMatch(tx, rule);
      if (tx.interrupted && phase !== 5) return;
      if (rule.skipAfter !== null) i = skipTo[i]!; // resumes after the marker
      else if (rule.skip > 0) skip = rule.skip;
    }
  }

  /** Logging and the disruptive action of a chain that matched completely. */
  private onFullMatch(tx: Transaction, rule: Rule): void {
    const defaults = this.ruleset.defaults.get(rule.phase);
    if (rule.severity !== null && rule.severity < tx.highestSeverity) {
      tx.highestSeverity = rule.severity;
      tx.setScalar('HIGHEST_SEVERITY', String(rule.severity));
    }
    let disruptive = rule.disruptive ?? 'pass';
    let status = rule.status ?? defaults?.status ?? null;
    if (disruptive === 'block') {
      disruptive = defaults?.disruptive ?? 'pass';
      if (disruptive === 'block') disruptive = 'pass';
    }
    const interrupts = disruptive === 'deny' || disruptive === 'drop' || disruptive === 'redirect' || disruptive === 'proxy';
    if (rule.log !== false) this.logMatch(tx, rule, interrupts);
    if (tx.trace !== null) tx.trace.fullMatch(rule, disruptive, interrupts && rule.phase !== 3 && rule.phase !== 4);
    if (disruptive === 'allow') {
      if (tx.mode !== 'On') return; // disruptive actions do not run in DetectionOnly
      if (rule.allowScope === 'phase') tx.allowPhase = true;
      else if (rule.allowScope === 'request') tx.allowRequest = true;
      else tx.allowAll = true;
      return;
    }
    if (!interrupts || rule.phase === 3 || rule.phase === 4) return;
    const intr: Interruption = {
      ruleId: rule.id,
      action: disruptive as Interruption['action'],
      status: status ?? (disruptive === 'redirect' ? 302 : 403),
      redirectUrl: disruptive === 'redirect' && rule.redirect !== null ? rule.redirect.expand(tx) : null,
    };
    if (tx.mode === 'On') {
      if (rule.phase !== 5 || tx.interruption === null) {
        tx.interruption = intr;
        tx.interrupted = true;
      }
    } else if (tx.wouldInterrupt === null) {
      tx.wouldInterrupt = intr;
    }
  }

  private logMatch(tx: Transaction, rule: Rule, disruptive: boolean): void {
    if (!tx.loggedIds.includes(rule.id)) tx.loggedIds.push(rule.id);
    const mv = tx.matchedVar;
    const match: RuleMatch = {
      id: rule.id,
      phase: rule.phase,
      msg: rule.msg === null ? '' : (rule.msg.constant ?? rule.msg.expand(tx)),
      logdata: rule.logdata === null ? '' : (rule.logdata.constant ?? rule.logdata.expand(tx)),
      severity: rule.severity,
      tags: rule.tags,
      matchedVar: tx.matchedVarName,
      matchedData: mv === null ? '' : mv.value.length > MAX_MATCHED_DATA ? mv.value.slice(0, MAX_MATCHED_DATA) : mv.value,
      disruptive,
      file: rule.file,
      line: rule.line,
    };
    tx.matches.push(match);
  }

  private processRequestBody(tx: Transaction): void {
    const rs = this.ruleset;
    tx.setScalar('INBOUND_DATA_ERROR', '0');
    let body = tx.request.body;
    if (!tx.requestBodyAccess || body === null || body.length === 0) {
      tx.setScalar('REQBODY_ERROR', '0');
      tx.setScalar('REQBODY_PROCESSOR_ERROR', '0');
      return;
    }
    const name = tx.requestBodyProcessor ?? tx.getScalar('REQBODY_PROCESSOR') ?? null;
    // SecRequestBodyNoFilesLimit bounds everything but multipart (whose file parts it excludes;
    // the multipart processor checks the non-file part itself).
    let limit = rs.requestBodyLimit;
    if (name !== 'MULTIPART' && rs.requestBodyNoFilesLimit > 0 && (limit === 0 || rs.requestBodyNoFilesLimit < limit)) {
      limit = rs.requestBodyNoFilesLimit;
    }
    if (limit > 0 && body.length > limit) {
      tx.setScalar('INBOUND_DATA_ERROR', '1');
      if (rs.requestBodyLimitAction === 'Reject') {
        const intr: Interruption = { ruleId: 0, action: 'deny', status: 413, redirectUrl: null };
        if (tx.mode === 'On') {
          tx.interruption = intr;
          tx.interrupted = true;
          return;
        }
        // DetectionOnly: report the would-be rejection and still inspect what fits in the limit.
        if (tx.wouldInterrupt === null) tx.wouldInterrupt = intr;
      }
      body = body.subarray(0, limit);
    }
    const bytes = body.toString('latin1');
    // REQUEST_BODY holds the raw body except when XML or MULTIPART parsing exposes the content
    // instead (Coraza semantics, which CRS's regression tests expect: 944100-11 vs 934210-13).
    if ((name !== 'XML' && name !== 'MULTIPART') || tx.forceRequestBodyVariable) tx.setScalar('REQUEST_BODY', bytes);
    tx.setScalar('REQUEST_BODY_LENGTH', String(bytes.length));
    let error: string | null = null;
    if (name !== null) {
      const processor = getBodyProcessor(name);
      if (processor !== undefined) error = processor(tx, bytes);
    }
    tx.setScalar('REQBODY_ERROR', error === null ? '0' : '1');
    tx.setScalar('REQBODY_PROCESSOR_ERROR', error === null ? '0' : '1');
    if (error !== null) {
      tx.setScalar('REQBODY_ERROR_MSG', error);
      tx.setScalar('REQBODY_PROCESSOR_ERROR_MSG', error);
    }
  }

  private verdict(tx: Transaction): Verdict {
    const intr = tx.interruption ?? tx.wouldInterrupt;
    const score =
      tx.txGet('blocking_inbound_anomaly_score')?.value ?? tx.txGet('inbound_anomaly_score')?.value ?? tx.txGet('anomaly_score')?.value;
    const verdict: Verdict = {
      action: tx.interruption !== null ? 'deny' : tx.wouldInterrupt !== null ? 'detect' : 'allow',
      mode: TX_TO_MODE[tx.mode],
      status: intr?.status ?? 200,
      redirectUrl: intr?.redirectUrl ?? null,
      interruptingRuleId: intr?.ruleId ?? 0,
      ruleIds: tx.loggedIds,
      matches: tx.matches,
      anomalyScore: score === undefined ? 0 : Number(score) || 0,
      requestId: tx.request.id,
      requestBodyError: tx.getScalar('REQBODY_ERROR') === '1' ? (tx.getScalar('REQBODY_ERROR_MSG') ?? 'error') : null,
      bodyPartial: tx.request.bodyPartial,
    };
    if (tx.budgetStop !== null) verdict.budgetStop = tx.budgetStop;
    return verdict;
  }
}

/**
 * Per item of a phase, where a matching rule's skipAfter resumes: the index of the first marker of
 * that name after it (the loop then moves past it), or the end of the phase when there is none.
 */
function skipAfterTargets(items: readonly PhaseItem[]): Int32Array {
  const out = new Int32Array(items.length).fill(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item instanceof Marker || item.skipAfter === null) continue;
    for (let j = i + 1; j < items.length; j++) {
      const m = items[j]!;
      if (m instanceof Marker && m.name === item.skipAfter) {
        out[i] = j;
        break;
      }
    }
  }
  return out;
}
