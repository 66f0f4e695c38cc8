// Live reload in the real server process (sidecar layout): the settings directory is updated the
// way the kubelet updates a ConfigMap volume (atomic ..data symlink swap); behaviour changes
// within seconds; a broken exclusions.conf is rejected with file:line (log + metric) while the
// previous rules keep answering; SIGHUP forces a reload; base ruleset edits are picked up.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckClient } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, startServer, type LogLine, type ServerProcess } from './helpers/server-process.js';
import { eventually, fetchMetrics, metricValue, publishConfigMap } from './helpers/settings-dir.js';

const RULES = `SecRuleEngine DetectionOnly
SecRule ARGS "@contains attack" "id:1001,phase:1,deny,status:403,log,msg:'test attack'"
`;
const EVIL_RULE = `SecRule ARGS "@contains evil" "id:1002,phase:1,deny,status:403,log,msg:'evil'"\n`;

const settings = (mode: string, exclusions = false) => `version: 1\nnamespace: shop\nwaf: enabled\nmode: ${mode}\nparanoia_level: 1\nexclusions: ${exclusions}\n`;

describe('live reload (sidecar layout, real process)', () => {
  let dir: string;
  let settingsDir: string;
  let rulesFile: string;
  let server: ServerProcess;
  let client: CheckClient;

  const action = async (q: string): Promise<string> => String((await client.check({ path: `/?q=${q}` })).metadata.waf_action);
  const reloads = (pred: (l: LogLine) => boolean) => server.logs.filter((l) => l.event === 'reload' && pred(l)).length;

  before(async () => {
    dir = makeTempDir('sidewall-live-');
    settingsDir = join(dir, 'settings');
    rulesFile = join(dir, 'rules.conf');
    writeFileSync(rulesFile, RULES);
    publishConfigMap(settingsDir, { 'settings.yaml': settings('detect'), 'exclusions.conf': '' });
    server = await startServer({ rulesFile, args: ['--settings-dir', settingsDir] });
    client = new CheckClient(server.grpcAddress);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    cleanupDir(dir);
  });

  test('starts with the namespace settings (detect)', async () => {
    assert.equal(await action('attack'), 'detect');
    const loaded = await server.waitForLog((l) => l.event === 'reload' && l.reason === 'startup');
    assert.equal(loaded.result, 'success');
    assert.equal(loaded.layout, 'single');
  });

  test('a ConfigMap update (..data swap) changes behaviour within seconds', async (t) => {
    publishConfigMap(settingsDir, { 'settings.yaml': settings('block'), 'exclusions.conf': '' });
    const ms = await eventually(async () => (await action('attack')) === 'deny', 5000, 'block mode after the ConfigMap update');
    const res = await client.check({ path: '/?q=attack' });
    assert.equal(res.httpStatus, 403);
    assert.equal(await action('hello'), 'allow');
    t.diagnostic(`settings change → new behaviour in ${ms} ms`);
  });

  test('a broken exclusions.conf is rejected with file:line (log + metric); the previous rules keep working', async () => {
    const failuresBefore = metricValue(await fetchMetrics(server.adminUrl), 'sidewall_reloads_total{result="failure"}') ?? 0;
    publishConfigMap(settingsDir, {
      'settings.yaml': settings('detect', true),
      'exclusions.conf': '# shop exclusions\nSecRule ARGS "@contains x" "id:10,phase:1,pass,nolog,ctl:ruleRemoveById=1001\n',
    });
    const line = await server.waitForLog((l) => l.event === 'reload' && l.result === 'failure', 5000);
    const errors = line.errors as string[];
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, new RegExp(`${settingsDir}/exclusions\\.conf:2: `));
    assert.equal(line.level, 'error');
    const metrics = await fetchMetrics(server.adminUrl);
    assert.equal(metricValue(metrics, 'sidewall_reloads_total{result="failure"}'), failuresBefore + 1);
    // Still the previous settings: block mode, no exclusion.
    assert.equal(await action('attack'), 'deny');
  });

  test('fixing the exclusions applies them', async () => {
    publishConfigMap(settingsDir, {
      'settings.yaml': settings('block', true),
      // Loaded after the base rules (CRS "after" position): target updates apply to base rules.
      'exclusions.conf': '# shop exclusions\nSecRuleUpdateTargetById 1001 "!ARGS:trusted"\n',
    });
    await eventually(async () => (await action('attack')) === 'deny' && (await client.check({ path: '/?trusted=attack' })).metadata.waf_action === 'allow', 5000, 'exclusion applied');
    assert.equal(await action('attack'), 'deny', 'the exclusion is scoped, the rule still runs');
    const metrics = await fetchMetrics(server.adminUrl);
    assert.ok((metricValue(metrics, 'sidewall_reload_last_success_timestamp_seconds') ?? 0) > Date.now() / 1000 - 30);
  });

  test('other files next to the rules (logs, sockets) never trigger a reload', async () => {
    const before = server.logs.filter((l) => l.event === 'reload').length;
    const noise = join(dir, 'access.log');
    // Written for longer than the 2 s poll and far more often than the 200 ms debounce.
    for (let i = 0; i < 25; i++) {
      writeFileSync(noise, `line ${i}\n`, { flag: 'a' });
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 400));
    const after = server.logs.filter((l) => l.event === 'reload' && l.result !== 'unchanged');
    assert.equal(after.length, before, `reloads caused by access.log: ${JSON.stringify(after.slice(before))}`);
  });

  test('base ruleset edits are picked up', async () => {
    assert.equal(await action('evil'), 'allow');
    writeFileSync(rulesFile, RULES + EVIL_RULE);
    await eventually(async () => (await action('evil')) === 'deny', 5000, 'new base rule active');
  });

  test('SIGHUP forces a reload', async () => {
    const before = reloads((l) => l.reason === 'signal');
    server.child.kill('SIGHUP');
    const line = await server.waitForLog((l) => l.event === 'reload' && l.reason === 'signal', 5000);
    assert.equal(line.result, 'success');
    assert.equal(line.compiled, 1, 'forced: recompiled although nothing changed');
    assert.equal(reloads((l) => l.reason === 'signal'), before + 1);
    assert.equal(await action('attack'), 'deny');
    assert.equal(server.child.exitCode, null, 'still running');
  });
});
