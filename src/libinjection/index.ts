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

/** libinjection_sqli on a byte string. */
export function detectSQLi(input: string): SqliResult {
  const st = sqliState.init(input, 0);
  const isSqli = st.isSqli();
  const result = { isSqli, fingerprint: isSqli ? st.fingerprint : '' };
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
