// The staged evaluation's time budget (staged_max_ms / --staged-max-ms): a staged policy whose
// evaluation outlasts the budget is cut off and counted in sidewall_staged_errors_total (the
// enforced answer is untouched); a budget that fits lets the same evaluations complete. Real
// server process over gRPC; config errors name the key or flag.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { CheckClient } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, runCli, startServer, writeFiles } from './helpers/server-process.js';
import { eventually, fetchMetrics, metricValue } from './helpers/settings-dir.js';

const dir = makeTempDir('sidewall-staged-budget-');
after(() => cleanupDir(dir));

// 1,200 rules over every argument with a transformation chain, acceleration off (so the prefilter
// cannot skip the regexes): 40 long arguments take tens of ms, far beyond a 1 ms budget.
const RULES = ['SecRuleEngine On', ...Array.from({ length: 1200 }, (_, i) => `SecRule ARGS "@rx never-${i}-(x|y)z" "id:${5000 + i},phase:2,pass,t:none,t:lowercase,t:urlDecodeUni,t:compressWhitespace,nolog"`), ''].join('\n');

function settingsDir(): string {
  const root = join(dir, 'settings');
  mkdirSync(join(root, 'shop'), { recursive: true });
  writeFileSync(join(root, 'shop', 'settings.yaml'), 'version: 1\nnamespace: shop\nwaf: enabled\nmode: block\nstaged_anomaly_threshold: 100\nstaged_sample_rate: 1\n');
  return root;
}

async function stagedCounts(budgetArgs: string[]): Promise<{ checked: number; errors: number }> {
  const rulesFile = writeFiles(dir, { 'rules.conf': RULES })['rules.conf']!;
  const server = await startServer({ rulesFile, args: ['--settings-dir', settingsDir(), ...budgetArgs] });
  const client = new CheckClient(server.grpcAddress);
  try {
    // Distinct values each time, so no cache makes a later evaluation cheaper.
    for (let i = 0; i < 5; i++) {
      const r = await client.check({ path: `/search?${Array.from({ length: 40 }, (_, k) => `a${k}=${'Word%20'.repeat(200)}${i}`).join('&')}`, contextExtensions: { namespace: 'shop' } });
      assert.equal(r.allowed, true);
    }
    let text = '';
    await eventually(async () => {
      text = await fetchMetrics(server.adminUrl);
      return (metricValue(text, 'sidewall_staged_checks_total') ?? 0) + (metricValue(text, 'sidewall_staged_errors_total') ?? 0) >= 5;
    }, 10_000, 'staged evaluations');
    return { checked: metricValue(text, 'sidewall_staged_checks_total') ?? 0, errors: metricValue(text, 'sidewall_staged_errors_total') ?? 0 };
  } finally {
    client.close();
    await server.stop();
  }
}

describe('staged evaluation budget', () => {
  test('--staged-max-ms 1 cuts the long staged evaluations off; staged_max_ms 60000 lets them complete', { timeout: 60_000 }, async () => {
    const slow = 'engine: { acceleration: false }\n';
    const tight = await stagedCounts(['--config', writeFiles(dir, { 'tight.yaml': slow })['tight.yaml']!, '--staged-max-ms', '1']);
    assert.deepEqual(tight, { checked: 0, errors: 5 });
    const roomy = await stagedCounts(['--config', writeFiles(dir, { 'roomy.yaml': slow + 'staged_max_ms: 60000\n' })['roomy.yaml']!]);
    assert.deepEqual(roomy, { checked: 5, errors: 0 });
  });

  test('config and flag errors name the key or flag', async () => {
    const file = (text: string) => writeFiles(dir, { 'c.yaml': text })['c.yaml']!;
    for (const [text, re] of [['staged_max_ms: 0\n', /staged_max_ms: must be at least 1/], ['staged_max_ms: soon\n', /staged_max_ms: must be a whole number/]] as const) {
      assert.throws(() => loadConfig({ cwd: dir, file: file(text) }), (e: unknown) => e instanceof ConfigError && re.test(e.message));
    }
    assert.equal(loadConfig({ cwd: dir, file: file('staged_max_ms: 200\n') }).stagedMaxMs, 200);
    assert.throws(() => loadConfig({ cwd: dir, overrides: { stagedMaxMs: '0' } }), /--staged-max-ms: must be a whole number of milliseconds >= 1/);
    const r = await runCli(['serve', '--staged-max-ms', 'x']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--staged-max-ms/);
  });
});
