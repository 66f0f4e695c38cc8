// Every SecLang variable by name, and how it reads the transaction.
// Most values live in two generic stores on the transaction (scalars, collections) filled by the
// request mapper and body processors; only derived collections (ARGS, *_NAMES, TX) need code.
import type { KV, VariableDef } from './types.js';
import type { Transaction } from '../engine/transaction.js';
import { readCustomHeaders, readDecodedValues, readPathSegments, readXmlDtd } from './sidewall.js';

type Reader = (tx: Transaction) => readonly KV[];

const defs = new Map<string, VariableDef>();

function define(name: string, keyed: boolean, read: Reader, dynamic = false): void {
  defs.set(name, { name, keyed, read: read as VariableDef['read'], dynamic });
}

const EMPTY: readonly KV[] = [];

/** Scalars stored in tx.scalars under their own name. */
const SCALARS = [
  'REQUEST_METHOD', 'REQUEST_URI', 'REQUEST_URI_RAW', 'REQUEST_FILENAME', 'REQUEST_BASENAME', 'REQUEST_LINE',
  'REQUEST_PROTOCOL', 'QUERY_STRING', 'REQUEST_BODY', 'REQUEST_BODY_LENGTH', 'REMOTE_ADDR', 'REMOTE_HOST', 'REMOTE_PORT',
  'REMOTE_USER', 'SERVER_ADDR', 'SERVER_NAME', 'SERVER_PORT', 'PATH_INFO', 'AUTH_TYPE', 'UNIQUE_ID',
  'REQBODY_ERROR', 'REQBODY_ERROR_MSG', 'REQBODY_PROCESSOR', 'REQBODY_PROCESSOR_ERROR', 'REQBODY_PROCESSOR_ERROR_MSG',
  'INBOUND_DATA_ERROR', 'OUTBOUND_DATA_ERROR', 'URLENCODED_ERROR', 'ARGS_COMBINED_SIZE', 'FILES_COMBINED_SIZE',
  'FULL_REQUEST', 'FULL_REQUEST_LENGTH', 'MULTIPART_BOUNDARY_QUOTED', 'MULTIPART_BOUNDARY_WHITESPACE',
  'MULTIPART_CRLF_LF_LINES', 'MULTIPART_DATA_AFTER', 'MULTIPART_DATA_BEFORE', 'MULTIPART_FILE_LIMIT_EXCEEDED',
  'MULTIPART_HEADER_FOLDING', 'MULTIPART_INVALID_HEADER_FOLDING', 'MULTIPART_INVALID_PART', 'MULTIPART_INVALID_QUOTING',
  'MULTIPART_LF_LINE', 'MULTIPART_MISSING_SEMICOLON', 'MULTIPART_SEMICOLON_MISSING', 'MULTIPART_STRICT_ERROR',
  'MULTIPART_UNMATCHED_BOUNDARY', 'RESPONSE_BODY', 'RESPONSE_STATUS',
  'RESPONSE_PROTOCOL', 'RESPONSE_CONTENT_TYPE', 'RESPONSE_CONTENT_LENGTH', 'STATUS_LINE', 'USERID', 'SESSIONID',
  'WEBAPPID', 'WEBSERVER_ERROR_LOG', 'MSC_PCRE_LIMITS_EXCEEDED', 'USERAGENT_IP', 'STATUS', 'MODSEC_BUILD',
  'REQBODY_PROCESSOR_ERROR', 'HIGHEST_SEVERITY',
];
for (const name of SCALARS) {
  define(name, false, (tx) => tx.scalars.get(name) ?? EMPTY, name === 'HIGHEST_SEVERITY');
}

/** Keyed collections stored in tx.collections under their own name. */
const COLLECTIONS = [
  'ARGS_GET', 'ARGS_POST', 'REQUEST_HEADERS', 'REQUEST_COOKIES', 'FILES', 'FILES_SIZES', 'FILES_TMPNAMES',
  'FILES_TMP_CONTENT', 'FILES_NAMES', 'MULTIPART_PART_HEADERS', 'MULTIPART_FILENAME', 'MULTIPART_NAME', 'XML', 'ENV', 'IP', 'SESSION', 'USER', 'GLOBAL', 'RESOURCE',
  'GEO', 'RESPONSE_HEADERS', 'REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES_NAMES', 'RESPONSE_HEADERS_NAMES',
];
for (const name of COLLECTIONS) {
  define(name, true, (tx) => tx.collections.get(name) ?? EMPTY, ['ENV', 'IP', 'SESSION', 'USER', 'GLOBAL', 'RESOURCE'].includes(name));
}

define('ARGS', true, (tx) => tx.args());
define('ARGS_NAMES', true, (tx) => tx.names('ARGS'));
define('ARGS_GET_NAMES', true, (tx) => tx.names('ARGS_GET'));
define('ARGS_POST_NAMES', true, (tx) => tx.names('ARGS_POST'));
// Sidewall's own (sidewall.ts): used by rules/sidewall-layer.
define('CUSTOM_HEADERS', true, readCustomHeaders);
define('PATH_SEGMENTS', true, readPathSegments);
define('XML_DTD', true, readXmlDtd);
define('DECODED_VALUES', true, readDecodedValues);
define('TX', true, (tx) => tx.txEntries(), true);
define('MATCHED_VARS', true, (tx) => tx.matchedVars, true);
define('MATCHED_VARS_NAMES', true, (tx) => tx.matchedVarsNames(), true);
define('MATCHED_VAR', false, (tx) => (tx.matchedVar === null ? EMPTY : [tx.matchedVar]), true);
define('MATCHED_VAR_NAME', false, (tx) => (tx.matchedVar === null ? EMPTY : [{ key: '', value: tx.matchedVarName }]), true);
define('RULE', true, (tx) => tx.ruleEntries(), true);
define('DURATION', false, (tx) => [{ key: '', value: String(Math.round((performance.now() - tx.startedAt) * 1000)) }], true); // µs
const timeParts: Array<[string, (d: Date) => string]> = [
  ['TIME', (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`],
  ['TIME_DAY', (d) => String(d.getDate())],
  ['TIME_EPOCH', (d) => String(Math.floor(d.getTime() / 1000))],
  ['TIME_HOUR', (d) => String(d.getHours())],
  ['TIME_MIN', (d) => String(d.getMinutes())],
  ['TIME_MON', (d) => String(d.getMonth())],
  ['TIME_SEC', (d) => String(d.getSeconds())],
  ['TIME_WDAY', (d) => String(d.getDay())],
  ['TIME_YEAR', (d) => String(d.getFullYear())],
];
function pad(n: number): string {
  return n < 10 ? '0' + n : String(n);
}
for (const [name, f] of timeParts) define(name, false, () => [{ key: '', value: f(new Date()) }], true);

export function getVariable(name: string): VariableDef | undefined {
  return defs.get(name.toUpperCase());
}

export function variableNames(): string[] {
  return [...defs.keys()];
}
