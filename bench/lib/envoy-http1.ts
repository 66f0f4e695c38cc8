// A model of what Envoy (HTTP/1.1 downstream, BalsaParser codec, HTTP connection manager with
// default settings) does with raw request bytes before its ext_authz filter runs: either the
// request is rejected (a local reply, ext_authz never called), Envoy keeps waiting for more
// bytes (never reaches ext_authz), or the filter chain sees a request header map + body.
//
// Sources (envoyproxy/envoy main): source/common/http/http1/balsa_parser.cc (method, URL,
// version, header-name validation), http1/codec_impl.cc (header value validation, Host →
// :authority, absolute-form handling, Transfer-Encoding/Content-Length rules, h2c), the
// connection manager (missing Host, non-relative path, '#fragment', upgrade/CONNECT,
// Expect: 100-continue) and conn_manager_utility.cc mutateRequestHeaders (hop-by-hop removal,
// Referer sanitising, x-forwarded-proto, :scheme, x-request-id). See test/crs/README.md for the
// rules with their justification. Every rule that depends on configuration has an option.

import { randomUUID } from 'node:crypto';

export interface EnvoyOptions {
  /** Http1ProtocolOptions.accept_http_10 (Envoy default false → 426). We assume a WAF deployment
   * that enables it, so HTTP/1.0 tests stay applicable. */
  acceptHttp10: boolean;
  /** Http1ProtocolOptions.default_host_for_http_10 ('' = none). */
  defaultHostForHttp10: string;
  /** Http1ProtocolOptions.allow_custom_methods (default false: only the known method list). */
  allowCustomMethods: boolean;
  /** Http1ProtocolOptions.allow_absolute_url (default true). */
  allowAbsoluteUrl: boolean;
  /** Http1ProtocolOptions.allow_chunked_length (default false: CL + TE → 400). */
  allowChunkedLength: boolean;
  /** HCM max_request_headers_kb (default 60). */
  maxRequestHeadersKb: number;
  /** HttpProtocolOptions.max_headers_count (default 100). */
  maxRequestHeadersCount: number;
  /** HCM proxy_100_continue (default false: Envoy answers 100 itself and drops Expect). */
  proxy100Continue: boolean;
  /** HCM generate_request_id (default true: x-request-id added when absent). */
  generateRequestId: boolean;
  /** Drop Referer when repeated or invalid (conn_manager_utility.cc, Utility::isValidRefererValue). */
  sanitizeReferer: boolean;
  /** HCM use_remote_address (the README's and the injector's configuration): x-forwarded-for
   * gets the peer appended and x-envoy-external-address is set (Envoy 1.36 treats no address as
   * internal by default). */
  useRemoteAddress: boolean;
  /** The downstream peer's address (x-envoy-external-address). */
  remoteAddress: string;
  /** What Envoy appends to x-forwarded-for for a loopback peer: its own local address. */
  localAddress: string;
  /** Counterfactual mode for the runner: accept and reject exactly as Envoy does, but forward
   * what the client sent — no version normalisation, no absolute-form rewrite, no merging of
   * repeated headers, no removal of hop-by-hop/Expect/Referer headers. Comparing a stage's result
   * in both modes tells whether Envoy's rewrite decides it. */
  preserveClientRequest: boolean;
}

export const DEFAULT_ENVOY_OPTIONS: Readonly<EnvoyOptions> = Object.freeze({
  acceptHttp10: true,
  defaultHostForHttp10: '',
  allowCustomMethods: false,
  allowAbsoluteUrl: true,
  allowChunkedLength: false,
  maxRequestHeadersKb: 60,
  maxRequestHeadersCount: 100,
  proxy100Continue: false,
  generateRequestId: true,
  sanitizeReferer: true,
  useRemoteAddress: true,
  remoteAddress: '127.0.0.1',
  localAddress: '10.0.0.2',
  preserveClientRequest: false,
});

