// SecRule / SecAction argument parsing: variable lists, operators and action lists.
//
// Input is the already-unquoted directive arguments produced by the reader. The grammar follows
// ModSecurity (v2's msre_parse_generic / libmodsecurity's scanner) and Coraza where they agree,
// with these choices where they differ (see the notes on each function):
//
// * variables: `|` (or `,`) separated; `!` exclusion, `&` count; `NAME:key` (v3 also accepts
//   `NAME.key`); a key starting with '/' is a regex that runs to the next unescaped '/', so it may
//   contain `|`, `,`, `:` and spaces; `'...'` quotes a key (`'/re/'` is a quoted regex); keys of
//   XML (and JSON) are XPath-like literals, never regexes.
// * operator: optional '!', then `@name arg` (arg = everything after the first whitespace
//   character, kept byte for byte) or, without '@', an implicit `rx`.
// * actions: comma separated `name` or `name:value`; a value starting with a single quote runs to
//   the closing quote (`\'` inside is a quote, other backslashes stay as written); an unquoted
//   value runs to the next comma and is trimmed (libmodsecurity/Coraza; v2 stopped at whitespace).
import { SecLangError, type ActionSpec, type Directive, type OperatorSpec, type RuleSpec, type SourceLocation, type VariableSpec } from './ast.js';

/** Parses a SecRule or SecAction directive. */
export function parseRule(d: Directive): RuleSpec {
  const lname = d.name.toLowerCase();
  if (lname === 'secrule') {
    if (d.args.length < 2 || d.args.length > 3) {
      throw new SecLangError(
        `SecRule: expected 2 or 3 arguments (VARIABLES "OPERATOR" ["ACTIONS"]), got ${d.args.length}${argsHint(d.args)}`,
        d.loc,
      );
    }
    return {
      kind: 'SecRule',
      variables: parseVariables(d.args[0]!, d.loc),
      operator: parseOperator(d.args[1]!, d.loc),
      actions: d.args.length === 3 ? parseActions(d.args[2]!, d.loc) : [],
      loc: d.loc,
    };
  }
  if (lname === 'secaction') {
    if (d.args.length !== 1) {
      throw new SecLangError(`SecAction: expected 1 argument ("ACTIONS"), got ${d.args.length}${argsHint(d.args)}`, d.loc);
    }
    return {
      kind: 'SecAction',
      variables: [],
      operator: { name: 'unconditionalmatch', negated: false, arg: '' },
      actions: parseActions(d.args[0]!, d.loc),
      loc: d.loc,
    };
  }
  throw new SecLangError(`parseRule: ${d.name} is not a SecRule or SecAction directive`, d.loc);
}

function argsHint(args: string[]): string {
  if (args.length <= 3) return '';
  // Most often an unquoted argument containing spaces, or a quote closed too early.
  return ` (check quoting; 4th argument: ${JSON.stringify(short(args[3]!))})`;
}

function short(s: string): string {
  return s.length > 50 ? s.slice(0, 47) + '...' : s;
}

// ---------------------------------------------------------------------------------------------
// Variables

const SP = 0x20;
const TAB = 0x09;

