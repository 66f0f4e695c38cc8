// Actions: each SecLang action is registered by name and applied to the rule being compiled.
import type { Rule } from '../engine/rule.js';
import type { SourceLocation } from '../seclang/ast.js';

export type ActionKind = 'metadata' | 'disruptive' | 'flow' | 'data' | 'nondisruptive';

/** Compile-time services an action may need (macros, targets, transformations). */
export interface ActionCompileContext {
  loc: SourceLocation;
  /** Adds a transformation (t:) to the rule under construction; 'none' resets the list. */
  addTransformation(name: string): void;
  /** Marks the rule as chained to the next SecRule. */
  setChained(): void;
  /** Compiles "COLLECTION:key" style target lists (ctl:ruleRemoveTargetById) into exclusions. */
  compileExclusions(text: string): import('../engine/rule.js').Exclusion[];
  warn(message: string): void;
}

export interface ActionDef {
  kind: ActionKind;
  /** Whether the action needs a value (`name:value`): true, false, or 'optional'. */
  value: boolean | 'optional';
  apply(rule: Rule, value: string | null, ctx: ActionCompileContext): void;
}
