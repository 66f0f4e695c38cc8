// RuleSet: the compiled form of a SecLang configuration. Built once from directives; read-only after.
import { parseActions, parseRule, parseTargetUpdate } from '../seclang/rule-parser.js';
import { SecLangError, type Directive, type SourceLocation } from '../seclang/ast.js';
import { getTransformation } from '../transformations/index.js';
import { parseIdRanges } from '../actions/ctl.js';
import { Marker, Rule } from './rule.js';
import { addTargets, compileExclusions, RuleCompiler, type DefaultActions } from './compiler.js';
import { PipelineInterner } from './transform-pipeline.js';
import { buildAcceleration, type AccelerationStats } from './accel/index.js';
import type { TxEngineMode } from './transaction.js';
import type { ActionCompileContext } from '../actions/types.js';

export type PhaseItem = Rule | Marker;

export interface RuleSetOptions {
  regexFallbackRuleIds?: ReadonlySet<number>;
  warn?: (message: string) => void;
  /** Prefilters that skip operators for values they cannot match (default true; see accel/). */
  acceleration?: boolean;
}

/** Directives accepted for compatibility that only concern audit/debug logging or storage. */
const LOG_ONLY = new Set(
  [
    'SecAuditEngine', 'SecAuditLog', 'SecAuditLog2', 'SecAuditLogParts', 'SecAuditLogType', 'SecAuditLogFormat',
    'SecAuditLogStorageDir', 'SecAuditLogRelevantStatus', 'SecAuditLogDirMode', 'SecAuditLogFileMode', 'SecDebugLog',
    'SecDebugLogLevel', 'SecPcreMatchLimit', 'SecPcreMatchLimitRecursion', 'SecStatusEngine', 'SecUnicodeMapFile',
    'SecUnicodeCodePage', 'SecCookieFormat', 'SecTmpDir', 'SecDataDir', 'SecUploadDir', 'SecUploadFileMode',
    'SecUploadKeepFiles', 'SecTmpSaveUploadedFiles', 'SecServerSignature', 'SecResponseBodyAccess',
    'SecResponseBodyLimit', 'SecResponseBodyLimitAction', 'SecResponseBodyMimeType', 'SecResponseBodyMimeTypesClear',
    'SecRequestBodyInMemoryLimit', 'SecCollectionTimeout', 'SecComponentSignature', 'SecWebAppId', 'SecSensorId',
    'SecHashEngine', 'SecHashKey', 'SecHashParam', 'SecHashMethodRx', 'SecHashMethodPm', 'SecGeoLookupDb', 'SecHttpBlKey',
    'SecConnEngine', 'SecXmlExternalEntity', 'SecInterceptOnError', 'SecStreamInBodyInspection', 'SecDisableBackendCompression',
    'SecContentInjection', 'SecStreamOutBodyInspection', 'SecCacheTransformations', 'SecChrootDir', 'SecGuardianLog',
    'SecRemoteRules', 'SecRemoteRulesFailAction',
  ].map((d) => d.toLowerCase()),
);
/** Of those, the ones that are silently fine (they describe the rule set, not logging). */
const QUIET = new Set(['seccomponentsignature', 'seccollectiontimeout', 'secwebappid', 'secresponsebodyaccess', 'secresponsebodymimetype', 'secresponsebodylimit', 'secresponsebodylimitaction', 'secrequestbodyinmemorylimit', 'sectmpdir', 'secdatadir', 'secserversignature', 'secpcrematchlimit', 'secpcrematchlimitrecursion', 'secunicodemapfile', 'secxmlexternalentity']);

