// EngineReloader in-process, on real files: one engine per distinct effective settings (shared,
// evicted), per-namespace rejection keeping the previous settings, whole-reload rejection when
// the base ruleset breaks, and old engines becoming garbage after reloads.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { Metrics } from '../src/server/metrics.js';
import { EngineReloader } from '../src/server/reload.js';
import type { CheckContext, PeerInfo } from '../src/server/check-mapper.js';
import type { HttpRequest } from '../src/engine/api.js';
import { cleanupDir, makeTempDir, type LogLine } from './helpers/server-process.js';

const RULES = `SecRuleEngine DetectionOnly
SecAction "id:1,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=5"
SecRule ARGS "@contains attack" "id:1001,phase:1,pass,log,msg:'test attack',setvar:tx.score=+5"
SecRule TX:score "@ge %{tx.inbound_anomaly_score_threshold}" "id:1100,phase:2,deny,status:403,log,msg:'score'"
`;

const peer: PeerInfo = { address: '', port: 0, principal: '', service: '', labels: {} };
function ctx(namespace?: string): CheckContext {
  return {
    requestId: 'r',
    host: 'h',
    scheme: 'http',
    source: peer,
    destination: peer,
    contextExtensions: namespace === undefined ? {} : { namespace },
    filterMetadata: {},
    sni: '',
  };
}

function req(uri: string): HttpRequest {
  return { id: 'r', method: 'GET', uri, protocol: 'HTTP/1.1', headers: [], body: null, bodyPartial: false, clientIp: '1.2.3.4', clientPort: 1, serverIp: '5.6.7.8', serverPort: 80 };
}

interface Setup {
  dir: string;
  rules: string;
  settings: string;
  logs: LogLine[];
  metrics: Metrics;
  reloader: EngineReloader;
}

const setups: Setup[] = [];
after(() => {
  for (const s of setups) {
    s.reloader.close();
    cleanupDir(s.dir);
  }
});

function writeNs(settings: string, ns: string, yaml: string, exclusions?: string): void {
  mkdirSync(join(settings, ns), { recursive: true });
  writeFileSync(join(settings, ns, 'settings.yaml'), `version: 1\nnamespace: ${ns}\n${yaml}${exclusions !== undefined ? 'exclusions: true\n' : ''}`);
  if (exclusions !== undefined) writeFileSync(join(settings, ns, 'exclusions.conf'), exclusions);
}

async function setup(namespaces: Record<string, string>): Promise<Setup> {
  const dir = makeTempDir('sidewall-reload-');
  const rules = join(dir, 'rules.conf');
  writeFileSync(rules, RULES);
  const settings = join(dir, 'settings');
  mkdirSync(settings);
  for (const [ns, yaml] of Object.entries(namespaces)) writeNs(settings, ns, yaml);
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const metrics = new Metrics({ defaultMetrics: false });
  const reloader = await EngineReloader.start({ rulesFile: rules, settingsDir: settings, pod: {}, defaults: { mode: null }, logger, metrics, watch: false });
  const s = { dir, rules, settings, logs, metrics, reloader };
  setups.push(s);
  return s;
}

function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('engines per distinct settings', () => {
  test('equal settings share one compiled engine; unknown namespaces get the base engine', async () => {
    const s = await setup({ shop: 'mode: block\n', cart: 'mode: block\n', blog: 'mode: detect\n' });
    const p = s.reloader.provider;
    assert.equal(p.engineFor(ctx('shop')), p.engineFor(ctx('cart')));
    assert.notEqual(p.engineFor(ctx('shop')), p.engineFor(ctx('blog')));
    assert.equal(p.engineFor(ctx('nowhere')), p.table.base);
    assert.equal(p.engineFor(ctx()), p.table.base);
    assert.equal(p.engineFor(ctx('shop')).evaluate(req('/?q=attack')).action, 'deny');
    assert.equal(p.engineFor(ctx('blog')).evaluate(req('/?q=attack')).action, 'detect');
    const text = await s.metrics.render();
    assert.equal(metricValue(text, 'sidewall_engines'), 3); // base (ruleset mode), block, detect
    assert.equal(metricValue(text, 'sidewall_settings_namespaces'), 3);
    assert.equal(metricValue(text, 'sidewall_reloads_total{result="success"}'), 1);
  });

  test('unchanged engines are reused on reload, changed ones recompiled, unused ones dropped', async () => {
    const s = await setup({ shop: 'mode: block\n', blog: 'mode: detect\n' });
    const p = s.reloader.provider;
    const shop = p.engineFor(ctx('shop'));
    const blog = p.engineFor(ctx('blog'));
    writeNs(s.settings, 'blog', 'mode: block\n');
    const out = await s.reloader.reload('request', false);
    assert.equal(out.result, 'success');
    assert.equal(out.compiled, 0, 'blog now equals shop: nothing to compile');
    assert.equal(p.engineFor(ctx('shop')), shop);
    assert.equal(p.engineFor(ctx('blog')), shop);
    assert.notEqual(p.engineFor(ctx('blog')), blog);
    assert.equal(metricValue(await s.metrics.render(), 'sidewall_engines'), 2);
    assert.equal((await s.reloader.reload('request', false)).result, 'unchanged');
  });
});