function isWs(c: number): boolean {
  return c === SP || c === TAB || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/** Collections whose keys are XPath / JSON-path expressions, never `/regex/`. */
const LITERAL_KEY_COLLECTIONS = new Set(['XML', 'JSON']);

/**
 * Parses a SecRule variable list such as `REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS:foo`.
 * Collection names are upper-cased; keys are kept as written (regex keys without the slashes).
 */
export function parseVariables(text: string, loc: SourceLocation): VariableSpec[] {
  return parseVarList(text, loc, 'variable list');
}

/**
 * Parses the target list of SecRuleUpdateTargetById/ByTag/ByMsg (`!ARGS:foo|REQUEST_HEADERS:/^x-/`)
 * and of ctl:ruleRemoveTargetById/ByTag/ByMsg (the part after ';'). Same syntax as a rule's
 * variable list.
 */
export function parseTargetUpdate(text: string, loc: SourceLocation): VariableSpec[] {
  return parseVarList(text, loc, 'target list');
}

/**
 * Splits a ctl:ruleRemoveTargetById / ruleRemoveTargetByTag / ruleRemoveTargetByMsg value
 * (`942100;ARGS:foo`, `attack-sqli;ARGS:/^x/`) into its rule selector and parsed targets.
 * The selector ends at the first ';'.
 */
export function parseCtlTargetValue(value: string, loc: SourceLocation): { selector: string; targets: VariableSpec[] } {
  const semi = value.indexOf(';');
  if (semi === -1) throw new SecLangError(`ctl: expected "<rule selector>;<targets>", got ${JSON.stringify(short(value))}`, loc);
  const selector = value.slice(0, semi).trim();
  if (selector === '') throw new SecLangError(`ctl: empty rule selector before ';' in ${JSON.stringify(short(value))}`, loc);
  return { selector, targets: parseTargetUpdate(value.slice(semi + 1), loc) };
}

function parseVarList(text: string, loc: SourceLocation, what: string): VariableSpec[] {
  const out: VariableSpec[] = [];
  const len = text.length;
  let i = 0;
  const fail = (msg: string): never => {
    throw new SecLangError(`${what} ${JSON.stringify(short(text))}: ${msg}`, loc);
  };
  while (i < len && isWs(text.charCodeAt(i))) i++;
  if (i >= len) fail('empty');
  for (;;) {
    // One element: [!|&] NAME [(:|.) KEY]
    let exclude = false;
    let count = false;
    const elemStart = i;
    for (;;) {
      const c = text[i];
      if (c === '!') {
        if (exclude) fail(`repeated '!' at position ${i}`);
        exclude = true;
      } else if (c === '&') {
        if (count) fail(`repeated '&' at position ${i}`);
        count = true;
      } else break;
      i++;
    }
    if (exclude && count) fail(`'!' and '&' cannot be combined (position ${elemStart})`);
    const nameStart = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 0x3a /* : */ || c === 0x2e /* . */ || c === 0x7c /* | */ || c === 0x2c /* , */ || isWs(c)) break;
      i++;
    }
    if (i === nameStart) {
      fail(i >= len ? 'missing variable name at the end' : `missing variable name at position ${i} (found ${JSON.stringify(text[i])})`);
    }
    const collection = text.slice(nameStart, i).toUpperCase();
    let key: string | null = null;
    let keyIsRegex = false;
    if (i < len && (text[i] === ':' || text[i] === '.')) {
      i++;
      const literalOnly = LITERAL_KEY_COLLECTIONS.has(collection);
      const c = text[i];
      if (i >= len || c === '|' || c === ',' || isWs(text.charCodeAt(i))) {
        key = null; // `ARGS:` = whole collection (as ModSecurity v2)
      } else if (c === "'") {
        const end = scanSingleQuoted(text, i);
        if (end === -1) fail(`unterminated quoted key starting at position ${i}`);
        const inner = unescapeSingleQuoted(text.slice(i + 1, end));
        i = end + 1;
        if (!literalOnly && inner.length >= 2 && inner[0] === '/' && inner[inner.length - 1] === '/') {
          key = inner.slice(1, -1);
          keyIsRegex = true;
        } else {
          key = inner;
        }
      } else if (c === '/' && !literalOnly) {
        let j = i + 1;
        while (j < len) {
          const d = text.charCodeAt(j);
          if (d === 0x5c /* \ */) {
            j += 2;
            continue;
          }
          if (d === 0x2f /* / */) break;
          j++;
        }
        if (j >= len) fail(`unterminated regular expression key starting at position ${i} (missing closing '/')`);
        key = text.slice(i + 1, j);
        keyIsRegex = true;
        i = j + 1;
      } else {
        const keyStart = i;
        while (i < len) {
          const d = text.charCodeAt(i);
          if (d === 0x7c || d === 0x2c || isWs(d)) break;
          i++;
        }
        key = text.slice(keyStart, i);
      }
      if (keyIsRegex && key === '') fail(`empty regular expression key for ${collection}`);
    }
    out.push({ collection, key, keyIsRegex, count, exclude });
    // Separator
    while (i < len && isWs(text.charCodeAt(i))) i++;
    if (i >= len) break;
    const sepc = text[i];
    if (sepc !== '|' && sepc !== ',') {
      fail(`expected '|' between variables at position ${i}, found ${JSON.stringify(text[i])}`);
    }
    i++;
    while (i < len && isWs(text.charCodeAt(i))) i++;
    if (i >= len) fail(`dangling '${sepc}' at the end`);
  }
  return out;
}

/** Index of the closing quote of a single-quoted string starting at `start` (which is the quote), or -1. */
function scanSingleQuoted(s: string, start: number): number {
  let j = start + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === 0x5c && j + 1 < s.length) {
      const n = s.charCodeAt(j + 1);
      if (n === 0x27 || n === 0x5c) {
        j += 2;
        continue;
      }
    }
    if (c === 0x27) return j;
    j++;
  }
  return -1;
}

