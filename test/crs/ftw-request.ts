// Builds the exact bytes go-ftw (v2.x, ftwhttp/request.go BuildRequest) writes to the socket
// for one stage.
//
// go-ftw behaviour reproduced here:
// - defaults: method GET, uri "/", version "HTTP/1.1" (GetMethod/GetURI/GetVersion);
//   the request line is "METHOD URI VERSION\r\n", everything sent verbatim (no validation).
// - `headers` (a map) is turned into an ordered list sorted by name (NewHeaderFromMap, byte
//   order); `ordered_headers` are sent as given. Names keep their case. Header lookups below are
//   case-insensitive (textproto canonical keys), like go-ftw's HasAny/HasAnyValue.
// - `data` is a Go text/template (sprig functions); only the `repeat` usage found in the CRS
//   corpus is implemented, anything else is reported as unsupported. `encoded_data` is base64.
// - with autocomplete_headers (default true) and non-empty data:
//     * Content-Type: application/x-www-form-urlencoded is appended when absent;
//     * if Content-Type equals (case-insensitively) application/x-www-form-urlencoded and the
//       data contains no '%' and no '+' (url.QueryUnescape would change it or fail), every
//       key and value between '&' and '=' is url.QueryEscape'd.
// - if any Content-Type value contains "multipart/form-data;" (lower-cased), every LF in the
//   data becomes CRLF (existing CRLF becomes CRCRLF, as in go-ftw).
// - with autocomplete_headers: `Connection: close` is appended when there is no Connection
//   header; `Content-Length: <len(data)>` is appended when there is no Content-Length header
//   and (data is non-empty or the method matches /^POST|PUT|PATCH|DELETE$/ — go's regexp
//   without grouping, i.e. starts with POST, contains PUT or PATCH, or ends with DELETE).
// - encoded_request (base64) / raw_request replace everything: sent verbatim.
//
// YAML strings are UTF-8 encoded (go-yaml turns "\x80" into the code point U+0080, which Go
// writes as UTF-8 C2 80; the JS YAML parser yields the same code point).

import type { FtwInput } from './ftw-corpus.js';

export interface HeaderLine {
  name: string;
  value: string;
}

export interface BuiltRequest {
  /** Bytes on the wire. */
  raw: Buffer;
  /** How it was produced. */
  kind: 'fields' | 'encoded_request' | 'raw_request';
  /** For kind 'fields': the request line parts and final header list (after autocompletion). */
  method?: string;
  uri?: string;
  version?: string;
  headers?: HeaderLine[];
  /** For kind 'fields': the body bytes after encoding. */
  body?: Buffer;
}

export class UnsupportedInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedInputError';
  }
}

const METHODS_WITH_BODY = /^POST|PUT|PATCH|DELETE$/;

function canonicalEq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function hasAny(headers: HeaderLine[], name: string): boolean {
  return headers.some((h) => canonicalEq(h.name, name));
}

function byteCompare(a: string, b: string): number {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return Buffer.compare(ba, bb);
}

/** Minimal Go text/template + sprig evaluator for the `repeat` function. */
export function expandGoTemplate(data: string): string {
  if (!data.includes('{{')) return data;
  let out = '';
  let i = 0;
  while (i < data.length) {
    const open = data.indexOf('{{', i);
    if (open < 0) {
      out += data.slice(i);
      break;
    }
    const close = data.indexOf('}}', open + 2);
    if (close < 0) throw new UnsupportedInputError('unterminated Go template action in data');
    let before = data.slice(i, open);
    let action = data.slice(open + 2, close);
    let next = close + 2;
    // Trim markers: "{{- " trims preceding white space, " -}}" the following.
    if (/^-\s/.test(action)) {
      before = before.replace(/\s+$/, '');
      action = action.slice(1);
    }
    if (/\s-$/.test(action)) {
      action = action.slice(0, -1);
      while (next < data.length && /\s/.test(data[next]!)) next++;
    }
    out += before + evalAction(action.trim());
    i = next;
  }
  return out;
}

function goStringLiteral(s: string): string | null {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(s) ?? /^`([^`]*)`$/.exec(s);
  if (!m) return null;
  if (s.startsWith('`')) return m[1]!;
  return JSON.parse(`"${m[1]!.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')}"`) as string;
}

function evalAction(action: string): string {
  // "STR" | repeat N
  let m = /^("(?:[^"\\]|\\.)*"|`[^`]*`)\s*\|\s*repeat\s+(\d+)$/.exec(action);
  if (m) return goStringLiteral(m[1]!)!.repeat(Number(m[2]));
  // repeat N "STR"
  m = /^repeat\s+(\d+)\s+("(?:[^"\\]|\\.)*"|`[^`]*`)$/.exec(action);
  if (m) return goStringLiteral(m[2]!)!.repeat(Number(m[1]));
  // a bare string literal
  const lit = goStringLiteral(action);
  if (lit !== null) return lit;
  throw new UnsupportedInputError(`unsupported Go template action in data: {{${action}}}`);
}

