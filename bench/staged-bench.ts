// Staged-policy shadowing cost: server CPU per check of the real server process (CRS v4, enforced
// PL1 block) for three namespaces of one --settings-dir, in one server and one run:
//   off   nothing staged (the reference)
//   s10   staged paranoia level 2, staged_sample_rate 0.1
//   s100  staged paranoia level 2, staged_sample_rate 1
// The namespace rides in context_extensions, as the injector's Envoy sends it. Rounds interleave
// off/s10/s100 so drift (other load on the machine) hits each alike; CPU is utime+stime from
// /proc/<pid>/stat over each measured slice ÷ checks (shadow evaluations run in the same process
// after the answer, so they are inside the figure). Shadow evaluations done and dropped are read
// from the server's metrics so a ratio is never flattered by dropped samples. Closed loop with a
// bounded number of checks in flight over a unix socket; stops by itself.
//
//   node dist/bench/staged-bench.js [--seconds S] [--rounds N] [--warmup S] [--concurrency N]
//        [--scenarios benign-get,json-10k] [--staged-max-ms MS] [--out FILE]
//
// --staged-max-ms is passed to the server (default: the server's 50 ms); a larger budget measures
// complete staged evaluations where the default would cut some off.
//
// Writes test-results/staged-bench.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drive, scenarioCheckRequest, scenarios } from './check-bench.js';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { writeEntryConf } from './lib/crs-config.js';
import { CheckClient } from './lib/grpc-check.js';
import { httpGet, processCpuSeconds, startServer } from './lib/server-process.js';
import { isEntryModule } from './lib/entry.js';

const VARIANTS = [
  { name: 'off', settings: 'mode: block\n', sampleRate: 0 },
  { name: 's10', settings: 'mode: block\nstaged_paranoia_level: 2\nstaged_sample_rate: 0.1\n', sampleRate: 0.1 },
  { name: 's100', settings: 'mode: block\nstaged_paranoia_level: 2\nstaged_sample_rate: 1\n', sampleRate: 1 },
] as const;
type VariantName = (typeof VARIANTS)[number]['name'];

