// Detection bench (issue #14): block rate of attack payloads (../shared/attack-payloads) placed in
// query/form/multipart/JSON/XML/header/cookie/path and encoded plain/URL/base64/JSON-unicode, and
// the false-positive rate on a benign corpus, through the REAL server process over gRPC, for
// CRS PL1, CRS PL1 + Sidewall layer, CRS PL2, CRS PL2 + layer (CRS directory mode). Also the
// server CPU per benign request with and without the layer (same run, as a ratio).
//
//   node dist/bench/detection/detection-bench.js [--per-class N] [--concurrency N]
//        [--configs pl1,pl1+layer,pl2,pl2+layer] [--cpu-rounds N] [--out FILE] [--misses FILE]
//
// --misses FILE writes the attack probes each config let through (class, placement, encoding,
// payload) as NDJSON — for reading what the rules miss, never for the rules to load.
//
// Writes test-results/detection-bench.json.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, sharedPath } from '../lib/shared.js';
import { buildCheckRequest, DEFAULT_CHECK_OPTIONS } from '../lib/check-request.js';
import { envoyProcess } from '../lib/envoy-http1.js';
import { CheckClient } from '../lib/grpc-check.js';
import { processCpuSeconds, startServer } from '../lib/server-process.js';
import { benignCorpus, benignRequests } from './benign-corpus.js';
import { buildRequest, encodeValue, ENCODINGS, PLACEMENTS, type Encoding, type Placement } from './placements.js';

/** Attack classes and the payload lists that hold whole payloads (README: some are name lists). */
const CLASSES: Record<string, string[]> = {
  'sql-injection': ['sql-injection/*'],
  'xss-injection': ['xss-injection/*'],
  'command-injection': ['command-injection/*'],
  'directory-traversal': ['directory-traversal/*'],
  'file-inclusion': ['file-inclusion/JHADDIX_LFI.txt', 'file-inclusion/List_Of_File_To_Include.txt', 'file-inclusion/Traversal.txt',
    'file-inclusion/LFI-FD-check.txt', 'file-inclusion/Linux-files.txt', 'file-inclusion/Windows-files.txt', 'file-inclusion/simple-check.txt'],
  'ldap-injection': ['ldap-injection/LDAP_FUZZ.txt', 'ldap-injection/LDAP_FUZZ_SMALL.txt'],
  'nosql-injection': ['nosql-injection/*'],
  'server-side-template-injection': ['server-side-template-injection/*'],
  'xxe-injection': ['xxe-injection/*'],
  'open-redirect': ['open-redirect/Open-Redirect-payloads.txt', 'open-redirect/openredirects.txt'],
};

/** Fragments like "'", "||" or "%0a" are probes, not attacks: at least 4 characters, 2 alphanumeric. */
function isPayload(line: string): boolean {
  const t = line.trim();
  return t.length >= 4 && (t.match(/[A-Za-z0-9]/g)?.length ?? 0) >= 2 && !t.startsWith('#');
}

function loadClass(root: string, specs: string[]): string[] {
  const out = new Set<string>();
  for (const spec of specs) {
    const files = spec.endsWith('/*') ? readdirSync(join(root, spec.slice(0, -2))).map((f) => join(spec.slice(0, -2), f)) : [spec];
    for (const f of files) {
      for (const line of readFileSync(join(root, f), 'utf8').split(/\r?\n/)) if (isPayload(line)) out.add(line.trim());
    }
  }
  return [...out];
}

/** Deterministic, evenly spread sample (same items every run). */
function sample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)]!);
  return out;
}

interface Probe {
  cls: string;
  payload: string;
  placement: Placement;
  encoding: Encoding;
  request: unknown;
}

function toCheck(raw: Buffer): unknown | null {
  const out = envoyProcess(raw, undefined, '5b2c1f0e-3d4a-4b6c-8e9f-0a1b2c3d4e5f');
  return out.kind === 'forwarded' ? buildCheckRequest(out.request, { ...DEFAULT_CHECK_OPTIONS, headerEncoding: 'raw' }) : null;
}

