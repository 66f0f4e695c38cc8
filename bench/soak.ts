// Soak: the real server process (CRS v4 PL1, --mode block) under mixed benign/attack traffic for
// --seconds (default 600), sampling its RSS from /proc every --sample seconds. RSS "start" is taken
// after --warmup seconds (JIT, caches and allocator settle), "end" at the last sample; the run fails
// (exit 1) when end exceeds start by more than --max-growth-pct (default 10 %). Traffic goes to a
// unix socket, closed loop with --concurrency checks in flight, and stops by itself.
//
//   node dist/bench/soak.js [--seconds S] [--warmup S] [--sample S] [--concurrency N] [--out FILE]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { scenarioCheckRequest, scenarios } from './check-bench.js';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { writeEntryConf } from './lib/crs-config.js';
import { CheckClient } from './lib/grpc-check.js';
import { startServer } from './lib/server-process.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string' }, warmup: { type: 'string' }, sample: { type: 'string' }, concurrency: { type: 'string' }, 'max-growth-pct': { type: 'string' }, out: { type: 'string' } } });
  const seconds = Number(values.seconds ?? 600);
  const warmup = Number(values.warmup ?? 30);
  const sampleS = Number(values.sample ?? 10);
  const concurrency = Number(values.concurrency ?? 2);
  const maxGrowth = Number(values['max-growth-pct'] ?? 10);
  const work = mkdtempSync(join(tmpdir(), 'sidewall-soak-'));
  const entry = writeEntryConf(work, { crsDir: sharedPath('crs'), testSetup: false });
  // Mixed traffic: the bench scenarios in turn (benign GET, 1 KB form, 10 KB JSON, SQLi GET that is blocked).
  const mix = scenarios().map(scenarioCheckRequest);
  const server = await startServer({ rulesFile: entry, mode: 'block', workDir: work, logLevel: 'error', extraArgs: ['--max-check-ms', '200'] });
  const client = new CheckClient(server.target);
  const samples: Array<{ t: number; rssMb: number; checks: number }> = [];
  let checks = 0;
  let errors = 0;
  try {
    await client.waitForReady(10_000);
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const worker = async (w: number) => {
      let i = w;
      while (performance.now() < end) {
        try {
          await client.checkRaw(mix[i++ % mix.length], 10_000);
          checks++;
        } catch {
          errors++;
        }
      }
    };
    const sampler = setInterval(() => {
      samples.push({ t: Math.round((performance.now() - t0) / 1000), rssMb: Math.round(rssMb(server.pid) * 10) / 10, checks });
      const s = samples[samples.length - 1]!;
      console.log(`t=${s.t}s rss=${s.rssMb} MB checks=${s.checks}`);
    }, sampleS * 1000);
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
    clearInterval(sampler);
    samples.push({ t: Math.round((performance.now() - t0) / 1000), rssMb: Math.round(rssMb(server.pid) * 10) / 10, checks });
  } finally {
    client.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const after = samples.filter((s) => s.t >= warmup);
  const start = after[0]?.rssMb ?? samples[0]?.rssMb ?? 0;
  const endRss = samples[samples.length - 1]?.rssMb ?? 0;
  const max = Math.max(...samples.map((s) => s.rssMb));
  const growthPct = start > 0 ? ((endRss - start) / start) * 100 : 0;
  const report = { generatedAt: new Date().toISOString(), node: process.version, seconds, warmup, concurrency, checks, errors, rssStartMb: start, rssEndMb: endRss, rssMaxMb: max, growthPct, loadAverage: loadavg()[0], samples };
  const out = resolve(values.out ?? join(REPO_ROOT, 'test-results', 'soak.json'));
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`soak: ${checks} checks (${errors} errors) in ${seconds}s; RSS start ${start} MB (after ${warmup}s), end ${endRss} MB, max ${max} MB, growth ${growthPct.toFixed(1)} %; wrote ${out}`);
  return growthPct <= maxGrowth && errors === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code), (err: unknown) => {
  console.error(`soak: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 2;
});
