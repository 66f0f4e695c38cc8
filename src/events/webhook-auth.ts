// HTTP authentication of a webhook's deliveries, for receivers that authenticate the caller
// rather than verify an HMAC signature (Jira: Basic email:api-token or a Bearer personal access
// token; collectors behind an auth proxy). Secrets come from files only (mounted Secrets), are
// held here and put on the wire, and are never part of a log line or an error: the object's
// JSON and inspect forms show the type alone.
import { inspect } from 'node:util';

export type WebhookAuthType = 'basic' | 'bearer';
export const WEBHOOK_AUTH_TYPES: readonly WebhookAuthType[] = ['basic', 'bearer'];

export class WebhookAuth {
  readonly type: WebhookAuthType;
  /** Basic: the user name (not secret); bearer: null. */
  readonly username: string | null;
  /** Where the secret was read from, for messages. */
  readonly file: string;
  readonly #header: string;

  private constructor(type: WebhookAuthType, username: string | null, file: string, header: string) {
    this.type = type;
    this.username = username;
    this.file = file;
    this.#header = header;
  }

  /** RFC 7617: the user name must not contain ":"; the pair is UTF-8 then base64. */
  static basic(username: string, password: string, file: string): WebhookAuth {
    return new WebhookAuth('basic', username, file, 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64'));
  }

  /** RFC 6750 bearer token. */
  static bearer(token: string, file: string): WebhookAuth {
    return new WebhookAuth('bearer', null, file, `Bearer ${token}`);
  }

  /** The Authorization header value. */
  header(): string {
    return this.#header;
  }

  toJSON(): Record<string, string> {
    return this.username === null ? { type: this.type, file: this.file } : { type: this.type, username: this.username, file: this.file };
  }

  [inspect.custom](): string {
    return `WebhookAuth(${this.type}${this.username === null ? '' : ` ${this.username}`}, ${this.file})`;
  }
}

/** Why a user name / token is unusable in an HTTP header, or null. */
export function basicUsernameProblem(username: string): string | null {
  if (username.includes(':')) return 'must not contain ":" (RFC 7617)';
  if (/[\x00-\x1f\x7f]/.test(username)) return 'must not contain control characters';
  return null;
}

/** RFC 6750 b64token characters only, so the header cannot be split or rejected by the HTTP client. */
export function bearerTokenProblem(token: string): string | null {
  return /^[A-Za-z0-9\-._~+/]+=*$/.test(token) ? null : 'must be a bearer token (letters, digits and -._~+/ with optional trailing =; no spaces or newlines)';
}

export function passwordProblem(password: string): string | null {
  return /[\x00-\x1f\x7f]/.test(password) ? 'must not contain control characters' : null;
}
