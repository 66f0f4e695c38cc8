// A raw HTTP/1.x request (as captured, or written by hand) → the engine's HttpRequest.
// Lenient where hand-written files usually differ (LF line ends, a trailing newline after the
// headers), strict where the request would be ambiguous; every error names the source and line.
import type { HttpRequest } from '../engine/api.js';

export class ExplainInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExplainInputError';
  }
}

/** The request plus what was assumed on the way (printed as notes). */
export interface ParsedRequest {
  request: HttpRequest;
  notes: string[];
}

export interface RequestDefaults {
  id?: string;
  clientIp?: string;
  clientPort?: number;
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VERSION = /^HTTP\/(1\.0|1\.1|2|2\.0)$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Builds the engine request (addresses from Host and the defaults). */
export function makeRequest(
  method: string,
  uri: string,
  protocol: string,
  headers: Array<[string, string]>,
  body: Buffer | null,
  defaults: RequestDefaults,
  https = false,
): HttpRequest {
  const host = headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? '';
  const port = /:(\d+)$/.exec(host);
  return {
    id: defaults.id ?? 'sidewall-explain',
    method,
    uri,
    protocol,
    headers,
    body,
    bodyPartial: false,
    clientIp: defaults.clientIp ?? '192.0.2.10',
    clientPort: defaults.clientPort ?? 40000,
    serverIp: '127.0.0.1',
    serverPort: port ? Number(port[1]) : https ? 443 : 80,
  };
}

/** Parses `bytes` read from `source` (a file name or "stdin"). */
export function parseRawRequest(bytes: Buffer, source: string, defaults: RequestDefaults = {}): ParsedRequest {
  const text = bytes.toString('latin1');
  const notes: string[] = [];
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | null => {
    if (pos >= text.length) return null;
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(pos, end > pos && text[end - 1] === '\r' ? end - 1 : end);
    pos = nl < 0 ? text.length : nl + 1;
    lineNo++;
    return line;
  };
  const fail = (problem: string): never => {
    throw new ExplainInputError(`${source}:${lineNo}: ${problem}`);
  };

  let requestLine = nextLine();
  while (requestLine === '') requestLine = nextLine(); // leading blank lines are tolerated (RFC 9112 2.2)
  if (requestLine === null) throw new ExplainInputError(`${source}: empty input, expected a request line such as "GET /path HTTP/1.1"`);
  const parts = requestLine.split(' ');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    fail(`malformed request line ${JSON.stringify(requestLine.slice(0, 200))}: expected METHOD SP TARGET SP HTTP-VERSION`);
  }
  const [method, uri, version] = parts as [string, string, string];
  if (!METHOD.test(method)) fail(`invalid method ${JSON.stringify(method)}`);
  if (!VERSION.test(version)) fail(`unsupported HTTP version ${JSON.stringify(version)} (HTTP/1.0, HTTP/1.1 or HTTP/2)`);
  if (!(uri.startsWith('/') || uri === '*' || /^https?:\/\//i.test(uri))) fail(`request target ${JSON.stringify(uri.slice(0, 200))} must start with "/" or be an absolute http(s) URL`);
  if (/[\x00-\x20\x7f]/.test(uri)) fail('request target contains control characters or spaces');

  const headers: Array<[string, string]> = [];
  for (;;) {
    const line = nextLine();
    if (line === null) break; // headers only, no blank line: no body
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') fail('obsolete header line folding (a line starting with whitespace) is not accepted');
    const colon = line.indexOf(':');
    if (colon <= 0) fail(`malformed header line ${JSON.stringify(line.slice(0, 200))}: expected "Name: value"`);
    const name = line.slice(0, colon);
    if (!HEADER_NAME.test(name)) fail(`invalid header name ${JSON.stringify(name)}`);
    headers.push([name, line.slice(colon + 1).trim()]);
  }

  const protocol = version === 'HTTP/2.0' ? 'HTTP/2' : version;
  let body: Buffer | null = pos < bytes.length ? bytes.subarray(pos) : null;
  const header = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const te = header('transfer-encoding');
  const cl = header('content-length');
  if (te !== undefined && /chunked/i.test(te)) {
    body = body === null ? Buffer.alloc(0) : dechunk(body, source, lineNo);
  } else if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new ExplainInputError(`${source}: invalid Content-Length ${JSON.stringify(cl)}`);
    const n = Number(cl);
    const have = body?.length ?? 0;
    if (have < n) throw new ExplainInputError(`${source}: the body has ${have} bytes but Content-Length says ${n}`);
    if (have > n) notes.push(`${have - n} bytes after the Content-Length (${n}) body ignored`);
    body = n === 0 ? null : body!.subarray(0, n);
  } else if (body !== null) {
    if (/^[\r\n]*$/.test(body.toString('latin1'))) body = null; // a trailing newline, not a body
    else {
      // Clients send a length with a body; without one Envoy would not see a body at all.
      headers.push(['Content-Length', String(body.length)]);
      notes.push(`no Content-Length: added "Content-Length: ${body.length}" for the ${body.length}-byte body`);
    }
  }
  if (header('host') === undefined && protocol !== 'HTTP/1.0') notes.push('no Host header (CRS flags this)');
  return { request: makeRequest(method, uri, protocol, headers, body, defaults), notes };
}

/** Decodes a chunked body (RFC 9112 7.1); trailers are dropped. */
function dechunk(raw: Buffer, source: string, headerLines: number): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = raw.indexOf(0x0a, pos);
    if (nl < 0) throw new ExplainInputError(`${source}: chunked body (after line ${headerLines}) ends without the last chunk "0"`);
    const sizeLine = raw.subarray(pos, nl).toString('latin1').replace(/\r$/, '');
    const m = /^([0-9a-fA-F]+)(;.*)?$/.exec(sizeLine);
    if (!m) throw new ExplainInputError(`${source}: invalid chunk size line ${JSON.stringify(sizeLine.slice(0, 80))}`);
    const size = parseInt(m[1]!, 16);
    pos = nl + 1;
    if (size === 0) break;
    if (pos + size > raw.length) throw new ExplainInputError(`${source}: chunk of ${size} bytes is cut short`);
    out.push(raw.subarray(pos, pos + size));
    pos += size;
    if (raw[pos] === 0x0d) pos++;
    if (raw[pos] === 0x0a) pos++;
  }
  return Buffer.concat(out);
}
