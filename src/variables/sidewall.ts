// Sidewall's own variables (not in ModSecurity), for the sidewall-layer ruleset:
//   CUSTOM_HEADERS   request headers that are not standard browser, proxy, tracing or API headers
//                    — where injected payloads hide from CRS, which inspects only a few headers;
//   PATH_SEGMENTS    the URL path split at '/', each segment percent-decoded (key: its index);
//   XML_DTD          DOCTYPE and ENTITY declarations of an XML body (key DOCTYPE or ENTITY);
//   DECODED_VALUES   every decoded form (t:decodeEmbedded's steps, see decode-embedded.ts) of the
//                    arguments (JSON leaves included), XML text nodes and attributes, cookies, header
//                    values (not Cookie/Authorization: cookies come one by one, credentials are
//                    not inspected) and path segments; key "<SOURCE>:<name>". Only values that
//                    decode to something else appear.
// Each is computed once per transaction and recomputed only when its sources grew (phase 2
// adds body arguments), so a ruleset reading it from many rules pays once.
import type { KV } from './types.js';
import type { Transaction } from '../engine/transaction.js';
import { decodedForms } from '../transformations/decode-embedded.js';
import { XML_LEAVES_COLLECTION } from '../bodyprocessors/xml.js';

/** Lower-case names of headers browsers, proxies, meshes and API clients send on their own. */
const STANDARD_HEADERS = new Set([
  'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'accept-datetime', 'access-control-request-headers',
  'access-control-request-method', 'authorization', 'cache-control', 'connection', 'content-encoding',
  'content-language', 'content-length', 'content-md5', 'content-type', 'cookie', 'date', 'dnt', 'early-data', 'expect',
  'forwarded', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'keep-alive', 'max-forwards', 'origin', 'pragma', 'priority', 'proxy-authorization', 'proxy-connection', 'range',
  'referer', 'save-data', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'upgrade-insecure-requests', 'user-agent',
  'via', 'warning', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port',
  'x-forwarded-prefix', 'x-forwarded-client-cert', 'x-real-ip', 'x-request-id', 'x-requested-with', 'x-csrf-token',
  'x-xsrf-token', 'x-correlation-id', 'x-api-key', 'x-amzn-trace-id', 'x-cloud-trace-context', 'traceparent',
  'tracestate', 'baggage', 'b3', 'x-ot-span-context', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding',
  'purpose', 'sec-purpose', 'x-http-method-override', 'x-wap-profile', 'x-att-deviceid', 'x-client-trace-id',
]);
const STANDARD_PREFIXES = ['sec-', 'x-envoy-', 'x-b3-', 'x-datadog-', 'x-istio-', 'x-goog-', 'cf-', 'x-amz-', 'access-control-', ':'];

export function isStandardHeader(name: string): boolean {
  const lower = name.toLowerCase();
  if (STANDARD_HEADERS.has(lower)) return true;
  for (const p of STANDARD_PREFIXES) if (lower.startsWith(p)) return true;
  return false;
}

interface Memo {
  signature: string;
  entries: KV[];
}

function memoized(cache: WeakMap<Transaction, Memo>, tx: Transaction, signature: string, compute: () => KV[]): KV[] {
  const m = cache.get(tx);
  if (m !== undefined && m.signature === signature) return m.entries;
  const entries = compute();
  cache.set(tx, { signature, entries });
  return entries;
}

const customHeaders = new WeakMap<Transaction, Memo>();
export function readCustomHeaders(tx: Transaction): readonly KV[] {
  const headers = tx.collection('REQUEST_HEADERS');
  return memoized(customHeaders, tx, String(headers.length), () => headers.filter((kv) => !isStandardHeader(kv.key)));
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Strict single %HH decoding of a path segment (invalid escapes kept). */
function segmentDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(hexVal(h.charCodeAt(0)) * 16 + hexVal(h.charCodeAt(1))));
}

