// Idle memory of `sidewall serve` with OWASP CRS v4, measured on real processes, side by side with
// references started in the same run:
//   node-bare      `node -e` doing nothing (the runtime alone),
//   grpc-trivial   a grpc-js Check server answering OK (bench/grpc-trivial.ts: the transport),
//   sidewall-empty `sidewall serve` with an empty rule set (the server's modules, no rules),
//   sidewall-crs   `sidewall serve` with CRS v4 (bench/lib/crs-config, no test SecAction), --mode block.
// For each: VmRSS/VmHWM, the resident split by backing (/proc smaps: node binary, other files, malloc
// heap, anonymous) and the process's own view (process.memoryUsage, V8 heap spaces, via the SIGUSR2
// probe bench/lib/memory-probe.ts) at three moments: `--idle` s after ready; 1 s after `--requests`
// Check calls (the bench scenarios, round robin); and after `--settle` s more of idling (V8's memory
// reducer shrinks an idle heap some seconds after the last major GC). Processes run one after the
// other, never together.
//
//   node dist/bench/rss-bench.js [--requests N] [--idle S] [--settle S] [--crs DIR] [--reference DIST] [--out FILE]
//
// --reference DIST (the dist/ of another build, e.g. main's) adds sidewall-crs-reference: the same
// measurement of that build's `sidewall serve`, for before/after ratios from one run.
// Writes test-results/rss-bench.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { loadavg, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { writeEntryConf } from './lib/crs-config.js';
import { CheckClient } from './lib/grpc-check.js';
import { startServer } from './lib/server-process.js';
import { MEMORY_PROBE_ENV, type ProbeReport } from './lib/memory-probe.js';
import { readProcMemory, type ProcMemory } from './lib/proc-memory.js';
import { startTrivialServer } from './grpc-trivial.js';
import { scenarioCheckRequest, scenarios } from './check-bench.js';
import { runIfEntry } from './lib/entry.js';

const PROBE_MODULE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'lib', 'memory-probe.js')).href;
const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Sample {
  /** Seconds since the process was ready. */
  atSeconds: number;
  proc: ProcMemory;
  probe: ProbeReport | null;
}

interface ProcessRun {
  name: string;
  description: string;
  readySeconds: number;
  samples: Record<'ready' | 'afterRequests' | 'settled', Sample | null>;
  /** VmRSS once a second while settling (MB). */
  settleTimelineMb: number[];
}

interface Target {
  pid: number;
  /** gRPC target, or null for a process that serves nothing. */
  grpc: string | null;
  stop(): Promise<unknown>;
}

/** Asks the probe for a report and waits for it (the report is written from the child's event loop). */
async function probe(pid: number, file: string, seq: number): Promise<ProbeReport | null> {
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
      const last = lines.length > 0 ? (JSON.parse(lines[lines.length - 1]!) as ProbeReport) : null;
      if (last !== null && last.seq === seq) return last;
    }
    await sleep(20);
  }
  return null;
}

