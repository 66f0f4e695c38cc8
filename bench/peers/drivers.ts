// Load drivers of the live bench: HTTP/1.1 keep-alive over raw sockets (HTTP peers) and unary
// gRPC Check calls with pre-serialized request bytes (gRPC peers), `concurrency` requests in
// flight, bounded by time and count. Each returns per-request latencies and the status seen.
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { connect, type Socket } from 'node:net';

export interface DriveResult {
  latenciesMs: number[];
  count: number;
  errors: number;
  elapsedS: number;
  /** HTTP status of the first answer (gRPC: 200 for OK, the denied status for PERMISSION_DENIED). */
  status: number;
}

export interface DriveLimits {
  seconds: number;
  minCount: number;
  maxCount: number;
  concurrency: number;
}

/** Runs `one()` with `concurrency` in flight until `seconds` passed and `minCount` done, or `maxCount`. */
export async function drive(one: () => Promise<number>, limits: DriveLimits): Promise<DriveResult> {
  const latencies: number[] = [];
  let count = 0;
  let errors = 0;
  let status = 0;
  let started = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(limits.seconds * 1e9));
  const more = () => started < limits.maxCount && (process.hrtime.bigint() < end || started < limits.minCount);
  const worker = async () => {
    while (more()) {
      started++;
      const s = process.hrtime.bigint();
      try {
        const st = await one();
        if (status === 0) status = st;
        else if (st !== status) errors++;
        latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        count++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limits.concurrency) }, worker));
  return { latenciesMs: latencies, count, errors, elapsedS: Number(process.hrtime.bigint() - t0) / 1e9, status };
}

/** One keep-alive HTTP/1.1 connection that sends a fixed request and reads one response per call. */
/** Longest wait for one HTTP response (a 1 MB body through ModSecurity takes seconds, not minutes). */
const RESPONSE_TIMEOUT_MS = 60_000;

class HttpConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (status: number) => void; reject: (e: Error) => void } | null = null;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.tryParse();
    });
    const fail = (e: Error) => {
      const w = this.waiting;
      this.waiting = null;
      w?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(port: number): Promise<HttpConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new HttpConnection(s)));
      s.once('error', reject);
      s.setNoDelay(true);
    });
  }

  private tryParse(): void {
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0 || this.waiting === null) return;
    const head = this.buf.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.waiting.reject(new Error(`response without content-length: ${head.slice(0, 200)}`));
      this.waiting = null;
      return;
    }
    const total = headEnd + 4 + Number(m[1]);
    if (this.buf.length < total) return;
    this.buf = this.buf.subarray(total);
    const w = this.waiting;
    this.waiting = null;
    w.resolve(status);
  }

  /** Sends one request; a response not complete within RESPONSE_TIMEOUT_MS fails it (the bench never hangs). */
  send(raw: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.socket.destroy();
        reject(new Error(`no complete HTTP response within ${RESPONSE_TIMEOUT_MS / 1000} s (${this.buf.length} bytes received)`));
      }, RESPONSE_TIMEOUT_MS);
      this.waiting = {
        resolve: (status) => {
          clearTimeout(timer);
          resolve(status);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(raw);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A pool of keep-alive connections, one per concurrent request. */
export async function httpSender(port: number, raw: Buffer, concurrency: number): Promise<{ one: () => Promise<number>; close: () => void }> {
  const idle: HttpConnection[] = [];
  for (let i = 0; i < concurrency; i++) idle.push(await HttpConnection.open(port));
  const all = [...idle];
  return {
    one: async () => {
      const c = idle.pop() ?? (await HttpConnection.open(port));
      try {
        return await c.send(raw);
      } finally {
        idle.push(c);
      }
    },
    close: () => all.forEach((c) => c.close()),
  };
}

const identity = (b: Buffer) => b;
const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** Longest wait for one Check answer. */
const CHECK_TIMEOUT_MS = 60_000;

/** Check over gRPC with pre-serialized bytes; the answer is decoded to an HTTP-like status. */
export function grpcSender(target: string, requestBytes: Buffer, decodeResponse: (b: Buffer) => Record<string, any>) {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
  const one = () =>
    new Promise<number>((resolve, reject) => {
      client.makeUnaryRequest(CHECK_PATH, identity, identity, requestBytes, { deadline: Date.now() + CHECK_TIMEOUT_MS }, (err, value) => {
        if (err || !value) return reject(err ?? new Error('empty response'));
        resolve(checkStatus(decodeResponse(value)));
      });
    });
  return {
    waitForReady: (ms: number) => new Promise<void>((res, rej) => client.waitForReady(Date.now() + ms, (e) => (e ? rej(e) : res()))),
    one,
    close: () => client.close(),
  };
}

/** Which gRPC load generator a bench drives its gRPC peers with (the same for every gRPC peer). */
export type GrpcClientKind = 'h2' | 'grpc-js';

/** The sender for `kind`: h2GrpcSender (default, light) or grpcSender (grpc-js). */
export function checkSender(kind: GrpcClientKind, target: string, requestBytes: Buffer, decodeResponse: (b: Buffer) => Record<string, any>) {
  return kind === 'h2' ? h2GrpcSender(target, requestBytes, decodeResponse) : grpcSender(target, requestBytes, decodeResponse);
}

/** Parses a --grpc-client value. */
export function grpcClientKind(value: string | undefined): GrpcClientKind {
  if (value === undefined || value === 'h2') return 'h2';
  if (value === 'grpc-js') return 'grpc-js';
  throw new Error(`--grpc-client: ${value} is not h2 or grpc-js`);
}

/** HTTP status of a Check answer: 200 for OK, else the denied_response status (Envoy's default 403). */
function checkStatus(r: Record<string, any>): number {
  const code = r.status?.code ?? 0;
  if (code === 0) return 200;
  const http = r.denied_response?.status?.code;
  return typeof http === 'number' ? http : http === 'Forbidden' || http === undefined ? 403 : Number.isFinite(Number(http)) ? Number(http) : 403;
}


/**
 * Check over gRPC with pre-framed request bytes on one node:http2 session: the same calls on the
 * wire as grpcSender (HTTP/2, gRPC framing, grpc-timeout), at a fraction of grpc-js' client CPU
 * (channel, interceptors, call state per call), so on a 2-core machine the load generator takes
 * less CPU away from the server it measures. `target`: unix:/path or host:port.
 */
export function h2GrpcSender(target: string, requestBytes: Buffer, decodeResponse: (b: Buffer) => Record<string, any>) {
  const framed = Buffer.alloc(5 + requestBytes.length);
  framed.writeUInt32BE(requestBytes.length, 1);
  requestBytes.copy(framed, 5);
  const unix = target.startsWith('unix:') ? target.slice('unix:'.length) : null;
  const session = http2.connect(unix === null ? `http://${target}` : 'http://localhost', {
    ...(unix === null ? {} : { createConnection: () => connect(unix) }),
    settings: { initialWindowSize: 64 * 1024 * 1024 },
  });
  session.on('error', () => undefined); // surfaces as failed calls
  const headers = {
    ':method': 'POST',
    ':path': CHECK_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${CHECK_TIMEOUT_MS}m`,
  };
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const req = session.request(headers);
      const chunks: Buffer[] = [];
      let grpcStatus: string | null = null;
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`no Check answer within ${CHECK_TIMEOUT_MS / 1000} s`));
      }, CHECK_TIMEOUT_MS);
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only answer
      });
      req.on('trailers', (t) => {
        grpcStatus = String(t['grpc-status'] ?? '');
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('end', () => {
        clearTimeout(timer);
        if (grpcStatus !== '0') return reject(new Error(`Check failed: grpc-status ${grpcStatus}`));
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) return reject(new Error(`Check answer: bad gRPC framing (${body.length} bytes)`));
        try {
          resolve(checkStatus(decodeResponse(body.subarray(5))));
        } catch (e) {
          reject(e as Error);
        }
      });
      req.end(framed);
    });
  return {
    waitForReady: (ms: number) =>
      new Promise<void>((res, rej) => {
        if (!session.connecting && !session.destroyed) return res();
        const t = setTimeout(() => rej(new Error(`no HTTP/2 connection to ${target} within ${ms} ms`)), ms);
        session.once('connect', () => {
          clearTimeout(t);
          res();
        });
        session.once('error', (e) => {
          clearTimeout(t);
          rej(e);
        });
      }),
    one,
    close: () => session.close(),
  };
}
