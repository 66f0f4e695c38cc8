// @verifyCC: finds credit card number candidates with the argument regex, then checks them with
// the Luhn (mod 10) algorithm. As in ModSecurity v3 the regex is compiled multi-line, every
// candidate (the whole match) is checked until one passes, and TX:0 gets it under `capture`.
import { compileRegex, type CompiledRegex } from './regex.js';
import type { Operator, OperatorFactory, OperatorTx } from './types.js';
import { preparedOperator } from './util.js';

/** Doubled digit with its digits summed (2*d - 9 when above 9). */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/**
 * Luhn over the decimal digits of s (other characters are skipped); false without digits. One pass
 * computes both weightings (first digit doubled or not) and keeps the one that doubles every
 * second digit from the right, as ModSecurity's luhnVerify().
 */
export function luhn(s: string): boolean {
  let firstDoubled = 0;
  let firstSingle = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) continue;
    const even = digits % 2 === 0;
    firstDoubled += even ? DOUBLED[d]! : d;
    firstSingle += even ? d : DOUBLED[d]!;
    digits++;
  }
  if (digits === 0) return false;
  return (digits % 2 === 0 ? firstDoubled : firstSingle) % 10 === 0;
}

/**
 * ModSecurity retries the regex at every start offset; a failed candidate at position p means the
 * next different candidate can only start after p, so we resume there.
 */
function findCard(re: CompiledRegex, input: string): string | undefined {
  for (let from = 0; from < input.length; ) {
    const m = re.execFrom(input, from);
    if (m === null) return undefined;
    const candidate = m.groups[0] ?? '';
    if (luhn(candidate)) return candidate;
    from = m.index + 1;
  }
  return undefined;
}

function evaluateCC(re: CompiledRegex, tx: OperatorTx, input: string): boolean {
  const card = findCard(re, input);
  if (card === undefined) return false;
  if (tx.captureEnabled) tx.setCapture(0, card);
  return true;
}

export const verifyCCFactory: OperatorFactory = (init): Operator => {
  const fallbackAllowed = init.options.regexFallbackRuleIds?.has(init.ruleId) ?? false;
  return preparedOperator(
    init,
    (pattern) => compileRegex(pattern, { ruleId: init.ruleId, fallbackAllowed, multiline: true }),
    evaluateCC,
  );
};