/** The request as Envoy's filter chain (and so ext_authz) sees it. */
export interface EnvoyRequest {
  method: string;
  /** :path (origin-form request target, or path+query from an absolute-form target). */
  path: string;
  /** :authority (from Host, or from an absolute-form target). */
  authority: string;
  scheme: string;
  /** What ext_authz reports in `protocol` (HTTP/1.0 or HTTP/1.1; the client's own version
   * string with preserveClientRequest). */
  protocol: string;
  /** Header map in iteration order: pseudo-headers first, lower-case names, values as bytes. */
  headers: Array<[string, Buffer]>;
  /** De-chunked / Content-Length-delimited body; null when there is none. */
  body: Buffer | null;
}

export type EnvoyOutcome =
  | {
      kind: 'forwarded';
      request: EnvoyRequest;
      /** What Envoy changed, readable. */
      alterations: string[];
      /** Kinds of the changes preserveClientRequest undoes (e.g. "referer", "protocol",
       * "hop-by-hop:connection"); empty when the client's request reaches ext_authz as sent. */
      rewrites: string[];
    }
  /** Envoy answers locally (or resets); ext_authz is never called. */
  | { kind: 'rejected'; status: number; reason: string; detail: string }
  /** Envoy waits for bytes the client never sends; ext_authz is never called. */
  | { kind: 'incomplete'; reason: string; detail: string };

// balsa_parser.cc kValidMethods (used unless allow_custom_methods).
const KNOWN_METHODS = new Set([
  'ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'MERGE', 'MKACTIVITY',
  'MKCALENDAR', 'MKCOL', 'MOVE', 'MSEARCH', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE',
  'PUT', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE',
]);
const VALID_FIRST_METHOD_CHARS = new Set('ABCDGHLMNOPRSTU');
// RFC 9110 token characters (balsa_parser.cc kValidCharacters).
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/;
// quiche HeaderValidator kValidAuthorityChars (Envoy's authorityIsValid).
const AUTHORITY = /^[A-Za-z0-9\-._~%!$&'()[\]*+,;=:]*$/;
const VERSION = /^HTTP\/[0-9]\.[0-9]$/;

/** Headers that are O(1) "inline" headers in Envoy's RequestHeaderMap: repeats are coalesced
 * into one value joined with ',' by HeaderMapImpl (other headers keep one entry per line). */
const INLINE_HEADERS = new Set([
  ':authority', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'user-agent', 'expect', 'te',
  'upgrade', 'via', 'keep-alive', 'proxy-connection', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto',
  'x-forwarded-host', 'x-forwarded-port', 'x-client-trace-id', 'grpc-timeout', 'x-forwarded-client-cert',
  'x-envoy-internal', 'x-envoy-original-path', 'x-envoy-external-address', 'x-envoy-retry-on',
  'x-envoy-retry-grpc-on', 'x-envoy-max-retries', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-expected-rq-timeout-ms', 'x-envoy-force-trace',
  'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node', 'x-envoy-decorator-operation',
]);

/** conn_manager_utility.cc cleanInternalHeaders (non-internal request). */
const INTERNAL_HEADERS_REMOVED = [
  'x-envoy-retriable-status-codes', 'x-envoy-retriable-header-names', 'x-envoy-retry-on', 'x-envoy-retry-grpc-on',
  'x-envoy-max-retries', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-upstream-rq-timeout-alt-response', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace', 'x-envoy-ip-tags', 'x-envoy-original-url', 'x-envoy-hedge-on-per-try-timeout',
];

function reject(status: number, reason: string, detail: string): EnvoyOutcome {
  return { kind: 'rejected', status, reason, detail };
}

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x09;
}

