// Webhook signatures: HMAC-SHA256 over `${timestamp}.${body}` (the exact body bytes), sent as
//   X-Sidewall-Timestamp: <unix seconds>
//   X-Sidewall-Signature: v1=<hex>
// Consumers recompute it, compare in constant time and reject timestamps outside a
// tolerance (default 300 s) against replay. Each delivery attempt is signed afresh, so
// retries after a long outage still verify.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-sidewall-signature';
export const TIMESTAMP_HEADER = 'x-sidewall-timestamp';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function sign(secret: string, timestamp: number, body: Buffer | string): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a delivery. `signatureHeader` may list several comma-separated `v1=` values
 * (e.g. during secret rotation); any one matching is enough.
 */
export function verify(
  secret: string,
  body: Buffer,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): VerifyResult {
  if (!timestampHeader || !/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'missing or malformed timestamp header' };
  if (!signatureHeader) return { ok: false, reason: 'missing signature header' };
  const ts = Number(timestampHeader);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - ts) > tolerance) return { ok: false, reason: `timestamp outside tolerance (${now - ts}s off, tolerance ${tolerance}s)` };
  const expected = Buffer.from(sign(secret, ts, body), 'latin1');
  for (const part of signatureHeader.split(',')) {
    const given = Buffer.from(part.trim(), 'latin1');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'signature mismatch' };
}
