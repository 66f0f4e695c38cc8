// The protected app behind Envoy in the integration suites: answers 200 with a JSON echo of what
// reached it (method, url, headers, body length), so a test sees what Envoy forwarded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamApp {
  readonly port: number;
  /** Requests that reached the app, in order. */
  readonly received: Array<{ method: string; url: string; headers: Record<string, string | string[] | undefined>; bodyBytes: number }>;
  close(): Promise<void>;
}

export function startUpstreamApp(host = '127.0.0.1', port = 0): Promise<UpstreamApp> {
  const received: UpstreamApp['received'] = [];
  const server: Server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: bytes };
      received.push(seen);
      const body = JSON.stringify({ app: 'upstream', ...seen });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        received,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
