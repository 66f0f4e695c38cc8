// Cold CRS v4 compile: `Waf.fromFile` on the CRS entry conf (bench/lib/crs-config, no test SecAction)
// in fresh node processes, as `sidewall serve` pays it at start — nothing JIT-warm, nothing cached.
// Each child reports wall ms and its own CPU ms for importing the engine and for the compile; the
// bench runs --runs children per build and reports medians. With --reference DIST (the dist/ of
// another build, e.g. the main branch's), children of both builds alternate, so load on the machine
// hits both alike, and the ratio this/reference is reported.
//
//   node dist/bench/compile-bench.js [--runs N] [--reference DIST] [--crs DIR] [--out FILE]
//
// Writes test-results/compile-bench.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { writeEntryConf } from './lib/crs-config.js';
import { isEntryModule } from './lib/entry.js';

const THIS_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface ChildResult {
  importMs: number;
  compileMs: number;
  compileCpuMs: number;
  rules: number;
}

/** In the child: import the engine of `dist` and compile `conf` once. */
async function child(dist: string, conf: string): Promise<void> {
  const t0 = performance.now();
  const { Waf } = (await import(pathToFileURL(join(dist, 'src', 'engine', 'waf.js')).href)) as typeof import('../src/engine/waf.js');
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const waf = Waf.fromFile(conf);
  const cpu = process.cpuUsage(cpu0);
  const result: ChildResult = { importMs: t1 - t0, compileMs: performance.now() - t1, compileCpuMs: (cpu.user + cpu.system) / 1000, rules: waf.ruleCount };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function runChild(dist: string, conf: string): ChildResult {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dist, conf], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

function summary(rs: ChildResult[]): Record<string, number> {
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    compileMsMedian: r(median(rs.map((x) => x.compileMs))),
    compileMsMin: r(Math.min(...rs.map((x) => x.compileMs))),
    compileCpuMsMedian: r(median(rs.map((x) => x.compileCpuMs))),
    importMsMedian: r(median(rs.map((x) => x.importMs))),
    rules: rs[0]?.rules ?? 0,
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '5' },
      reference: { type: 'string' },
      crs: { type: 'string', default: sharedPath('crs') },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'compile-bench.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/compile-bench.js [--runs N] [--reference DIST] [--crs DIR] [--out FILE]');
    return 0;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs: expected 1..50, got ${values.runs}`);
  if (!existsSync(join(values.crs!, 'rules'))) throw new Error(`CRS v4 not found at ${values.crs} (give --crs DIR, or put it at ../shared/crs)`);
  const reference = values.reference === undefined ? null : resolve(values.reference);
  if (reference !== null && !existsSync(join(reference, 'src', 'engine', 'waf.js'))) throw new Error(`--reference ${reference}: no src/engine/waf.js in it (give a built dist/ directory)`);
  const load = loadavg()[0]!;
  if (load > cpus().length * 0.5) console.log(`warning: 1-minute load average ${load.toFixed(1)} on ${cpus().length} CPUs; wall times will be noisy (the alternating reference shares the noise)`);

  const work = mkdtempSync(join(tmpdir(), 'sidewall-compile-'));
  const mine: ChildResult[] = [];
  const ref: ChildResult[] = [];
  try {
    const conf = writeEntryConf(work, { crsDir: values.crs!, testSetup: false });
    for (let i = 0; i < runs; i++) {
      if (reference !== null) ref.push(runChild(reference, conf));
      mine.push(runChild(THIS_DIST, conf));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const result: Record<string, unknown> = { node: process.version, runs, this: summary(mine), samples: { this: mine, reference: ref } };
  console.log(`CRS v4 cold compile (${runs} fresh processes): median ${summary(mine).compileMsMedian} ms wall, ${summary(mine).compileCpuMsMedian} ms CPU; min ${summary(mine).compileMsMin} ms; engine import ${summary(mine).importMsMedian} ms`);
  if (reference !== null) {
    const r = summary(ref);
    result.reference = { dist: reference, ...r };
    const ratio = summary(mine).compileMsMedian / r.compileMsMedian!;
    const cpuRatio = summary(mine).compileCpuMsMedian / r.compileCpuMsMedian!;
    result.ratio = { wall: Math.round(ratio * 100) / 100, cpu: Math.round(cpuRatio * 100) / 100 };
    console.log(`reference ${reference}: median ${r.compileMsMedian} ms wall, ${r.compileCpuMsMedian} ms CPU; this/reference x${ratio.toFixed(2)} wall, x${cpuRatio.toFixed(2)} CPU`);
  }
  const out = resolve(values.out!);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(`wrote ${out}`);
  return 0;
}

if (isEntryModule(import.meta.url)) {
  const run = process.argv[2] === '--child' ? child(process.argv[3]!, process.argv[4]!).then(() => 0) : main(process.argv.slice(2));
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`compile-bench: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 2;
    },
  );
}
