// Admin HTTP server: /metrics (Prometheus), /healthz (liveness), /readyz (readiness).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../config/config.js';
import { ListenError, removeSocketFile, removeStaleSocket } from './listen.js';
import type { Metrics } from './metrics.js';

export interface AdminOptions {
  /** Anything with a Prometheus registry's render/contentType (the server's or the controller's metrics). */
  metrics: Pick<Metrics, 'render' | 'contentType'>;
  /** 'ready' → /readyz 200; anything else → 503 with that word as the body. */
  readiness: () => 'ready' | 'starting' | 'draining' | 'overloaded';
  onError?: (err: Error) => void;
}

export interface AdminServerHandle {
  /** The address actually bound (port 0 replaced by the real port). */
  readonly address: string;
  /** Base URL for TCP listeners (http://host:port), null for unix sockets. */
  readonly url: string | null;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export async function startAdminServer(listen: string, options: AdminOptions): Promise<AdminServerHandle> {
  const parsed = parseListenAddress(listen);
  if (typeof parsed === 'string') throw new ListenError(`cannot listen on ${listen}: ${parsed}`);
  if (parsed.kind === 'unix') await removeStaleSocket(parsed.path);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    switch (path) {
      case '/healthz':
        send(res, 200, 'ok\n');
        return;
      case '/readyz': {
        const state = options.readiness();
        send(res, state === 'ready' ? 200 : 503, state + '\n');
        return;
      }
      case '/metrics':
        options.metrics.render().then(
          (text) => send(res, 200, text, options.metrics.contentType),
          (err: Error) => {
            options.onError?.(err);
            send(res, 500, 'metrics unavailable\n');
          },
        );
        return;
      default:
        send(res, 404, 'not found (try /metrics, /healthz, /readyz)\n');
    }
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new ListenError(`cannot listen on ${listen} (admin): ${why}`));
    };
    server.once('error', onError);
    const ready = () => {
      server.off('error', onError);
      server.on('error', (err) => options.onError?.(err));
      resolve();
    };
    if (parsed.kind === 'unix') server.listen(parsed.path, ready);
    else server.listen(parsed.port, parsed.host, ready);
  });

  let address = listen;
  let url: string | null = null;
  if (parsed.kind === 'tcp') {
    const info = server.address() as AddressInfo;
    const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
    address = `${host}:${info.port}`;
    url = `http://${address}`;
  }

  let closing: Promise<void> | null = null;
  return {
    address,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          if (parsed.kind === 'unix') removeSocketFile(parsed.path);
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