/** balsa_parser.cc isUrlValid (mirrors http-parser). */
export function envoyUrlValid(url: string, isConnect: boolean): boolean {
  if (url.length === 0) return false;
  const pathQueryChar = (c: number) => c === 9 || c === 12 || (c >= 0x21 && c <= 0x7e);
  const c0 = url.charCodeAt(0);
  if (c0 === 0x2f || c0 === 0x2a) {
    for (let i = 1; i < url.length; i++) if (!pathQueryChar(url.charCodeAt(i))) return false;
    return true;
  }
  let rest = url;
  if (!isConnect) {
    if (!/^[A-Za-z]/.test(rest)) return false;
    const m = /^[A-Za-z][A-Za-z0-9+\-.]*/.exec(rest)!;
    rest = rest.slice(m[0].length);
    if (!rest.startsWith('://')) return false;
    rest = rest.slice(3);
  }
  let split = rest.length;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '/' || rest[i] === '?') {
      split = i;
      break;
    }
  }
  const host = rest.slice(0, split);
  const pathQuery = rest.slice(split);
  if (!/^[A-Za-z0-9!$%&'()*+,\-.:;=@[\]_~]*$/.test(host) || host.includes('@@')) return false;
  for (let i = 0; i < pathQuery.length; i++) if (!pathQueryChar(pathQuery.charCodeAt(i))) return false;
  return true;
}

/** A valid absolute http(s) URL as Envoy's Utility::Url (GURL) sees it; WHATWG URL approximates GURL. */
function parseAbsoluteUrl(value: string): URL | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    if (u.hostname === '') return null;
    return u;
  } catch {
    return null;
  }
}

// RFC 3986 query/fragment characters (pchar / "/" / "?"), Envoy's kUriQueryAndFragmentCharTable.
const URI_QUERY_CHAR = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]$/;

/**
 * Envoy's Utility::isValidRefererValue (http_allow_partial_urls_in_referer on, the default
 * since envoyproxy/envoy#25947): an absolute URL without fragment and userinfo, or a relative
 * reference made of RFC 3986 query characters whose first segment has no ':'.
 */
export function envoyRefererValid(value: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+\-.]*:\/\//.test(value)) {
    if (!envoyUrlValid(value, false)) return false;
    const afterScheme = value.slice(value.indexOf('://') + 3);
    const host = afterScheme.split(/[/?]/, 1)[0]!;
    if (host === '') return false;
    return !value.includes('#') && !host.includes('@');
  }
  let seenSlash = false;
  for (const c of value) {
    if (c === ':') {
      if (!seenSlash) return false;
      continue;
    }
    if (c === '/') {
      seenSlash = true;
      continue;
    }
    if (!URI_QUERY_CHAR.test(c)) return false;
  }
  return true;
}

interface RawHeader {
  name: string; // lower-case
  value: Buffer;
}

/** Splits the head into lines (LF-terminated, trailing CR removed). Returns the lines and the
 * offset just after the blank line, or null when the head is incomplete. */
function splitHead(raw: Buffer): { lines: Buffer[]; bodyStart: number; headBytes: number } | null {
  let pos = 0;
  // Balsa skips empty lines before the request line.
  while (pos < raw.length && (raw[pos] === 0x0d || raw[pos] === 0x0a)) pos++;
  const start = pos;
  const lines: Buffer[] = [];
  for (;;) {
    const lf = raw.indexOf(0x0a, pos);
    if (lf < 0) return null;
    let line = raw.subarray(pos, lf);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    pos = lf + 1;
    if (line.length === 0) return { lines, bodyStart: pos, headBytes: pos - start };
    lines.push(line);
  }
}

type ChunkResult = { ok: true; body: Buffer } | { ok: false; incomplete: boolean; detail: string };

function dechunk(data: Buffer): ChunkResult {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lf = data.indexOf(0x0a, pos);
    if (lf < 0) return { ok: false, incomplete: true, detail: 'chunk size line never terminated' };
    let line = data.subarray(pos, lf).toString('latin1');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const semi = line.indexOf(';');
    const sizeText = (semi >= 0 ? line.slice(0, semi) : line).replace(/[ \t]+$/, '');
    if (!/^[0-9A-Fa-f]+$/.test(sizeText)) return { ok: false, incomplete: false, detail: `invalid chunk size ${JSON.stringify(line)}` };
    const size = parseInt(sizeText, 16);
    pos = lf + 1;
    if (size === 0) {
      // Trailers (ignored: enable_trailers is off) up to the blank line.
      for (;;) {
        const tl = data.indexOf(0x0a, pos);
        if (tl < 0) return { ok: false, incomplete: true, detail: 'last chunk not followed by a blank line' };
        const t = data.subarray(pos, tl);
        pos = tl + 1;
        if (t.length === 0 || (t.length === 1 && t[0] === 0x0d)) return { ok: true, body: Buffer.concat(parts) };
      }
    }
    if (pos + size > data.length) return { ok: false, incomplete: true, detail: 'chunk data shorter than its size' };
    parts.push(data.subarray(pos, pos + size));
    pos += size;
    if (data[pos] === 0x0d && data[pos + 1] === 0x0a) pos += 2;
    else if (data[pos] === 0x0a) pos += 1;
    else if (pos >= data.length) return { ok: false, incomplete: true, detail: 'chunk not terminated' };
    else return { ok: false, incomplete: false, detail: 'chunk data not followed by CRLF' };
  }
}