/** A CRS install in `dir` (rule files linked from the shared CRS), crs-setup at paranoia `pl`. */
function crsInstall(dir: string, crs: string, pl: number): void {
  mkdirSync(join(dir, 'rules'));
  for (const f of readdirSync(join(crs, 'rules'))) if (f.endsWith('.conf') || f.endsWith('.data')) symlinkSync(join(crs, 'rules', f), join(dir, 'rules', f));
  writeFileSync(join(dir, 'crs-setup.conf'), `Include ${join(crs, 'crs-setup.conf.example')}\n` +
    `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=${pl}"\n`);
}

interface Outcome { denied: boolean; ruleIds: number[] }

async function runAll(client: CheckClient, requests: unknown[], concurrency: number): Promise<Outcome[]> {
  const out: Outcome[] = new Array(requests.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const i = next++;
      const r = await client.check(requests[i], 30_000);
      out[i] = { denied: r.statusCode !== 0, ruleIds: r.ruleIds };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

type Tally = Record<string, { blocked: number; total: number; rate: number }>;
function tally(keys: string[], denied: boolean[]): Tally {
  const t: Tally = {};
  keys.forEach((k, i) => {
    const e = (t[k] ??= { blocked: 0, total: 0, rate: 0 });
    e.total++;
    if (denied[i]) e.blocked++;
  });
  for (const e of Object.values(t)) e.rate = e.total === 0 ? 0 : e.blocked / e.total;
  return t;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'per-class': { type: 'string', default: '30' },
      concurrency: { type: 'string', default: '8' },
      configs: { type: 'string', default: 'pl1,pl1+layer,pl2,pl2+layer' },
      'cpu-rounds': { type: 'string', default: '2' },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'detection-bench.json') },
      misses: { type: 'string' },
    },
  });
  const perClass = Number(values['per-class']);
  const concurrency = Number(values.concurrency);
  const cpuRounds = Number(values['cpu-rounds']);
  const crs = sharedPath('crs');
  const payloadRoot = sharedPath('attack-payloads');

  const probes: Probe[] = [];
  let notForwarded = 0;
  for (const [cls, specs] of Object.entries(CLASSES)) {
    for (const payload of sample(loadClass(payloadRoot, specs), perClass)) {
      for (const placement of PLACEMENTS) {
        for (const encoding of ENCODINGS) {
          const value = encodeValue(payload, encoding);
          const req = toCheck(buildRequest(placement, value, { xmlDocument: cls === 'xxe-injection', payload, encoding }));
          if (req === null) notForwarded++;
          else probes.push({ cls, payload, placement, encoding, request: req });
        }
      }
    }
  }
  const benign: Array<{ name: string; request: unknown }> = [];
  for (const item of benignCorpus()) {
    for (const p of item.placements) {
      const req = toCheck(buildRequest(p, item.value));
      if (req !== null) benign.push({ name: `${item.name}@${p}`, request: req });
    }
  }
  for (const s of benignRequests()) {
    const lines = [`${s.method} ${s.path} HTTP/1.1`, 'Host: api.example.com', 'User-Agent: okhttp/4.12.0', 'Accept: */*', ...s.headers.map(([k, v]) => `${k}: ${v}`)];
    const body = s.body === undefined ? null : Buffer.from(s.body, 'utf8');
    if (body !== null) lines.push(`Content-Length: ${body.length}`);
    const raw = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body ?? Buffer.alloc(0)]);
    const req = toCheck(raw);
    if (req !== null) benign.push({ name: s.name, request: req });
  }
  console.log(`${probes.length} attack requests (${notForwarded} not forwarded by Envoy, left out), ${benign.length} benign requests`);

  const results: Record<string, unknown> = {};
  const missLines: string[] = [];
  const cpu: Record<string, number> = {};
  for (const config of values.configs!.split(',')) {
    const pl = config.startsWith('pl2') ? 2 : 1;
    const layer = config.endsWith('+layer');
    const work = mkdtempSync(join(tmpdir(), 'sidewall-detect-'));
    try {
      const crsDir = join(work, 'crs');
      mkdirSync(crsDir);
      crsInstall(crsDir, crs, pl);
      const configFile = join(work, 'sidewall.yaml');
      writeFileSync(configFile, `sidewall_layer: ${layer}\n`);
      const server = await startServer({ rulesFile: crsDir, mode: 'block', workDir: work, readyTimeoutMs: 120_000, extraArgs: ['--config', configFile] });
      const client = new CheckClient(server.target);
      try {
        await client.waitForReady(10_000);
        const t0 = Date.now();
        const attack = await runAll(client, probes.map((p) => p.request), concurrency);
        const benignOut = await runAll(client, benign.map((b) => b.request), concurrency);
        const cpu0 = processCpuSeconds(server.pid);
        for (let r = 0; r < cpuRounds; r++) await runAll(client, benign.map((b) => b.request), 1);
        const cpuUs = ((processCpuSeconds(server.pid) - cpu0) * 1e6) / Math.max(1, cpuRounds * benign.length);
        cpu[config] = cpuUs;
        const denied = attack.map((o) => o.denied);
        const fpRules: Record<string, number> = {};
        const fpItems: string[] = [];
        benignOut.forEach((o, i) => {
          if (!o.denied) return;
          fpItems.push(benign[i]!.name);
          for (const id of o.ruleIds) fpRules[id] = (fpRules[id] ?? 0) + 1;
        });
        if (values.misses !== undefined) {
          probes.forEach((p, i) => {
            if (!denied[i]) missLines.push(JSON.stringify({ config, cls: p.cls, placement: p.placement, encoding: p.encoding, payload: p.payload }));
          });
        }
        const blocked = denied.filter(Boolean).length;
        const fp = fpItems.length;
        results[config] = {
          blockRate: blocked / probes.length, blocked, attacks: probes.length,
          byClass: tally(probes.map((p) => p.cls), denied),
          byPlacement: tally(probes.map((p) => p.placement), denied),
          byEncoding: tally(probes.map((p) => p.encoding), denied),
          byClassPlacementEncoding: tally(probes.map((p) => `${p.cls}|${p.placement}|${p.encoding}`), denied),
          falsePositiveRate: fp / benign.length, falsePositives: fp, benign: benign.length, falsePositivesByRule: fpRules, falsePositiveItems: fpItems,
          serverCpuUsPerBenignRequest: cpuUs,
          seconds: (Date.now() - t0) / 1000,
        };
        console.log(`${config}: blocked ${(100 * blocked / probes.length).toFixed(1)} %, FP ${(100 * fp / benign.length).toFixed(1)} % (${fp}/${benign.length}), ${cpuUs.toFixed(0)} µs CPU/benign request`);
        const r = results[config] as { byEncoding: Tally; byPlacement: Tally; byClass: Tally };
        console.log('  by encoding: ' + Object.entries(r.byEncoding).map(([k, v]) => `${k} ${(100 * v.rate).toFixed(1)}%`).join(', '));
        console.log('  by placement: ' + Object.entries(r.byPlacement).map(([k, v]) => `${k} ${(100 * v.rate).toFixed(1)}%`).join(', '));
        console.log('  by class: ' + Object.entries(r.byClass).map(([k, v]) => `${k} ${(100 * v.rate).toFixed(1)}%`).join(', '));
      } finally {
        client.close();
        await server.stop();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const ratios: Record<string, number> = {};
  for (const pl of ['pl1', 'pl2']) if (cpu[pl] && cpu[`${pl}+layer`]) ratios[`${pl}+layer / ${pl}`] = cpu[`${pl}+layer`]! / cpu[pl]!;
  if (Object.keys(ratios).length > 0) console.log('CPU per benign request, layer / no layer: ' + Object.entries(ratios).map(([k, v]) => `${k} = ${v.toFixed(2)}`).join(', '));
  const report = { generatedAt: new Date().toISOString(), settings: { perClass, concurrency, cpuRounds, notForwarded }, cpuRatios: ratios, results };
  mkdirSync(resolve(values.out!, '..'), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(report, null, 2) + '\n');
  if (values.misses !== undefined) writeFileSync(values.misses, missLines.join('\n') + '\n');
  console.log(`wrote ${values.out}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(2);
});
