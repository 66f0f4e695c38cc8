// Shared pieces for the security event tests: detections without an engine, a recording
// webhook collector on loopback, metric parsing.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuleMatch, Verdict } from '../../src/engine/api.js';
import type { CheckContext, PeerInfo } from '../../src/server/check-mapper.js';
import type { Detection } from '../../src/events/schema.js';

export function ruleMatch(over: Partial<RuleMatch> = {}): RuleMatch {
  return {
    id: 942100,
    phase: 2,
    msg: 'SQL Injection Attack Detected via libinjection',
    logdata: '',
    severity: 2,
    tags: ['attack-sqli', 'paranoia-level/1'],
    matchedVar: 'ARGS:id',
    matchedData: "1' or '1'='1",
    disruptive: false,
    file: 'rules.conf',
    line: 1,
    ...over,
  };
}

const peerInfo = (address: string, port: number, principal = ''): PeerInfo => ({ address, port, principal, service: '', labels: {} });

export interface DetectionSpec {
  matches?: RuleMatch[];
  action?: Verdict['action'];
  ip?: string;
  method?: string;
  uri?: string;
  requestId?: string;
  extensions?: Record<string, string>;
  sourcePrincipal?: string;
  timeMs?: number;
}

export function detection(spec: DetectionSpec = {}): Detection {
  const matches = spec.matches ?? [ruleMatch()];
  const verdict: Verdict = {
    action: spec.action ?? 'deny',
    mode: spec.action === 'detect' ? 'detect' : 'block',
    status: 403,
    redirectUrl: null,
    interruptingRuleId: 949110,
    ruleIds: matches.map((m) => m.id),
    matches,
    anomalyScore: 5 * matches.length,
    requestId: spec.requestId ?? 'req-1',
    requestBodyError: null,
    bodyPartial: false,
  };
  const context: CheckContext = {
    requestId: spec.requestId ?? 'req-1',
    host: 'shop.example.com',
    scheme: 'https',
    source: peerInfo(spec.ip ?? '10.1.2.3', 40000, spec.sourcePrincipal),
    destination: peerInfo('10.9.8.7', 8080),
    contextExtensions: spec.extensions ?? { namespace: 'shop', pod: 'web-7f9c', service: 'web' },
    filterMetadata: {},
    sni: '',
  };
  return { timeMs: spec.timeMs ?? Date.now(), verdict, context, method: spec.method ?? 'GET', uri: spec.uri ?? '/item?id=1', protocol: 'HTTP/1.1' };
}

export interface Delivery {
  at: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  status: number;
}

export type Responder = (req: IncomingMessage, body: Buffer, n: number) => { status: number; headers?: Record<string, string> };

/** A webhook collector on 127.0.0.1 that records every delivery and answers via `respond`. */
export async function startCollector(respond: Responder = () => ({ status: 200 })): Promise<{
  url: string;
  port: number;
  deliveries: Delivery[];
  setResponder(r: Responder): void;
  waitFor(pred: (d: Delivery[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}> {
  const deliveries: Delivery[] = [];
  let responder = respond;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r = responder(req, body, deliveries.length);
      deliveries.push({ at: Date.now(), headers: req.headers, body, status: r.status });
      res.writeHead(r.status, r.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    deliveries,
    setResponder: (r) => (responder = r),
    waitFor: (pred, timeoutMs = 5000) => waitUntil(() => pred(deliveries), timeoutMs, () => `${deliveries.length} deliveries`),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs = 5000, what: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Value of one series in Prometheus text, e.g. `sidewall_events_total` or `x{sink="a"}`; 0 when absent. */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
