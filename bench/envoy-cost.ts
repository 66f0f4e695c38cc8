// What Envoy itself costs per request, with and without the ext_authz filter, in the same run:
// two real Envoy processes (--concurrency 1) in front of the same upstream app on loopback —
// one with the README's ext_authz filter → Sidewall (real `sidewall serve`, CRS v4 at paranoia
// level 1, block mode, Unix socket), one without (the reference). The benign GET of
// bench/check-bench.ts goes over keep-alive HTTP/1.1 connections; the phases alternate (with,
// without, with, …) so drift hits both alike. A third Envoy sends its checks to a trivial Check
// server (answers OK without evaluating; a child process) — what the filter and its gRPC call cost
// Envoy when the authorization server takes no CPU of its own. Reported: CPU µs of the Envoy process per request
// (utime+stime from /proc/<pid>/stat over each phase ÷ requests), Sidewall's CPU µs per request
// in the ext_authz phases, client p50/p99 latency, and the ratio with/without.
//
//   node dist/bench/envoy-cost.js [--requests N] [--max-seconds S] [--rounds R] [--concurrency C]
//        [--warmup N] [--check-timeout-ms MS] [--access-log] [--out FILE]
//
// Bounded: every phase stops after N requests or S seconds, whichever comes first. Loopback only.
// Writes test-results/envoy-cost.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { scenarios } from './check-bench.js';
import { writeEntryConf } from './lib/crs-config.js';
import { testBootstrap } from './lib/envoy-config.js';
import { findEnvoy, launchEnvoy, ENVOY_INSTALL_HINT, type EnvoyProcess } from './lib/envoy-process.js';
import { freePort, processCpuSeconds, startServer } from './lib/server-process.js';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { startUpstreamApp } from './lib/upstream-app.js';
import { percentile, startTrivialServer } from './grpc-trivial.js';
import { runIfEntry } from './lib/entry.js';

export interface EnvoyCostOptions {
  requests: number;
  maxSeconds: number;
  rounds: number;
  /** ext_authz timeout (the README's 500 ms by default). */
  checkTimeoutMs: number;
  concurrency: number;
  warmup: number;
  accessLog: boolean;
  out: string;
}

interface Phase {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
  envoyCpuSeconds: number;
  sidewallCpuSeconds: number | null;
  latenciesMs: number[];
}

/** The benign GET as an http.request: the same path and headers as the check bench's raw bytes. */
function benignGet(): { path: string; headers: Record<string, string> } {
  const raw = scenarios().find((s) => s.name === 'benign-get')!.raw.toString('latin1');
  const [line, ...rest] = raw.split('\r\n\r\n')[0]!.split('\r\n');
  const headers: Record<string, string> = {};
  for (const h of rest) {
    const i = h.indexOf(':');
    headers[h.slice(0, i)] = h.slice(i + 1).trim();
  }
  return { path: line!.split(' ')[1]!, headers };
}

/** Sends `count` requests over `concurrency` keep-alive connections (or stops at the deadline). */
async function drive(port: number, count: number, concurrency: number, deadline: number): Promise<Omit<Phase, 'envoyCpuSeconds' | 'sidewallCpuSeconds' | 'seconds'>> {
  const { path, headers } = benignGet();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let sent = 0;
  let errors = 0;
  const one = () =>
    new Promise<void>((done) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latenciesMs.push(performance.now() - t0);
          statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
          done();
        });
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        done();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < count && Date.now() < deadline) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
  return { requests: latenciesMs.length, errors, statuses, latenciesMs };
}

async function measure(envoy: EnvoyProcess, port: number, o: EnvoyCostOptions, sidewallPid: number | null): Promise<Phase> {
  const cpu0 = processCpuSeconds(envoy.pid);
  const sw0 = sidewallPid === null ? 0 : processCpuSeconds(sidewallPid);
  const t0 = performance.now();
  const r = await drive(port, o.requests, o.concurrency, Date.now() + o.maxSeconds * 1000);
  return {
    ...r,
    seconds: (performance.now() - t0) / 1000,
    envoyCpuSeconds: processCpuSeconds(envoy.pid) - cpu0,
    sidewallCpuSeconds: sidewallPid === null ? null : processCpuSeconds(sidewallPid) - sw0,
  };
}

