// Where the gRPC path's CPU goes (issue #11): in one run, on the same CheckRequest bytes,
//   grpc-trivial      a bare grpc-js Check server (answers OK, no work: the transport)
//   sidewall-empty    `sidewall serve` with an empty rule set (transport + our edge)
//   sidewall-crs      `sidewall serve` with CRS v4 PL1 (the peer bench's rules file)
//   inprocess-eval    Waf.evaluate on the request the server's decoder produces (the engine alone)
//   inprocess-edge    the server's decoder + CheckService.checkMapped + its response encoder, in this
//                     process, without a socket (our edge without grpc-js' transport)
//   inprocess-eval-contended  Waf.evaluate while --contend busy-loop processes compete for the
//                     CPUs (as the load generator and other processes compete with a server)
//   inprocess-eval-rotating   Waf.evaluate over a rotation of the selected requests (cold
//                     per-request state), compared with their back-to-back mean
// Server CPU is utime+stime from /proc, split per thread: the main thread (JS + I/O), the V8
// platform workers (named "node": concurrent GC marking/sweeping, compilation), libuv's thread
// pool, others. In-process figures are process.cpuUsage() of this process around the loop.
// Every figure is also given as a ratio: server CRS − in-process eval = the excess of serving.
//
//   node dist/bench/grpc-cost.js [--duration S] [--warmup S] [--concurrency N] [--rounds N]
//        [--requests benign-get,sqli-get,...] [--server-node-flags "--max-semi-space-size=16"]
//        [--compare-node-flags "..."] [--cpu-prof DIR] [--contend N] [--log-level LVL] [--grpc-client h2|grpc-js]
//        [--crs-dir DIR] [--out FILE]
//
// --compare-node-flags starts a second sidewall-crs server with other V8 flags (e.g. young
// generation size) measured side by side. --cpu-prof writes the CRS server's .cpuprofile to DIR.
// Writes test-results/grpc-cost.json. Load goes only to unix sockets in a temp dir; every loop is
// bounded in time and count; every process started here is stopped.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Waf } from '../src/engine/waf.js';
import { loadProtos } from '../src/server/proto.js';
import { decodeCheckRequest, protoLoaderMetadataDecoder, type DecodedCheck } from '../src/server/check-decoder.js';
import { directCheckService } from '../src/server/grpc-server.js';
import { CheckService } from '../src/server/check-service.js';
import { Metrics } from '../src/server/metrics.js';
import { DEFAULT_DENY_CONTENT_TYPE } from '../src/config/config.js';
import { percentile, TRIVIAL_SERVER_SCRIPT } from './grpc-trivial.js';
import { checkSender, drive, grpcClientKind, type DriveLimits, type GrpcClientKind } from './peers/drivers.js';
import { benchRequests, envoyCheckRequest, type BenchRequest } from './peers/requests.js';
import { writeRulesConf } from './peers/peer-config.js';
import { httpStatus, spawnPeer } from './peers/processes.js';
import { freePort } from './lib/server-process.js';
import { splitDiff, splitTotal, threadCpu, type ThreadSplit } from './lib/thread-cpu.js';
import { isEntryModule } from './lib/entry.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..'); // dist/bench → repo
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli.js');
const DEFAULT_CRS = resolve(process.env.SIDEWALL_SHARED ?? join(REPO_ROOT, '..', 'shared'), 'crs');

// ---- peers ----

interface ServerPeer {
  name: string;
  target: string;
  pid: number;
  /** Must the peer deny what CRS denies? */
  enforces: boolean;
  stop: () => Promise<void>;
}

async function startTrivial(work: string): Promise<ServerPeer> {
  const target = `unix:${join(work, 'trivial.sock')}`;
  const p = await spawnPeer('grpc-trivial', process.execPath, [TRIVIAL_SERVER_SCRIPT, target], (o) => o.includes('READY'));
  return { name: 'grpc-trivial', target, pid: p.child.pid!, enforces: false, stop: p.stop };
}

