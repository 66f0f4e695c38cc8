// Acceleration on vs off: two engines compiled from the same rules, one request, identical verdicts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { HttpRequest, Verdict } from '../../src/engine/api.js';
import { Waf, type WafLoadOptions } from '../../src/engine/waf.js';
import { REPO_ROOT } from '../../bench/lib/shared.js';

export interface EnginePair {
  on: Waf;
  off: Waf;
}

export function enginePair(entryText: string, options: WafLoadOptions = {}): EnginePair {
  const path = join(REPO_ROOT, 'differential-entry.conf');
  const on = Waf.fromString(entryText, path, { ...options, acceleration: true, onWarning: () => {} });
  const off = Waf.fromString(entryText, path, { ...options, acceleration: false, onWarning: () => {} });
  return { on, off };
}

/** Evaluates `request` on both engines: the accelerated verdict and a description of any difference. */
export function compare(pair: EnginePair, request: HttpRequest): { verdict: Verdict; difference: string | null } {
  const a: Verdict = pair.on.evaluate(request);
  const b: Verdict = pair.off.evaluate(request);
  try {
    assert.deepStrictEqual(a, b);
    return { verdict: a, difference: null };
  } catch (e) {
    return { verdict: a, difference: (e as Error).message.slice(0, 2000) };
  }
}

export function difference(pair: EnginePair, request: HttpRequest): string | null {
  return compare(pair, request).difference;
}

/** Percent-encodes every byte of a byte string that is not unreserved. */
export function percentEncode(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i) & 0xff;
    out += /[A-Za-z0-9\-._~]/.test(bytes[i]!) && c < 0x80 ? bytes[i] : '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * A request carrying `value` (a byte string) where CRS looks: a query argument, a urlencoded body
 * field, a header, a cookie and (raw) an argument name.
 */
export function requestWithValue(value: string, id = 'diff'): HttpRequest {
  const enc = percentEncode(value);
  const headerSafe = value.replace(/[\r\n\0]/g, ' ');
  return {
    id,
    method: 'POST',
    uri: `/search?q=${enc}&${enc}=1`,
    protocol: 'HTTP/1.1',
    headers: [
      ['Host', 'shop.example.com'],
      ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) differential'],
      ['Accept', '*/*'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ['X-Probe', headerSafe],
      ['Cookie', `session=${enc}`],
    ],
    body: Buffer.from(`f=${enc}`, 'latin1'),
    bodyPartial: false,
    clientIp: '10.0.0.1',
    clientPort: 40000,
    serverIp: '10.0.0.2',
    serverPort: 80,
  };
}