interface Slice {
  checks: number;
  cpuSeconds: number;
  errors: number;
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function stagedCounters(adminPort: number): Promise<{ checked: number; dropped: number; errors: number }> {
  const text = (await httpGet(adminPort, '/metrics', 5000)).body;
  return {
    checked: metricValue(text, 'sidewall_staged_checks_total'),
    dropped: metricValue(text, 'sidewall_staged_dropped_total{reason="queue_full"}') + metricValue(text, 'sidewall_staged_dropped_total{reason="busy"}'),
    errors: metricValue(text, 'sidewall_staged_errors_total'),
  };
}

export interface StagedBenchOptions {
  seconds: number;
  rounds: number;
  warmup: number;
  concurrency: number;
  scenarios: string[];
  out: string;
  crsDir: string;
  stagedMaxMs: number | null;
}

export async function runStagedBench(o: StagedBenchOptions): Promise<Record<string, unknown>> {
  const loadBefore = loadavg()[0]!;
  if (loadBefore > cpus().length * 0.5) console.log(`warning: 1-minute load average ${loadBefore.toFixed(1)} on ${cpus().length} CPUs; figures will be noisy`);
  const chosen = scenarios().filter((s) => o.scenarios.includes(s.name));
  if (chosen.length === 0) throw new Error(`no scenario selected (known: ${scenarios().map((s) => s.name).join(', ')})`);
  const work = mkdtempSync(join(tmpdir(), 'sidewall-staged-bench-'));
  const rows: Array<Record<string, unknown>> = [];
  try {
    const settingsDir = join(work, 'settings');
    for (const v of VARIANTS) {
      mkdirSync(join(settingsDir, v.name), { recursive: true });
      writeFileSync(join(settingsDir, v.name, 'settings.yaml'), `version: 1\nnamespace: ${v.name}\nwaf: enabled\n${v.settings}`);
    }
    const entry = writeEntryConf(work, { crsDir: o.crsDir, testSetup: false });
    const t0 = Date.now();
    const server = await startServer({ rulesFile: entry, mode: 'block', workDir: work, logLevel: 'warn', extraArgs: ['--settings-dir', settingsDir, ...(o.stagedMaxMs !== null ? ['--staged-max-ms', String(o.stagedMaxMs)] : [])] });
    console.log(`sidewall ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (pid ${server.pid}), settings: ${VARIANTS.map((v) => v.name).join(', ')}`);
    const client = new CheckClient(server.target);
    try {
      await client.waitForReady(10_000);
      for (const s of chosen) {
        const base = scenarioCheckRequest(s);
        const requests = new Map(VARIANTS.map((v) => [v.name, { attributes: { ...base.attributes, context_extensions: { namespace: v.name, pod: 'bench-1' } } }]));
        const totals = new Map<VariantName, Slice>(VARIANTS.map((v) => [v.name, { checks: 0, cpuSeconds: 0, errors: 0 }]));
        const shadow = new Map<VariantName, { checked: number; dropped: number; errors: number }>(VARIANTS.map((v) => [v.name, { checked: 0, dropped: 0, errors: 0 }]));
        const verdicts = new Map<VariantName, string>();
        for (const v of VARIANTS) {
          const r = await client.check(requests.get(v.name), 30_000);
          verdicts.set(v.name, `${r.action || (r.statusCode === 0 ? 'allow' : 'deny')} [${r.ruleIds.join(',')}]`);
          await drive(client, requests.get(v.name), o.warmup, o.concurrency, false);
        }
        for (let round = 0; round < o.rounds; round++) {
          for (const v of VARIANTS) {
            const before = await stagedCounters(server.adminPort);
            const cpu0 = processCpuSeconds(server.pid);
            const run = await drive(client, requests.get(v.name), o.seconds, o.concurrency, false);
            // Let the last shadow evaluations (after the answers) finish inside this slice.
            await new Promise((r) => setTimeout(r, 20));
            const cpu1 = processCpuSeconds(server.pid);
            const after = await stagedCounters(server.adminPort);
            const t = totals.get(v.name)!;
            t.checks += run.checks;
            t.errors += run.errors;
            t.cpuSeconds += cpu1 - cpu0;
            const sh = shadow.get(v.name)!;
            sh.checked += after.checked - before.checked;
            sh.dropped += after.dropped - before.dropped;
            sh.errors += after.errors - before.errors;
          }
        }
        const us = (n: VariantName) => {
          const t = totals.get(n)!;
          return t.checks > 0 ? (t.cpuSeconds * 1e6) / t.checks : 0;
        };
        const ref = us('off');
        for (const v of VARIANTS) {
          const t = totals.get(v.name)!;
          const sh = shadow.get(v.name)!;
          const row = {
            scenario: s.name,
            variant: v.name,
            sampleRate: v.sampleRate,
            verdict: verdicts.get(v.name),
            checks: t.checks,
            errors: t.errors,
            cpuUsPerCheck: us(v.name),
            ratioToOff: ref > 0 ? us(v.name) / ref : null,
            shadowEvaluated: sh.checked,
            shadowDropped: sh.dropped,
            shadowErrors: sh.errors,
            shadowedShare: t.checks > 0 ? sh.checked / t.checks : 0,
            // What one staged evaluation costs on top of the enforced check.
            extraCpuUsPerShadow: sh.checked > 0 && t.checks > 0 ? ((us(v.name) - ref) * t.checks) / sh.checked : null,
          };
          rows.push(row);
          console.log(
            `${s.name} ${v.name}: ${row.cpuUsPerCheck.toFixed(0)} µs CPU/check (×${row.ratioToOff?.toFixed(2)} of off), ${t.checks} checks, ` +
              `shadowed ${(row.shadowedShare * 100).toFixed(1)}% (${sh.dropped} dropped, ${sh.errors} errors), ${row.verdict}`,
          );
        }
      }
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0]! },
    settings: { seconds: o.seconds, rounds: o.rounds, warmup: o.warmup, concurrency: o.concurrency, enforced: 'CRS v4 PL1 block', staged: 'PL2 block', stagedMaxMs: o.stagedMaxMs ?? 'server default (50)', transport: 'unix socket' },
    results: rows,
  };
  mkdirSync(resolve(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${o.out}`);
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      // 1 in flight: with more, the shadow queue yields to waiting checks (dropped "busy") and the
      // figure would leave those evaluations out.
      concurrency: { type: 'string', default: '1' },
      scenarios: { type: 'string', default: 'benign-get,json-10k' },
      'staged-max-ms': { type: 'string' },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'staged-bench.json') },
      'crs-dir': { type: 'string', default: sharedPath('crs') },
    },
  });
  const num = (flag: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${flag}: must be a number ${min}..${max} (got ${JSON.stringify(text)})`);
    return n;
  };
  const crsDir = values['crs-dir']!;
  if (!existsSync(join(crsDir, 'rules'))) throw new Error(`CRS v4 not found at ${crsDir} (put the corpora in ../shared, set SIDEWALL_SHARED or pass --crs-dir)`);
  await runStagedBench({
    seconds: num('seconds', values.seconds!, 0.2, 60),
    rounds: Math.round(num('rounds', values.rounds!, 1, 20)),
    warmup: num('warmup', values.warmup!, 0, 30),
    concurrency: Math.round(num('concurrency', values.concurrency!, 1, 16)),
    scenarios: values.scenarios!.split(',').map((s) => s.trim()).filter(Boolean),
    out: resolve(values.out!),
    crsDir,
    stagedMaxMs: values['staged-max-ms'] === undefined ? null : Math.round(num('staged-max-ms', values['staged-max-ms'], 1, 600_000)),
  });
}

if (isEntryModule(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(`staged-bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