async function startSidewall(name: string, work: string, rules: string, o: { nodeFlags: string[]; logLevel: string; enforces: boolean }): Promise<ServerPeer> {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: run npm run build first`);
  const admin = await freePort();
  const target = `unix:${join(work, `${name}.sock`)}`;
  const p = await spawnPeer(
    name,
    process.execPath,
    [...o.nodeFlags, CLI, 'serve', '--listen', target, '--admin', `127.0.0.1:${admin}`, '--rules', rules, '--mode', 'block', '--log-level', o.logLevel],
    async () => (await httpStatus(admin, '/readyz')) === 200,
    180_000,
  );
  return { name, target, pid: p.child.pid!, enforces: o.enforces, stop: p.stop };
}

// ---- measurement ----

export interface CostRow {
  peer: string;
  request: string;
  count: number;
  cpuUsPerCheck: number;
  /** Server peers: µs per check by thread group; in-process: null. */
  threadsUs: ThreadSplit | null;
  p50Ms: number | null;
  p99Ms: number | null;
  status: number;
}

const checkMethod = () => loadProtos().authorization.Check!;
/** Request name of the rotation row. */
const ROTATION = 'rotation';

function httpStatusOf(response: Record<string, any>): number {
  if ((response.status?.code ?? 0) === 0) return 200;
  const code = response.denied_response?.status?.code;
  return typeof code === 'number' ? code : 403;
}

async function measureServer(peer: ServerPeer, r: BenchRequest, bytes: Buffer, limits: DriveLimits, warmup: DriveLimits, client: GrpcClientKind): Promise<CostRow> {
  const sender = checkSender(client, peer.target, bytes, (b) => checkMethod().responseDeserialize(b) as Record<string, any>);
  try {
    await sender.waitForReady(10_000);
    const first = await sender.one();
    const want = peer.enforces ? r.expect : 200;
    if (first !== want) throw new Error(`${peer.name} answered ${first} to ${r.name}, expected ${want}`);
    await drive(sender.one, warmup);
    const t0 = threadCpu(peer.pid);
    const run = await drive(sender.one, limits);
    const t1 = threadCpu(peer.pid);
    if (run.errors > 0 || run.status !== want) throw new Error(`${peer.name}: ${run.errors} errors / status ${run.status} on ${r.name} under load`);
    const d = splitDiff(t0, t1);
    const per = (s: number) => (s * 1e6) / run.count;
    const sorted = run.latenciesMs.sort((a, b) => a - b);
    return {
      peer: peer.name, request: r.name, count: run.count, cpuUsPerCheck: per(splitTotal(d)),
      threadsUs: { main: per(d.main), 'v8-workers': per(d['v8-workers']), libuv: per(d.libuv), other: per(d.other) },
      p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), status: run.status,
    };
  } finally {
    sender.close();
  }
}

/** CPU µs per call of `fn` in this process, over `seconds` (at least minCount calls). */
function timeLoop(fn: () => unknown, warmupSeconds: number, seconds: number, minCount: number, maxCount: number): { count: number; cpuUs: number; p50Ms: number; p99Ms: number } {
  // Warmed up like the servers (by time: the JIT tiers up hot engine code for seconds).
  const warmEnd = performance.now() + warmupSeconds * 1000;
  for (let i = 0; i < 5 || performance.now() < warmEnd; i++) fn();
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const c0 = process.cpuUsage();
  while ((performance.now() < end || latencies.length < minCount) && latencies.length < maxCount) {
    const s = performance.now();
    fn();
    latencies.push(performance.now() - s);
  }
  const c = process.cpuUsage(c0);
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, cpuUs: (c.user + c.system) / latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

/** Runs `fn` while `n` busy-loop processes compete for the CPUs (each ends by itself after `seconds`). */
async function whileContended<T>(n: number, seconds: number, fn: () => T): Promise<T> {
  const ms = Math.ceil(seconds * 1000);
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, ['-e', `const e = Date.now() + ${ms}; while (Date.now() < e) {}`], { stdio: 'ignore' }));
  try {
    await new Promise((r) => setTimeout(r, 100));
    return fn();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

interface InProcess {
  waf: Waf;
  service: CheckService;
}

/** The server's CheckService around `waf`, logging like `serve` (JSON lines, to /dev/null here). */
function inProcessEdge(waf: Waf, logLevel: string): InProcess {
  const logger = pino({ level: logLevel, base: { service: 'sidewall' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const metrics = new Metrics({ defaultMetrics: true });
  const service = new CheckService({ waf, failOpen: false, denyResponse: { body: null, contentType: DEFAULT_DENY_CONTENT_TYPE }, logger, metrics });
  return { waf, service };
}

async function measureInProcess(ip: InProcess, r: BenchRequest, bytes: Buffer, limits: DriveLimits, warmup: DriveLimits, contend: number): Promise<CostRow[]> {
  const m = checkMethod();
  const md = protoLoaderMetadataDecoder((b) => m.requestDeserialize(b));
  const request = decodeCheckRequest(bytes, md).request;
  const evalStatus = () => (ip.waf.evaluate(request).action === 'deny' ? 403 : 200);
  const first = evalStatus();
  if (first !== r.expect) throw new Error(`in-process Waf.evaluate answered ${first} to ${r.name}, expected ${r.expect}`);
  // The server's own Check (de)serializers (grpc-server.ts), without grpc-js around them.
  const serverCheck = directCheckService(loadProtos().authorization)['Check']!;
  const edge = () => {
    const decoded = serverCheck.requestDeserialize(bytes) as DecodedCheck;
    if (decoded.error !== null) throw new Error(`in-process edge: ${decoded.error.message}`);
    const outcome = ip.service.checkMapped(decoded.mapped, performance.now());
    if (outcome.error) throw new Error(`in-process edge: ${outcome.error.details}`);
    return serverCheck.responseSerialize(outcome.response);
  };
  const edgeStatus = httpStatusOf(m.responseDeserialize(edge()) as Record<string, any>);
  if (edgeStatus !== r.expect) throw new Error(`in-process edge answered ${edgeStatus} to ${r.name}, expected ${r.expect}`);
  const ev = timeLoop(evalStatus, warmup.seconds, limits.seconds, limits.minCount, limits.maxCount);
  const ed = timeLoop(edge, warmup.seconds, limits.seconds, limits.minCount, limits.maxCount);
  const rows: CostRow[] = [
    { peer: 'inprocess-eval', request: r.name, count: ev.count, cpuUsPerCheck: ev.cpuUs, threadsUs: null, p50Ms: ev.p50Ms, p99Ms: ev.p99Ms, status: first },
    { peer: 'inprocess-edge', request: r.name, count: ed.count, cpuUsPerCheck: ed.cpuUs, threadsUs: null, p50Ms: ed.p50Ms, p99Ms: ed.p99Ms, status: edgeStatus },
  ];
  if (contend > 0) {
    // The servers share the CPUs with the load generator (and, on a dev machine, everything else).
    const c = await whileContended(contend, limits.seconds + 1.5, () => timeLoop(evalStatus, 0.3, limits.seconds, limits.minCount, limits.maxCount));
    rows.push({ peer: 'inprocess-eval-contended', request: r.name, count: c.count, cpuUsPerCheck: c.cpuUs, threadsUs: null, p50Ms: c.p50Ms, p99Ms: c.p99Ms, status: first });
  }
  return rows;
}

/** Waf.evaluate over a rotation of different requests (each call the next one): CPU µs per evaluate, averaged over the rotation. */
function measureRotation(ip: InProcess, requests: BenchRequest[], limits: DriveLimits, warmup: DriveLimits): CostRow {
  const m = checkMethod();
  const md = protoLoaderMetadataDecoder((b) => m.requestDeserialize(b));
  const decoded = requests.map((r) => decodeCheckRequest(m.requestSerialize(envoyCheckRequest(r)), md).request);
  let i = 0;
  const t = timeLoop(() => ip.waf.evaluate(decoded[i++ % decoded.length]!), warmup.seconds, limits.seconds, limits.minCount, limits.maxCount);
  return { peer: 'inprocess-eval-rotating', request: ROTATION, count: t.count, cpuUsPerCheck: t.cpuUs, threadsUs: null, p50Ms: t.p50Ms, p99Ms: t.p99Ms, status: 0 };
}

// ---- report ----

const fmt = (n: number | null | undefined, digits = 0) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

/** Per request: the best (least disturbed) of the rounds for each peer. */
function bestOf(rows: CostRow[]): CostRow[] {
  const best = new Map<string, CostRow>();
  for (const r of rows) {
    const key = `${r.request}\u0000${r.peer}`;
    const b = best.get(key);
    if (b === undefined || r.cpuUsPerCheck < b.cpuUsPerCheck) best.set(key, r);
  }
  return [...best.values()];
}

export interface GrpcCostOptions {
  duration: number;
  warmup: number;
  concurrency: number;
  rounds: number;
  requests: string[];
  serverNodeFlags: string[];
  compareNodeFlags: string[] | null;
  cpuProfDir: string | null;
  /** Busy-loop processes run during the contended in-process measurement; 0 = none. */
  contend: number;
  logLevel: string;
  crsDir: string;
  out: string;
  /** The load generator of every server peer (peer-bench.ts explains the default). */
  grpcClient: GrpcClientKind;
}

export async function runGrpcCost(o: GrpcCostOptions): Promise<Record<string, unknown>> {
  const loadBefore = loadavg()[0]!;
  const all = benchRequests().filter((r) => o.requests.includes(r.name));
  if (all.length !== o.requests.length) throw new Error(`unknown request in ${o.requests.join(',')} (known: ${benchRequests().map((r) => r.name).join(', ')})`);
  const work = mkdtempSync(join(tmpdir(), 'sidewall-grpc-cost-'));
  const peers: ServerPeer[] = [];
  const rows: CostRow[] = [];
  try {
    const rules = writeRulesConf(work, 'sidewall', o.crsDir);
    const empty = join(work, 'empty.conf');
    writeFileSync(empty, '# no rules\nSecRuleEngine On\n');
    const waf = Waf.fromFile(rules, { mode: 'block', onWarning: () => {} });
    const ip = inProcessEdge(waf, o.logLevel);
    const profFlags = o.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(o.cpuProfDir)}`];
    peers.push(await startTrivial(work));
    peers.push(await startSidewall('sidewall-empty', work, empty, { nodeFlags: o.serverNodeFlags, logLevel: o.logLevel, enforces: false }));
    peers.push(await startSidewall('sidewall-crs', work, rules, { nodeFlags: [...o.serverNodeFlags, ...profFlags], logLevel: o.logLevel, enforces: true }));
    if (o.compareNodeFlags !== null) {
      peers.push(await startSidewall('sidewall-crs-flags', work, rules, { nodeFlags: o.compareNodeFlags, logLevel: o.logLevel, enforces: true }));
    }
    const limits: DriveLimits = { seconds: o.duration, minCount: 50, maxCount: 2_000_000, concurrency: o.concurrency };
    const warmup: DriveLimits = { seconds: o.warmup, minCount: 20, maxCount: 2_000_000, concurrency: o.concurrency };
    for (let round = 0; round < o.rounds; round++) {
      for (const r of all) {
        const bytes = checkMethod().requestSerialize(envoyCheckRequest(r));
        rows.push(...(await measureInProcess(ip, r, bytes, limits, warmup, o.contend)));
        for (const p of peers) rows.push(await measureServer(p, r, bytes, limits, warmup, o.grpcClient));
        console.log(`round ${round + 1}/${o.rounds} ${r.name}: ` + rows.filter((x) => x.request === r.name).slice(-(2 + (o.contend > 0 ? 1 : 0) + peers.length)).map((x) => `${x.peer} ${fmt(x.cpuUsPerCheck)} µs`).join(', '));
      }
      if (all.length > 1) {
        const rot = measureRotation(ip, all, limits, warmup);
        rows.push(rot);
        console.log(`round ${round + 1}/${o.rounds} rotation of ${all.map((r) => r.name).join('+')}: ${fmt(rot.cpuUsPerCheck)} µs per evaluate`);
      }
    }
  } finally {
    for (const p of peers.reverse()) await p.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const best = bestOf(rows);
  const get = (req: string, peer: string) => best.find((r) => r.request === req && r.peer === peer)?.cpuUsPerCheck ?? null;
  const order = ['inprocess-eval', 'inprocess-eval-contended', 'inprocess-edge', 'grpc-trivial', 'sidewall-empty', 'sidewall-crs', 'sidewall-crs-flags'];
  const printed: string[][] = [];
  const summary: Record<string, Record<string, number | null>> = {};
  for (const r of all) {
    const evalUs = get(r.name, 'inprocess-eval');
    const crs = get(r.name, 'sidewall-crs');
    const trivial = get(r.name, 'grpc-trivial');
    const emptyUs = get(r.name, 'sidewall-empty');
    const edgeUs = get(r.name, 'inprocess-edge');
    for (const peer of order) {
      const row = best.find((x) => x.request === r.name && x.peer === peer);
      if (row === undefined) continue;
      const t = row.threadsUs;
      printed.push([
        r.name, peer, fmt(row.cpuUsPerCheck), evalUs ? fmt(row.cpuUsPerCheck / evalUs, 2) : '-',
        t ? fmt(t.main) : '-', t ? fmt(t['v8-workers']) : '-', t ? fmt(t.libuv + t.other) : '-', fmt(row.p50Ms, 3), fmt(row.p99Ms, 3),
      ]);
    }
    const contendedUs = get(r.name, 'inprocess-eval-contended');
    summary[r.name] = {
      /** Waf.evaluate with busy processes competing for the CPUs / alone. */
      contendedOverEval: contendedUs !== null && evalUs ? contendedUs / evalUs : null,
      serverCrsOverInprocessEval: crs !== null && evalUs ? crs / evalUs : null,
      /** What serving adds beyond the engine and the transport: (server CRS − trivial) − engine. */
      excessUs: crs !== null && trivial !== null && evalUs !== null ? crs - trivial - evalUs : null,
      emptyOverTrivial: emptyUs !== null && trivial ? emptyUs / trivial : null,
      /** The engine's cost inside the server (same client load, same transport): server CRS − server empty. */
      engineInServerUs: crs !== null && emptyUs !== null ? crs - emptyUs : null,
      engineInServerOverInprocessEval: crs !== null && emptyUs !== null && evalUs ? (crs - emptyUs) / evalUs : null,
      /** Our edge (decode, admission, metrics, response) beyond grpc-js: server empty − trivial. */
      edgeOverTransportUs: emptyUs !== null && trivial !== null ? emptyUs - trivial : null,
      edgeOverEval: edgeUs !== null && evalUs ? edgeUs / evalUs : null,
    };
  }
  let rotation: Record<string, number | null> | null = null;
  const rot = best.find((x) => x.peer === 'inprocess-eval-rotating');
  if (rot !== undefined) {
    const each = all.map((r) => get(r.name, 'inprocess-eval'));
    const mean = each.every((x) => x !== null) ? each.reduce((a, b) => a! + b!, 0)! / each.length : null;
    rotation = { rotatingUs: rot.cpuUsPerCheck, backToBackMeanUs: mean, ratio: mean ? rot.cpuUsPerCheck / mean : null };
  }
  console.log('\n' + table(['request', 'peer', 'CPU µs/check', '× in-process eval', 'main µs', 'V8 workers µs', 'libuv+other µs', 'p50 ms', 'p99 ms'], printed));
  console.log('\nexcess = server CRS − grpc-trivial − in-process eval (µs of CPU per check the server spends beyond the engine and the bare transport):');
  for (const [name, s] of Object.entries(summary)) {
    console.log(`  ${name}: excess ${fmt(s.excessUs)} µs; server CRS / in-process eval ${fmt(s.serverCrsOverInprocessEval, 2)}; ` +
      `engine in server (CRS − empty) ${fmt(s.engineInServerUs)} µs = ${fmt(s.engineInServerOverInprocessEval, 2)} × in-process eval; ` +
      `edge beyond transport (empty − trivial) ${fmt(s.edgeOverTransportUs)} µs; in-process edge / eval ${fmt(s.edgeOverEval, 2)}; ` +
      `eval contended / alone ${fmt(s.contendedOverEval, 2)}`);
  }
  if (rotation !== null) {
    console.log(`  rotation (${all.map((r) => r.name).join('+')}): ${fmt(rotation.rotatingUs)} µs per evaluate vs ${fmt(rotation.backToBackMeanUs)} µs back-to-back (mean): ${fmt(rotation.ratio, 2)}×`);
  }
  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0]! },
    settings: { duration: o.duration, warmup: o.warmup, concurrency: o.concurrency, rounds: o.rounds, serverNodeFlags: o.serverNodeFlags, compareNodeFlags: o.compareNodeFlags, logLevel: o.logLevel, transport: 'unix socket', grpcClient: o.grpcClient },
    rows: best,
    allRounds: rows,
    summary,
    rotation,
  };
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${o.out}`);
  return report;
}

const splitFlags = (s: string | undefined): string[] => (s === undefined || s.trim() === '' ? [] : s.trim().split(/\s+/));

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '1' },
      requests: { type: 'string', default: 'benign-get,sqli-get' },
      'server-node-flags': { type: 'string' },
      'compare-node-flags': { type: 'string' },
      'cpu-prof': { type: 'string' },
      contend: { type: 'string', default: '1' },
      'log-level': { type: 'string', default: 'info' },
      'grpc-client': { type: 'string', default: 'h2' },
      'crs-dir': { type: 'string', default: DEFAULT_CRS },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'grpc-cost.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/grpc-cost.js [--duration S] [--warmup S] [--concurrency N] [--rounds N] [--requests a,b]\n' +
      '       [--server-node-flags "..."] [--compare-node-flags "..."] [--cpu-prof DIR] [--contend N] [--log-level LVL] [--grpc-client h2|grpc-js] [--crs-dir DIR] [--out FILE]\n' +
      `requests: ${benchRequests().map((r) => r.name).join(', ')}`);
    return 0;
  }
  if (!existsSync(join(values['crs-dir']!, 'rules'))) {
    console.error(`grpc-cost: CRS not found at ${values['crs-dir']} (set SIDEWALL_SHARED or --crs-dir)`);
    return 2;
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: ${v} is not a number ≥ ${min}`);
    return n;
  };
  await runGrpcCost({
    duration: num('duration', values.duration!, 0.1),
    warmup: num('warmup', values.warmup!, 0),
    concurrency: Math.floor(num('concurrency', values.concurrency!, 1)),
    rounds: Math.floor(num('rounds', values.rounds!, 1)),
    requests: values.requests!.split(',').map((s) => s.trim()).filter(Boolean),
    serverNodeFlags: splitFlags(values['server-node-flags']),
    compareNodeFlags: values['compare-node-flags'] === undefined ? null : splitFlags(values['compare-node-flags']),
    cpuProfDir: values['cpu-prof'] ?? null,
    contend: Math.floor(num('contend', values.contend!, 0)),
    logLevel: values['log-level']!,
    crsDir: values['crs-dir']!,
    out: values.out!,
    grpcClient: grpcClientKind(values['grpc-client']),
  });
  return 0;
}

if (isEntryModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`grpc-cost: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