describe('rejections', () => {
  test('a broken namespace keeps its previous settings; the others still update', async () => {
    const s = await setup({ shop: 'mode: block\n', blog: 'mode: detect\n' });
    const p = s.reloader.provider;
    writeNs(s.settings, 'shop', 'mode: block\n', '# shop\nSecRuleRemoveById 1001\nSecRule ARGS "@bogus" "id:5,phase:1,pass"\n');
    writeNs(s.settings, 'blog', 'mode: block\n');
    const out = await s.reloader.reload('request', false);
    assert.equal(out.result, 'failure');
    assert.equal(out.errors.length, 1);
    assert.match(out.errors[0]!, /shop\/exclusions\.conf:3: /);
    assert.equal(p.engineFor(ctx('shop')).evaluate(req('/?q=attack')).action, 'deny', 'previous shop settings, exclusion not applied');
    assert.equal(p.engineFor(ctx('blog')).evaluate(req('/?q=attack')).action, 'deny', 'blog updated to block');
    const line = s.logs.find((l) => l.event === 'reload' && l.result === 'failure');
    assert.ok(line && JSON.stringify(line.errors).includes('exclusions.conf:3'), JSON.stringify(line));
    assert.equal(metricValue(await s.metrics.render(), 'sidewall_reloads_total{result="failure"}'), 1);

    // Fixed: the exclusion applies.
    writeNs(s.settings, 'shop', 'mode: block\n', '# shop\nSecRuleRemoveById 1001\n');
    assert.equal((await s.reloader.reload('request', false)).result, 'success');
    assert.equal(p.engineFor(ctx('shop')).evaluate(req('/?q=attack')).action, 'allow');
  });

  test('an invalid settings.yaml for a namespace never seen valid falls back to the base settings', async () => {
    const s = await setup({ shop: 'mode: block\n' });
    writeNs(s.settings, 'new', 'mode: blokc\n');
    const out = await s.reloader.reload('request', false);
    assert.equal(out.result, 'failure');
    assert.match(out.errors[0]!, /new\/settings\.yaml: mode: must be one of block, detect \(got "blokc"\)/);
    assert.equal(s.reloader.provider.engineFor(ctx('new')), s.reloader.provider.table.base);
  });

  test('a broken base ruleset rejects the whole reload: every engine stays', async () => {
    const s = await setup({ shop: 'mode: block\n' });
    const p = s.reloader.provider;
    const before = p.table;
    writeFileSync(s.rules, RULES + 'SecRule ARGS "@rx (" "id:2000,phase:1,pass"\n');
    writeNs(s.settings, 'shop', 'mode: detect\n');
    const out = await s.reloader.reload('request', false);
    assert.equal(out.result, 'failure');
    assert.match(out.errors[0]!, /^rules: .*rules\.conf:5: /);
    assert.equal(p.table, before);
    assert.equal(p.engineFor(ctx('shop')).evaluate(req('/?q=attack')).action, 'deny');
    // Not retried on every poll while nothing changes ...
    assert.equal((await s.reloader.reload('request', false)).result, 'unchanged');
    // ... and picked up once fixed.
    writeFileSync(s.rules, RULES);
    assert.equal((await s.reloader.reload('request', false)).result, 'success');
    assert.equal(p.engineFor(ctx('shop')).evaluate(req('/?q=attack')).action, 'detect');
  });

  test('a missing rules file at reload is a rejection, not a crash', async () => {
    const s = await setup({});
    rmSync(s.rules);
    const out = await s.reloader.reload('signal', true);
    assert.equal(out.result, 'failure');
    assert.match(out.errors[0]!, /rules\.conf/);
    assert.equal(s.reloader.provider.table.base.evaluate(req('/?q=attack')).action, 'detect');
  });
});

describe('watching', () => {
  test('a settings directory that appears after startup is picked up by the poll', async (t) => {
    const dir = makeTempDir('sidewall-reload-');
    const rules = join(dir, 'rules.conf');
    writeFileSync(rules, RULES);
    // In a directory nobody watches: only the poll can notice it.
    const elsewhere = makeTempDir('sidewall-reload-elsewhere-');
    t.after(() => cleanupDir(elsewhere));
    const settings = join(elsewhere, 'later');
    const logs: LogLine[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    const reloader = await EngineReloader.start({ rulesFile: rules, settingsDir: settings, pod: {}, defaults: { mode: null }, logger, metrics: new Metrics({ defaultMetrics: false }), pollMs: 100 });
    setups.push({ dir, rules, settings, logs, metrics: new Metrics({ defaultMetrics: false }), reloader });
    assert.ok(logs.some((l) => /settings directory does not exist/.test(String(l.msg))));
    assert.equal(reloader.provider.engineFor(ctx()).evaluate(req('/?q=attack')).action, 'detect');
    mkdirSync(settings);
    writeFileSync(join(settings, 'settings.yaml'), 'version: 1\nmode: block\n');
    const deadline = Date.now() + 5000;
    while (reloader.provider.engineFor(ctx()).evaluate(req('/?q=attack')).action !== 'deny') {
      assert.ok(Date.now() < deadline, 'not picked up within 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(logs.some((l) => l.event === 'reload' && l.reason === 'poll' && l.layout === 'single'));
  });
});

describe('memory', () => {
  test('replaced engines become garbage after reloads', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const s = await setup({ shop: 'mode: block\n' });
    const refs: Array<WeakRef<object>> = [];
    for (let i = 0; i < 5; i++) {
      refs.push(new WeakRef(s.reloader.provider.engineFor(ctx('shop'))));
      const out = await s.reloader.reload('signal', true); // forced: everything recompiled
      assert.equal(out.result, 'success');
    }
    const current = s.reloader.provider.engineFor(ctx('shop'));
    for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of 5 replaced engines still reachable`);
    assert.ok(current.evaluate(req('/?q=attack')).action === 'deny');
  });
});
