// libinjection for Node: SQLi and XSS detection as used by CRS @detectSQLi / @detectXSS
// (rules 942100/942101, 941100/941101). A TypeScript reimplementation of libinjection's
// algorithms (v3.10 behaviour); libinjection is BSD-3-Clause, see ./data.ts for its licence.
//
// Inputs are byte strings: one char per byte (latin1, char codes 0..255), never UTF-16 text.
import { SqliState } from './sqli.js';
import { isXss } from './xss.js';

export interface SqliResult {
  isSqli: boolean;
  /** libinjection's fingerprint (e.g. "s&1"), '' when not SQLi */
  fingerprint: string;
}

const sqliState = new SqliState();

/** The answer for every input that is not SQLi (shared: callers only read it). */
const NOT_SQLI: SqliResult = Object.freeze({ isSqli: false, fingerprint: '' });

/** 1 for [A-Za-z0-9_], 2 for [0-9] too. */
const WORD_CHAR = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 2;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  t[0x5f] = 1;
  return t;
})();

/**
 * Whether libinjection reads `input` as one token in every context it tries: a word
 * ([A-Za-z_][A-Za-z0-9_]*: no char of it ends a word, and without a quote or '&' the string and
 * q'..' parsers of its first letter fall back to the word parser) or a run of digits (one number).
 * No quote means no quoted context is tried and no comment means no MySQL re-parse; a one-token
 * fingerprint is one of the keyword types, 'n' or '1', and of one-char fingerprints only "X" (the
 * evil token, never a word or number) is blacklisted. So such an input is never SQLi; this skips
 * the state machine for the names, ids and plain words most parameters hold.
 * test/libinjection-single-token.test.ts checks this against the full algorithm.
 */
export function isSingleToken(input: string): boolean {
  const n = input.length;
  if (n === 0) return false;
  const first = input.charCodeAt(0);
  if (first > 0xff) return false;
  const kind = WORD_CHAR[first]!;
  if (kind === 0) return false;
  for (let i = 1; i < n; i++) {
    const c = input.charCodeAt(i);
    if (c > 0xff) return false;
    const k = WORD_CHAR[c]!;
    // a word continues with any word char; a number only with digits
    if (k === 0 || (kind === 2 && k !== 2)) return false;
  }
  return true;
}

/** libinjection_sqli on a byte string. */
export function detectSQLi(input: string): SqliResult {
  return isSingleToken(input) ? NOT_SQLI : detectSQLiFull(input);
}

/** libinjection_sqli without the single-token shortcut (the reference the shortcut is tested against). */
export function detectSQLiFull(input: string): SqliResult {
  const st = sqliState.init(input, 0);
  const isSqli = st.isSqli();
  const result = isSqli ? { isSqli, fingerprint: st.fingerprint } : NOT_SQLI;
  st.init('', 0); // do not keep the input alive
  return result;
}

/** libinjection_xss on a byte string. */
export function detectXSS(input: string): boolean {
  return isXss(input);
}

export {
  SqliState,
  SqliToken,
  lookupWord,
  isFingerprint,
  FLAG_NONE,
  FLAG_QUOTE_NONE,
  FLAG_QUOTE_SINGLE,
  FLAG_QUOTE_DOUBLE,
  FLAG_SQL_ANSI,
  FLAG_SQL_MYSQL,
  LOOKUP_WORD,
  LOOKUP_TYPE,
  LOOKUP_OPERATOR,
  LOOKUP_FINGERPRINT,
  MAX_TOKENS,
  TOKEN_SIZE,
  TYPE_NONE,
  TYPE_KEYWORD,
  TYPE_UNION,
  TYPE_GROUP,
  TYPE_EXPRESSION,
  TYPE_SQLTYPE,
  TYPE_FUNCTION,
  TYPE_BAREWORD,
  TYPE_NUMBER,
  TYPE_VARIABLE,
  TYPE_STRING,
  TYPE_OPERATOR,
  TYPE_LOGIC_OPERATOR,
  TYPE_COMMENT,
  TYPE_COLLATE,
  TYPE_LEFTPARENS,
  TYPE_RIGHTPARENS,
  TYPE_LEFTBRACE,
  TYPE_RIGHTBRACE,
  TYPE_DOT,
  TYPE_COMMA,
  TYPE_COLON,
  TYPE_SEMICOLON,
  TYPE_TSQL,
  TYPE_UNKNOWN,
  TYPE_EVIL,
  TYPE_FINGERPRINT,
  TYPE_BACKSLASH,
} from './sqli.js';

export {
  H5State,
  H5_TYPE_NAMES,
  DATA_TEXT,
  TAG_NAME_OPEN,
  TAG_NAME_CLOSE,
  TAG_NAME_SELFCLOSE,
  TAG_DATA,
  TAG_CLOSE,
  ATTR_NAME,
  ATTR_VALUE,
  TAG_COMMENT,
  DOCTYPE,
  DATA_STATE,
  VALUE_NO_QUOTE,
  VALUE_SINGLE_QUOTE,
  VALUE_DOUBLE_QUOTE,
  VALUE_BACK_QUOTE,
  RESULT_FALSE,
  RESULT_TRUE,
  RESULT_ERROR,
  H5_STATE_EOF,
  H5_STATE_DATA,
  H5_STATE_TAG_OPEN,
  H5_STATE_TAG_NAME_CLOSE,
  H5_STATE_BEFORE_ATTRIBUTE_NAME,
  H5_STATE_AFTER_ATTRIBUTE_NAME,
  H5_STATE_BEFORE_ATTRIBUTE_VALUE,
  H5_STATE_ATTRIBUTE_VALUE_DOUBLE_QUOTE,
  H5_STATE_ATTRIBUTE_VALUE_SINGLE_QUOTE,
  H5_STATE_ATTRIBUTE_VALUE_BACK_QUOTE,
  H5_STATE_AFTER_ATTRIBUTE_VALUE_QUOTED,
  H5_STATE_SELF_CLOSING_START_TAG,
} from './html5.js';

export {
  isXss,
  isXssInContext,
  isBlackTag,
  isBlackAttr,
  isBlackUrl,
  ATTR_TYPE_NONE,
  ATTR_TYPE_BLACK,
  ATTR_TYPE_URL,
  ATTR_TYPE_STYLE,
  ATTR_TYPE_INDIRECT,
} from './xss.js';

export { KEYWORDS, FINGERPRINTS, FINGERPRINT_SET, CHARMAP, CHAR_CLASS_NAMES } from './data.js';
