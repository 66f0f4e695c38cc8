// Shared gateway layout over real gRPC: the namespace of a check comes from
// context_extensions.namespace or a SPIFFE principal (destination first); namespaces with
// different modes answer the same attack differently; equal settings share one engine; a
// namespace added while running is picked up.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckClient, type RequestSpec } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, startServer, type ServerProcess } from './helpers/server-process.js';
import { eventually, fetchMetrics, metricValue } from './helpers/settings-dir.js';

// The ruleset itself says DetectionOnly with a threshold of 5: namespaces override both.
const RULES = `SecRuleEngine DetectionOnly
SecAction "id:1,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=5"
SecRule ARGS "@contains attack" "id:1001,phase:1,pass,log,msg:'test attack',setvar:tx.score=+5"
SecRule TX:score "@ge %{tx.inbound_anomaly_score_threshold}" "id:1100,phase:2,deny,status:403,log,msg:'anomaly score'"
`;

function writeNamespace(root: string, ns: string, body: string): void {
  mkdirSync(join(root, ns), { recursive: true });
  writeFileSync(join(root, ns, 'settings.yaml'), `version: 1\nnamespace: ${ns}\n${body.includes('waf:') ? '' : 'waf: enabled\n'}${body}`);
}

const spiffe = (ns: string, sa = 'web') => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

describe('multi-namespace selection (gateway layout, real process)', () => {
  let dir: string;
  let settingsDir: string;
  let server: ServerProcess;
  let client: CheckClient;
  const attack = (spec: RequestSpec) => client.check({ path: '/?q=attack', ...spec });

  before(async () => {
    dir = makeTempDir('sidewall-gateway-');
    settingsDir = join(dir, 'settings');
    writeNamespace(settingsDir, 'shop', 'mode: block\n');
    writeNamespace(settingsDir, 'cart', 'mode: block\n');
    writeNamespace(settingsDir, 'blog', 'mode: detect\n');
    writeNamespace(settingsDir, 'legacy', 'mode: block\nanomaly_threshold: 100\n');
    writeNamespace(settingsDir, 'off', 'waf: disabled\nmode: block\n');
    const rulesFile = join(dir, 'rules.conf');
    writeFileSync(rulesFile, RULES);
    server = await startServer({ rulesFile, args: ['--settings-dir', settingsDir] });
    client = new CheckClient(server.grpcAddress);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    cleanupDir(dir);
  });

  test('context_extensions.namespace: different modes, different verdicts for the same attack', async () => {
    const shop = await attack({ contextExtensions: { namespace: 'shop' } });
    assert.equal(shop.allowed, false);
    assert.equal(shop.httpStatus, 403);
    assert.equal(shop.metadata.waf_mode, 'block');
    const blog = await attack({ contextExtensions: { namespace: 'blog' } });
    assert.equal(blog.allowed, true);
    assert.equal(blog.metadata.waf_action, 'detect');
    assert.equal(blog.metadata.waf_mode, 'detect');
    const legacy = await attack({ contextExtensions: { namespace: 'legacy' } });
    assert.equal(legacy.metadata.waf_action, 'allow', 'threshold 100 pinned over the ruleset setvar');
    assert.deepEqual(legacy.metadata.waf_rule_ids, [1001]);
    const off = await attack({ contextExtensions: { namespace: 'off' } });
    assert.equal(off.metadata.waf_action, 'allow');
    assert.equal(off.metadata.waf_mode, 'off');
    assert.deepEqual(off.metadata.waf_rule_ids, []);
  });

  test('SPIFFE principal: the destination namespace first, then the source', async () => {
    const toShop = await attack({ destination: { address: '10.0.0.2', port: 8080, principal: spiffe('shop') }, source: { address: '10.0.0.3', port: 5555, principal: spiffe('blog') } });
    assert.equal(toShop.metadata.waf_action, 'deny');
    const toBlog = await attack({ destination: { address: '10.0.0.2', port: 8080, principal: spiffe('blog') }, source: { address: '10.0.0.3', port: 5555, principal: spiffe('shop') } });
    assert.equal(toBlog.metadata.waf_action, 'detect');
    const fromShop = await attack({ source: { address: '10.0.0.3', port: 5555, principal: spiffe('shop') } });
    assert.equal(fromShop.metadata.waf_action, 'deny');
    // context_extensions beat principals.
    const ext = await attack({ contextExtensions: { namespace: 'blog' }, destination: { address: '10.0.0.2', port: 8080, principal: spiffe('shop') } });
    assert.equal(ext.metadata.waf_action, 'detect');
  });

  test('unknown or absent namespace: the base settings (the ruleset says DetectionOnly)', async () => {
    assert.equal((await attack({ contextExtensions: { namespace: 'nowhere' } })).metadata.waf_action, 'detect');
    assert.equal((await attack({})).metadata.waf_action, 'detect');
    assert.equal((await client.check({ path: '/?q=hello', contextExtensions: { namespace: 'shop' } })).metadata.waf_action, 'allow');
  });

  test('equal settings share one compiled engine', async () => {
    const metrics = await fetchMetrics(server.adminUrl);
    // base, block (shop + cart), detect (blog), block+threshold (legacy), disabled (off)
    assert.equal(metricValue(metrics, 'sidewall_engines'), 5);
    assert.equal(metricValue(metrics, 'sidewall_settings_namespaces'), 5);
    const loaded = await server.waitForLog((l) => l.event === 'reload' && l.reason === 'startup');
    assert.equal(loaded.layout, 'multi');
    assert.equal(loaded.compiled, 4, 'disabled needs no compile; shop and cart share');
  });

  test('a namespace added while running is picked up', async () => {
    assert.equal((await attack({ contextExtensions: { namespace: 'new' } })).metadata.waf_action, 'detect');
    writeNamespace(settingsDir, 'new', 'mode: block\n');
    await eventually(async () => (await attack({ contextExtensions: { namespace: 'new' } })).metadata.waf_action === 'deny', 5000, 'new namespace in block mode');
    const line = await server.waitForLog((l) => l.event === 'reload' && l.reason !== 'startup' && l.namespaces === 6, 2000);
    assert.equal(line.compiled, 0, 'same settings as shop: its engine is reused');
  });
});