/** `\'` → `'`; every other backslash sequence (including `\\`) stays as written. */
function unescapeSingleQuoted(s: string): string {
  if (s.indexOf("\\'") === -1) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\' && j + 1 < s.length) {
      const n = s[j + 1]!;
      if (n === "'") {
        out += "'";
        j++;
        continue;
      }
      if (n === '\\') {
        out += '\\\\';
        j++;
        continue;
      }
    }
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Operator

const OPERATOR_ALIASES: Record<string, string> = {
  pmf: 'pmfromfile',
  ipmatchf: 'ipmatchfromfile',
};

/**
 * Parses a SecRule operator: `@rx foo`, `!@pm a b`, `@detectSQLi`, or `foo` (implicit `rx`).
 * The name is lower-cased without '@' (aliases `pmf`/`ipMatchF` become `pmfromfile`/
 * `ipmatchfromfile`); the argument is everything after the first whitespace character following
 * the name, kept exactly (it may be empty).
 */
export function parseOperator(text: string, loc: SourceLocation): OperatorSpec {
  let i = 0;
  let negated = false;
  if (text[0] === '!') {
    negated = true;
    i = 1;
    // ModSecurity v2 skips whitespace after '!' when an explicit operator follows.
    let j = i;
    while (j < text.length && (text.charCodeAt(j) === SP || text.charCodeAt(j) === TAB)) j++;
    if (text[j] === '@') i = j;
  }
  if (text[i] !== '@') {
    return { name: 'rx', negated, arg: text.slice(i) };
  }
  const nameStart = i + 1;
  let j = nameStart;
  while (j < text.length && !isWs(text.charCodeAt(j))) j++;
  const raw = text.slice(nameStart, j);
  if (raw === '') {
    throw new SecLangError(`operator ${JSON.stringify(short(text))}: missing operator name after '@'`, loc);
  }
  let name = raw.toLowerCase();
  name = OPERATOR_ALIASES[name] ?? name;
  const arg = j < text.length ? text.slice(j + 1) : '';
  return { name, negated, arg };
}

// ---------------------------------------------------------------------------------------------
// Actions

/**
 * Parses an action list: `id:1,phase:2,t:none,t:lowercase,msg:'a, b',setvar:'tx.x=+%{tx.y}',chain`.
 * Whitespace around actions, names and values is ignored; a single trailing comma is tolerated.
 */
export function parseActions(text: string, loc: SourceLocation): ActionSpec[] {
  const out: ActionSpec[] = [];
  const len = text.length;
  let i = 0;
  const fail = (msg: string): never => {
    throw new SecLangError(`actions ${JSON.stringify(short(text))}: ${msg}`, loc);
  };
  const skipWs = (): void => {
    while (i < len && isWs(text.charCodeAt(i))) i++;
  };
  skipWs();
  if (i >= len) return out;
  for (;;) {
    const nameStart = i;
    while (i < len) {
      const c = text.charCodeAt(i);
      if (c === 0x3a /* : */ || c === 0x2c /* , */ || isWs(c)) break;
      i++;
    }
    if (i === nameStart) {
      fail(text[i] === ',' ? `empty action at position ${i}` : `missing action name at position ${i} (found ${JSON.stringify(text[i])})`);
    }
    const name = text.slice(nameStart, i).toLowerCase();
    let value: string | null = null;
    let j = i;
    while (j < len && isWs(text.charCodeAt(j))) j++;
    if (j < len && text[j] === ':') {
      i = j + 1;
      skipWs();
      if (i < len && text[i] === "'") {
        const end = scanSingleQuoted(text, i);
        if (end === -1) fail(`unterminated quoted value for action '${name}' (missing closing ')`);
        value = unescapeSingleQuoted(text.slice(i + 1, end));
        i = end + 1;
        skipWs();
        if (i < len && text[i] !== ',') {
          fail(`unexpected ${JSON.stringify(text[i])} after the quoted value of action '${name}' at position ${i} (missing ','?)`);
        }
      } else {
        const valueStart = i;
        while (i < len && text.charCodeAt(i) !== 0x2c) i++;
        let e = i;
        while (e > valueStart && isWs(text.charCodeAt(e - 1))) e--;
        value = text.slice(valueStart, e);
      }
    } else {
      i = j;
      if (i < len && text[i] !== ',') {
        fail(`unexpected ${JSON.stringify(text[i])} after action '${name}' at position ${i} (missing ','?)`);
      }
    }
    out.push({ name, value });
    if (i >= len) break;
    i++; // the comma
    skipWs();
    if (i >= len) break; // trailing comma
  }
  return out;
}
