// `sidewall events receive`: a small reference webhook consumer. Verifies the signature and
// timestamp of every delivery (401 otherwise), accepts both body formats, drops duplicate
// event ids (delivery is at-least-once) and writes each new event as one NDJSON line to
// stdout or appends it to --out. With --out, ids already in the file are loaded at start, so
// dedup survives restarts; otherwise the last `dedupMax` ids are remembered.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../config/config.js';
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify } from './signature.js';

export interface ReceiverOptions {
  listen: string;
  secret: string;
  /** NDJSON file to append to; null = stdout. */
  out: string | null;
  toleranceSeconds?: number;
  /** Ids remembered for dedup when there is no --out file. */
  dedupMax?: number;
  maxBodyBytes?: number;
  /** One diagnostic line (stderr by default). */
  log?: (fields: Record<string, unknown>) => void;
  /** Where NDJSON goes without --out (default process.stdout). */
  write?: (text: string) => void;
}

export interface ReceiverHandle {
  readonly address: string;
  readonly url: string | null;
  close(): Promise<void>;
}

export class ReceiverError extends Error {}

/** Bounded insertion-ordered set: the oldest id is forgotten first. */
class IdSet {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value as string);
  }
  get size(): number {
    return this.ids.size;
  }
}

type Parsed = { ok: true; events: Array<{ id: string; event: unknown }> } | { ok: false; reason: string };

/** Body → events with their ids, for both formats (and a single CloudEvent). */
export function parseDelivery(contentType: string, body: Buffer): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const ce = /application\/cloudevents/i.test(contentType);
  const items = Array.isArray(doc) ? doc : ce ? [doc] : null;
  if (items === null) return { ok: false, reason: 'body must be a JSON array' };
  const events: Array<{ id: string; event: unknown }> = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Record<string, unknown> | null;
    if (typeof item !== 'object' || item === null) return { ok: false, reason: `element ${i} is not an object` };
    if (ce) {
      if (item.specversion !== '1.0' || typeof item.id !== 'string' || typeof item.data !== 'object' || item.data === null) {
        return { ok: false, reason: `element ${i} is not a CloudEvents 1.0 event with data` };
      }
      events.push({ id: item.id, event: item.data });
    } else {
      if (typeof item.id !== 'string' || item.id === '') return { ok: false, reason: `element ${i} has no id` };
      events.push({ id: item.id, event: item });
    }
  }
  return { ok: true, events };
}

function loadIds(file: string, into: IdSet): number {
  if (!existsSync(file)) return 0;
  let n = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const id = (JSON.parse(line) as { id?: unknown }).id;
      if (typeof id === 'string') {
        into.add(id);
        n++;
      }
    } catch {
      // a torn last line from a crash: ignore
    }
  }
  return n;
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body) + '\n');
}

export async function startReceiver(options: ReceiverOptions): Promise<ReceiverHandle> {
  const parsed = parseListenAddress(options.listen);
  if (typeof parsed === 'string') throw new ReceiverError(`--listen: ${parsed} (got ${JSON.stringify(options.listen)})`);
  if (options.secret === '') throw new ReceiverError('--secret: must not be empty');
  const log = options.log ?? ((f) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...f }) + '\n'));
  const write = options.write ?? ((t) => process.stdout.write(t));
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  // With --out every id in the file is kept (the file is the persisted set).
  const seen = new IdSet(options.out !== null ? Number.MAX_SAFE_INTEGER : (options.dedupMax ?? 100_000));
  if (options.out !== null) {
    const n = loadIds(options.out, seen);
    if (n > 0) log({ msg: 'loaded event ids from output file for dedup', file: options.out, ids: n });
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      reply(res, 405, { error: 'method not allowed' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) tooLarge = true;
      else chunks.push(c);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) {
        reply(res, 413, { error: `body larger than ${maxBody} bytes` });
        return;
      }
      const body = Buffer.concat(chunks);
      const ts = req.headers[TIMESTAMP_HEADER];
      const sig = req.headers[SIGNATURE_HEADER];
      const check = verify(options.secret, body, Array.isArray(ts) ? ts[0] : ts, Array.isArray(sig) ? sig.join(',') : sig, {
        toleranceSeconds: options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
      });
      if (!check.ok) {
        log({ level: 'warn', msg: 'rejected delivery: bad signature', reason: check.reason, remote: req.socket.remoteAddress, bytes: body.length });
        reply(res, 401, { error: check.reason });
        return;
      }
      const delivery = parseDelivery(req.headers['content-type'] ?? '', body);
      if (!delivery.ok) {
        log({ level: 'warn', msg: 'rejected delivery: bad body', reason: delivery.reason });
        reply(res, 400, { error: delivery.reason });
        return;
      }
      let lines = '';
      let accepted = 0;
      let duplicates = 0;
      for (const { id, event } of delivery.events) {
        if (seen.has(id)) {
          duplicates++;
          continue;
        }
        seen.add(id);
        lines += JSON.stringify(event) + '\n';
        accepted++;
      }
      try {
        if (lines !== '') {
          if (options.out !== null) appendFileSync(options.out, lines);
          else write(lines);
        }
      } catch (err) {
        log({ level: 'error', msg: 'cannot write events', err: (err as Error).message });
        reply(res, 500, { error: 'cannot write events' });
        return;
      }
      reply(res, 200, { accepted, duplicates });
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new ReceiverError(`cannot listen on ${options.listen}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
    if (parsed.kind === 'unix') server.listen(parsed.path, resolve);
    else server.listen(parsed.port, parsed.host, resolve);
  });
  let address = options.listen;
  let url: string | null = null;
  if (parsed.kind === 'tcp') {
    const info = server.address() as AddressInfo;
    const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
    address = `${host}:${info.port}`;
    url = `http://${address}/`;
  }
  log({ msg: 'events receiver listening', address, out: options.out ?? 'stdout' });
  return {
    address,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