async function measure(
  name: string,
  description: string,
  start: (env: NodeJS.ProcessEnv) => Promise<Target>,
  o: { idle: number; settle: number; requests: number; work: string },
): Promise<ProcessRun> {
  const probeFile = join(o.work, `${name}.probe.jsonl`);
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PROBE_MODULE}`.trim(), [MEMORY_PROBE_ENV]: probeFile };
  const t0 = performance.now();
  const target = await start(env);
  const readyAt = performance.now();
  let seq = 0;
  const sample = async (): Promise<Sample> => {
    const report = await probe(target.pid, probeFile, ++seq);
    return { atSeconds: (performance.now() - readyAt) / 1000, proc: readProcMemory(target.pid), probe: report };
  };
  const run: ProcessRun = { name, description, readySeconds: (readyAt - t0) / 1000, samples: { ready: null, afterRequests: null, settled: null }, settleTimelineMb: [] };
  try {
    await sleep(o.idle * 1000);
    run.samples.ready = await sample();
    if (target.grpc !== null && o.requests > 0) {
      const client = new CheckClient(target.grpc);
      try {
        await client.waitForReady(10_000);
        const requests = scenarios().map(scenarioCheckRequest);
        for (let i = 0; i < o.requests; i++) await client.checkRaw(requests[i % requests.length]);
      } finally {
        client.close();
      }
      await sleep(1000);
      run.samples.afterRequests = await sample();
    }
    if (o.settle > 0) {
      for (let s = 0; s < o.settle; s++) {
        await sleep(1000);
        run.settleTimelineMb.push(Math.round((readProcMemory(target.pid).vmRss / MB) * 10) / 10);
      }
      run.samples.settled = await sample();
    }
  } finally {
    await target.stop();
  }
  return run;
}

function startBareNode(env: NodeJS.ProcessEnv): Promise<Target> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30); process.stdout.write("READY\\n")'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return new Promise((resolveStart, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () =>
      resolveStart({
        pid: child.pid!,
        grpc: null,
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGTERM');
          }),
      }),
    );
  });
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? '-' : (bytes / MB).toFixed(1));

function printTable(runs: ProcessRun[]): void {
  const header = ['process', 'moment', 'VmRSS', 'VmHWM', 'binary', 'files', 'malloc', 'anon', 'heapTotal', 'heapUsed', 'new', 'old', 'external'];
  const rows: string[][] = [header];
  for (const r of runs) {
    for (const [moment, s] of Object.entries(r.samples)) {
      if (s === null) continue;
      const p = s.probe;
      rows.push([
        r.name, `${moment} (+${s.atSeconds.toFixed(0)}s)`, mb(s.proc.vmRss), mb(s.proc.vmHwm), mb(s.proc.resident.nodeBinary), mb(s.proc.resident.otherFiles),
        mb(s.proc.resident.mallocHeap), mb(s.proc.resident.anonymous), mb(p?.heapTotal), mb(p?.heapUsed),
        mb(p?.spaces['new_space']?.size), mb(p?.spaces['old_space']?.size), mb(p?.external),
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('\nMB (resident split from /proc smaps; heap figures from the process itself)');
  for (const row of rows) console.log(row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string', default: '200' },
      idle: { type: 'string', default: '1' },
      settle: { type: 'string', default: '20' },
      crs: { type: 'string', default: sharedPath('crs') },
      reference: { type: 'string' },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'rss-bench.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/rss-bench.js [--requests N] [--idle S] [--settle S] [--crs DIR] [--reference DIST] [--out FILE]');
    return 0;
  }
  const o = { requests: Number(values.requests), idle: Number(values.idle), settle: Number(values.settle) };
  for (const [k, v] of Object.entries(o)) if (!Number.isFinite(v) || v < 0 || v > 600) throw new Error(`--${k}: expected a number 0..600, got ${JSON.stringify(values[k as keyof typeof values])}`);
  if (!existsSync(join(values.crs!, 'rules'))) throw new Error(`CRS v4 not found at ${values.crs} (give --crs DIR, or put it at ../shared/crs)`);
  const reference = values.reference === undefined ? null : resolve(values.reference);
  if (reference !== null && !existsSync(join(reference, 'src', 'cli.js'))) throw new Error(`--reference ${reference}: no src/cli.js in it (give a built dist/ directory)`);
  const load = loadavg()[0]!;
  if (load > cpus().length * 0.5) console.log(`warning: 1-minute load average ${load.toFixed(1)} on ${cpus().length} CPUs (RSS is not load-sensitive; readySeconds is)`);

  const work = mkdtempSync(join(tmpdir(), 'sidewall-rss-'));
  const runs: ProcessRun[] = [];
  try {
    const crsConf = writeEntryConf(work, { crsDir: values.crs!, testSetup: false });
    const emptyConf = join(work, 'empty.conf');
    writeFileSync(emptyConf, 'SecRuleEngine On\nSecRequestBodyAccess On\n');
    const m = { ...o, work };
    const server = (rulesFile: string, cliPath?: string) => async (env: NodeJS.ProcessEnv): Promise<Target> => {
      const s = await startServer({ rulesFile, mode: 'block', env, logLevel: 'warn', ...(cliPath !== undefined ? { cliPath } : {}) });
      return { pid: s.pid, grpc: s.target, stop: () => s.stop() };
    };
    runs.push(await measure('node-bare', 'node -e (the runtime alone)', startBareNode, m));
    runs.push(await measure('grpc-trivial', 'grpc-js Check server answering OK', async (env) => {
      const t = await startTrivialServer(work, env);
      return { pid: t.pid, grpc: t.target, stop: t.stop };
    }, m));
    runs.push(await measure('sidewall-empty', 'sidewall serve, empty rule set', server(emptyConf), m));
    runs.push(await measure('sidewall-crs', 'sidewall serve, CRS v4, --mode block', server(crsConf), m));
    if (reference !== null) runs.push(await measure('sidewall-crs-reference', `sidewall serve of ${reference}, CRS v4, --mode block`, server(crsConf, join(reference, 'src', 'cli.js')), m));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  printTable(runs);
  const byName = new Map(runs.map((r) => [r.name, r]));
  const rssOf = (name: string, moment: keyof ProcessRun['samples']): number | null => byName.get(name)?.samples[moment]?.proc.vmRss ?? null;
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const moment of ['ready', 'afterRequests', 'settled'] as const) {
    const crs = rssOf('sidewall-crs', moment);
    const ratio = (ref: number | null) => (crs === null || ref === null ? null : Math.round((crs / ref) * 100) / 100);
    ratios[moment] = {
      sidewallCrsMb: crs === null ? null : Math.round((crs / MB) * 10) / 10,
      toNodeBare: ratio(rssOf('node-bare', 'ready')),
      toGrpcTrivial: ratio(rssOf('grpc-trivial', moment) ?? rssOf('grpc-trivial', 'ready')),
      toSidewallEmpty: ratio(rssOf('sidewall-empty', moment)),
      toReferenceBuild: ratio(rssOf('sidewall-crs-reference', moment)),
    };
  }
  console.log('\nsidewall-crs VmRSS and its ratio to the references (same moment; node-bare at ready):');
  for (const [moment, r] of Object.entries(ratios)) {
    console.log(`  ${moment.padEnd(14)} ${r.sidewallCrsMb ?? '-'} MB   x${r.toNodeBare ?? '-'} node-bare   x${r.toGrpcTrivial ?? '-'} grpc-trivial   x${r.toSidewallEmpty ?? '-'} sidewall-empty` +
      (r.toReferenceBuild !== null ? `   x${r.toReferenceBuild} reference build` : ''));
  }
  for (const r of runs) if (r.settleTimelineMb.length > 0) console.log(`  ${r.name} settling, VmRSS MB each second: ${r.settleTimelineMb.join(' ')}`);

  const out = resolve(values.out!);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ node: process.version, options: o, targetMb: 120, ratios, runs }, null, 2));
  console.log(`\nwrote ${out}`);
  return 0;
}

runIfEntry(import.meta.url, 'rss-bench', main);
