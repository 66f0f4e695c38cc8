// SecLang syntax tree: what the parser produces and the engine compiler consumes.
// Everything here is plain data (no behaviour), so parsing and compiling stay independent.

/** Where a directive came from, for error messages ("file:line"). */
export interface SourceLocation {
  file: string;
  line: number;
}

/** One logical directive after line continuations are joined and arguments unquoted. */
export interface Directive {
  name: string; // as written (case preserved); compare case-insensitively
  args: string[]; // unquoted arguments (escapes resolved as ModSecurity does)
  loc: SourceLocation;
}

/** One entry of a rule's variable list, e.g. `!REQUEST_COOKIES:/__utm/` or `&TX:foo`. */
export interface VariableSpec {
  collection: string; // upper-cased name, e.g. "ARGS", "REQUEST_HEADERS", "TX"
  key: string | null; // selector; null = whole collection
  keyIsRegex: boolean; // `/.../` selector (key holds the pattern without slashes)
  count: boolean; // `&` prefix
  exclude: boolean; // `!` prefix
}

/** The operator of a SecRule, e.g. `!@rx foo` → { name: "rx", negated: true, arg: "foo" }. */
export interface OperatorSpec {
  name: string; // lower-cased canonical name without '@' ("rx" when omitted)
  negated: boolean;
  arg: string;
}

/** One action, e.g. `setvar:'tx.score=+%{tx.critical_anomaly_score}'` → { name: "setvar", value: "tx.score=+%{...}" }. */
export interface ActionSpec {
  name: string; // lower-cased
  value: string | null; // unquoted value, null when the action has none
}

/** A SecRule (or SecAction, which has variables [] and operator unconditionalMatch). */
export interface RuleSpec {
  kind: 'SecRule' | 'SecAction';
  variables: VariableSpec[];
  operator: OperatorSpec;
  actions: ActionSpec[];
  loc: SourceLocation;
}

/** A SecLang syntax or file error; message is prefixed by "file:line: ". */
export class SecLangError extends Error {
  constructor(
    message: string,
    readonly loc: SourceLocation | null,
  ) {
    super(loc ? `${loc.file}:${loc.line}: ${message}` : message);
    this.name = 'SecLangError';
  }
}
