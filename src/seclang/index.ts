// Public API of the SecLang parser: configuration text → directives → rule syntax trees.
export { SecLangError } from './ast.js';
export type { ActionSpec, Directive, OperatorSpec, RuleSpec, SourceLocation, VariableSpec } from './ast.js';
export { readDirectives, parseDirectivesFromString, splitArguments, compileGlob } from './reader.js';
export {
  parseRule,
  parseVariables,
  parseOperator,
  parseActions,
  parseTargetUpdate,
  parseCtlTargetValue,
} from './rule-parser.js';