export class RuleSet {
  engineMode: TxEngineMode = 'DetectionOnly'; // ModSecurity's default when SecRuleEngine is absent
  /** Set when the operator forced the mode (CLI --mode): ctl:ruleEngine then cannot change it. */
  modeLocked = false;
  requestBodyAccess = false;
  requestBodyLimit = 13107200;
  requestBodyNoFilesLimit = 1048576;
  requestBodyLimitAction: 'Reject' | 'ProcessPartial' = 'Reject';
  argumentsLimit = 1000;
  argumentSeparator = '&';
  jsonDepthLimit = 1024;
  uploadFileLimit = 100;
  /** Operator-pinned TX variables (lower-cased name → value): set in every transaction, setvar cannot change them. */
  pinnedTx: ReadonlyMap<string, { key: string; value: string }> | null = null;
  readonly phases: PhaseItem[][] = [[], [], [], [], [], []];
  readonly rulesById = new Map<number, Rule>();
  readonly defaults = new Map<number, DefaultActions>();
  readonly interner = new PipelineInterner();
  readonly warnings: string[] = [];
  /** Chain starters in definition order. */
  private readonly heads: Rule[] = [];
  private readonly compiler: RuleCompiler;
  private pendingChain: Rule | null = null;
  private pendingChainLoc: SourceLocation | null = null;
  private readonly removals: Array<(r: Rule) => boolean> = [];
  private readonly postUpdates: Array<() => void> = [];

  constructor(private readonly options: RuleSetOptions = {}) {
    this.compiler = new RuleCompiler({
      interner: this.interner,
      regexFallbackRuleIds: options.regexFallbackRuleIds ?? new Set(),
      defaults: this.defaults,
      warn: (m) => this.warn(m),
    });
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.options.warn?.(message);
  }

  get ruleCount(): number {
    return this.heads.length;
  }

  /** Applies directives in order (SecRule, engine settings, exclusions ...). */
  addDirectives(directives: Directive[]): void {
    for (const d of directives) this.addDirective(d);
  }

  /** Finishes loading: checks dangling chains, applies removals/updates, resolves markers. */
  finish(): void {
    if (this.pendingChain !== null) {
      throw new SecLangError('rule has the chain action but no SecRule follows it', this.pendingChainLoc);
    }
    for (const f of this.postUpdates) f();
    if (this.removals.length > 0) {
      for (let p = 0; p < this.phases.length; p++) {
        this.phases[p] = this.phases[p]!.filter((item) => item instanceof Marker || !this.removals.some((f) => f(item)));
      }
      for (const [id, r] of this.rulesById) if (this.removals.some((f) => f(r))) this.rulesById.delete(id);
    }
    this.acceleration = buildAcceleration(this.rulesById.values(), this.options.acceleration !== false);
  }

  /** What the load-time acceleration built (prefilter groups and the rules they cover). */
  acceleration: AccelerationStats | null = null;

