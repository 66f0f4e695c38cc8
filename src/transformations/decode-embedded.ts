// t:decodeEmbedded (Sidewall's own; not in ModSecurity): undoes the encodings attackers wrap a
// payload in to get it past rules that only look at the value as sent. One step at a time, until
// nothing changes or the depth bound is reached:
//   - percent encoding (%HH, IIS %uHHHH) that is still there after the request parser — nested
//     URL encoding (%2527 → %27 → '); '+' is left alone (it is data in base64);
//   - HTML character references (&#x3c; &lt; ...) and CDATA sections (XML embedded in a value);
//   - JavaScript/JSON escapes (\u003c, \x3c, \n ...);
//   - base64 and base64url, padded or not, of the whole value or of tokens inside it (a data: URL,
//     a JWT segment), kept only when the decoded bytes look like text — random ids and binary
//     (images) are not decoded;
//   - JSON embedded in a string (a value that is itself a JSON document or string literal): the
//     leaf values, one per line, plus object keys that start with '$' (NoSQL operators).
// Bounded: values longer than DECODE_MAX_INPUT are returned unchanged, at most DECODE_MAX_DEPTH
// steps, at most DECODE_MAX_FORMS forms per value. Byte strings in and out (one char per byte).
import { htmlEntityDecode } from './html-entity.js';
import { jsDecode } from './js-decode.js';

export const DECODE_MAX_INPUT = 32 * 1024;
export const DECODE_MAX_DEPTH = 6;
export const DECODE_MAX_FORMS = 32;
/** Shortest whole-value base64 that is tried, padding included (5+ decoded bytes); embedded tokens need more. */
const MIN_B64_WHOLE = 8;
const MIN_B64_TOKEN = 16;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** %HH and %uHHHH decoded (the low byte of %u, full-width ASCII mapped back); '+' kept. */
export function percentDecode(input: string): string {
  if (input.indexOf('%') < 0) return input;
  let out = '';
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    if (c === 0x25 && i + 2 < n) {
      const h1 = hexVal(input.charCodeAt(i + 1));
      const h2 = hexVal(input.charCodeAt(i + 2));
      if (h1 >= 0 && h2 >= 0) {
        out += String.fromCharCode(h1 * 16 + h2);
        i += 2;
        continue;
      }
      if ((input.charCodeAt(i + 1) | 0x20) === 0x75 && i + 5 < n) {
        const d = [2, 3, 4, 5].map((k) => hexVal(input.charCodeAt(i + k)));
        if (d.every((v) => v >= 0)) {
          const code = (d[0]! << 12) | (d[1]! << 8) | (d[2]! << 4) | d[3]!;
          out += String.fromCharCode(code >= 0xff01 && code <= 0xff5e ? code - 0xfee0 : code & 0xff);
          i += 5;
          continue;
        }
      }
    }
    out += input[i];
  }
  return out;
}

/** True when decoded bytes read as text: valid UTF-8, few control characters, a letter. Random
 * bytes pass with a chance of about 0.4^length, so ids of 8+ characters rarely decode. */
export function looksLikeText(bytes: string): boolean {
  if (bytes.length < 4) return false;
  let control = 0;
  let letters = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) control++;
    else if (c === 0x7f) control++;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) letters++;
  }
  if (control * 20 > bytes.length || letters === 0) return false;
  const utf8 = Buffer.from(bytes, 'latin1').toString('utf8');
  return !utf8.includes('\ufffd');
}

const B64_WHOLE = /^[A-Za-z0-9+/_-]+={0,2}$/;
const B64_TOKEN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;

/** Decodes one base64/base64url run when it is well formed and decodes to text; null otherwise. */
export function decodeBase64Text(run: string): string | null {
  const body = run.replace(/=+$/, '');
  if (run.length < MIN_B64_WHOLE || body.length % 4 === 1) return null;
  const url = /[-_]/.test(body);
  if (url && /[+/]/.test(body)) return null; // mixed alphabets: not base64
  if (run.length !== body.length && run.length % 4 !== 0) return null; // padding in the wrong place
  const bytes = Buffer.from(body, url ? 'base64url' : 'base64').toString('latin1');
  return looksLikeText(bytes) ? bytes : null;
}

