// Cost of the evaluation trace: CPU µs per request for Waf.evaluate (tracing off, the reference)
// and Waf.evaluateTraced (on), CRS v4 PL1 in block mode, interleaved rounds in one process.
//
//   node dist/bench/trace-bench.js [--duration S] [--crs DIR] [--out FILE]
//
// Writes test-results/trace-bench.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HttpRequest } from '../src/engine/api.js';
import { Waf } from '../src/engine/waf.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { duration: { type: 'string', default: '20' }, crs: { type: 'string' }, out: { type: 'string' } } });
const seconds = Math.min(120, Math.max(2, Number(values.duration)));
const crs = resolve(values.crs ?? join(REPO, '..', 'shared', 'crs'));

function request(uri: string, body: string | null = null): HttpRequest {
  const headers: Array<[string, string]> = [['Host', 'shop.example.com'], ['User-Agent', 'Mozilla/5.0 bench'], ['Accept', '*/*']];
  if (body !== null) headers.push(['Content-Type', 'application/json'], ['Content-Length', String(body.length)]);
  return { id: 'b', method: body === null ? 'GET' : 'POST', uri, protocol: 'HTTP/1.1', headers, body: body === null ? null : Buffer.from(body), bodyPartial: false, clientIp: '10.1.2.3', clientPort: 1, serverIp: '10.1.2.4', serverPort: 80 };
}

const scenarios: Record<string, HttpRequest> = {
  'benign GET': request('/catalog/shoes?color=blue&size=42&page=3'),
  'SQLi GET': request("/search?q=1'%20UNION%20SELECT%20password%20FROM%20users--"),
  'JSON 1 KB': request('/api/orders', JSON.stringify({ items: Array.from({ length: 12 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, note: 'gift wrap please' })) })),
};

const waf = Waf.fromFile(crs, { mode: 'block', onWarning: () => {} });
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const results: Record<string, { offUs: number; onUs: number; ratio: number; n: number }> = {};
const perScenarioMs = (seconds * 1000) / Object.keys(scenarios).length;
for (const [name, req] of Object.entries(scenarios)) {
  for (let i = 0; i < 50; i++) { waf.evaluate(req); waf.evaluateTraced(req); } // warm-up
  let off = 0, on = 0, n = 0;
  const end = Date.now() + perScenarioMs;
  while (Date.now() < end) {
    // Rounds of 20, alternating, so drift hits both sides alike.
    let t = cpu();
    for (let i = 0; i < 20; i++) waf.evaluate(req);
    off += cpu() - t;
    t = cpu();
    for (let i = 0; i < 20; i++) waf.evaluateTraced(req);
    on += cpu() - t;
    n += 20;
  }
  results[name] = { offUs: off / n, onUs: on / n, ratio: on / off, n };
  console.log(`${name.padEnd(12)} off ${(off / n).toFixed(1)} µs  on ${(on / n).toFixed(1)} µs  on/off ${(on / off).toFixed(2)}  (${n} each)`);
}
const out = resolve(values.out ?? join(REPO, 'test-results', 'trace-bench.json'));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ crs, seconds, node: process.version, results }, null, 2) + '\n');
console.log(`wrote ${out}`);
