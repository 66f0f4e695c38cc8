// Redaction of secrets in what events carry: query parameter values with secret-like names,
// and matched data of variables that hold credentials (Authorization, Cookie, secret-named
// ARGS). Over-redacting is preferred to leaking: "author" is redacted along with "auth".
export const REDACTED = '[redacted]';

/** Parameter / header / cookie names that look like they carry a secret (tested lower-cased). */
const SECRET_NAME =
  /pass(?:word|wd|phrase)?|pwd|secret|token|api[-_.]?key|access[-_.]?key|private[-_.]?key|auth|session|sess[-_.]?id|credential|credit|card[-_.]?(?:num|no|number)|cc[-_.]?(?:num|number|no)|cvv|cvc|iban|ssn|signature|bearer|jwt|otp/;
/** Short names that are secrets only when they are the whole name. */
const SECRET_EXACT = new Set(['pw', 'pin', 'pan', 'sid', 'key', 'sig', 'cc', 'code', 'ticket']);

export function isSecretName(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_NAME.test(n) || SECRET_EXACT.has(n);
}

function decodeName(raw: string): string {
  if (raw.indexOf('%') === -1 && raw.indexOf('+') === -1) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** Replaces the values of secret-named parameters in an `a=b&c=d` string. */
export function redactParams(query: string): string {
  if (query === '') return query;
  const parts = query.split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    if (eq === -1) continue;
    if (isSecretName(decodeName(p.slice(0, eq))) && p.length > eq + 1) {
      parts[i] = p.slice(0, eq + 1) + REDACTED;
      changed = true;
    }
  }
  return changed ? parts.join('&') : query;
}

/** Path + query → same with secret parameter values redacted (the fragment, if any, is dropped). */
export function redactPath(uri: string): string {
  const q = uri.indexOf('?');
  if (q === -1) return uri;
  let query = uri.slice(q + 1);
  const hash = query.indexOf('#');
  if (hash !== -1) query = query.slice(0, hash);
  return uri.slice(0, q + 1) + redactParams(query);
}

/** Collections whose every value is a credential. */
const SECRET_COLLECTIONS = new Set(['request_cookies', 'request_cookies_raw']);
/** Headers whose value is a credential. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token']);
/** Variables whose value is (part of) a query string or urlencoded body: redact parameter-wise. */
const PARAM_VARIABLES = new Set(['query_string', 'request_uri', 'request_uri_raw', 'request_line', 'request_body', 'full_request']);

/**
 * Matched data as it may appear in an event: "[redacted]" for credential-bearing variables,
 * secret parameter values removed from query-string-like ones, then truncated to `max` bytes
 * (latin1 byte string in, readable UTF-8 out).
 */
export function redactMatchedData(matchedVar: string, data: string, max: number): string {
  const colon = matchedVar.indexOf(':');
  const collection = (colon === -1 ? matchedVar : matchedVar.slice(0, colon)).toLowerCase();
  const key = colon === -1 ? '' : matchedVar.slice(colon + 1);
  if (SECRET_COLLECTIONS.has(collection)) return REDACTED;
  if (key !== '') {
    const k = key.toLowerCase();
    if (collection === 'request_headers' && SECRET_HEADERS.has(k)) return REDACTED;
    if (isSecretName(k)) return REDACTED;
  }
  let value = data;
  if (PARAM_VARIABLES.has(collection)) value = collection === 'request_uri' || collection === 'request_uri_raw' || collection === 'request_line' ? redactPath(value) : redactParams(value);
  return byteText(value, max);
}

/** Byte string (latin1) → UTF-8 text of at most `max` bytes (a cut multi-byte character is dropped). */
export function byteText(s: string, max: number): string {
  const t = s.length > max ? s.slice(0, max) : s;
  if (!/[^\x00-\x7f]/.test(t)) return t;
  return Buffer.from(t, 'latin1').toString('utf8').replace(/\uFFFD$/, '');
}
