// A small Kubernetes API client over node:http(s): JSON requests and streaming watches.
// In-cluster config comes from the service account mount and KUBERNETES_SERVICE_HOST/PORT;
// tests (and out-of-cluster runs) give the API URL and token explicitly.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfig {
  /** API server base URL, e.g. https://10.96.0.1:443 or http://127.0.0.1:8001 (tests). */
  server: string;
  /** Bearer token, or a file re-read on every request (projected tokens rotate). */
  token?: string;
  tokenFile?: string;
  /** PEM CA bundle for https servers. */
  ca?: string;
  /** Per-request timeout for non-watch requests (default 15 s). */
  timeoutMs?: number;
}

/** The API answered with a non-2xx status; `status` is the HTTP code, `body` its Status object if any. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** Config for a pod: token + CA from the service account mount, address from the environment. */
export function inClusterConfig(dir = SERVICE_ACCOUNT_DIR, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST is not set (use --kube-api URL)');
  let ca: string;
  try {
    ca = readFileSync(`${dir}/ca.crt`, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the service account CA ${dir}/ca.crt: ${(err as Error).message}`);
  }
  const h = host.includes(':') ? `[${host}]` : host;
  return { server: `https://${h}:${port}`, tokenFile: `${dir}/token`, ca };
}

export interface WatchEvent<T = unknown> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /** Resolves when the stream ends (server closed it, or abort()); rejects on transport errors and non-2xx. */
  done: Promise<void>;
  abort(): void;
}

export class KubeClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

  constructor(private readonly config: KubeConfig) {
    this.base = new URL(config.server);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') {
      throw new Error(`kube api: ${config.server}: must be an http:// or https:// URL`);
    }
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...(config.ca ? { ca: config.ca } : {}) })
        : new http.Agent({ keepAlive: true });
    this.timeoutMs = config.timeoutMs ?? 15_000;
  }

  private token(): string | undefined {
    if (this.config.token !== undefined) return this.config.token;
    if (this.config.tokenFile !== undefined) return readFileSync(this.config.tokenFile, 'utf8').trim();
    return undefined;
  }

  private open(method: string, path: string, headers: Record<string, string>, timeoutMs: number | null): http.ClientRequest {
    const url = new URL(path, this.base);
    const token = this.token();
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method,
      agent: this.agent,
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    if (timeoutMs !== null) req.setTimeout(timeoutMs, () => req.destroy(new Error(`kube api: ${method} ${path}: timed out after ${timeoutMs} ms`)));
    return req;
  }

  /** One JSON request. Non-2xx → KubeApiError carrying the Status reason and message. */
  request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string> = payload ? { 'content-type': contentType, 'content-length': String(payload.length) } : {};
      const req = this.open(method, path, headers, this.timeoutMs);
      req.once('error', reject);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', reject);
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            if (parsed === undefined && text !== '') reject(new Error(`kube api: ${method} ${path}: response is not JSON`));
            else resolve(parsed as T);
            return;
          }
          reject(statusError(status, method, path, parsed, text));
        });
      });
      req.end(payload);
    });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET that answers null for 404. */
  async getOrNull<T = unknown>(path: string): Promise<T | null> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * Streams a watch: newline-delimited JSON events, delivered in order to `onEvent`.
   * The stream has no overall timeout (the server ends it after timeoutSeconds), but a silent
   * connection (no bytes for `idleMs`) is treated as dropped.
   */
  watch<T = unknown>(path: string, onEvent: (event: WatchEvent<T>) => void, idleMs = 5 * 60_000): WatchHandle {
    let req: http.ClientRequest | null = null;
    let aborted = false;
    const done = new Promise<void>((resolve, reject) => {
      req = this.open('GET', path, {}, null);
      const fail = (err: Error) => (aborted ? resolve() : reject(err));
      req.setTimeout(idleMs, () => req!.destroy(new Error(`kube api: watch ${path}: no data for ${idleMs} ms`)));
      req.once('error', fail);
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            reject(statusError(status, 'GET', path, parsed, text));
          });
          res.once('error', fail);
          return;
        }
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          let nl;
          while ((nl = pending.indexOf('\n')) !== -1) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line === '') continue;
            let event: WatchEvent<T>;
            try {
              event = JSON.parse(line) as WatchEvent<T>;
            } catch {
              req!.destroy(new Error(`kube api: watch ${path}: malformed event line`));
              return;
            }
            if (aborted) return;
            try {
              onEvent(event);
            } catch (err) {
              req!.destroy(err as Error);
              return;
            }
          }
        });
        // "aborted"/"error" = the connection dropped mid-stream (the response never completed).
        res.once('aborted', () => fail(new Error(`kube api: watch ${path}: connection dropped`)));
        res.once('error', (err) => fail(err));
        res.once('end', () => {
          if (!res.complete) fail(new Error(`kube api: watch ${path}: connection dropped`));
          else resolve();
        });
      });
      req.end();
    });
    return {
      done,
      abort() {
        aborted = true;
        req?.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

function statusError(status: number, method: string, path: string, parsed: unknown, text: string): KubeApiError {
  const s = (parsed ?? {}) as { reason?: unknown; message?: unknown };
  const reason = typeof s.reason === 'string' ? s.reason : String(status);
  const message = typeof s.message === 'string' ? s.message : text.slice(0, 200);
  return new KubeApiError(status, reason, `kube api: ${method} ${path}: ${status} ${reason}: ${message}`);
}

/** Escapes a string for a URL path segment. */
export function seg(s: string): string {
  return encodeURIComponent(s);
}
