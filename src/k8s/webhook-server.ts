// The admission webhook over HTTPS: POST /mutate with an AdmissionReview, answered by admission.ts.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseListenAddress } from '../config/config.js';
import { reviewAdmission, type AdmissionDeps } from './admission.js';
import type { TlsMaterial } from './webhook-tls.js';

export const MUTATE_PATH = '/mutate';
/** The API server caps requests at 3 MiB; anything larger is not an AdmissionReview. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface WebhookServerHandle {
  readonly port: number;
  readonly address: string;
  /** Swaps the certificate for new connections (cert-manager rotation). */
  setTls(tls: TlsMaterial): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}

export async function startWebhookServer(listen: string, tls: TlsMaterial, deps: AdmissionDeps): Promise<WebhookServerHandle> {
  const parsed = parseListenAddress(listen);
  if (typeof parsed === 'string' || parsed.kind !== 'tcp') throw new Error(`--listen: must be host:port (got ${JSON.stringify(listen)})`);

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path !== MUTATE_PATH) return send(res, 404, `not found (POST ${MUTATE_PATH})\n`);
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(res, 405, 'method not allowed\n');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.once('error', () => res.destroy());
    req.once('end', () => {
      // A body we do not read completely is still answered: allowed, with a warning.
      const body = tooLarge ? '' : Buffer.concat(chunks).toString('utf8');
      reviewAdmission(body, deps).then(
        (answer) => send(res, 200, JSON.stringify(answer), 'application/json'),
        (err: Error) => {
          deps.logger.error({ err: err.message }, 'admission review failed');
          send(res, 500, 'internal error\n');
        },
      );
    });
  };

  const server: Server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handle);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.host, () => {
      server.off('error', reject);
      server.on('error', (err) => deps.logger.error({ err: err.message }, 'webhook server error'));
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  return {
    port,
    address: `${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${port}`,
    setTls(next) {
      server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