const pathSegments = new WeakMap<Transaction, Memo>();
export function readPathSegments(tx: Transaction): readonly KV[] {
  return memoized(pathSegments, tx, '', () => {
    const uri = tx.request.uri;
    const q = uri.indexOf('?');
    let path = q < 0 ? uri : uri.slice(0, q);
    const scheme = path.indexOf('://');
    if (scheme >= 0 && path[0] !== '/') path = path.slice(path.indexOf('/', scheme + 3) >>> 0);
    const out: KV[] = [];
    const parts = path.split('/');
    for (let i = 0; i < parts.length && out.length < 64; i++) {
      if (parts[i] === '') continue;
      out.push({ key: String(out.length), value: segmentDecode(parts[i]!) });
    }
    return out;
  });
}

/** How far into an XML body a DOCTYPE is looked for (it must come before the root element). */
const DTD_SCAN_BYTES = 64 * 1024;

const xmlDtd = new WeakMap<Transaction, Memo>();
export function readXmlDtd(tx: Transaction): readonly KV[] {
  const body = tx.request.body;
  if (body === null || body.length === 0) return [];
  return memoized(xmlDtd, tx, '', () => {
    const text = body.subarray(0, DTD_SCAN_BYTES).toString('latin1');
    const start = text.search(/<!DOCTYPE/i);
    if (start < 0 || !/^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<!DOCTYPE/i.test(text.replace(/^\xef\xbb\xbf/, ''))) return [];
    // The declaration ends at '>' after the internal subset's ']' (if it has one).
    const open = text.indexOf('[', start);
    const firstClose = text.indexOf('>', start);
    let end: number;
    if (open >= 0 && (firstClose < 0 || open < firstClose)) {
      const close = text.indexOf(']', open);
      end = close < 0 ? text.length : text.indexOf('>', close);
    } else end = firstClose;
    if (end < 0) end = text.length;
    const decl = text.slice(start, end + 1);
    const out: KV[] = [{ key: 'DOCTYPE', value: decl }];
    for (const m of decl.matchAll(/<!ENTITY[\s\S]*?>/gi)) {
      if (out.length > 256) break;
      out.push({ key: 'ENTITY', value: m[0] });
    }
    return out;
  });
}

const DECODED_HEADER_SKIP = new Set(['cookie', 'authorization', 'proxy-authorization']);
const decoded = new WeakMap<Transaction, Memo>();
/** Caps the work per request: a flood of arguments is inspected up to here. */
const MAX_DECODED_SOURCES = 512;

export function readDecodedValues(tx: Transaction): readonly KV[] {
  const args = tx.args();
  // XML: each text node apart (XML:/* is their concatenation) and the attribute values.
  const xmlLeaves = tx.collection(XML_LEAVES_COLLECTION);
  const xml = tx.collection('XML');
  const cookies = tx.collection('REQUEST_COOKIES');
  const headers = tx.collection('REQUEST_HEADERS');
  const signature = `${args.length}/${xmlLeaves.length}/${xml.length}/${cookies.length}/${headers.length}`;
  return memoized(decoded, tx, signature, () => {
    const out: KV[] = [];
    let sources = 0;
    const add = (prefix: string, kvs: readonly KV[], skip?: (kv: KV) => boolean): void => {
      for (const kv of kvs) {
        if (sources++ >= MAX_DECODED_SOURCES) return;
        if (skip?.(kv)) continue;
        const key = `${prefix}:${kv.key}`;
        for (const form of decodedForms(kv.value)) out.push({ key, value: form });
      }
    };
    add('ARGS', args);
    add('XML', xmlLeaves);
    add('XML', xml, (kv) => kv.key !== '//@*');
    add('REQUEST_COOKIES', cookies);
    add('REQUEST_HEADERS', headers, (kv) => DECODED_HEADER_SKIP.has(kv.key.toLowerCase()));
    add('PATH_SEGMENTS', readPathSegments(tx));
    return out;
  });
}