/** Go's url.QueryEscape over bytes. */
export function goQueryEscape(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x5f || b === 0x2e || b === 0x7e) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) {
      out += '+';
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** go-ftw encodeDataParameters for a form body (only called when the CT matches). */
export function encodeFormData(data: Buffer): Buffer {
  // url.QueryUnescape(data) == data only when there is no '%' (escape or error) and no '+'.
  if (data.includes(0x25) || data.includes(0x2b)) return data;
  const parts: string[] = [];
  let rest = data;
  while (rest.length > 0) {
    const amp = rest.indexOf(0x26);
    const token = amp < 0 ? rest : rest.subarray(0, amp);
    rest = amp < 0 ? Buffer.alloc(0) : rest.subarray(amp + 1);
    const eq = token.indexOf(0x3d);
    if (eq < 0) parts.push(goQueryEscape(token));
    else parts.push(goQueryEscape(token.subarray(0, eq)) + '=' + goQueryEscape(token.subarray(eq + 1)));
  }
  return Buffer.from(parts.join('&'), 'latin1');
}

function replaceLfWithCrlf(data: Buffer): Buffer {
  let count = 0;
  for (const b of data) if (b === 0x0a) count++;
  if (count === 0) return data;
  const out = Buffer.allocUnsafe(data.length + count);
  let j = 0;
  for (const b of data) {
    if (b === 0x0a) out[j++] = 0x0d;
    out[j++] = b;
  }
  return out;
}

/** The request body go-ftw takes from `data` / `encoded_data` (before autocompletion). */
export function stageData(input: FtwInput): Buffer | null {
  if (input.data !== undefined) return Buffer.from(expandGoTemplate(input.data), 'utf8');
  if (input.encoded_data !== undefined) return Buffer.from(input.encoded_data, 'base64');
  return null;
}

/** Builds what go-ftw sends for this stage input. Throws UnsupportedInputError. */
export function buildFtwRequest(input: FtwInput): BuiltRequest {
  const nonEmpty = (s: string | undefined) => s !== undefined && s !== '';
  const dataGiven = nonEmpty(input.data) || nonEmpty(input.encoded_data);
  if ([dataGiven, nonEmpty(input.encoded_request), nonEmpty(input.raw_request)].filter(Boolean).length > 1) {
    throw new UnsupportedInputError('bad test input: choose between data, encoded_request, or raw_request');
  }
  if (nonEmpty(input.encoded_request)) {
    return { kind: 'encoded_request', raw: Buffer.from(input.encoded_request!, 'base64') };
  }
  if (nonEmpty(input.raw_request)) {
    return { kind: 'raw_request', raw: Buffer.from(input.raw_request!, 'utf8') };
  }

  const method = input.method ?? 'GET';
  const uri = input.uri ?? '/';
  const version = input.version ?? 'HTTP/1.1';
  const autocomplete = input.autocomplete_headers ?? true;

  const headers: HeaderLine[] = [];
  if (input.ordered_headers && input.ordered_headers.length > 0) {
    for (const h of input.ordered_headers) headers.push({ name: h.name, value: h.value });
  } else if (input.headers) {
    for (const name of Object.keys(input.headers).sort(byteCompare)) headers.push({ name, value: input.headers[name]! });
  }

  let data = stageData(input) ?? Buffer.alloc(0);
  if (data.length > 0 && autocomplete) {
    if (!hasAny(headers, 'Content-Type')) headers.push({ name: 'Content-Type', value: 'application/x-www-form-urlencoded' });
    if (headers.some((h) => canonicalEq(h.name, 'Content-Type') && canonicalEq(h.value, 'application/x-www-form-urlencoded'))) {
      data = encodeFormData(data);
    }
  }
  if (headers.some((h) => canonicalEq(h.name, 'Content-Type') && h.value.toLowerCase().includes('multipart/form-data;'))) {
    data = replaceLfWithCrlf(data);
  }
  if (autocomplete) {
    if (!hasAny(headers, 'Connection')) headers.push({ name: 'Connection', value: 'close' });
    if (!hasAny(headers, 'Content-Length') && (data.length > 0 || METHODS_WITH_BODY.test(method))) {
      headers.push({ name: 'Content-Length', value: String(data.length) });
    }
  }

  const head = `${method} ${uri} ${version}\r\n` + headers.map((h) => `${h.name}: ${h.value}\r\n`).join('') + '\r\n';
  const raw = Buffer.concat([Buffer.from(head, 'utf8'), data]);
  return { kind: 'fields', raw, method, uri, version, headers, body: data };
}
