// RuleSpec (syntax) → Rule (compiled): variables resolved, operator built, actions applied,
// transformation pipeline interned. Everything here runs once at load time.
import RE2 from 're2';
import { literalKeyMatcher } from './key-matchers.js';
import { getAction } from '../actions/index.js';
import type { ActionCompileContext } from '../actions/types.js';
import { getOperatorFactory } from '../operators/index.js';
import type { OperatorTx } from '../operators/types.js';
import type { ActionSpec, RuleSpec, SourceLocation, VariableSpec } from '../seclang/ast.js';
import { SecLangError } from '../seclang/ast.js';
import { parseTargetUpdate } from '../seclang/rule-parser.js';
import { getTransformation } from '../transformations/index.js';
import type { Transformation } from '../transformations/types.js';
import { getVariable } from '../variables/registry.js';
import { compileMacro, hasMacro } from './macro.js';
import { Rule, type Exclusion, type KeyMatcher, type Target } from './rule.js';
import type { PipelineInterner } from './transform-pipeline.js';
import type { Transaction } from './transaction.js';
import { dirname } from 'node:path';

export interface DefaultActions {
  phase: number;
  log: boolean | null;
  auditlog: boolean | null;
  disruptive: Rule['disruptive'];
  status: number | null;
  transformations: Array<{ name: string; fn: Transformation }>;
  /** Raw specs, re-applied to rules that inherit them (tags, etc. are not inherited). */
  specs: ActionSpec[];
}

export interface CompileOptions {
  interner: PipelineInterner;
  regexFallbackRuleIds: ReadonlySet<number>;
  defaults: ReadonlyMap<number, DefaultActions>;
  warn(message: string): void;
}

/** Case-insensitive regex for `COLLECTION:/regex/` selectors and exclusions. */
export function compileKeyRegex(pattern: string, loc: SourceLocation): KeyMatcher {
  try {
    const re = new RE2(pattern, 'i');
    return literalKeyMatcher(pattern, re) ?? re;
  } catch (e) {
    throw new SecLangError(`invalid regular expression in variable selector /${pattern}/: ${(e as Error).message}`, loc);
  }
}

function toExclusion(spec: VariableSpec, loc: SourceLocation): Exclusion {
  const def = getVariable(spec.collection);
  if (def === undefined) throw new SecLangError(`unknown variable '${spec.collection}'`, loc);
  return {
    collection: def.name,
    keyLower: spec.key !== null && !spec.keyIsRegex ? spec.key.toLowerCase() : null,
    keyRegex: spec.key !== null && spec.keyIsRegex ? compileKeyRegex(spec.key, loc) : null,
  };
}

export function compileExclusions(text: string, loc: SourceLocation): Exclusion[] {
  return parseTargetUpdate(text, loc).map((s) => toExclusion({ ...s, exclude: true }, loc));
}

/** Adds variables (and `!` exclusions) to a compiled rule; used by SecRule and SecRuleUpdateTarget*. */
export function addTargets(rule: Rule, specs: VariableSpec[], loc: SourceLocation): void {
  for (const spec of specs) {
    if (spec.exclude) {
      rule.exclusions.push(toExclusion(spec, loc));
      continue;
    }
    const def = getVariable(spec.collection);
    if (def === undefined) throw new SecLangError(`unknown variable '${spec.collection}'`, loc);
    if (spec.key !== null && !def.keyed) {
      throw new SecLangError(`variable ${def.name} is not a collection and takes no ':${spec.key}' selector`, loc);
    }
    const target: Target = {
      def,
      name: def.name,
      keyLower: spec.key !== null && !spec.keyIsRegex ? spec.key.toLowerCase() : null,
      keyRegex: spec.key !== null && spec.keyIsRegex ? compileKeyRegex(spec.key, loc) : null,
      count: spec.count,
      lastKey: '',
      lastName: def.name + ':',
    };
    rule.targets.push(target);
  }
}

export class RuleCompiler {
  constructor(private readonly opts: CompileOptions) {}

