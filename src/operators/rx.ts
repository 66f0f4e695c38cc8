// @rx: regular expression match (RE2, compiled once at load time; see regex.ts).
import { compileRegex, translatePattern, type CompiledRegex } from './regex.js';
import type { Operator, OperatorFactory, OperatorTx } from './types.js';
import { preparedOperator } from './util.js';

/** TX:0..9 are the capture slots ModSecurity rules use. */
export const MAX_CAPTURES = 10;

/** Stores the groups of a match as TX:0..n (n = the pattern's groups, at most 9); '' for groups that did not match. */
function storeCaptures(tx: OperatorTx, groups: Array<string | undefined>, groupCount: number): void {
  const last = Math.min(groupCount, MAX_CAPTURES - 1);
  for (let i = 0; i <= last; i++) tx.setCapture(i, groups[i] ?? '');
}

function evaluateRx(re: CompiledRegex, tx: OperatorTx, input: string): boolean {
  // test() runs RE2's DFA; exec() needs the slower submatch engine, so pay for it only on a match.
  if (!re.test(input)) return false;
  if (!tx.captureEnabled) return true;
  const groups = re.exec(input);
  if (groups === null) return false;
  storeCaptures(tx, groups, re.groupCount);
  return true;
}

/**
 * Static patterns that match every value as a whole under dot-all without multi-line (how
 * compileRegex compiles): the leftmost match, TX:0, is the entire value and there are no groups.
 * CRS's 920450 (`^.*$` with capture, once per header name) is one; answering it without RE2 gives the
 * same verdict and the same capture.
 */
const WHOLE_VALUE_PATTERNS: ReadonlySet<string> = new Set(['.*', '^.*', '.*$', '^.*$', '(?:.*)', '^(?:.*)$', '(?s).*', '(?s)^.*$']);

export const rxFactory: OperatorFactory = (init): Operator => {
  // ModSecurity: an empty (static) pattern matches everything and captures nothing.
  if (init.expand === null && init.arg === '') return { evaluate: () => true };
  if (init.expand === null && WHOLE_VALUE_PATTERNS.has(init.arg)) {
    return {
      evaluate: (tx, input) => {
        if (tx.captureEnabled) tx.setCapture(0, input);
        return true;
      },
    };
  }
  const fallbackAllowed = init.options.regexFallbackRuleIds?.has(init.ruleId) ?? false;
  if (init.expand === null) {
    const re = compileRegex(init.arg, { ruleId: init.ruleId, fallbackAllowed, onFallback: init.options.warn });
    return {
      evaluate: (tx, input) => evaluateRx(re, tx, input),
      prefilterPattern: re.engine === 're2' ? translatePattern(init.arg, 're2') : undefined,
    };
  }
  return preparedOperator(
    init,
    // An empty macro expansion is compiled as ".*", like ModSecurity's Regex class does.
    (pattern) => compileRegex(pattern === '' ? '.*' : pattern, { ruleId: init.ruleId, fallbackAllowed, onFallback: init.options.warn }),
    evaluateRx,
  );
};
