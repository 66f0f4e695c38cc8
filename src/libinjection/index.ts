// Placeholder until the libinjection port lands (issue 3): the public API of this module.
export interface SqliResult {
  isSqli: boolean;
  fingerprint: string;
}

/** libinjection_sqli on a byte string. */
export function detectSQLi(input: string): SqliResult {
  void input;
  return { isSqli: false, fingerprint: '' };
}

/** libinjection_xss on a byte string. */
export function detectXSS(input: string): boolean {
  void input;
  return false;
}
