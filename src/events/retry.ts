// Retry timing: exponential backoff with full jitter, and Retry-After parsing.

/** Full jitter: uniform in [0, min(maxMs, initialMs * 2^attempt)] (attempt 0 = first retry). */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After (delta seconds or an HTTP date) → milliseconds from now, or null when absent
 * or unparseable. Past dates give 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number = Date.now()): number | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return null;
  return Math.max(0, t - nowMs);
}

export type Outcome = 'delivered' | 'retry' | 'permanent';

/** 2xx delivered; 408, 429 and 5xx retried; any other status is a permanent failure. */
export function classifyStatus(status: number): Outcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}
