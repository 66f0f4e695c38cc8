// A local HTTP server speaking the parts of the Kubernetes API the controller uses: namespaces
// list + watch (chunked JSON events, resourceVersion, 410 Gone as HTTP status or ERROR event,
// dropped connections), configmaps/secrets get/create/update, events create, and the
// MutatingWebhookConfiguration get/JSON-patch. Real sockets; state kept in memory for assertions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { applyJsonPatch, type JsonPatchOp } from '../../src/k8s/json-patch.js';

type Obj = Record<string, any>;

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

export class FakeKubeApi {
  readonly token = 'test-token';
  readonly namespaces = new Map<string, Obj>();
  readonly configmaps = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  readonly webhookConfigs = new Map<string, Obj>();
  readonly events: Obj[] = [];
  readonly requests: string[] = [];
  /** Watch requests with an older resourceVersion get 410 Gone. */
  compactedRv = 0;
  /** How the next too-old watch is refused: HTTP 410, or 200 + an ERROR event with code 410. */
  goneStyle: 'status' | 'event' = 'status';
  /** Answer the next N namespace list requests with 500. */
  failLists = 0;
  private rv = 100;
  private history: HistoryEntry[] = [];
  private readonly watches = new Set<{ res: ServerResponse; socket: Socket }>();
  private server: Server | null = null;
  private waiters: Array<() => void> = [];
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.socket.destroy();
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  // ---- test controls ----

  private nextRv(): string {
    return String(++this.rv);
  }

  setNamespace(name: string, annotations: Record<string, string> = {}): void {
    const existing = this.namespaces.get(name);
    const object = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: existing?.metadata.uid ?? `uid-${name}`, resourceVersion: this.nextRv(), annotations },
    };
    this.namespaces.set(name, object);
    this.record(existing ? 'MODIFIED' : 'ADDED', object);
  }

  deleteNamespace(name: string): void {
    const existing = this.namespaces.get(name);
    if (!existing) return;
    this.namespaces.delete(name);
    this.record('DELETED', { ...existing, metadata: { ...existing.metadata, resourceVersion: this.nextRv() } });
  }

  /** Forgets the history: every open or future watch from before now gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Sends an ERROR event with code 410 on every open watch and ends it. */
  expireOpenWatches(): void {
    this.compact();
    for (const w of this.watches) {
      w.res.write(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } }) + '\n');
      w.res.end();
    }
    this.watches.clear();
  }

  /** Drops every open watch connection mid-stream (no chunked terminator). */
  dropWatches(): void {
    for (const w of this.watches) w.socket.destroy();
    this.watches.clear();
  }

  get openWatches(): number {
    return this.watches.size;
  }

  setConfigMap(namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): void {
    this.configmaps.set(`${namespace}/${name}`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, resourceVersion: this.nextRv(), ...(labels ? { labels } : {}) },
      data,
    });
    this.notify();
  }

  /** Resolves when `pred` holds (checked after every request and change). */
  waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; requests:\n${this.requests.slice(-30).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private record(type: HistoryEntry['type'], object: Obj): void {
    const entry = { rv: Number(object.metadata.resourceVersion), type, object };
    this.history.push(entry);
    for (const w of this.watches) w.res.write(JSON.stringify({ type, object }) + '\n');
    this.notify();
  }

  // ---- HTTP ----

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.requests.push(`${req.method} ${url.pathname}${url.search}`);
      try {
        if (req.headers.authorization !== `Bearer ${this.token}`) return this.status(res, 401, 'Unauthorized', 'bad token');
        const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
        this.route(req, res, url, body);
      } finally {
        this.notify();
      }
    });
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL, body: any): void {
    const p = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const m = req.method;
    // /api/v1/namespaces[/name[/kind[/name]]]
    if (p[0] === 'api' && p[1] === 'v1' && p[2] === 'namespaces') {
      if (p.length === 3 && m === 'GET') {
        if (url.searchParams.get('watch') === 'true') return this.watch(req, res, url);
        if (this.failLists > 0) {
          this.failLists--;
          return this.status(res, 500, 'InternalError', 'list failed (test)');
        }
        return this.send(res, 200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...this.namespaces.values()] });
      }
      const ns = p[3]!;
      if (p.length === 4 && m === 'GET') {
        const obj = this.namespaces.get(ns);
        return obj ? this.send(res, 200, obj) : this.status(res, 404, 'NotFound', `namespaces "${ns}" not found`);
      }
      const kind = p[4];
      if (kind === 'events' && m === 'POST') {
        this.events.push(body);
        return this.send(res, 201, { ...body, metadata: { ...body.metadata, name: `sidewall-${this.events.length}` } });
      }
      if (kind === 'configmaps' || kind === 'secrets') {
        const store = kind === 'configmaps' ? this.configmaps : this.secrets;
        const name = p[5];
        if (m === 'POST' && name === undefined) {
          const key = `${ns}/${body.metadata.name}`;
          if (store.has(key)) return this.status(res, 409, 'AlreadyExists', `${kind} "${body.metadata.name}" already exists`);
          const obj = { ...body, metadata: { ...body.metadata, namespace: ns, resourceVersion: this.nextRv() } };
          store.set(key, obj);
          return this.send(res, 201, obj);
        }
        const key = `${ns}/${name}`;
        const existing = store.get(key);
        if (m === 'GET') return existing ? this.send(res, 200, existing) : this.status(res, 404, 'NotFound', `${kind} "${name}" not found`);
        if (m === 'PUT') {
          if (!existing) return this.status(res, 404, 'NotFound', `${kind} "${name}" not found`);
          if (body.metadata?.resourceVersion !== existing.metadata.resourceVersion) return this.status(res, 409, 'Conflict', 'the object has been modified');
          const obj = { ...body, metadata: { ...body.metadata, resourceVersion: this.nextRv() } };
          store.set(key, obj);
          return this.send(res, 200, obj);
        }
      }
    }
    if (url.pathname.startsWith('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/')) {
      const name = p[4]!;
      const existing = this.webhookConfigs.get(name);
      if (!existing) return this.status(res, 404, 'NotFound', `mutatingwebhookconfigurations "${name}" not found`);
      if (m === 'GET') return this.send(res, 200, existing);
      if (m === 'PATCH') {
        if (req.headers['content-type'] !== 'application/json-patch+json') return this.status(res, 415, 'UnsupportedMediaType', 'json patch only');
        try {
          const next = applyJsonPatch(existing, body as JsonPatchOp[]);
          this.webhookConfigs.set(name, next);
          return this.send(res, 200, next);
        } catch (err) {
          return this.status(res, 422, 'Invalid', (err as Error).message);
        }
      }
    }
    this.status(res, 404, 'NotFound', `no route for ${m} ${url.pathname}`);
  }

  private watch(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < this.compactedRv) {
      if (this.goneStyle === 'status') return this.status(res, 410, 'Expired', 'too old resource version');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }) + '\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    for (const e of this.history) if (e.rv > from) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
    const entry = { res, socket: req.socket };
    this.watches.add(entry);
    res.on('close', () => this.watches.delete(entry));
  }
}
