// Sidewall Check benchmark: drives the real server process over gRPC (unix socket) with OWASP
// CRS v4 at paranoia level 1 (the CRS runner's generated entry conf without the test SecAction,
// --mode block) and reports per scenario: server CPU µs per check (utime+stime from
// /proc/<pid>/stat over the measured window ÷ checks), throughput and client-observed p50/p99
// latency. A reference run against a trivial Check server (answers OK without evaluating;
// a separate process, bench/grpc-trivial.ts) is measured the same way,
// and every scenario is also reported as a ratio to it.
//
//   node dist/bench/check-bench.js [--duration S] [--warmup S] [--concurrency N]
//        [--scenarios benign-get,form-1k,json-10k,sqli-get] [--paranoia N] [--no-reference]
//        [--log-level LVL] [--out FILE]
//
// Writes test-results/bench.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { buildCheckRequest, DEFAULT_CHECK_OPTIONS, type CheckRequestObject } from './lib/check-request.js';
import { writeEntryConf } from './lib/crs-config.js';
import { envoyProcess } from './lib/envoy-http1.js';
import { CheckClient, type CheckResult } from './lib/grpc-check.js';
import { processCpuSeconds, startServer } from './lib/server-process.js';
import { percentile, startTrivialServer } from './grpc-trivial.js';
import { runIfEntry } from './lib/entry.js';

// ---- scenarios ----

export interface Scenario {
  name: string;
  description: string;
  /** Raw HTTP/1.1 request as a browser/client would send it. */
  raw: Buffer;
  /** Reference: nginx + ModSecurity v3 + CRS 3.3.4, µs CPU per request on this machine. */
  nginxModsecCpuUs: number | null;
}

const BROWSER_HEADERS = [
  'Host: shop.example.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'Accept-Language: en-US,en;q=0.9,de;q=0.8',
  'Accept-Encoding: gzip, deflate, br',
  'Referer: https://shop.example.com/catalog/shoes?color=blue',
  'Cookie: session=3f2a9c1e7b4d4e0f9a8b7c6d5e4f3a2b; theme=dark; _ga=GA1.2.1234567890.1700000000',
  'Upgrade-Insecure-Requests: 1',
  'Sec-Fetch-Dest: document',
  'Sec-Fetch-Mode: navigate',
  'Sec-Fetch-Site: same-origin',
  'Sec-Fetch-User: ?1',
  'Cache-Control: max-age=0',
];

function httpRequest(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

function formBody(size: number): string {
  const fields: string[] = [];
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];
  let i = 0;
  while (fields.join('&').length < size) {
    fields.push(`field${i}=${encodeURIComponent(`${words[i % words.length]} ${words[(i * 3) % words.length]} ${i}`)}`);
    i++;
  }
  let s = fields.join('&');
  if (s.length > size) s = s.slice(0, size);
  return s.replace(/%[0-9A-Fa-f]?$/, '').padEnd(size, 'x');
}

function jsonBody(size: number): string {
  const items: unknown[] = [];
  const doc = { order: { id: 'ord-2024-000123', customer: { name: 'Jane Doe', email: 'jane@example.com', tier: 'gold' }, items } };
  let i = 0;
  while (JSON.stringify(doc).length < size - 120) {
    items.push({ sku: `SKU-${1000 + i}`, name: `Product number ${i} in blue`, qty: (i % 5) + 1, price: 9.99 + i, tags: ['sale', 'new'] });
    i++;
  }
  // Pad with a note field to exactly `size` bytes (still valid JSON).
  const base = JSON.stringify({ ...doc, note: '' });
  return JSON.stringify({ ...doc, note: 'n'.repeat(Math.max(0, size - base.length)) });
}

export function scenarios(): Scenario[] {
  const form = formBody(1024);
  const json = jsonBody(10 * 1024);
  return [
    {
      name: 'benign-get',
      description: 'GET with 5 query args and 13 browser headers',
      raw: httpRequest(['GET /catalog/search?q=running+shoes&size=42&color=blue&page=2&sort=price_asc HTTP/1.1', ...BROWSER_HEADERS]),
      nginxModsecCpuUs: 1700,
    },
    {
      name: 'form-1k',
      description: 'POST 1 KB application/x-www-form-urlencoded',
      raw: httpRequest([
        'POST /account/profile HTTP/1.1', ...BROWSER_HEADERS.slice(0, 6),
        'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(form)}`,
      ], form),
      nginxModsecCpuUs: 3300,
    },
    {
      name: 'json-10k',
      description: 'POST 10 KB application/json',
      raw: httpRequest([
        'POST /api/v1/orders HTTP/1.1', ...BROWSER_HEADERS.slice(0, 5),
        'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(json)}`,
      ], json),
      nginxModsecCpuUs: 45000,
    },
    {
      name: 'sqli-get',
      description: "GET ?id=1' OR '1'='1 (blocked)",
      raw: httpRequest(["GET /item?id=1'%20OR%20'1'='1 HTTP/1.1", ...BROWSER_HEADERS.slice(0, 5)]),
      nginxModsecCpuUs: 1350,
    },
  ];
}

