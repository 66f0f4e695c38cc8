// @detectSQLi / @detectXSS: libinjection (src/libinjection). With `capture`, @detectSQLi stores
// the libinjection fingerprint in TX:0, as ModSecurity does; @detectXSS captures nothing.
import { detectSQLi, detectXSS } from '../libinjection/index.js';
import type { OperatorFactory } from './types.js';

export const detectSQLiFactory: OperatorFactory = () => ({
  evaluate(tx, input) {
    const r = detectSQLi(input);
    if (r.isSqli && tx.captureEnabled) tx.setCapture(0, r.fingerprint);
    return r.isSqli;
  },
});

export const detectXSSFactory: OperatorFactory = () => ({
  evaluate: (_tx, input) => detectXSS(input),
  // libinjection flags a tag, comment or doctype (all open with '<') or a value given to a
  // dangerous attribute (after '='); in no parsing context does anything else reach a verdict.
  prefilterRequired: XSS_REQUIRED,
});

const XSS_REQUIRED: readonly string[] = Object.freeze(['<', '=']);