/**
 * What Envoy does with one request's bytes (the first request on a fresh connection; anything
 * after its end is a pipelined request and ignored, as the test client closes).
 */
export function envoyProcess(raw: Buffer, opts: EnvoyOptions = DEFAULT_ENVOY_OPTIONS, requestId?: string): EnvoyOutcome {
  const alterations: string[] = [];
  const rewrites: string[] = [];
  const preserve = opts.preserveClientRequest;
  const head = splitHead(raw);
  if (head === null) {
    if (raw.length > opts.maxRequestHeadersKb * 1024) return reject(431, 'headers_too_large', 'request head larger than max_request_headers_kb');
    return { kind: 'incomplete', reason: 'incomplete_head', detail: 'no blank line ends the request head' };
  }
  if (head.headBytes > opts.maxRequestHeadersKb * 1024) {
    return reject(431, 'headers_too_large', `request head of ${head.headBytes} bytes > max_request_headers_kb ${opts.maxRequestHeadersKb}`);
  }

  // ---- request line ----
  const requestLine = head.lines[0]!;
  if (!opts.allowCustomMethods && !VALID_FIRST_METHOD_CHARS.has(String.fromCharCode(requestLine[0]!))) {
    return reject(400, 'invalid_method', `request line starts with ${JSON.stringify(String.fromCharCode(requestLine[0]!))} (HPE_INVALID_METHOD)`);
  }
  const lineText = requestLine.toString('latin1');
  const tokens = lineText.split(/[ \t]+/).filter((t) => t !== '');
  if (tokens.length < 2) return reject(400, 'invalid_request_line', `request line ${JSON.stringify(lineText.slice(0, 80))} has fewer than 2 fields`);
  const method = tokens[0]!;
  const target = tokens[1]!;
  const version = tokens[2] ?? '';
  if (opts.allowCustomMethods ? !TOKEN.test(method) : !KNOWN_METHODS.has(method)) {
    return reject(400, 'invalid_method', `method ${JSON.stringify(method)} is not ${opts.allowCustomMethods ? 'a token' : 'in Envoy\'s known method list (allow_custom_methods is off)'} (HPE_INVALID_METHOD)`);
  }
  const isConnect = method === 'CONNECT';
  if (!envoyUrlValid(target, isConnect)) {
    return reject(400, 'invalid_url', `request target ${JSON.stringify(target.slice(0, 80))} has characters http-parser/Balsa refuse (HPE_INVALID_URL)`);
  }
  if (tokens.length > 3) {
    return reject(400, 'invalid_version', `request line has ${tokens.length} fields (white space inside the target?): version field ${JSON.stringify(version)} (HPE_INVALID_VERSION)`);
  }
  if (version === '') {
    return reject(400, 'http09_request', 'request line without a version (HTTP/0.9 style); Envoy only takes it with accept_http_10 and then parses no headers');
  }
  if (!VERSION.test(version)) return reject(400, 'invalid_version', `version ${JSON.stringify(version)} is not HTTP/d.d (HPE_INVALID_VERSION)`);
  const protocol: 'HTTP/1.0' | 'HTTP/1.1' = version === 'HTTP/1.1' ? 'HTTP/1.1' : 'HTTP/1.0';
  if (protocol === 'HTTP/1.0') {
    if (!opts.acceptHttp10) return reject(426, 'low_version', `${version}: Envoy answers 426 Upgrade Required unless accept_http_10 is set`);
    if (version !== 'HTTP/1.0') {
      alterations.push(`protocol ${version} reported as HTTP/1.0 (Envoy treats every version but 1.1 as 1.0)`);
      rewrites.push('protocol');
    }
  }

  // ---- header lines ----
  const lines: Array<{ name: string; value: Buffer }> = [];
  for (let i = 1; i < head.lines.length; i++) {
    const line = head.lines[i]!;
    if (isWs(line[0]!)) {
      // obs-fold continuation (Balsa allows it; Envoy strips the CR/LF).
      const prev = lines[lines.length - 1];
      if (!prev) return reject(400, 'invalid_header', 'header block starts with a continuation line');
      prev.value = Buffer.concat([prev.value, line]);
      alterations.push(`folded header ${prev.name} unfolded`);
      continue;
    }
    const colon = line.indexOf(0x3a);
    if (colon < 0) return reject(400, 'invalid_header', `header line without colon: ${JSON.stringify(line.toString('latin1').slice(0, 60))}`);
    const name = line.subarray(0, colon).toString('latin1');
    if (!TOKEN.test(name)) return reject(400, 'invalid_header_name', `header name ${JSON.stringify(name)} is not a token (HPE_INVALID_HEADER_TOKEN)`);
    lines.push({ name, value: line.subarray(colon + 1) });
  }
  if (lines.length > opts.maxRequestHeadersCount) {
    return reject(431, 'too_many_headers', `${lines.length} headers > max_headers_count ${opts.maxRequestHeadersCount}`);
  }

  const parsed: RawHeader[] = [];
  for (const { name, value } of lines) {
    let v = value;
    if (v.includes(0x0d) || v.includes(0x0a)) {
      v = Buffer.from(v.filter((b) => b !== 0x0d && b !== 0x0a));
      alterations.push(`CR/LF removed from header ${name}`);
    }
    let s = 0;
    let e = v.length;
    while (s < e && isWs(v[s]!)) s++;
    while (e > s && isWs(v[e - 1]!)) e--;
    if (s !== 0 || e !== v.length) {
      // One space (or none) after the colon is syntax; more, or trailing white space, is data
      // the client sent and Envoy drops.
      if (s > 1 || e !== v.length) alterations.push(`white space trimmed around header ${name}`);
      v = v.subarray(s, e);
    }
    for (const b of v) {
      if (!(b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80)) {
        return reject(400, 'invalid_header_value', `header ${name} value has byte 0x${b.toString(16).padStart(2, '0')} (http1.invalid_characters)`);
      }
    }
    parsed.push({ name: name.toLowerCase(), value: Buffer.from(v) });
  }

  // ---- framing: Content-Length / Transfer-Encoding ----
  const all = (n: string) => parsed.filter((h) => h.name === n);
  const cls = all('content-length');
  if (cls.length > 1) return reject(400, 'multiple_content_length', 'more than one Content-Length header (HPE_UNEXPECTED_CONTENT_LENGTH)');
  let contentLength: number | null = null;
  if (cls.length === 1) {
    const t = cls[0]!.value.toString('latin1');
    if (!/^[0-9]+$/.test(t)) return reject(400, 'invalid_content_length', `Content-Length ${JSON.stringify(t)} is not a number`);
    contentLength = Number(t);
  }
  const tes = all('transfer-encoding');
  let chunked = false;
  if (tes.length > 0) {
    const te = tes.map((h) => h.value.toString('latin1')).join(',');
    if (te.toLowerCase() !== 'chunked' || isConnect) {
      return reject(501, 'invalid_transfer_encoding', `Transfer-Encoding ${JSON.stringify(te)}: Envoy only accepts exactly "chunked" (501)`);
    }
    chunked = true;
    if (contentLength !== null) {
      if (!opts.allowChunkedLength) return reject(400, 'content_length_and_chunked', 'both Content-Length and Transfer-Encoding: chunked (allow_chunked_length is off)');
      alterations.push('Content-Length removed (chunked request, allow_chunked_length)');
      contentLength = null;
      for (let i = parsed.length - 1; i >= 0; i--) if (parsed[i]!.name === 'content-length') parsed.splice(i, 1);
    }
  }

  let body: Buffer | null = null;
  const rest = raw.subarray(head.bodyStart);
  if (chunked) {
    const r = dechunk(rest);
    if (!r.ok) {
      if (r.incomplete) return { kind: 'incomplete', reason: 'incomplete_body', detail: r.detail };
      return reject(400, 'invalid_chunk', r.detail);
    }
    body = r.body;
  } else if (contentLength !== null) {
    if (rest.length < contentLength) {
      return { kind: 'incomplete', reason: 'incomplete_body', detail: `Content-Length ${contentLength} but only ${rest.length} body bytes sent (Envoy waits; the client waits for the response)` };
    }
    if (rest.length > contentLength) alterations.push(`${rest.length - contentLength} bytes after the Content-Length body ignored (a pipelined request)`);
    body = rest.subarray(0, contentLength);
  } else if (rest.length > 0) {
    alterations.push(`${rest.length} bytes after the head ignored (no Content-Length / Transfer-Encoding)`);
  }
  if (body !== null && body.length === 0) body = null;

  // ---- build the header map (HTTP/1 codec): Host → :authority, inline headers coalesced ----
  const map: RawHeader[] = [];
  for (const h of parsed) {
    const name = h.name === 'host' ? ':authority' : h.name;
    if (INLINE_HEADERS.has(name)) {
      const existing = map.find((m) => m.name === name);
      if (existing) {
        alterations.push(`repeated ${h.name} headers merged into one value`);
        rewrites.push(`merged:${h.name}`);
        if (!preserve) {
          existing.value = Buffer.concat([existing.value, Buffer.from(','), h.value]);
          continue;
        }
      }
    }
    map.push({ name, value: h.value });
  }
  const get = (n: string) => map.find((m) => m.name === n);
  // Removal of a header the client sent (a rewrite: kept with preserveClientRequest).
  const strip = (n: string, why: string, kind: string) => {
    if (!get(n)) return false;
    if (why) {
      alterations.push(why);
      rewrites.push(kind);
    }
    return preserve ? false : remove(n, '');
  };
  const remove = (n: string, why: string) => {
    let removed = false;
    for (let i = map.length - 1; i >= 0; i--) {
      if (map[i]!.name === n) {
        map.splice(i, 1);
        removed = true;
      }
    }
    if (removed && why) alterations.push(why);
    return removed;
  };

  // ---- codec: Utility::sanitizeConnectionHeader (found by test/crs/real-envoy.ts, 920210-5) ----
  // Headers the Connection header nominates are removed before any filter runs (so a WAF never
  // sees them); nominating X-Forwarded-For/-Host/-Proto or a pseudo-header, or 10+ tokens, is a 400.
  const connectionHeader = get('connection');
  if (connectionHeader) {
    const tokens = connectionHeader.value.toString('latin1').split(',').filter((t) => t !== '');
    if (tokens.length >= 10) return reject(400, 'connection_header_rejected', `Connection nominates ${tokens.length} headers (Envoy allows at most 9)`);
    for (const token of tokens) {
      const t = token.trim().toLowerCase();
      if (t === 'close' || t === 'http2-settings' || t === 'keep-alive' || t === 'upgrade' || t === 'connection') continue;
      if (t === 'x-forwarded-for' || t === 'x-forwarded-host' || t === 'x-forwarded-proto' || t.startsWith(':')) {
        return reject(400, 'connection_header_rejected', `Connection nominates ${t} (http1.connection_header_rejected)`);
      }
      const name = t === 'host' ? ':authority' : t;
      if (name === 'te') {
        const te = get('te');
        if (te && te.value.length >= 256) return reject(400, 'connection_header_rejected', 'nominated TE header of 256 bytes or more');
        if (te && te.value.toString('latin1').split(',').some((v) => v.trim().toLowerCase() === 'trailers')) {
          if (te.value.toString('latin1') !== 'trailers') {
            alterations.push('nominated TE header reduced to "trailers"');
            rewrites.push('hop-by-hop:te');
            if (!preserve) te.value = Buffer.from('trailers');
          }
          continue;
        }
      }
      strip(name, `${name === ':authority' ? 'Host' : name} header removed (nominated by Connection)`, 'hop-by-hop:nominated');
    }
  }

  // h2c upgrade headers are stripped by the codec; other upgrades need upgrade_configs.
  const upgrade = get('upgrade');
  const connectionTokens = (get('connection')?.value.toString('latin1') ?? '').toLowerCase().split(',').map((t) => t.trim());
  if (upgrade && connectionTokens.includes('upgrade')) {
    if (upgrade.value.toString('latin1').trim().toLowerCase() === 'h2c') {
      strip('upgrade', 'h2c Upgrade header removed', 'hop-by-hop:upgrade');
      strip('http2-settings', 'HTTP2-Settings header removed', 'hop-by-hop:http2-settings');
    } else {
      return reject(403, 'upgrade_failed', `Upgrade: ${upgrade.value.toString('latin1')} with no upgrade_configs for it (403 upgrade_failed)`);
    }
  }

  // :path and (absolute-form) :authority / :scheme.
  let path = '';
  let scheme = '';
  if (isConnect) {
    // As real Envoy 1.36 answers (test/crs/real-envoy.ts): the codec wants authority-form
    // host:port, then no route matches CONNECT without a connect_matcher route.
    if (!/^[^/?#@]+:[0-9]+$/.test(target)) return reject(400, 'invalid_url', `CONNECT target ${JSON.stringify(target.slice(0, 80))} is not host:port (http1.invalid_url)`);
    return reject(404, 'connect_not_routed', 'CONNECT matches no route (the README route has no connect_matcher): 404 route_not_found before ext_authz');
  } else if (target.startsWith('/') || (method === 'OPTIONS' && target.startsWith('*'))) {
    path = target;
  } else if (!opts.allowAbsoluteUrl) {
    path = target;
  } else {
    const u = parseAbsoluteUrl(target);
    if (!u) return reject(400, 'invalid_url', `request target ${JSON.stringify(target.slice(0, 80))} is not a valid absolute http(s) URL`);
    const oldHost = get(':authority');
    const authority = u.host; // hostname (lower-cased, IDNA) + non-default port
    path = u.pathname + u.search + (target.includes('#') ? '#' + u.hash.slice(1) : '');
    alterations.push(`absolute-form target rewritten: :path ${JSON.stringify(path)}, :authority ${JSON.stringify(authority)} (Host replaced)`);
    rewrites.push('absolute-form');
    if (!preserve) {
      if (oldHost) oldHost.value = Buffer.from(authority, 'latin1');
      else map.push({ name: ':authority', value: Buffer.from(authority, 'latin1') });
      scheme = u.protocol.slice(0, -1);
    } else if (!oldHost) {
      map.push({ name: ':authority', value: Buffer.from(authority, 'latin1') });
    }
  }

  // ---- connection manager checks ----
  let authority = get(':authority');
  if (!authority) {
    if (protocol === 'HTTP/1.0' && opts.defaultHostForHttp10 !== '') {
      map.push({ name: ':authority', value: Buffer.from(opts.defaultHostForHttp10, 'latin1') });
      authority = get(':authority');
      alterations.push(`Host set to default_host_for_http_10 ${opts.defaultHostForHttp10}`);
    } else {
      return reject(400, 'missing_host_header', `no Host header (${protocol}; default_host_for_http_10 ${opts.defaultHostForHttp10 === '' ? 'unset' : 'only for HTTP/1.0'})`);
    }
  }
  const authorityText = authority!.value.toString('latin1');
  if (!AUTHORITY.test(authorityText)) return reject(400, 'invalid_authority', `Host ${JSON.stringify(authorityText.slice(0, 60))} has characters not valid in an authority`);
  if (path === '') return reject(404, 'missing_path', 'empty :path');
  if (!path.startsWith('/')) return reject(404, 'absolute_path', `:path ${JSON.stringify(path.slice(0, 60))} does not start with '/' (only relative paths are served)`);
  if (path.includes('#')) return reject(400, 'fragment_in_path', `:path ${JSON.stringify(path.slice(0, 80))} contains '#' (http_reject_path_with_fragment)`);

  if (!opts.proxy100Continue) {
    const expect = get('expect');
    if (expect && expect.value.toString('latin1') === '100-continue') strip('expect', 'Expect: 100-continue removed (Envoy answers the 100 itself)', 'expect');
  }

  // ---- mutateRequestHeaders ----
  const connection = get('connection');
  // go-ftw adds "Connection: close" to every request; only report other values.
  // The "Connection: close" go-ftw adds to every request is no rewrite of the test's request.
  if (connection && connection.value.toString('latin1').toLowerCase() !== 'close') {
    strip('connection', 'Connection header removed (hop-by-hop)', 'hop-by-hop:connection');
  } else {
    remove('connection', '');
  }
  strip('upgrade', 'Upgrade header removed', 'hop-by-hop:upgrade');
  strip('x-envoy-internal', 'x-envoy-internal removed', 'hop-by-hop:x-envoy-internal');
  strip('keep-alive', 'Keep-Alive header removed (hop-by-hop)', 'hop-by-hop:keep-alive');
  strip('proxy-connection', 'Proxy-Connection header removed (hop-by-hop)', 'hop-by-hop:proxy-connection');
  strip('transfer-encoding', 'Transfer-Encoding header removed (body de-chunked)', 'hop-by-hop:transfer-encoding');
  if (opts.sanitizeReferer) {
    const referers = map.filter((m) => m.name === 'referer');
    if (referers.length > 1) strip('referer', 'repeated Referer headers removed', 'referer');
    else if (referers.length === 1 && !envoyRefererValid(referers[0]!.value.toString('latin1'))) {
      strip('referer', `Referer ${JSON.stringify(referers[0]!.value.toString('latin1').slice(0, 40))} removed (Utility::isValidRefererValue)`, 'referer');
    }
  }
  // TE: only "trailers" is kept (case-sensitive token); any other value removes the header.
  const te = get('te');
  if (te) {
    if (te.value.toString('latin1').split(',').some((v) => v.trim() === 'trailers')) {
      if (te.value.toString('latin1') !== 'trailers') {
        alterations.push('TE header reduced to "trailers"');
        rewrites.push('hop-by-hop:te');
        if (!preserve) te.value = Buffer.from('trailers');
      }
    } else {
      strip('te', `TE ${JSON.stringify(te.value.toString('latin1').slice(0, 40))} removed (only "trailers" is kept)`, 'hop-by-hop:te');
    }
  }
  for (const n of INTERNAL_HEADERS_REMOVED) strip(n, `${n} removed (internal Envoy header from an external client)`, `internal:${n}`);
  if (opts.useRemoteAddress) {
    const peer = /^127\./.test(opts.remoteAddress) || opts.remoteAddress === '::1' ? opts.localAddress : opts.remoteAddress;
    const xff = get('x-forwarded-for');
    if (xff) xff.value = Buffer.concat([xff.value, Buffer.from(`,${peer}`)]);
    else map.push({ name: 'x-forwarded-for', value: Buffer.from(peer) });
  }
  if (!get('x-forwarded-proto')) map.push({ name: 'x-forwarded-proto', value: Buffer.from('http') });
  if (opts.useRemoteAddress) {
    const external = get('x-envoy-external-address');
    if (external) external.value = Buffer.from(opts.remoteAddress);
    else map.push({ name: 'x-envoy-external-address', value: Buffer.from(opts.remoteAddress) });
  }
  if (scheme === '') {
    const xfp = get('x-forwarded-proto')!.value.toString('latin1');
    scheme = xfp === 'http' || xfp === 'https' ? xfp : 'http';
  }
  if (opts.generateRequestId && !get('x-request-id')) map.push({ name: 'x-request-id', value: Buffer.from(requestId ?? randomUUID()) });

  // Pseudo-headers first (HeaderMapImpl keeps them before regular headers).
  if (preserve && rewrites.includes('absolute-form')) path = target;
  const pseudo: Array<[string, Buffer]> = [
    [':authority', authority!.value],
    [':path', Buffer.from(path, 'latin1')],
    [':method', Buffer.from(method, 'latin1')],
    [':scheme', Buffer.from(scheme, 'latin1')],
  ];
  const regular: Array<[string, Buffer]> = map.filter((m) => !m.name.startsWith(':')).map((m) => [m.name, m.value]);
  return {
    kind: 'forwarded',
    alterations: [...new Set(alterations)],
    rewrites: [...new Set(rewrites)],
    request: { method, path, authority: authorityText, scheme, protocol: preserve ? version : protocol, headers: [...pseudo, ...regular], body },
  };
}
