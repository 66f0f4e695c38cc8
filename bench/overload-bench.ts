// Overload benchmark: goodput of the real server process (CRS v4 PL1, --mode block) when offered
// 3x its capacity with Envoy's 500 ms deadline, with admission off (--overload off: every check
// evaluated as it arrives, the behaviour before deadline-aware evaluation) and on (default), side
// by side in one run; plus the longest event-loop stall under hostile bodies at the recommended
// ModSecurity/CRS limits, without and with --max-check-ms, and in process how far the engine runs
// past max_check_ms on them.
//
//   node dist/bench/overload-bench.js [--capacity-seconds S] [--seconds S] [--factor F]
//        [--deadline-ms MS] [--scenarios json-10k,benign-get] [--max-check-ms MS] [--out FILE]
//
// Capacity C: closed loop, 4 checks in flight, checks/s. Overload: open loop at F·C (default 3)
// for S s (default 10); goodput = checks answered with a complete verdict before their deadline, per
// second. Load goes to a unix socket only and stops by itself. Writes test-results/overload-bench.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drive, scenarioCheckRequest, scenarios } from './check-bench.js';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { buildCheckRequest, DEFAULT_CHECK_OPTIONS } from './lib/check-request.js';
import { writeEntryConf } from './lib/crs-config.js';
import { envoyProcess } from './lib/envoy-http1.js';
import { CheckClient, structToJs } from './lib/grpc-check.js';
import { httpGet, startServer, type RunningServer } from './lib/server-process.js';
import { CheckBudget, type Budget } from '../src/engine/budget.js';
import { Waf } from '../src/engine/waf.js';
import { mapCheckRequest } from '../src/server/check-mapper.js';
import type { CheckRequestMsg } from '../src/server/check-mapper.js';

interface OverloadRun {
  offeredPerSecond: number;
  sent: number;
  goodput: number;
  goodputRatio: number;
  inTime: number;
  shedOrExpiredAnswers: number;
  deadlineExceeded: number;
  otherErrors: number;
}

/** A fresh directory for one server's socket and log. */
function serverDir(work: string, name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Open loop: `rate` checks/s for `seconds`, each with `deadlineMs`; never waits for answers. */
async function openLoop(client: CheckClient, request: unknown, rate: number, seconds: number, deadlineMs: number, capacity: number): Promise<OverloadRun> {
  let sent = 0;
  let inTime = 0;
  let refused = 0;
  let deadline = 0;
  let other = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (sent < due) {
      sent++;
      const started = performance.now();
      pending.push(
        client.checkRaw(request, deadlineMs).then(
          (res) => {
            const md = structToJs(res['dynamic_metadata']);
            if (md['waf_overload'] !== undefined || md['waf_error'] !== undefined) refused++;
            else if (performance.now() - started <= deadlineMs) inTime++;
            else deadline++;
          },
          (err: { code?: number }) => {
            if (err.code === 4) deadline++;
            else other++;
          },
        ),
      );
    }
    await sleep(2);
  }
  await Promise.all(pending);
  const goodput = inTime / seconds;
  return {
    offeredPerSecond: sent / seconds,
    sent,
    goodput,
    goodputRatio: capacity > 0 ? goodput / capacity : 0,
    inTime,
    shedOrExpiredAnswers: refused,
    deadlineExceeded: deadline,
    otherErrors: other,
  };
}

