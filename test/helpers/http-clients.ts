// Clients for the Envoy suites: raw HTTP/1.x bytes over a TCP socket (byte exact, as go-ftw sends
// them) with a small response parser, and HTTP/2 with prior knowledge (h2c) via node:http2.
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Outcome of sending raw bytes: a parsed response, or none (connection closed/reset, or timeout). */
export type RawOutcome = { kind: 'response'; response: RawResponse } | { kind: 'closed'; error: string | null } | { kind: 'timeout' };

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) {
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
  }
  return { status: m ? Number(m[1]) : 0, headers };
}

/** Tries to cut one complete response (Content-Length, chunked, or none for 1xx/204/304/HEAD). */
function completeResponse(buf: Buffer, ended: boolean, head: boolean): RawResponse | null {
  let start = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', start);
    if (end < 0) return null;
    const { status, headers } = parseHead(buf.subarray(start, end).toString('latin1'));
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart; // 100 Continue: the final response follows
      continue;
    }
    if (head || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    const cl = headers['content-length'];
    if (cl !== undefined) {
      const n = Number(cl);
      return buf.length - bodyStart >= n ? { status, headers, body: buf.subarray(bodyStart, bodyStart + n) } : null;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      let p = bodyStart;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) return null;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (!Number.isFinite(size)) return null;
        if (size === 0) return buf.indexOf('\r\n\r\n', le) >= 0 || buf.indexOf('\r\n', le + 2) >= 0 ? { status, headers, body: Buffer.concat(chunks) } : null;
        if (buf.length < le + 2 + size + 2) return null;
        chunks.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
    }
    return ended ? { status, headers, body: buf.subarray(bodyStart) } : null;
  }
}

/** Writes `bytes` to host:port and reads one response (or the connection's end, or a timeout). */
export function sendRaw(port: number, bytes: Buffer | string, options: { host?: string; timeoutMs?: number; head?: boolean } = {}): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (o: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), options.timeoutMs ?? 5000);
    const head = options.head ?? /^HEAD /.test(typeof bytes === 'string' ? bytes : bytes.subarray(0, 5).toString('latin1'));
    socket.on('connect', () => socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes));
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const r = completeResponse(buf, false, head);
      if (r) finish({ kind: 'response', response: r });
    });
    socket.on('end', () => {
      const r = completeResponse(buf, true, head);
      finish(r ? { kind: 'response', response: r } : { kind: 'closed', error: null });
    });
    socket.on('error', (err) => {
      const r = completeResponse(buf, true, head);
      finish(r ? { kind: 'response', response: r } : { kind: 'closed', error: err.message });
    });
  });
}

/** A simple HTTP/1.1 request (Connection: close) built from parts; throws when there is no response. */
export async function http1(
  port: number,
  req: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
  options: { host?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const body = req.body === undefined ? null : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const headers: Record<string, string> = { host: 'shop.example.com', connection: 'close', ...(req.headers ?? {}) };
  if (body !== null && headers['content-length'] === undefined) headers['content-length'] = String(body.length);
  const head = `${req.method ?? 'GET'} ${req.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const out = await sendRaw(port, Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]), options);
  if (out.kind !== 'response') throw new Error(`no HTTP response from 127.0.0.1:${port} (${out.kind}${out.kind === 'closed' && out.error ? `: ${out.error}` : ''})`);
  return out.response;
}

/** One HTTP/2 request with prior knowledge (h2c). */
export function h2c(
  port: number,
  req: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
  options: { host?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`http://${options.host ?? '127.0.0.1'}:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`h2c request to ${port} timed out`));
    }, options.timeoutMs ?? 5000);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const stream = session.request({ ':method': req.method ?? 'GET', ':path': req.path, ':authority': 'shop.example.com', ...(req.headers ?? {}) });
    const chunks: Buffer[] = [];
    let status = 0;
    const headers: Record<string, string> = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, headers, body: Buffer.concat(chunks) });
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      session.destroy();
      reject(err);
    });
    stream.end(req.body === undefined ? undefined : req.body);
  });
}