  private addDirective(d: Directive): void {
    const name = d.name.toLowerCase();
    const loc = d.loc;
    const one = (): string => {
      if (d.args.length !== 1) throw new SecLangError(`${d.name} takes exactly one argument (got ${d.args.length})`, loc);
      return d.args[0]!;
    };
    const int = (): number => {
      const v = one().trim();
      if (!/^\d+$/.test(v)) throw new SecLangError(`${d.name}: expected a non-negative integer, got '${v}'`, loc);
      return Number(v);
    };
    const onOff = (): boolean => {
      const v = one().toLowerCase();
      if (v === 'on') return true;
      if (v === 'off') return false;
      throw new SecLangError(`${d.name}: expected On or Off, got '${d.args[0]}'`, loc);
    };
    if (this.pendingChain !== null && name !== 'secrule') {
      throw new SecLangError(`${d.name} found where the chained rule started at line ${this.pendingChainLoc!.line} expects a SecRule`, loc);
    }
    switch (name) {
      case 'secrule':
      case 'secaction':
        return this.addRule(d);
      case 'secmarker': {
        const m = new Marker(one().trim());
        for (const list of this.phases) list.push(m);
        return;
      }
      case 'secdefaultaction':
        return this.setDefaultAction(one(), loc);
      case 'secruleengine': {
        const v = one().toLowerCase();
        if (v === 'on') this.engineMode = 'On';
        else if (v === 'off') this.engineMode = 'Off';
        else if (v === 'detectiononly') this.engineMode = 'DetectionOnly';
        else throw new SecLangError(`SecRuleEngine: expected On, Off or DetectionOnly, got '${d.args[0]}'`, loc);
        return;
      }
      case 'secrequestbodyaccess':
        this.requestBodyAccess = onOff();
        return;
      case 'secrequestbodylimit':
        this.requestBodyLimit = int();
        return;
      case 'secrequestbodynofileslimit':
        this.requestBodyNoFilesLimit = int();
        return;
      case 'secrequestbodylimitaction': {
        const v = one().toLowerCase();
        if (v === 'reject') this.requestBodyLimitAction = 'Reject';
        else if (v === 'processpartial') this.requestBodyLimitAction = 'ProcessPartial';
        else throw new SecLangError(`SecRequestBodyLimitAction: expected Reject or ProcessPartial, got '${d.args[0]}'`, loc);
        return;
      }
      case 'secargumentslimit':
        this.argumentsLimit = int();
        return;
      case 'secrequestbodyjsondepthlimit':
        this.jsonDepthLimit = int();
        return;
      case 'secuploadfilelimit':
        this.uploadFileLimit = int();
        return;
      case 'secargumentseparator': {
        const v = one();
        if (v.length !== 1) throw new SecLangError(`SecArgumentSeparator: expected a single character, got '${v}'`, loc);
        this.argumentSeparator = v;
        return;
      }
      case 'secruleremovebyid': {
        if (d.args.length === 0) throw new SecLangError('SecRuleRemoveById needs at least one id or range', loc);
        const ranges = this.idRanges(d.args.join(' '), d);
        this.removals.push((r) => ranges.some(([a, b]) => r.id >= a && r.id <= b));
        return;
      }
      case 'secruleremovebytag': {
        const tag = one();
        this.removals.push((r) => r.tags.includes(tag));
        return;
      }
      case 'secruleremovebymsg': {
        const msg = one();
        this.removals.push((r) => r.msg !== null && r.msg.constant === msg);
        return;
      }
      case 'secruleupdatetargetbyid':
      case 'secruleupdatetargetbytag':
      case 'secruleupdatetargetbymsg':
        return this.updateTarget(d, name);
      case 'secruleupdateactionbyid':
        return this.updateAction(d);
      default:
        if (LOG_ONLY.has(name)) {
          if (!QUIET.has(name)) this.warn(`${loc.file}:${loc.line}: ${d.name} has no effect in Sidewall (ext_authz has no audit/debug log or response); ignored`);
          return;
        }
        throw new SecLangError(`unsupported directive '${d.name}'`, loc);
    }
  }

  private idRanges(text: string, d: Directive): Array<[number, number]> {
    try {
      return parseIdRanges(text, d.name);
    } catch (e) {
      throw new SecLangError((e as Error).message, d.loc);
    }
  }

  private addRule(d: Directive): void {
    const spec = parseRule(d);
    const parent = this.pendingChain;
    const { rule, chained } = this.compiler.compile(spec, parent);
    if (parent === null) {
      if (this.rulesById.has(rule.id)) {
        const prev = this.rulesById.get(rule.id)!;
        throw new SecLangError(`duplicate rule id ${rule.id} (first defined at ${prev.file}:${prev.line})`, d.loc);
      }
      this.rulesById.set(rule.id, rule);
      this.heads.push(rule);
      // Response-phase rules (3, 4) are kept so ids and exclusions resolve, but never run behind ext_authz.
      this.phases[rule.phase]!.push(rule);
    } else {
      parent.child = rule;
      parent.chained = true;
    }
    this.pendingChain = chained ? rule : null;
    this.pendingChainLoc = chained ? d.loc : null;
  }

