// One HTTP(S) POST with a timeout and abort, over node:http/https with keep-alive.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface PostResult {
  status: number;
  headers: IncomingHttpHeaders;
}

const RESPONSE_BODY_MAX = 4096;

export class HttpPoster {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 2 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 2 });

  /** Resolves with the response status (body discarded) or rejects on network error / timeout / abort. */
  post(url: URL, body: Buffer, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<PostResult> {
    return new Promise((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      const req = (isHttps ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: isHttps ? this.https : this.http,
          headers: { ...headers, 'content-length': String(body.length) },
          timeout: timeoutMs,
          signal,
        },
        (res) => {
          let seen = 0;
          res.on('data', (c: Buffer) => {
            seen += c.length;
            if (seen > RESPONSE_BODY_MAX) res.destroy();
          });
          res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
