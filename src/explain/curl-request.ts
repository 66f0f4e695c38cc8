// curl-like flags (-X, -H, -d, --data-binary @file, URL ...) → the request curl would send,
// with curl's default headers (Host, User-Agent, Accept) since CRS looks at them.
import { readFileSync } from 'node:fs';
import { ExplainInputError, makeRequest, type ParsedRequest, type RequestDefaults } from './raw-request.js';

/** One curl option in command-line order (the order matters for -d concatenation). */
export interface CurlOption {
  name: 'request' | 'header' | 'data' | 'data-raw' | 'data-binary' | 'data-urlencode' | 'user-agent' | 'cookie' | 'referer' | 'user' | 'get';
  value: string;
}

const CURL_VERSION_UA = 'curl/8.14.1';

function readDataFile(spec: string, flag: string): Buffer {
  const path = spec.slice(1);
  if (path === '-') return readFileSync(0);
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ExplainInputError(`${flag} @${path}: cannot read the file: ${code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
}

/** curl's --data-urlencode forms: "content", "=content", "name=content", "@file", "name@file". */
function urlencodeData(spec: string): string {
  const enc = (b: Buffer | string) => encodeURIComponent(typeof b === 'string' ? b : b.toString('utf8')).replace(/%20/g, '+');
  const eq = spec.indexOf('=');
  const at = spec.indexOf('@');
  if (eq >= 0 && (at < 0 || eq < at)) return (eq > 0 ? spec.slice(0, eq) + '=' : '') + enc(spec.slice(eq + 1));
  if (at >= 0) return (at > 0 ? spec.slice(0, at) + '=' : '') + enc(readDataFile(spec.slice(at), '--data-urlencode'));
  return enc(spec);
}

export function requestFromCurl(url: string, options: readonly CurlOption[], defaults: RequestDefaults = {}): ParsedRequest {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ExplainInputError(`URL ${JSON.stringify(url)} is not a valid URL (e.g. http://shop.example.com/search?q=1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ExplainInputError(`URL ${JSON.stringify(url)}: only http:// and https:// are supported`);
  let method: string | null = null;
  let get = false;
  const data: Buffer[] = [];
  const extra: Array<[string, string | null]> = []; // null = remove the default header
  const notes: string[] = [];
  for (const o of options) {
    switch (o.name) {
      case 'request':
        method = o.value;
        break;
      case 'get':
        get = true;
        break;
      case 'header': {
        const colon = o.value.indexOf(':');
        const semi = o.value.indexOf(';');
        if (colon > 0) {
          const value = o.value.slice(colon + 1).trim();
          extra.push([o.value.slice(0, colon).trim(), value === '' ? null : value]);
        } else if (semi > 0 && semi === o.value.length - 1) {
          extra.push([o.value.slice(0, semi).trim(), '']); // "Name;" sends an empty header, as curl does
        } else {
          throw new ExplainInputError(`-H ${JSON.stringify(o.value)}: expected "Name: value"`);
        }
        break;
      }
      case 'data':
        // -d @file: curl strips CR and LF from the file.
        data.push(o.value.startsWith('@') ? Buffer.from(readDataFile(o.value, '-d').toString('latin1').replace(/[\r\n]/g, ''), 'latin1') : Buffer.from(o.value, 'utf8'));
        break;
      case 'data-raw':
        data.push(Buffer.from(o.value, 'utf8'));
        break;
      case 'data-binary':
        data.push(o.value.startsWith('@') ? readDataFile(o.value, '--data-binary') : Buffer.from(o.value, 'utf8'));
        break;
      case 'data-urlencode':
        data.push(Buffer.from(urlencodeData(o.value), 'latin1'));
        break;
      case 'user-agent':
        extra.push(['User-Agent', o.value]);
        break;
      case 'cookie':
        extra.push(['Cookie', o.value]);
        break;
      case 'referer':
        extra.push(['Referer', o.value]);
        break;
      case 'user':
        extra.push(['Authorization', 'Basic ' + Buffer.from(o.value, 'utf8').toString('base64')]);
        break;
    }
  }
  // Multiple -d values are joined with "&", as curl does.
  let body: Buffer | null = null;
  if (data.length > 0) {
    const joined: Buffer[] = [];
    data.forEach((d, i) => {
      if (i > 0) joined.push(Buffer.from('&'));
      joined.push(d);
    });
    body = Buffer.concat(joined);
  }
  let target = u.pathname + u.search;
  if (get && body !== null) {
    target += (u.search === '' ? '?' : '&') + body.toString('latin1');
    body = null;
  }
  method ??= body !== null ? 'POST' : 'GET';
  const headers: Array<[string, string]> = [
    ['Host', u.host],
    ['User-Agent', CURL_VERSION_UA],
    ['Accept', '*/*'],
  ];
  if (body !== null) {
    headers.push(['Content-Length', String(body.length)]);
    headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  }
  for (const [name, value] of extra) {
    const i = headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (value === null) {
      if (i >= 0) headers.splice(i, 1);
    } else if (i >= 0) headers[i] = [name, value];
    else headers.push([name, value]);
  }
  if (u.username !== '' && !headers.some(([n]) => n.toLowerCase() === 'authorization')) {
    headers.push(['Authorization', 'Basic ' + Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')]);
  }
  return { request: makeRequest(method, target, 'HTTP/1.1', headers, body, defaults, u.protocol === 'https:'), notes };
}