/** The CheckRequest Envoy would send for a scenario (same modelling as the CRS runner). */
export function scenarioCheckRequest(s: Scenario): CheckRequestObject {
  const out = envoyProcess(s.raw, undefined, '5b2c1f0e-3d4a-4b6c-8e9f-0a1b2c3d4e5f');
  if (out.kind !== 'forwarded') throw new Error(`scenario ${s.name}: Envoy would not forward it: ${out.reason} ${out.detail}`);
  return buildCheckRequest(out.request, { ...DEFAULT_CHECK_OPTIONS, headerEncoding: 'raw' });
}

// ---- measurement ----

export interface Measurement {
  name: string;
  description: string;
  checks: number;
  seconds: number;
  throughput: number;
  serverCpuSeconds: number;
  cpuUsPerCheck: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  verdict: { action: string; ruleIds: number[]; statusCode: number; anomalyScore: number | null } | null;
}

/** Keeps `concurrency` checks in flight for `seconds`; latencies are kept when `record`. */
export async function drive(
  client: CheckClient,
  request: unknown,
  seconds: number,
  concurrency: number,
  record: boolean,
): Promise<{ latenciesMs: number[]; checks: number; errors: number; elapsed: number }> {
  const latencies: number[] = [];
  let checks = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  const worker = async () => {
    while (process.hrtime.bigint() < end) {
      const s = process.hrtime.bigint();
      try {
        await client.checkRaw(request, 10_000);
        checks++;
        if (record) latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latenciesMs: latencies, checks, errors, elapsed: Number(process.hrtime.bigint() - t0) / 1e9 };
}

async function measure(
  name: string,
  description: string,
  client: CheckClient,
  pid: number,
  request: unknown,
  opts: { duration: number; warmup: number; concurrency: number },
): Promise<Measurement> {
  let verdict: Measurement['verdict'] = null;
  try {
    const r: CheckResult = await client.check(request, 30_000);
    verdict = { action: r.action || (r.statusCode === 0 ? 'allow' : 'deny'), ruleIds: r.ruleIds, statusCode: r.statusCode, anomalyScore: r.anomalyScore };
  } catch (err) {
    throw new Error(`${name}: first check failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  await drive(client, request, opts.warmup, opts.concurrency, false);
  const cpu0 = processCpuSeconds(pid);
  const run = await drive(client, request, opts.duration, opts.concurrency, true);
  const cpu1 = processCpuSeconds(pid);
  const sorted = run.latenciesMs.sort((a, b) => a - b);
  const serverCpu = cpu1 - cpu0;
  return {
    name,
    description,
    checks: run.checks,
    seconds: run.elapsed,
    throughput: run.checks / run.elapsed,
    serverCpuSeconds: serverCpu,
    cpuUsPerCheck: run.checks > 0 ? (serverCpu * 1e6) / run.checks : 0,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: run.errors,
    verdict,
  };
}

// ---- main ----

export interface BenchOptions {
  duration: number;
  warmup: number;
  concurrency: number;
  scenarios: string[] | null;
  paranoia: number;
  reference: boolean;
  logLevel: string;
  out: string;
  crsDir: string;
}

export async function runBench(o: BenchOptions): Promise<Record<string, unknown>> {
  const loadBefore = loadavg()[0]!;
  if (loadBefore > cpus().length * 0.5) {
    console.log(`warning: 1-minute load average ${loadBefore.toFixed(1)} on ${cpus().length} CPUs; figures will be noisy`);
  }
  const all = scenarios().filter((s) => o.scenarios === null || o.scenarios.includes(s.name));
  if (all.length === 0) throw new Error('no scenario selected');
  const requests = new Map(all.map((s) => [s.name, scenarioCheckRequest(s)]));
  const work = mkdtempSync(join(tmpdir(), 'sidewall-bench-'));
  const results: Measurement[] = [];
  let reference: Measurement | null = null;
  let ruleLoadSeconds = 0;
  try {
    if (o.reference) {
      const trivial = await startTrivialServer(work);
      const client = new CheckClient(trivial.target);
      try {
        await client.waitForReady(10_000);
        reference = await measure('grpc-baseline', 'bare grpc-js Check (answers OK, no evaluation)', client, trivial.pid, requests.get(all[0]!.name), o);
        console.log(`reference: ${reference.cpuUsPerCheck.toFixed(1)} µs CPU/check, ${reference.throughput.toFixed(0)} checks/s`);
      } finally {
        client.close();
        await trivial.stop();
      }
    }

    const extra = o.paranoia !== 1
      ? `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=${o.paranoia}"\n`
      : '';
    const entry = writeEntryConf(work, { crsDir: o.crsDir, testSetup: false, extra });
    const t0 = Date.now();
    const server = await startServer({ rulesFile: entry, mode: 'block', workDir: work, logLevel: o.logLevel });
    ruleLoadSeconds = (Date.now() - t0) / 1000;
    console.log(`sidewall ready in ${ruleLoadSeconds.toFixed(1)}s (pid ${server.pid})`);
    const client = new CheckClient(server.target);
    try {
      await client.waitForReady(10_000);
      for (const s of all) {
        const m = await measure(s.name, s.description, client, server.pid, requests.get(s.name), o);
        results.push(m);
        console.log(`${s.name}: ${m.cpuUsPerCheck.toFixed(0)} µs CPU/check, ${m.throughput.toFixed(0)} checks/s, action ${m.verdict?.action} [${m.verdict?.ruleIds.join(',')}]`);
      }
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const byName = new Map(all.map((s) => [s.name, s]));
  const rows = results.map((m) => ({
    ...m,
    ratioToGrpcBaseline: reference && reference.cpuUsPerCheck > 0 ? m.cpuUsPerCheck / reference.cpuUsPerCheck : null,
    nginxModsecCrs334CpuUs: byName.get(m.name)?.nginxModsecCpuUs ?? null,
  }));
  printTable(rows, reference);
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0]! },
    settings: { duration: o.duration, warmup: o.warmup, concurrency: o.concurrency, paranoia: o.paranoia, logLevel: o.logLevel, transport: 'unix socket', headerEncoding: 'raw' },
    ruleLoadSeconds,
    reference,
    scenarios: rows,
    context: {
      note: 'nginx + ModSecurity v3 + CRS 3.3.4 on this machine (reference figures, not measured by this run)',
      nginxModsecCrs334CpuUs: { 'benign-get': 1700, 'form-1k': 3300, 'json-10k': 45000, 'sqli-get': 1350 },
      bareGrpcJsCpuUs: 47,
    },
  };
  mkdirSync(resolve(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${o.out}`);
  return report;
}

function printTable(rows: Array<Measurement & { ratioToGrpcBaseline: number | null; nginxModsecCrs334CpuUs: number | null }>, reference: Measurement | null): void {
  const header = ['scenario', 'CPU µs/check', 'x baseline', 'checks/s', 'p50 ms', 'p99 ms', 'action', 'nginx+ModSec µs'];
  const lines: string[][] = [];
  if (reference) lines.push([reference.name, reference.cpuUsPerCheck.toFixed(1), '1.0', reference.throughput.toFixed(0), reference.p50Ms.toFixed(2), reference.p99Ms.toFixed(2), 'allow', '≈47 (bare grpc-js)']);
  for (const r of rows) {
    lines.push([
      r.name,
      r.cpuUsPerCheck.toFixed(0),
      r.ratioToGrpcBaseline === null ? '-' : r.ratioToGrpcBaseline.toFixed(1),
      r.throughput.toFixed(0),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      r.verdict?.action ?? '-',
      r.nginxModsecCrs334CpuUs === null ? '-' : r.nginxModsecCrs334CpuUs.toLocaleString('en-US'),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log('');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
  console.log('');
  console.log('Reference (nginx + ModSecurity v3 + CRS 3.3.4, this machine): 1,700 / 3,300 / 45,000 / 1,350 µs CPU per request');
  console.log('(benign GET / 1 KB form / 10 KB JSON / SQLi GET); bare grpc-js unary call ≈47 µs CPU.');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      scenarios: { type: 'string' },
      paranoia: { type: 'string' },
      'no-reference': { type: 'boolean' },
      'log-level': { type: 'string' },
      out: { type: 'string' },
      'crs-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/check-bench.js [--duration S] [--warmup S] [--concurrency N] [--scenarios a,b]\n' +
      '       [--paranoia N] [--no-reference] [--log-level LVL] [--out FILE] [--crs-dir DIR]\n' +
      `scenarios: ${scenarios().map((s) => s.name).join(', ')}`);
    return 0;
  }
  const crsDir = values['crs-dir'] ?? sharedPath('crs');
  if (!existsSync(join(crsDir, 'rules'))) {
    console.error(`check-bench: CRS not found at ${crsDir} (set SIDEWALL_SHARED or --crs-dir)`);
    return 2;
  }
  await runBench({
    duration: Number(values.duration ?? 3),
    warmup: Number(values.warmup ?? 1),
    concurrency: Number(values.concurrency ?? 8),
    scenarios: values.scenarios ? values.scenarios.split(',').map((s) => s.trim()) : null,
    paranoia: Number(values.paranoia ?? 1),
    reference: !values['no-reference'],
    logLevel: values['log-level'] ?? 'info',
    out: resolve(values.out ?? join(REPO_ROOT, 'test-results', 'bench.json')),
    crsDir,
  });
  return 0;
}

runIfEntry(import.meta.url, 'check-bench', main);