function summarize(phases: Phase[]) {
  const requests = phases.reduce((s, p) => s + p.requests, 0);
  const lat = phases.flatMap((p) => p.latenciesMs).sort((a, b) => a - b);
  const envoyCpu = phases.reduce((s, p) => s + p.envoyCpuSeconds, 0);
  const swCpu = phases.some((p) => p.sidewallCpuSeconds === null) ? null : phases.reduce((s, p) => s + p.sidewallCpuSeconds!, 0);
  const statuses: Record<string, number> = {};
  for (const p of phases) for (const [k, v] of Object.entries(p.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    requests,
    errors: phases.reduce((s, p) => s + p.errors, 0),
    statuses,
    seconds: phases.reduce((s, p) => s + p.seconds, 0),
    envoyCpuUsPerRequest: requests === 0 ? null : (envoyCpu / requests) * 1e6,
    sidewallCpuUsPerRequest: swCpu === null || requests === 0 ? null : (swCpu / requests) * 1e6,
    perRoundEnvoyCpuUs: phases.map((p) => (p.requests === 0 ? null : (p.envoyCpuSeconds / p.requests) * 1e6)),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
  };
}

export async function runEnvoyCost(o: EnvoyCostOptions): Promise<Record<string, unknown>> {
  const bin = findEnvoy();
  if (bin === null) throw new Error(`envoy not found; ${ENVOY_INSTALL_HINT}`);
  const workDir = mkdtempSync(join(tmpdir(), 'sidewall-envoy-cost-'));
  const app = await startUpstreamApp();
  const stopList: Array<() => Promise<unknown>> = [() => app.close()];
  try {
    const crsDir = sharedPath('crs');
    const entry = writeEntryConf(workDir, { crsDir, testSetup: false });
    const sidewall = await startServer({ rulesFile: entry, mode: 'block', workDir, logLevel: 'error' });
    stopList.push(() => sidewall.stop());
    const launch = async (extAuthz: boolean, checkTarget: string) => {
      const listenerPort = await freePort();
      const adminPort = await freePort();
      const envoy = await launchEnvoy({
        adminPort,
        bootstrap: testBootstrap({
          listenerPort, adminPort, upstreamPort: app.port, extAuthz, accessLog: o.accessLog, timeoutMs: o.checkTimeoutMs,
          sidewall: { socketPath: checkTarget.slice('unix:'.length) },
        }),
      });
      stopList.push(() => envoy.stop());
      return { envoy, listenerPort };
    };
    const trivial = await startTrivialServer(workDir);
    stopList.push(() => trivial.stop());
    const withAuthz = await launch(true, sidewall.target);
    const withTrivial = await launch(true, trivial.target);
    const without = await launch(false, sidewall.target);
    // Warm all three (connections to the app and to the Check servers, JIT of Sidewall's rules).
    for (const e of [withAuthz, withTrivial, without]) await drive(e.listenerPort, o.warmup, o.concurrency, Date.now() + 30_000);
    const phasesWith: Phase[] = [];
    const phasesTrivial: Phase[] = [];
    const phasesWithout: Phase[] = [];
    for (let r = 0; r < o.rounds; r++) {
      phasesWith.push(await measure(withAuthz.envoy, withAuthz.listenerPort, o, sidewall.pid));
      phasesTrivial.push(await measure(withTrivial.envoy, withTrivial.listenerPort, o, trivial.pid));
      phasesWithout.push(await measure(without.envoy, without.listenerPort, o, null));
    }
    const a = summarize(phasesWith);
    const t = summarize(phasesTrivial);
    const b = summarize(phasesWithout);
    // A 403 on the benign GET is a check that failed (timeout, overload): counted, not hidden.
    const extAuthzStats: Record<string, number> = {};
    for (const k of ['ok', 'denied', 'error', 'failure_mode_allowed']) extAuthzStats[k] = await withAuthz.envoy.stat(`http.ingress.ext_authz.${k}`);
    // Connections Envoy opened to Sidewall vs checks sent (a reconnect per check would dominate the cost).
    for (const k of ['upstream_cx_total', 'upstream_rq_total']) extAuthzStats[`sidewall_${k}`] = await withAuthz.envoy.stat(`cluster.sidewall.${k}`);
    for (const k of ['upstream_cx_total', 'upstream_rq_total']) extAuthzStats[`app_${k}`] = await withAuthz.envoy.stat(`cluster.app.${k}`);
    const result = {
      bench: 'envoy-cost',
      time: new Date().toISOString(),
      envoyVersion: bin.version,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', loadavg: loadavg() },
      options: o,
      request: 'benign-get (bench/check-bench.ts): GET with 5 query args and 13 browser headers',
      withExtAuthz: a,
      withExtAuthzTrivialServer: t,
      withoutExtAuthz: b,
      ratioTrivialServer: t.envoyCpuUsPerRequest !== null && b.envoyCpuUsPerRequest ? t.envoyCpuUsPerRequest / b.envoyCpuUsPerRequest : null,
      extAuthzStats,
      ratio: a.envoyCpuUsPerRequest !== null && b.envoyCpuUsPerRequest ? a.envoyCpuUsPerRequest / b.envoyCpuUsPerRequest : null,
      extAuthzFilterCpuUs: a.envoyCpuUsPerRequest !== null && b.envoyCpuUsPerRequest !== null ? a.envoyCpuUsPerRequest - b.envoyCpuUsPerRequest : null,
    };
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    for (const stop of stopList.reverse()) await stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}


async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string' },
      'max-seconds': { type: 'string' },
      rounds: { type: 'string' },
      concurrency: { type: 'string' },
      'check-timeout-ms': { type: 'string' },
      warmup: { type: 'string' },
      'access-log': { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  const int = (v: string | undefined, flag: string, dflt: number, min: number, max: number) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`--${flag}: an integer ${min}..${max} (got ${JSON.stringify(v)})`);
    return Number(v);
  };
  const o: EnvoyCostOptions = {
    requests: int(values.requests, 'requests', 4000, 1, 1_000_000),
    maxSeconds: int(values['max-seconds'], 'max-seconds', 15, 1, 300),
    rounds: int(values.rounds, 'rounds', 3, 1, 20),
    checkTimeoutMs: int(values['check-timeout-ms'], 'check-timeout-ms', 500, 1, 60_000),
    concurrency: int(values.concurrency, 'concurrency', 4, 1, 64),
    warmup: int(values.warmup, 'warmup', 500, 0, 100_000),
    accessLog: values['access-log'] ?? false,
    out: resolve(values.out ?? join(REPO_ROOT, 'test-results', 'envoy-cost.json')),
  };
  const r = (await runEnvoyCost(o)) as {
    envoyVersion: string;
    withExtAuthz: ReturnType<typeof summarize>;
    withoutExtAuthz: ReturnType<typeof summarize>;
    withExtAuthzTrivialServer: ReturnType<typeof summarize>;
    ratio: number | null;
    ratioTrivialServer: number | null;
    extAuthzFilterCpuUs: number | null;
    extAuthzStats: Record<string, number>;
  };
  const f = (n: number | null) => (n === null ? '-' : n.toFixed(1));
  const row = (name: string, s: ReturnType<typeof summarize>) =>
    console.log(`${name.padEnd(22)} ${String(s.requests).padStart(7)} req  Envoy ${f(s.envoyCpuUsPerRequest).padStart(7)} µs/req  Check server ${f(s.sidewallCpuUsPerRequest).padStart(7)} µs/req  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  statuses ${JSON.stringify(s.statuses)}${s.errors ? `  errors ${s.errors}` : ''}`);
  console.log(`Envoy ${r.envoyVersion}, benign GET, ${o.rounds} alternating rounds of ≤${o.requests} requests / ≤${o.maxSeconds}s, concurrency ${o.concurrency}${o.accessLog ? ', access log on' : ''}`);
  row('with ext_authz', r.withExtAuthz);
  row('ext_authz → trivial', r.withExtAuthzTrivialServer);
  row('without (reference)', r.withoutExtAuthz);
  console.log(`Envoy CPU with/without ext_authz: ${r.ratio === null ? '-' : r.ratio.toFixed(2)}× (+${f(r.extAuthzFilterCpuUs)} µs per request for the filter and its gRPC call); with a trivial Check server ${r.ratioTrivialServer === null ? '-' : r.ratioTrivialServer.toFixed(2)}×`);
  console.log(`ext_authz: ${JSON.stringify(r.extAuthzStats)}${r.extAuthzStats['error'] ? ' — checks that failed (timeout/overload) answered 403 (failure_mode_allow false)' : ''}`);
  console.log(`result: ${o.out}`);
  return r.withExtAuthz.errors === 0 && r.withoutExtAuthz.errors === 0 ? 0 : 1;
}

runIfEntry(import.meta.url, 'envoy-cost', main);
