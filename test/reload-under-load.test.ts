// Live reload under load: concurrent real gRPC checks keep running while the rules (OWASP CRS v4
// when available, else the embedded rules) are recompiled and swapped 20 times through
// ConfigMap-style updates. Every check must be answered, and answered correctly (benign → allow,
// attack → deny). Reports client-side latency before and during the swaps and the longest
// synchronous compile slice (how long the event loop was held) from the server's reload logs.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CheckClient, type CheckResult } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, startServer, type ServerProcess } from './helpers/server-process.js';
import { fetchMetrics, metricValue, publishConfigMap } from './helpers/settings-dir.js';
import { sharedPath } from '../bench/lib/shared.js';
import { writeEntryConf } from '../bench/lib/crs-config.js';
import { DEFAULT_RULES_FILE } from '../src/config/paths.js';

const SWAPS = 20;
const WORKERS = 6;
const BASELINE_MS = 1500;
const WARMUP_CHECKS = 100;
const SWAP_TIMEOUT_MS = 20_000;

const BENIGN = { path: '/api/orders?id=42&sort=desc', headers: { 'user-agent': 'orders-client/1.0', accept: 'application/json' } };
const ATTACK = { path: "/api/orders?id=1'%20or%201=1--", headers: { 'user-agent': 'orders-client/1.0', accept: 'application/json' } };

function settingsFiles(variant: number): Record<string, string> {
  return {
    'settings.yaml': 'version: 1\nnamespace: shop\nwaf: enabled\nmode: block\nparanoia_level: 1\nexclusions: true\n',
    // Two different (harmless) exclusion sets: each swap needs a new compiled engine.
    'exclusions.conf': `# variant ${variant}\nSecRuleRemoveById ${variant % 2 === 0 ? 1 : 2}\n`,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(latencies: number[]): string {
  const s = [...latencies].sort((a, b) => a - b);
  return `n=${s.length} p50=${percentile(s, 50).toFixed(2)}ms p99=${percentile(s, 99).toFixed(2)}ms max=${(s[s.length - 1] ?? 0).toFixed(2)}ms`;
}

let dir: string;
let server: ServerProcess;
let client: CheckClient;
let ruleset: string;

before(async () => {
  dir = makeTempDir('sidewall-load-');
  const crsDir = sharedPath('crs');
  let rulesFile: string;
  if (existsSync(join(crsDir, 'crs-setup.conf.example'))) {
    rulesFile = writeEntryConf(dir, { crsDir, testSetup: false });
    ruleset = 'OWASP CRS v4';
  } else {
    rulesFile = DEFAULT_RULES_FILE;
    ruleset = 'embedded rules';
  }
  publishConfigMap(join(dir, 'settings'), settingsFiles(0));
  server = await startServer({ rulesFile, args: ['--settings-dir', join(dir, 'settings')], readyTimeoutMs: 30_000 });
  client = new CheckClient(server.grpcAddress);
});

after(async () => {
  client?.close();
  await server?.stop();
  if (dir) cleanupDir(dir);
});

test(`0 failed checks while the rules are swapped ${SWAPS} times under load`, { timeout: 180_000 }, async (t) => {
  let phase: 'baseline' | 'swapping' = 'baseline';
  let stop = false;
  const latency = { baseline: [] as number[], swapping: [] as number[] };
  const failures: string[] = [];
  let checks = 0;

  const verify = (kind: 'benign' | 'attack', r: CheckResult): string | null => {
    if (kind === 'benign') return r.allowed && r.metadata.waf_action === 'allow' ? null : `benign not allowed: ${JSON.stringify(r.metadata)}`;
    return !r.allowed && r.httpStatus === 403 && r.metadata.waf_action === 'deny' ? null : `attack not denied: ${JSON.stringify(r.metadata)}`;
  };
  const worker = async (id: number): Promise<void> => {
    for (let i = id; !stop; i++) {
      const kind = i % 2 === 0 ? 'benign' : 'attack';
      const started = performance.now();
      try {
        const r = await client.check(kind === 'benign' ? BENIGN : ATTACK, { deadlineMs: 5000 });
        const problem = verify(kind, r);
        if (problem !== null) failures.push(problem);
      } catch (err) {
        failures.push(`${kind}: ${(err as Error).message}`);
      }
      latency[phase].push(performance.now() - started);
      checks++;
    }
  };

  // Warm up (JIT, lazily built state) so the baseline shows the steady state.
  for (let i = 0; i < WARMUP_CHECKS; i++) await client.check(i % 2 === 0 ? BENIGN : ATTACK);
  const load = Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)));
  // prom-client's event-loop lag gauges report the window since the previous scrape.
  await fetchMetrics(server.adminUrl);
  await new Promise((r) => setTimeout(r, BASELINE_MS));
  const baselineLagMax = metricValue(await fetchMetrics(server.adminUrl), 'nodejs_eventloop_lag_max_seconds') ?? NaN;
  phase = 'swapping';
  const reloadLines = () => server.logs.filter((l) => l.event === 'reload' && l.reason !== 'startup');
  const swapStarted = performance.now();
  try {
    for (let i = 1; i <= SWAPS; i++) {
      publishConfigMap(join(dir, 'settings'), settingsFiles(i));
      await server.waitForLog(() => reloadLines().length >= i, SWAP_TIMEOUT_MS);
    }
  } finally {
    stop = true;
    await load;
  }
  const swapSeconds = (performance.now() - swapStarted) / 1000;
  const swapLagMax = metricValue(await fetchMetrics(server.adminUrl), 'nodejs_eventloop_lag_max_seconds') ?? NaN;

  const lines = reloadLines();
  assert.equal(lines.length, SWAPS, 'one reload per swap');
  for (const l of lines) {
    assert.equal(l.result, 'success', JSON.stringify(l));
    assert.equal(l.compiled, 1, 'each swap compiled a new engine');
  }
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed checks of ${checks}`);
  assert.ok(latency.swapping.length > SWAPS, 'checks ran during the swaps');

  const slices = lines.map((l) => Number(l.longest_slice_ms));
  const durations = lines.map((l) => Number(l.duration_ms));
  t.diagnostic(`${ruleset}, ${WORKERS} concurrent clients, ${checks} checks, 0 failed, ${SWAPS} swaps in ${swapSeconds.toFixed(1)} s`);
  t.diagnostic(`latency before swaps: ${summary(latency.baseline)}`);
  t.diagnostic(`latency during swaps: ${summary(latency.swapping)}`);
  t.diagnostic(`reload duration: mean ${(durations.reduce((a, b) => a + b, 0) / durations.length).toFixed(0)} ms, max ${Math.max(...durations)} ms`);
  t.diagnostic(`server event-loop lag max: ${(baselineLagMax * 1000).toFixed(1)} ms before swaps, ${(swapLagMax * 1000).toFixed(1)} ms during swaps`);
  t.diagnostic(`longest synchronous compile slice (event-loop stall): mean ${(slices.reduce((a, b) => a + b, 0) / slices.length).toFixed(1)} ms, max ${Math.max(...slices).toFixed(1)} ms`);
});
