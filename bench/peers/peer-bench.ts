// Live peer bench (issue #11): the same requests, in the same run, through
//   nginx + ModSecurity v3 (Debian packages) with CRS v4 at PL1 in block mode, and nginx with
//   `modsecurity off` as its reference (ModSecurity's inspection cost = on − off), both over
//   HTTP/1.1 keep-alive, CPU of the nginx master + worker from /proc;
//   Coraza v3 in a small ext_authz gRPC server of ours (bench/coraza-authz, built with go build);
//   Sidewall over gRPC (server process CPU) with CRS, and with an empty ruleset;
//   a trivial grpc-js Check server that allows everything (the transport reference);
//   Sidewall in-process (Waf.evaluate on the request the server's decoder produces).
// Every peer that enforces must deny the SQLi GET (403) and allow the rest, else the bench fails.
// Also: Sidewall's CRS compile time, server start time, RSS idle after load and after the run,
// and the CheckRequest decode cost (check-decoder.ts vs proto-loader + check-mapper).
//
//   npm run bench:peers -- [--quick] [--duration S] [--warmup S] [--concurrency N]
//        [--requests a,b] [--no-nginx] [--no-coraza] [--grpc-client h2|grpc-js] [--crs-dir DIR] [--out FILE]
//
// The gRPC peers are driven by --grpc-client h2 (default: node:http2 with pre-framed messages,
// ~70 µs of client CPU per call) or grpc-js (~190 µs): on 2 cores the load generator competes with
// the server it measures, and grpc-js' client cost Sidewall's server 13–18 % more CPU per check than
// the same calls from the light client (measured on the benign GET), which the HTTP peers, driven by
// raw sockets, never paid. Every gRPC peer gets the same client.
// Prints tables and writes test-results/bench-peers.json. Load goes only to 127.0.0.1 and unix
// sockets in a temp dir; every loop is bounded in time and count; every process is stopped.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Waf } from '../../src/engine/waf.js';
import type { HttpRequest } from '../../src/engine/api.js';
import { loadProtos } from '../../src/server/proto.js';
import { mapCheckRequest, type CheckRequestMsg } from '../../src/server/check-mapper.js';
import { decodeCheckRequest, protoLoaderMetadataDecoder } from '../../src/server/check-decoder.js';
import { percentile, TRIVIAL_SERVER_SCRIPT } from '../grpc-trivial.js';
import { checkSender, drive, grpcClientKind, httpSender, type DriveLimits, type DriveResult, type GrpcClientKind } from './drivers.js';
import { benchRequests, envoyCheckRequest, rawHttp, type BenchRequest } from './requests.js';
import { nginxConf, writeRulesConf } from './peer-config.js';
import { childPids, cpuSeconds, httpStatus, rssBytes, sleep, spawnPeer, which } from './processes.js';
import { freePort } from '../lib/server-process.js';
import { runIfEntry } from '../lib/entry.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..', '..'); // dist/bench/peers → repo
const SOURCE_ROOT = existsSync(join(REPO_ROOT, 'package.json')) ? REPO_ROOT : resolve(HERE, '..', '..');
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli.js');
const DEFAULT_CRS = resolve(process.env.SIDEWALL_SHARED ?? join(REPO_ROOT, '..', 'shared'), 'crs');

const NGINX_PACKAGES = 'apt-get install nginx libnginx-mod-http-modsecurity';

interface PeerRun {
  name: string;
  kind: 'http' | 'grpc' | 'inprocess';
  /** Does it enforce CRS (must deny the SQLi GET)? */
  enforces: boolean;
  pids: () => number[];
  /** Sender for one request (returns the HTTP status seen). */
  sender: (r: BenchRequest, concurrency: number) => Promise<{ one: () => Promise<number>; close: () => void }>;
  stop: () => Promise<void>;
}

interface Cell {
  peer: string;
  request: string;
  count: number;
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  status: number;
  errors: number;
}

// ---- peers ----

const checkMethod = () => loadProtos().authorization.Check!;
const bytesCache = new Map<string, Buffer>();
function checkBytes(r: BenchRequest): Buffer {
  let b = bytesCache.get(r.name);
  if (!b) bytesCache.set(r.name, (b = checkMethod().requestSerialize(envoyCheckRequest(r))));
  return b;
}

/** The gRPC load generator for every gRPC peer (--grpc-client; h2 = node:http2, light on the shared CPUs). */
let grpcClient: GrpcClientKind = 'h2';