async function metricValue(server: RunningServer, series: string): Promise<number> {
  const { body } = await httpGet(server.adminPort, '/metrics', 5000);
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

/** Hostile bodies at ModSecurity's recommended limits (SecRequestBodyNoFilesLimit 128 KB, SecArgumentsLimit 1000). */
function hostileRequests(): Array<{ name: string; request: unknown }> {
  const limit = 131072;
  const jsonFlat = JSON.stringify(Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`k${i}`, `v${'a'.repeat(100)}<script>${i}`]))).slice(0, limit - 2) + '"}';
  const jsonDeep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
  const form = Array.from({ length: 999 }, (_, i) => `f${i}=${encodeURIComponent("' or 1=1 -- " + 'x'.repeat(100))}`).join('&').slice(0, limit);
  const xml = '<?xml version="1.0"?><r>' + Array.from({ length: 3000 }, (_, i) => `<e a="${i}">union select ${i}</e>`).join('') + '</r>';
  const parts = Array.from({ length: 999 }, (_, i) => `--B\r\nContent-Disposition: form-data; name="p${i}"\r\n\r\n${'<img src=x onerror=alert(1)>'.repeat(4)}\r\n`).join('') + '--B--\r\n';
  const make = (name: string, type: string, body: string) => {
    const raw = Buffer.from(`POST /api/upload HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const out = envoyProcess(raw, undefined, `hostile-${name}`);
    if (out.kind !== 'forwarded') throw new Error(`hostile ${name}: not forwarded: ${out.reason}`);
    return { name, request: buildCheckRequest(out.request, { ...DEFAULT_CHECK_OPTIONS, headerEncoding: 'raw' }) };
  };
  return [
    make('json-999-keys', 'application/json', jsonFlat),
    make('json-depth-5000', 'application/json', jsonDeep),
    make('urlencoded-999-args', 'application/x-www-form-urlencoded', form),
    make('xml-3000-elements', 'application/xml', xml.slice(0, limit)),
    make('multipart-999-parts', 'multipart/form-data; boundary=B', parts.slice(0, limit)),
  ];
}

/**
 * In process, no gRPC or GC noise from other checks: how far past max_check_ms the engine runs on
 * each hostile body (elapsed − budget, worst of `rounds`), and the longest stretch between two
 * budget consultations (the granularity the budget can be enforced at).
 */
function engineOverrun(waf: Waf, maxCheckMs: number, rounds: number) {
  const out: Array<{ name: string; worstElapsedMs: number; worstOverrunMs: number; worstCpuMs: number; longestGapMs: number; consultations: number; stopped: number }> = [];
  for (const h of hostileRequests()) {
    const request = mapCheckRequest(h.request as CheckRequestMsg).request;
    let worstElapsed = 0;
    let worstCpu = 0; // process CPU of a run, GC helper threads included (can exceed wall time)
    let longestGap = 0;
    let consultations = 0;
    let stopped = 0;
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      if (waf.evaluate(request, new CheckBudget({ maxCheckMs })).budgetStop) stopped++;
      worstElapsed = Math.max(worstElapsed, performance.now() - t);
      const used = process.cpuUsage(cpu);
      worstCpu = Math.max(worstCpu, (used.user + used.system) / 1000);
      let last = performance.now();
      let n = 0;
      const gaps: Budget = {
        exhausted() {
          const now = performance.now();
          if (now - last > longestGap) longestGap = now - last;
          last = now;
          n++;
          return false;
        },
      };
      waf.evaluate(request, gaps);
      consultations = n;
    }
    out.push({ name: h.name, worstElapsedMs: worstElapsed, worstOverrunMs: Math.max(0, worstElapsed - maxCheckMs), worstCpuMs: worstCpu, longestGapMs: longestGap, consultations, stopped });
  }
  return out;
}

async function hostileStalls(server: RunningServer, client: CheckClient, rounds: number) {
  const out: Array<{ name: string; longestMs: number; answers: string[] }> = [];
  for (const h of hostileRequests()) {
    await metricValue(server, 'sidewall_event_loop_lag_seconds{stat="max"}'); // resets the interval
    let longest = 0;
    const answers = new Set<string>();
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      const res = await client.checkRaw(h.request, 10_000);
      longest = Math.max(longest, performance.now() - t);
      const md = structToJs(res['dynamic_metadata']);
      answers.add(String(md['waf_overload'] ?? md['waf_action']));
    }
    const stall = (await metricValue(server, 'sidewall_event_loop_lag_seconds{stat="max"}')) * 1000;
    out.push({ name: h.name, longestMs: Math.max(stall, 0), answers: [...answers] });
    void longest;
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'capacity-seconds': { type: 'string' },
      seconds: { type: 'string' },
      factor: { type: 'string' },
      'deadline-ms': { type: 'string' },
      scenarios: { type: 'string' },
      'max-check-ms': { type: 'string' },
      'hostile-rounds': { type: 'string' },
      out: { type: 'string' },
      'crs-dir': { type: 'string' },
    },
  });
  const capSeconds = Number(values['capacity-seconds'] ?? 5);
  const seconds = Number(values.seconds ?? 10);
  const factor = Number(values.factor ?? 3);
  const deadlineMs = Number(values['deadline-ms'] ?? 500);
  const maxCheckMs = Number(values['max-check-ms'] ?? 50);
  const rounds = Number(values['hostile-rounds'] ?? 5);
  const names = (values.scenarios ?? 'json-10k,benign-get').split(',');
  const crsDir = values['crs-dir'] ?? sharedPath('crs');
  if (!existsSync(join(crsDir, 'rules'))) {
    console.error(`overload-bench: CRS not found at ${crsDir} (set SIDEWALL_SHARED or --crs-dir)`);
    return 2;
  }
  const chosen = scenarios().filter((s) => names.includes(s.name));
  const work = mkdtempSync(join(tmpdir(), 'sidewall-overload-'));
  const entry = writeEntryConf(work, { crsDir, testSetup: false });
  const report: Record<string, unknown> = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverageBefore: loadavg()[0] },
    settings: { capSeconds, seconds, factor, deadlineMs, maxCheckMs },
  };
  const rows: Record<string, unknown>[] = [];
  try {
    for (const s of chosen) {
      const request = scenarioCheckRequest(s);
      const row: Record<string, unknown> = { scenario: s.name };
      for (const mode of ['off', 'on'] as const) {
        const server = await startServer({ rulesFile: entry, mode: 'block', workDir: serverDir(work, `${s.name}-${mode}`), logLevel: 'error', extraArgs: ['--overload', mode] });
        const client = new CheckClient(server.target);
        try {
          await client.waitForReady(10_000);
          await drive(client, request, 1, 4, false); // warm-up
          const cap = await drive(client, request, capSeconds, 4, false);
          const capacity = cap.checks / cap.elapsed;
          await sleep(500);
          const run = await openLoop(client, request, factor * capacity, seconds, deadlineMs, capacity);
          const shed = await metricValue(server, 'sidewall_checks_shed_total{reason="queue_full"}');
          const expired = await metricValue(server, 'sidewall_checks_expired_total');
          row[mode] = { capacity, ...run, serverShed: shed, serverExpired: expired };
          console.log(`${s.name} overload=${mode}: C=${capacity.toFixed(1)}/s, offered ${run.offeredPerSecond.toFixed(1)}/s, goodput ${run.goodput.toFixed(1)}/s = ${(run.goodputRatio * 100).toFixed(0)} % of C (in time ${run.inTime}/${run.sent}, refused ${run.shedOrExpiredAnswers}, deadline exceeded ${run.deadlineExceeded}, other errors ${run.otherErrors})`);
        } finally {
          client.close();
          await server.stop();
        }
      }
      rows.push(row);
    }
    report.overload = rows;

    const stalls: Record<string, unknown> = {};
    for (const budget of [0, maxCheckMs]) {
      const server = await startServer({ rulesFile: entry, mode: 'block', workDir: serverDir(work, `hostile-${budget}`), logLevel: 'error', extraArgs: ['--max-check-ms', String(budget)] });
      const client = new CheckClient(server.target);
      try {
        await client.waitForReady(10_000);
        const r = await hostileStalls(server, client, rounds);
        stalls[budget === 0 ? 'unbounded' : `max_check_ms=${budget}`] = r;
        for (const x of r) console.log(`hostile ${x.name} max_check_ms=${budget}: longest event-loop stall ${x.longestMs.toFixed(0)} ms, answers ${x.answers.join(',')}`);
      } finally {
        client.close();
        await server.stop();
      }
    }
    report.hostileStalls = stalls;

    const waf = Waf.fromFile(entry);
    const overrun = engineOverrun(waf, maxCheckMs, rounds);
    for (const x of overrun) {
      console.log(`engine ${x.name} max_check_ms=${maxCheckMs}: worst elapsed ${x.worstElapsedMs.toFixed(1)} ms (overrun ${x.worstOverrunMs.toFixed(1)} ms, process CPU ${x.worstCpuMs.toFixed(1)} ms incl. GC threads, stopped ${x.stopped}/${rounds}), longest gap between budget checks ${x.longestGapMs.toFixed(1)} ms over ${x.consultations} checks`);
    }
    report.engineOverrun = overrun;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report.loadAverageAfter = loadavg()[0];
  const out = resolve(values.out ?? join(REPO_ROOT, 'test-results', 'overload-bench.json'));
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${out}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`overload-bench: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 2;
  },
);