  private setDefaultAction(text: string, loc: SourceLocation): void {
    const specs = parseActions(text, loc);
    const phaseSpec = specs.find((a) => a.name === 'phase');
    const probe = new Rule();
    const transformations: DefaultActions['transformations'] = [];
    for (const a of specs) {
      if (['id', 'msg', 'tag', 'severity', 'logdata', 'chain', 'skip', 'skipafter', 'ver', 'rev', 'maturity', 'accuracy'].includes(a.name)) {
        throw new SecLangError(`SecDefaultAction must not contain '${a.name}' (metadata/flow actions belong to rules)`, loc);
      }
      if (a.name === 't') {
        if (a.value?.toLowerCase() === 'none') transformations.length = 0;
        else {
          const fn = getTransformation(a.value ?? '');
          if (fn === undefined) throw new SecLangError(`unknown transformation 't:${a.value}'`, loc);
          transformations.push({ name: a.value!.toLowerCase(), fn });
        }
        continue;
      }
      this.compiler.applyAction(probe, a, this.actionContext(loc));
    }
    if (phaseSpec === undefined) throw new SecLangError('SecDefaultAction needs a phase action', loc);
    if (probe.disruptive === null) throw new SecLangError('SecDefaultAction needs a disruptive action (pass, deny, ...)', loc);
    this.defaults.set(probe.phase, {
      phase: probe.phase,
      log: probe.log,
      auditlog: probe.auditlog,
      disruptive: probe.disruptive,
      status: probe.status,
      transformations,
      specs,
    });
  }

  /** Context for actions applied outside a SecRule (defaults, updates): t: and chain are handled by the caller. */
  private actionContext(loc: SourceLocation): ActionCompileContext {
    return {
      loc,
      addTransformation: () => {},
      setChained: () => {},
      compileExclusions: (text) => compileExclusions(text, loc),
      warn: (m) => this.warn(m),
    };
  }

  private updateTarget(d: Directive, name: string): void {
    if (d.args.length < 2) throw new SecLangError(`${d.name} needs a rule selector and a target list`, d.loc);
    const selector = d.args[0]!;
    const specs = parseTargetUpdate(d.args[1]!, d.loc);
    let match: (r: Rule) => boolean;
    if (name === 'secruleupdatetargetbyid') {
      const ranges = this.idRanges(selector, d);
      match = (r) => ranges.some(([a, b]) => r.id >= a && r.id <= b);
    } else if (name === 'secruleupdatetargetbytag') {
      match = (r) => r.tags.includes(selector);
    } else {
      match = (r) => r.msg !== null && r.msg.constant === selector;
    }
    // Applied after all rules are loaded, so the update works wherever it is placed (as in v3).
    this.postUpdates.push(() => {
      for (const r of this.heads) if (match(r)) addTargets(r, specs, d.loc);
    });
  }

  private updateAction(d: Directive): void {
    if (d.args.length < 2) throw new SecLangError(`${d.name} needs a rule id and an action list`, d.loc);
    const ranges = this.idRanges(d.args[0]!, d);
    const specs = parseActions(d.args[1]!, d.loc);
    for (const a of specs) {
      if (a.name === 'id' || a.name === 'phase' || a.name === 'chain') {
        throw new SecLangError(`${d.name} cannot change '${a.name}'`, d.loc);
      }
    }
    this.postUpdates.push(() => {
      for (const r of this.heads) {
        if (!ranges.some(([a, b]) => r.id >= a && r.id <= b)) continue;
        const steps = r.pipeline === null ? [] : r.pipeline.path.map((n) => ({ name: n.name, fn: n.fn }));
        let pipelineChanged = false;
        for (const a of specs) {
          // Single-valued actions replace; tags and setvars add, as ModSecurity does.
          if (a.name === 't') {
            pipelineChanged = true;
            if (a.value?.toLowerCase() === 'none') steps.length = 0;
            else {
              const fn = getTransformation(a.value ?? '');
              if (fn === undefined) throw new SecLangError(`unknown transformation 't:${a.value}'`, d.loc);
              steps.push({ name: a.value!.toLowerCase(), fn });
            }
            continue;
          }
          this.compiler.applyAction(r, a, this.actionContext(d.loc));
        }
        if (pipelineChanged) r.pipeline = this.interner.intern(steps);
      }
    });
  }
}