function decodeBase64Step(input: string): string {
  const trimmed = input.trim();
  if (trimmed.length >= MIN_B64_WHOLE && B64_WHOLE.test(trimmed)) {
    const whole = decodeBase64Text(trimmed);
    if (whole !== null) return whole;
  }
  if (input.length < MIN_B64_TOKEN) return input;
  return input.replace(B64_TOKEN, (run) => decodeBase64Text(run) ?? run);
}

/** The leaves of a JSON document embedded in a value (keys starting with '$' too); null if none. */
function jsonLeaves(input: string): string[] | null {
  const t = input.trim();
  const first = t.charCodeAt(0);
  const last = t.charCodeAt(t.length - 1);
  const doc = (first === 0x7b && last === 0x7d) || (first === 0x5b && last === 0x5d);
  const str = first === 0x22 && last === 0x22 && t.length >= 2;
  if (!doc && !str) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(t, 'latin1').toString('utf8'));
  } catch {
    return null;
  }
  const out: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (out.length >= DECODE_MAX_FORMS || depth > 16) return;
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    else if (Array.isArray(v)) for (const e of v) walk(e, depth + 1);
    else if (v !== null && typeof v === 'object') {
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
        if (k.startsWith('$')) out.push(k);
        walk(e, depth + 1);
      }
    }
  };
  walk(parsed, 0);
  return out.map((s) => Buffer.from(s, 'utf8').toString('latin1'));
}

const JS_ESCAPE = /\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})/;

function cdataDecode(input: string): string {
  return input.indexOf('<![CDATA[') < 0 ? input : input.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1');
}

/** One decoding step: the first decoder that changes the value, or the value itself. */
function step(input: string): string {
  let out = percentDecode(input);
  if (out !== input) return out;
  out = cdataDecode(input);
  if (input.indexOf('&') >= 0) out = htmlEntityDecode(out);
  if (out !== input) return out;
  // Only real escapes: a lone backslash is data (Windows paths), which jsDecode would drop.
  if (input.indexOf('\\') >= 0 && JS_ESCAPE.test(input)) {
    out = jsDecode(input);
    if (out !== input) return out;
  }
  const leaves = jsonLeaves(input);
  if (leaves !== null) return leaves.join('\n');
  return decodeBase64Step(input);
}

/**
 * Every form a value decodes to, outermost first, the value itself excluded; a JSON document met
 * on the way contributes each leaf as its own form (then decoded further). [] when nothing decodes.
 */
export function decodedForms(value: string): string[] {
  if (value.length > DECODE_MAX_INPUT || value.length < 3) return [];
  const forms: string[] = [];
  const seen = new Set<string>([value]);
  const queue: Array<[string, number]> = [[value, 0]];
  while (queue.length > 0 && forms.length < DECODE_MAX_FORMS) {
    const [v, depth] = queue.shift()!;
    if (depth >= DECODE_MAX_DEPTH) continue;
    const leaves = jsonLeaves(v);
    const next = leaves ?? [step(v)];
    for (const n of next) {
      if (seen.has(n) || forms.length >= DECODE_MAX_FORMS) continue;
      seen.add(n);
      forms.push(n);
      queue.push([n, depth + 1]);
    }
  }
  return forms;
}

/** t:decodeEmbedded: the value fully decoded (JSON leaves one per line); unchanged when nothing decodes. */
export function decodeEmbedded(input: string): string {
  if (input.length > DECODE_MAX_INPUT) return input;
  let v = input;
  for (let depth = 0; depth < DECODE_MAX_DEPTH; depth++) {
    const next = step(v);
    if (next === v) break;
    v = next;
  }
  return v;
}
