// The bench's requests, each as the raw HTTP/1.1 a client sends (for the HTTP peers) and as the
// CheckRequest Envoy's ext_authz filter would send for it (for the gRPC peers): header_map with
// raw_value bytes (encode_raw_headers), the pseudo-headers first, Host as :authority,
// x-forwarded-proto and x-request-id added, pack_as_bytes body and x-envoy-auth-partial-body.

export interface BenchRequest {
  name: string;
  description: string;
  method: string;
  path: string;
  /** Header lines as the client sends them (Host first), without Content-Length. */
  headers: Array<[string, string]>;
  body: Buffer | null;
  /** What a blocking WAF must answer: 200 (allowed) or 403. */
  expect: 200 | 403;
}

const HOST = 'shop.example.com';
const BROWSER_HEADERS: Array<[string, string]> = [
  ['Host', HOST],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'],
  ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
  ['Accept-Language', 'en-US,en;q=0.9,de;q=0.8'],
  ['Accept-Encoding', 'gzip, deflate, br'],
  ['Referer', 'https://shop.example.com/catalog/shoes?color=blue'],
  ['Cookie', 'session=3f2a9c1e7b4d4e0f9a8b7c6d5e4f3a2b; theme=dark; _ga=GA1.2.1234567890.1700000000'],
  ['Upgrade-Insecure-Requests', '1'],
  ['Sec-Fetch-Dest', 'document'],
  ['Sec-Fetch-Mode', 'navigate'],
  ['Sec-Fetch-Site', 'same-origin'],
  ['Cache-Control', 'max-age=0'],
];

function formBody(size: number): string {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];
  const fields: string[] = [];
  for (let i = 0; fields.join('&').length < size; i++) {
    fields.push(`field${i}=${encodeURIComponent(`${words[i % words.length]} ${words[(i * 3) % words.length]} ${i}`)}`);
  }
  return fields.join('&').slice(0, size).replace(/%[0-9A-Fa-f]?$/, '').padEnd(size, 'x');
}

/** An order document of about `size` bytes (same item shape at every size, so cost can scale linearly). */
function jsonBody(size: number): string {
  const items: unknown[] = [];
  const doc = { order: { id: 'ord-2024-000123', customer: { name: 'Jane Doe', email: 'jane@example.com', tier: 'gold' }, items } };
  for (let i = 0; JSON.stringify(doc).length < size - 120; i++) {
    items.push({ sku: `SKU-${1000 + i}`, name: `Product number ${i} in blue`, qty: (i % 5) + 1, price: 9.99 + i, tags: ['sale', 'new'] });
  }
  const base = JSON.stringify({ ...doc, note: '' });
  return JSON.stringify({ ...doc, note: 'n'.repeat(Math.max(0, size - base.length)) });
}

function queryArgs(n: number): string {
  const words = ['shoes', 'blue', 'size', 'sale', 'new', 'price', 'brand', 'sport'];
  return Array.from({ length: n }, (_, i) => `f${i}=${words[i % words.length]}${i}`).join('&');
}

function post(name: string, description: string, path: string, contentType: string, body: string): BenchRequest {
  return { name, description, method: 'POST', path, headers: [...BROWSER_HEADERS.slice(0, 6), ['Content-Type', contentType]], body: Buffer.from(body), expect: 200 };
}

export function benchRequests(): BenchRequest[] {
  const get = (name: string, description: string, path: string, expect: 200 | 403 = 200): BenchRequest => ({ name, description, method: 'GET', path, headers: BROWSER_HEADERS, body: null, expect });
  return [
    get('benign-get', 'browser GET, 5 args, 12 headers', '/catalog/search?q=running+shoes&size=42&color=blue&page=2&sort=price_asc'),
    post('form-1k', 'POST 1 KB urlencoded form', '/account/profile', 'application/x-www-form-urlencoded', formBody(1024)),
    post('json-10k', 'POST 10 KB JSON order', '/api/v1/orders', 'application/json', jsonBody(10 * 1024)),
    get('sqli-get', "GET ?id=1' OR '1'='1 (denied)", "/item?id=1'%20OR%20'1'='1", 403),
    get('get-50-args', 'browser GET, 50 args', `/catalog/search?${queryArgs(50)}`),
    get('get-500-args', 'browser GET, 500 args', `/catalog/search?${queryArgs(500)}`),
    post('json-1k', 'POST 1 KB JSON order', '/api/v1/orders', 'application/json', jsonBody(1024)),
    post('json-100k', 'POST 100 KB JSON order', '/api/v1/orders', 'application/json', jsonBody(100 * 1024)),
    post('json-1m', 'POST 1 MB JSON order', '/api/v1/orders', 'application/json', jsonBody(1024 * 1024)),
  ];
}

/** The request as HTTP/1.1 bytes on a keep-alive connection. */
export function rawHttp(r: BenchRequest): Buffer {
  const lines = [`${r.method} ${r.path} HTTP/1.1`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  if (r.body !== null) lines.push(`Content-Length: ${r.body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return r.body === null ? head : Buffer.concat([head, r.body]);
}

/** The CheckRequest (proto-loader object shape) Envoy would send for it. */
export function envoyCheckRequest(r: BenchRequest, requestId = '5b2c1f0e-3d4a-4b6c-8e9f-0a1b2c3d4e5f'): Record<string, unknown> {
  const authority = r.headers.find(([k]) => k.toLowerCase() === 'host')?.[1] ?? '';
  const headers: Array<[string, string]> = [[':authority', authority], [':path', r.path], [':method', r.method], [':scheme', 'http']];
  for (const [k, v] of r.headers) if (k.toLowerCase() !== 'host') headers.push([k.toLowerCase(), v]);
  if (r.body !== null) headers.push(['content-length', String(r.body.length)]);
  headers.push(['x-forwarded-proto', 'http'], ['x-request-id', requestId]);
  if (r.body !== null) headers.push(['x-envoy-auth-partial-body', 'false']);
  const http: Record<string, unknown> = {
    id: '1',
    method: r.method,
    path: r.path,
    host: authority,
    scheme: 'http',
    protocol: 'HTTP/1.1',
    size: r.body?.length ?? 0,
    header_map: { headers: headers.map(([key, value]) => ({ key, raw_value: Buffer.from(value, 'latin1') })) },
  };
  if (r.body !== null) http.raw_body = r.body;
  return {
    attributes: {
      source: { address: { socket_address: { address: '127.0.0.1', port_value: 40000 } } },
      destination: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } } },
      request: { time: { seconds: 1700000000, nanos: 0 }, http },
    },
  };
}