  /**
   * Compiles one SecRule/SecAction. `parent` is the previous link when that one had `chain`.
   * Returns the rule and whether it is itself chained to the next.
   */
  compile(spec: RuleSpec, parent: Rule | null): { rule: Rule; chained: boolean } {
    const loc = spec.loc;
    const rule = new Rule();
    rule.file = loc.file;
    rule.line = loc.line;
    if (parent !== null) {
      rule.head = parent.head;
      rule.phase = parent.head.phase;
    }
    let chained = false;
    const steps: Array<{ name: string; fn: Transformation }> = [];
    const ctx: ActionCompileContext = {
      loc,
      addTransformation: (name) => {
        if (name.toLowerCase() === 'none') {
          steps.length = 0;
          return;
        }
        const fn = getTransformation(name);
        if (fn === undefined) throw new Error(`unknown transformation 't:${name}'`);
        steps.push({ name: name.toLowerCase(), fn });
      },
      setChained: () => void (chained = true),
      compileExclusions: (text) => compileExclusions(text, loc),
      warn: (m) => this.opts.warn(`${loc.file}:${loc.line}: ${m}`),
    };

    // Phase first: the defaults to inherit depend on it.
    const phaseSpec = spec.actions.find((a) => a.name === 'phase');
    if (parent === null && phaseSpec !== undefined) this.applyAction(rule, phaseSpec, ctx);
    const defaults = this.opts.defaults.get(rule.head.phase);
    if (parent === null && defaults !== undefined) {
      for (const t of defaults.transformations) steps.push(t);
    }
    for (const a of spec.actions) {
      if (a === phaseSpec && parent === null) continue;
      if (parent !== null && (a.name === 'id' || a.name === 'phase')) {
        if (a.name === 'phase') continue; // tolerated, as ModSecurity does
        throw new SecLangError(`chained rule must not have an id (the chain starter carries it)`, loc);
      }
      this.applyAction(rule, a, ctx);
    }
    if (parent === null && spec.kind === 'SecRule' && rule.id === 0) {
      throw new SecLangError('rule has no id action (every SecRule/SecAction needs id:N)', loc);
    }
    if (parent === null && spec.kind === 'SecAction' && rule.id === 0) {
      throw new SecLangError('SecAction has no id action', loc);
    }
    if (parent === null && defaults !== undefined) {
      if (rule.log === null) rule.log = defaults.log;
      if (rule.auditlog === null) rule.auditlog = defaults.auditlog;
    }
    rule.pipeline = this.opts.interner.intern(steps);

    addTargets(rule, spec.variables, loc);
    this.compileOperator(rule, spec, loc);
    return { rule, chained };
  }

  applyAction(rule: Rule, a: ActionSpec, ctx: ActionCompileContext): void {
    const def = getAction(a.name);
    if (def === undefined) throw new SecLangError(`unknown action '${a.name}'`, ctx.loc);
    if (def.value === true && (a.value === null || a.value === '')) {
      throw new SecLangError(`action '${a.name}' needs a value (${a.name}:...)`, ctx.loc);
    }
    if (def.value === false && a.value !== null) {
      throw new SecLangError(`action '${a.name}' takes no value (got '${a.name}:${a.value}')`, ctx.loc);
    }
    try {
      def.apply(rule, a.value, ctx);
    } catch (e) {
      if (e instanceof SecLangError) throw e;
      throw new SecLangError((e as Error).message, ctx.loc);
    }
  }

  private compileOperator(rule: Rule, spec: RuleSpec, loc: SourceLocation): void {
    const op = spec.operator;
    const factory = getOperatorFactory(op.name);
    if (factory === undefined) throw new SecLangError(`unknown operator '@${op.name}'`, loc);
    rule.operatorName = op.name;
    rule.operatorArg = op.arg;
    rule.negated = op.negated;
    let expand: ((tx: OperatorTx) => string) | null = null;
    // Macros in operator arguments, as ModSecurity v3 expands them (phrase/file lists excepted).
    if (hasMacro(op.arg) && !['pm', 'pmf', 'pmfromfile', 'ipmatchfromfile', 'ipmatchf'].includes(op.name)) {
      const m = compileMacro(op.arg);
      expand = (tx) => m.expand(tx as Transaction);
    }
    try {
      rule.operator = factory({
        name: op.name,
        arg: op.arg,
        expand,
        baseDir: dirname(loc.file),
        options: {
          regexFallbackRuleIds: this.opts.regexFallbackRuleIds,
          warn: (m) => this.opts.warn(`${loc.file}:${loc.line}: ${m}`),
        },
        ruleId: rule.head.id,
      });
    } catch (e) {
      throw new SecLangError(`@${op.name}: ${(e as Error).message}`, loc);
    }
  }
}