async function grpcPeer(name: string, enforces: boolean, target: string, pid: number, stop: () => Promise<void>): Promise<PeerRun> {
  const decode = (b: Buffer) => checkMethod().responseDeserialize(b) as Record<string, any>;
  return {
    name,
    kind: 'grpc',
    enforces,
    pids: () => [pid],
    sender: async (r) => {
      const s = checkSender(grpcClient, target, checkBytes(r), decode);
      await s.waitForReady(10_000);
      return s;
    },
    stop,
  };
}

async function startTrivial(work: string): Promise<PeerRun> {
  const target = `unix:${join(work, 'trivial.sock')}`;
  const p = await spawnPeer('trivial gRPC server', process.execPath, [TRIVIAL_SERVER_SCRIPT, target], (o) => o.includes('READY'));
  return grpcPeer('grpc-trivial', false, target, p.child.pid!, p.stop);
}

interface SidewallServer {
  peer: PeerRun;
  readySeconds: number;
  pid: number;
}

async function startSidewall(name: string, work: string, rules: string, enforces: boolean): Promise<SidewallServer> {
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: run npm run build first`);
  const admin = await freePort();
  const target = `unix:${join(work, `${name}.sock`)}`;
  const t0 = Date.now();
  const p = await spawnPeer(
    name,
    process.execPath,
    [CLI, 'serve', '--listen', target, '--admin', `127.0.0.1:${admin}`, '--rules', rules, '--mode', 'block', '--log-level', 'info'],
    async () => (await httpStatus(admin, '/readyz')) === 200,
    180_000,
  );
  const readySeconds = (Date.now() - t0) / 1000;
  return { peer: await grpcPeer(name, enforces, target, p.child.pid!, p.stop), readySeconds, pid: p.child.pid! };
}

async function startNginx(name: string, work: string, modsecurity: boolean, rulesFile: string): Promise<PeerRun> {
  const nginx = which('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
  if (nginx === null || !existsSync('/usr/lib/nginx/modules/ngx_http_modsecurity_module.so')) {
    throw new Error(`nginx with the ModSecurity module is not installed: ${NGINX_PACKAGES} (or run with --no-nginx)`);
  }
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const upstreamPort = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf({ dir, port, upstreamPort, modsecurity, rulesFile }));
  const p = await spawnPeer(name, nginx, ['-c', conf, '-e', join(dir, 'error.log')], async () => (await httpStatus(port, '/')) !== 0, 120_000);
  const master = p.child.pid!;
  return {
    name,
    kind: 'http',
    enforces: modsecurity,
    pids: () => [master, ...childPids(master)],
    sender: (r, c) => httpSender(port, rawHttp(r), c),
    stop: p.stop,
  };
}

async function startCoraza(work: string, rulesFile: string): Promise<PeerRun> {
  const go = which('go');
  if (go === null) throw new Error('go is not installed (the Coraza peer is built with go build; install Go 1.24+, or run with --no-coraza)');
  const src = join(SOURCE_ROOT, 'bench', 'coraza-authz');
  const bin = join(work, 'coraza-authz');
  // Go modules come from the module proxy (go.sum pins them); the binary goes to the temp dir.
  const build = spawnSync(go, ['build', '-o', bin, '.'], { cwd: src, encoding: 'utf8', timeout: 600_000 });
  if (build.status !== 0 || !existsSync(bin)) throw new Error(`go build in bench/coraza-authz failed (${build.status ?? build.signal}):\n${build.stderr}`);
  const target = `unix:${join(work, 'coraza.sock')}`;
  const p = await spawnPeer('coraza-authz', bin, ['-listen', target, '-rules', rulesFile], (o) => o.includes('READY'), 120_000);
  return grpcPeer('coraza-grpc', true, target, p.child.pid!, p.stop);
}

// ---- measurement ----

async function measurePeer(peer: PeerRun, r: BenchRequest, limits: DriveLimits, warmup: DriveLimits): Promise<Cell> {
  const sender = await peer.sender(r, limits.concurrency);
  try {
    const first = await sender.one();
    const want = peer.enforces ? r.expect : 200;
    if (first !== want) throw new Error(`${peer.name} answered ${first} to ${r.name}, expected ${want}: the peer is not set up like the others`);
    await drive(sender.one, warmup);
    const pids = peer.pids();
    const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    const run: DriveResult = await drive(sender.one, limits);
    const cpu1 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    if (run.status !== want) throw new Error(`${peer.name} answered ${run.status} to ${r.name} under load, expected ${want}`);
    const sorted = run.latenciesMs.sort((a, b) => a - b);
    return { peer: peer.name, request: r.name, count: run.count, cpuUsPerRequest: run.count ? ((cpu1 - cpu0) * 1e6) / run.count : 0, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), status: run.status, errors: run.errors };
  } finally {
    sender.close();
  }
}

function measureInProcess(waf: Waf, r: BenchRequest, limits: DriveLimits, warmup: DriveLimits): Cell {
  const decoded = decodeCheckRequest(checkBytes(r), protoLoaderMetadataDecoder((b) => checkMethod().requestDeserialize(b)));
  const request: HttpRequest = decoded.request;
  const status = () => (waf.evaluate(request).action === 'deny' ? 403 : 200);
  const first = status();
  if (first !== r.expect) throw new Error(`sidewall-inprocess answered ${first} to ${r.name}, expected ${r.expect}`);
  // Warmed up like every peer: for the warm-up time (bounded by its count), so the JIT has settled.
  const warmEnd = Date.now() + warmup.seconds * 1000;
  for (let i = 0; i < 3 || (Date.now() < warmEnd && i < warmup.maxCount); i++) status();
  const latencies: number[] = [];
  const end = Date.now() + limits.seconds * 1000;
  const c0 = process.cpuUsage();
  while ((Date.now() < end || latencies.length < limits.minCount) && latencies.length < limits.maxCount) {
    const s = process.hrtime.bigint();
    status();
    latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const c = process.cpuUsage(c0);
  latencies.sort((a, b) => a - b);
  return { peer: 'sidewall-inprocess', request: r.name, count: latencies.length, cpuUsPerRequest: (c.user + c.system) / latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), status: first, errors: 0 };
}

/** µs of CPU per CheckRequest decode: check-decoder.ts vs proto-loader objects + check-mapper.ts. */
function measureDecode(r: BenchRequest, seconds: number): { direct: number; protoLoader: number } {
  const bytes = checkBytes(r);
  const m = checkMethod();
  const md = protoLoaderMetadataDecoder((b) => m.requestDeserialize(b));
  const time = (fn: () => unknown) => {
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const c0 = process.cpuUsage();
    while (Date.now() < end || n < 3) {
      fn();
      n++;
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  return {
    direct: time(() => decodeCheckRequest(bytes, md)),
    protoLoader: time(() => mapCheckRequest(m.requestDeserialize(bytes) as CheckRequestMsg)),
  };
}

// ---- report ----

const fmt = (n: number | null, digits = 0) => (n === null || !Number.isFinite(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'jit-warmup': { type: 'string' },
      concurrency: { type: 'string' },
      requests: { type: 'string' },
      'no-nginx': { type: 'boolean' },
      'no-coraza': { type: 'boolean' },
      'grpc-client': { type: 'string' },
      'crs-dir': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run bench:peers -- [--quick] [--duration S] [--warmup S] [--jit-warmup S] [--concurrency N] [--requests a,b]\n' +
      `       [--no-nginx] [--no-coraza] [--grpc-client h2|grpc-js] [--crs-dir DIR] [--out FILE]\nrequests: ${benchRequests().map((r) => r.name).join(', ')}`);
    return 0;
  }
  const quick = values.quick ?? false;
  grpcClient = grpcClientKind(values['grpc-client']);
  const duration = Number(values.duration ?? (quick ? 0.6 : 3));
  const warmupS = Number(values.warmup ?? (quick ? 0.2 : 0.8));
  const jitWarmupS = Number(values['jit-warmup'] ?? (quick ? 1 : 5));
  const concurrency = Number(values.concurrency ?? 2);
  const crsDir = resolve(values['crs-dir'] ?? DEFAULT_CRS);
  if (!existsSync(join(crsDir, 'rules'))) throw new Error(`CRS not found at ${crsDir} (set SIDEWALL_SHARED or --crs-dir)`);
  const out = resolve(values.out ?? join(REPO_ROOT, 'test-results', 'bench-peers.json'));
  const wanted = values.requests?.split(',').map((s) => s.trim());
  const requests = benchRequests().filter((r) => !wanted || wanted.includes(r.name));
  if (requests.length === 0) throw new Error('no request selected');
  const load0 = loadavg()[0]!;
  if (load0 > cpus().length * 0.5) console.log(`warning: 1-minute load average ${load0.toFixed(1)} on ${cpus().length} CPUs; figures will be noisy (ratios from this one run still compare)`);

  const work = mkdtempSync(join(tmpdir(), 'sidewall-peers-'));
  const peers: PeerRun[] = [];
  const cells: Cell[] = [];
  const decodeCost: Record<string, { direct: number; protoLoader: number }> = {};
  const memory: Record<string, number> = {};
  let compileMs = 0;
  let serverReadySeconds = 0;
  try {
    const sidewallConf = writeRulesConf(work, 'sidewall', crsDir);
    const emptyConf = join(work, 'empty.conf');
    writeFileSync(emptyConf, 'SecRuleEngine On\nSecRequestBodyAccess On\n');

    peers.push(await startTrivial(work));
    peers.push((await startSidewall('sidewall-empty', work, emptyConf, false)).peer);
    const sw = await startSidewall('sidewall-grpc', work, sidewallConf, true);
    peers.push(sw.peer);
    serverReadySeconds = sw.readySeconds;
    await sleep(1000);
    memory.rssIdleAfterLoadBytes = rssBytes(sw.pid);
    if (!values['no-nginx']) {
      const modsecConf = writeRulesConf(work, 'modsecurity', crsDir);
      peers.push(await startNginx('nginx-off', work, false, modsecConf));
      peers.push(await startNginx('nginx-modsec', work, true, modsecConf));
    }
    if (!values['no-coraza']) peers.push(await startCoraza(work, writeRulesConf(work, 'coraza', crsDir)));
    console.log(`peers: ${peers.map((p) => p.name).join(', ')}, sidewall-inprocess; sidewall server ready in ${serverReadySeconds.toFixed(2)} s`);

    const t0 = process.hrtime.bigint();
    const waf = Waf.fromFile(sidewallConf);
    compileMs = Number(process.hrtime.bigint() - t0) / 1e6;

    // Every peer, and the in-process engine, first serves all the (not huge) selected requests for
    // --jit-warmup seconds: steady-state figures, not V8 still compiling hot code (nginx and Coraza
    // get the same treatment, so no peer is measured cold).
    const warmable = requests.filter((r) => (r.body?.length ?? 0) < 512 * 1024);
    const slice: DriveLimits = { seconds: jitWarmupS / Math.max(1, warmable.length), minCount: 1, maxCount: 1_000_000, concurrency };
    for (const p of peers) {
      for (const r of warmable) {
        const sender = await p.sender(r, concurrency);
        try {
          await drive(sender.one, slice);
        } finally {
          sender.close();
        }
      }
    }
    const warmEnd = Date.now() + jitWarmupS * 1000;
    const warmRequests = warmable.map((r) => decodeCheckRequest(checkBytes(r), protoLoaderMetadataDecoder((b) => checkMethod().requestDeserialize(b))).request);
    while (warmRequests.length > 0 && Date.now() < warmEnd) for (const req of warmRequests) waf.evaluate(req);

    for (const r of requests) {
      const big = (r.body?.length ?? 0) >= 512 * 1024;
      const limits: DriveLimits = { seconds: duration, minCount: big ? 2 : 10, maxCount: 1_000_000, concurrency };
      const warmup: DriveLimits = { seconds: warmupS, minCount: 1, maxCount: big ? 1 : 1_000_000, concurrency };
      for (const p of peers) {
        const c = await measurePeer(p, r, limits, warmup);
        cells.push(c);
      }
      cells.push(measureInProcess(waf, r, limits, warmup));
      decodeCost[r.name] = measureDecode(r, quick ? 0.1 : 0.4);
      const line = cells.filter((c) => c.request === r.name).map((c) => `${c.peer} ${fmt(c.cpuUsPerRequest)}`).join(', ');
      console.log(`${r.name}: ${line} µs CPU/request`);
    }
    memory.rssAfterRunBytes = rssBytes(sw.pid);
  } finally {
    for (const p of peers.reverse()) await p.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }

  // ---- derived figures ----
  const cpu = (peer: string, req: string) => cells.find((c) => c.peer === peer && c.request === req)?.cpuUsPerRequest ?? null;
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b <= 0 ? null : a / b);
  const rows = requests.map((r) => {
    const on = cpu('nginx-modsec', r.name);
    const off = cpu('nginx-off', r.name);
    const inspection = on !== null && off !== null ? on - off : null;
    const swGrpc = cpu('sidewall-grpc', r.name);
    const swIn = cpu('sidewall-inprocess', r.name);
    const coraza = cpu('coraza-grpc', r.name);
    return {
      request: r.name,
      description: r.description,
      bytes: rawHttp(r).length,
      cpuUs: {
        nginxOff: off, nginxModsec: on, modsecInspection: inspection, coraza,
        sidewallGrpc: swGrpc, sidewallInProcess: swIn, sidewallEmptyRules: cpu('sidewall-empty', r.name), grpcTrivial: cpu('grpc-trivial', r.name),
      },
      ratios: {
        sidewallInProcessToModsecInspection: ratio(swIn, inspection),
        sidewallGrpcToModsecInspection: ratio(swGrpc, inspection),
        sidewallGrpcToNginxModsec: ratio(swGrpc, on),
        sidewallGrpcToCoraza: ratio(swGrpc, coraza),
        sidewallInProcessToCoraza: ratio(swIn, coraza),
      },
      decodeUs: decodeCost[r.name] ?? null,
    };
  });

  console.log('\nCPU µs per request (same run; ModSec inspection = nginx-modsec − nginx-off)\n');
  console.log(table(
    ['request', 'nginx off', 'nginx+ModSec', 'ModSec insp.', 'Coraza', 'SW gRPC', 'SW in-proc', 'SW empty', 'gRPC trivial', 'in-proc/ModSec', 'gRPC/ModSec', 'gRPC/Coraza'],
    rows.map((r) => [r.request, fmt(r.cpuUs.nginxOff), fmt(r.cpuUs.nginxModsec), fmt(r.cpuUs.modsecInspection), fmt(r.cpuUs.coraza), fmt(r.cpuUs.sidewallGrpc), fmt(r.cpuUs.sidewallInProcess), fmt(r.cpuUs.sidewallEmptyRules), fmt(r.cpuUs.grpcTrivial),
      fmt(r.ratios.sidewallInProcessToModsecInspection, 2), fmt(r.ratios.sidewallGrpcToModsecInspection, 2), fmt(r.ratios.sidewallGrpcToCoraza, 2)]),
  ));
  const peerNames = [...new Set(cells.map((c) => c.peer))];
  console.log(`\nlatency p50 / p99 ms (concurrency ${concurrency})\n`);
  console.log(table(['request', ...peerNames], requests.map((r) => [r.name, ...peerNames.map((p) => {
    const c = cells.find((x) => x.peer === p && x.request === r.name);
    return c ? `${fmt(c.p50Ms, 2)} / ${fmt(c.p99Ms, 2)}` : '-';
  })])));
  console.log('\nCheckRequest decode, CPU µs: check-decoder.ts vs proto-loader + check-mapper.ts\n');
  console.log(table(['request', 'direct', 'proto-loader', 'ratio'], rows.map((r) => [r.request, fmt(r.decodeUs?.direct ?? null, 1), fmt(r.decodeUs?.protoLoader ?? null, 1), fmt(ratio(r.decodeUs?.direct ?? null, r.decodeUs?.protoLoader ?? null), 2)])));
  console.log(`\nSidewall with CRS v4: compile (Waf.fromFile) ${fmt(compileMs)} ms; server start to /readyz ${fmt(serverReadySeconds, 2)} s; ` +
    `RSS idle after load ${fmt((memory.rssIdleAfterLoadBytes ?? 0) / 2 ** 20, 1)} MB, after the run ${fmt((memory.rssAfterRunBytes ?? 0) / 2 ** 20, 1)} MB`);

  const report = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadAverageBefore: load0, loadAverageAfter: loadavg()[0]! },
    settings: { quick, duration, warmup: warmupS, jitWarmup: jitWarmupS, concurrency, crsDir, paranoiaLevel: 1, mode: 'block', grpcTransport: 'unix socket', grpcClient, httpTransport: 'HTTP/1.1 keep-alive, 127.0.0.1' },
    sidewall: { compileMs, serverReadySeconds, rssIdleAfterLoadBytes: memory.rssIdleAfterLoadBytes ?? null, rssAfterRunBytes: memory.rssAfterRunBytes ?? null },
    rows,
    cells,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${out}`);
  return 0;
}

runIfEntry(import.meta.url, 'bench:peers', main, { failCode: 1 });
