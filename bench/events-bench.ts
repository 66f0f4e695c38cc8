// Security events benchmark: Check cost with events off vs on, under an attack-heavy load
// (every request is a CRS v4 SQLi detection, blocked), on the real server process.
//
// Three servers (same rules, same load) are measured in interleaved rounds so machine noise
// hits all of them alike:
//   off        events.enabled: false
//   on-every   log sink + one webhook (local receiver), aggregation off: EVERY check → one event
//              serialized, logged, spooled on disk and POSTed (the worst case)
//   on-agg     log sink + webhook with the default 10 s aggregation window (the normal setup)
// Medians over rounds of server CPU µs per check (utime+stime from /proc over the window ÷ checks) and throughput
// are reported per run and as a ratio to `off`. The webhook receiver runs in this process and
// counts the events it gets, to show delivery keeps up. The server's stdout (where the log sink
// writes) goes to a file.
//
//   node dist/bench/events-bench.js [--duration S] [--warmup S] [--concurrency N] [--rounds N] [--out FILE]
// Writes test-results/events-bench.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sharedPath, REPO_ROOT } from './lib/shared.js';
import { writeEntryConf } from './lib/crs-config.js';
import { CheckClient } from './lib/grpc-check.js';
import { processCpuSeconds, startServer, type RunningServer } from './lib/server-process.js';
import { drive, scenarioCheckRequest, scenarios } from './check-bench.js';
import { runIfEntry } from './lib/entry.js';

interface Run {
  variant: string;
  round: number;
  checks: number;
  seconds: number;
  throughput: number;
  cpuUsPerCheck: number;
  errors: number;
}

/** A webhook receiver that only counts (its CPU is not the server's). */
async function startCountingReceiver(): Promise<{ url: string; events: () => number; close: () => Promise<void> }> {
  let events = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      events += Number(req.headers['x-sidewall-event-count'] ?? 0);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    events: () => events,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

async function metricValue(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

export async function runEventsBench(o: { duration: number; warmup: number; concurrency: number; rounds: number; out: string; crsDir: string }): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'sidewall-events-bench-'));
  const receiver = await startCountingReceiver();
  const scenario = scenarios().find((s) => s.name === 'sqli-get')!;
  const request = scenarioCheckRequest(scenario);
  const entry = writeEntryConf(work, { crsDir: o.crsDir, testSetup: false, extra: '' });
  const webhook = (window: number) => `events:
  log: true
  aggregation: { window_ms: ${window} }
  spool: { dir: ${join(work, `spool-${window}`)}, fsync: interval }
  webhooks:
    - name: bench
      url: ${receiver.url}
      secret: bench-secret-0123456789
`;
  const variants: Array<{ name: string; config: string }> = [
    { name: 'off', config: 'events: { enabled: false }\n' },
    { name: 'on-every', config: webhook(0) },
    { name: 'on-agg', config: webhook(10_000) },
  ];
  const servers = new Map<string, { server: RunningServer; client: CheckClient }>();
  const runs: Run[] = [];
  try {
    for (const v of variants) {
      const dir = join(work, v.name);
      mkdirSync(dir);
      const cfg = join(dir, 'sidewall.yaml');
      writeFileSync(cfg, v.config);
      // log level info: the log sink writes every event to the server's stdout (→ server.log).
      const server = await startServer({ rulesFile: entry, mode: 'block', workDir: dir, logLevel: 'warn', extraArgs: ['--config', cfg] });
      const client = new CheckClient(server.target);
      await client.waitForReady(10_000);
      const first = await client.check(request, 30_000);
      if (first.statusCode === 0) throw new Error(`${v.name}: the attack was not blocked`);
      servers.set(v.name, { server, client });
      console.log(`${v.name}: ready (pid ${server.pid}), verdict ${first.action} [${first.ruleIds.join(',')}]`);
    }
    for (let round = 1; round <= o.rounds; round++) {
      for (const v of variants) {
        const { server, client } = servers.get(v.name)!;
        // The first round warms each server longer (JIT, CRS caches, spool files).
        await drive(client, request, round === 1 ? o.warmup * 3 : o.warmup, o.concurrency, false);
        const cpu0 = processCpuSeconds(server.pid);
        const r = await drive(client, request, o.duration, o.concurrency, false);
        const cpu = processCpuSeconds(server.pid) - cpu0;
        const run: Run = { variant: v.name, round, checks: r.checks, seconds: r.elapsed, throughput: r.checks / r.elapsed, cpuUsPerCheck: (cpu * 1e6) / r.checks, errors: r.errors };
        runs.push(run);
        console.log(`round ${round} ${v.name.padEnd(8)} ${run.cpuUsPerCheck.toFixed(0).padStart(6)} µs CPU/check  ${run.throughput.toFixed(0).padStart(6)} checks/s  errors ${run.errors}`);
      }
    }
    // Let deliveries finish, then compare what the servers produced with what arrived.
    await new Promise((r) => setTimeout(r, 2500));
    for (const name of ['on-every', 'on-agg']) {
      const { server } = servers.get(name)!;
      const produced = await metricValue(server.adminPort, 'sidewall_events_total');
      const delivered = await metricValue(server.adminPort, 'sidewall_events_delivered_total{sink="bench"}');
      const folded = await metricValue(server.adminPort, 'sidewall_events_aggregated_total');
      console.log(`${name}: events produced ${produced}, delivered to the webhook ${delivered}, detections folded by aggregation ${folded}`);
    }
    console.log(`receiver got ${receiver.events()} events in total`);
  } finally {
    for (const { server, client } of servers.values()) {
      client.close();
      await server.stop();
    }
    await receiver.close();
    rmSync(work, { recursive: true, force: true });
  }

  // Medians over rounds: the machine is shared, one disturbed round must not decide.
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const summary = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v.name);
    return {
      variant: v.name,
      checks: rs.reduce((n, r) => n + r.checks, 0),
      cpuUsPerCheck: median(rs.map((r) => r.cpuUsPerCheck)),
      throughput: median(rs.map((r) => r.throughput)),
    };
  });
  const off = summary[0]!;
  console.log(`\nmedians over ${o.rounds} rounds (1-min load average before: ${loadBefore.toFixed(1)}, after: ${loadavg()[0]!.toFixed(1)})`);
  console.log('variant    CPU µs/check  x off   checks/s  x off');
  for (const s of summary) {
    console.log(`${s.variant.padEnd(9)}  ${s.cpuUsPerCheck.toFixed(0).padStart(12)}  ${(s.cpuUsPerCheck / off.cpuUsPerCheck).toFixed(3)}  ${s.throughput.toFixed(0).padStart(8)}  ${(s.throughput / off.throughput).toFixed(3)}`);
  }
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0]! },
    settings: { ...o, scenario: scenario.name },
    runs,
    summary: summary.map((s) => ({ ...s, cpuRatioToOff: s.cpuUsPerCheck / off.cpuUsPerCheck, throughputRatioToOff: s.throughput / off.throughput })),
  };
  mkdirSync(resolve(o.out, '..'), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${o.out}`);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      out: { type: 'string' },
      'crs-dir': { type: 'string' },
    },
  });
  await runEventsBench({
    duration: Number(values.duration ?? 3),
    warmup: Number(values.warmup ?? 1),
    concurrency: Number(values.concurrency ?? 8),
    rounds: Number(values.rounds ?? 5),
    out: resolve(values.out ?? join(REPO_ROOT, 'test-results', 'events-bench.json')),
    crsDir: values['crs-dir'] ?? sharedPath('crs'),
  });
  return 0;
}

runIfEntry(import.meta.url, 'events-bench', main, { stack: true });
