// Where a value goes in a request and how an attacker encodes it, as raw HTTP/1.1 bytes (then
// modelled through Envoy's HTTP/1 codec like the CRS runner does).

export const PLACEMENTS = ['query', 'form', 'multipart', 'json', 'xml', 'header', 'cookie', 'path'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export const ENCODINGS = ['plain', 'url', 'base64', 'json-unicode'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Every character but ASCII letters, digits and space as \uXXXX (JSON/JS string escapes). */
export function jsonUnicode(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (/[A-Za-z0-9 ]/.test(ch)) out += ch;
    else if (cp > 0xffff) {
      const hi = Math.floor((cp - 0x10000) / 0x400) + 0xd800;
      const lo = ((cp - 0x10000) % 0x400) + 0xdc00;
      out += `\\u${hi.toString(16).padStart(4, '0')}\\u${lo.toString(16).padStart(4, '0')}`;
    } else out += `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** The value the application receives after its transport decoding, for `encoding`. */
export function encodeValue(payload: string, encoding: Encoding): string {
  switch (encoding) {
    case 'plain':
      return payload;
    case 'url':
      return encodeURIComponent(payload);
    case 'base64':
      return Buffer.from(payload, 'utf8').toString('base64');
    case 'json-unicode':
      return jsonUnicode(payload);
  }
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Control characters cannot travel in a header line; attackers percent-encode them. */
function headerSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase());
}

const BASE_HEADERS = [
  'Host: api.example.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0',
  'Accept: application/json, text/plain, */*',
  'Accept-Language: en-US,en;q=0.8',
];

function raw(method: string, target: string, headers: string[], body: Buffer | null): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, ...BASE_HEADERS, ...headers];
  if (body !== null) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return body === null ? head : Buffer.concat([head, body]);
}

export interface BuildOptions {
  /** The payload is a whole XML document: sent as the XML body itself (XXE). */
  xmlDocument?: boolean;
  /** For json placement with json-unicode: the JSON text itself escapes the payload. */
  payload?: string;
  encoding?: Encoding;
}

/** Raw HTTP/1.1 request carrying `value` (already encoded for the application) in `placement`. */
export function buildRequest(placement: Placement, value: string, o: BuildOptions = {}): Buffer {
  const name = 'q';
  switch (placement) {
    case 'query':
      return raw('GET', `/api/search?${name}=${encodeURIComponent(value)}&page=1`, [], null);
    case 'form':
      return raw('POST', '/api/search', ['Content-Type: application/x-www-form-urlencoded'], Buffer.from(`${name}=${encodeURIComponent(value)}&page=1`, 'utf8'));
    case 'multipart': {
      const b = '----sidewallbench7MA4YWxkTrZu0gW';
      const body = `--${b}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--${b}\r\nContent-Disposition: form-data; name="page"\r\n\r\n1\r\n--${b}--\r\n`;
      return raw('POST', '/api/search', [`Content-Type: multipart/form-data; boundary=${b}`], Buffer.from(body, 'utf8'));
    }
    case 'json': {
      // JSON-unicode evasion in a JSON body: the document escapes the payload (the parser undoes it).
      const text = o.encoding === 'json-unicode' && o.payload !== undefined
        ? `{"${name}":"${jsonUnicode(o.payload)}","page":1}`
        : JSON.stringify({ [name]: value, page: 1 });
      return raw('POST', '/api/search', ['Content-Type: application/json'], Buffer.from(text, 'utf8'));
    }
    case 'xml': {
      const doc = o.xmlDocument === true && o.encoding === 'plain' ? value : `<?xml version="1.0"?><search><${name}>${xmlEscape(value)}</${name}><page>1</page></search>`;
      return raw('POST', '/api/search', ['Content-Type: application/xml'], Buffer.from(doc, 'utf8'));
    }
    case 'header':
      return raw('GET', '/api/search?page=1', [`X-Search-Filter: ${headerSafe(value)}`], null);
    case 'cookie':
      return raw('GET', '/api/search?page=1', [`Cookie: session=3f2a9c1e7b4d; ${name}=${encodeURIComponent(value)}`], null);
    case 'path':
      return raw('GET', `/api/search/${encodeURIComponent(value)}`, [], null);
  }
}
