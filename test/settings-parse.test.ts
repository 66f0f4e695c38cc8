// settings.yaml and --pod-settings: validation (errors name file and key), precedence
// (defaults ← namespace ← pod), engine identity of effective settings, the two directory
// layouts, and namespace selection from context_extensions / SPIFFE principals.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseSettingsText } from '../src/settings/settings-file.js';
import { formatPodSettings, parsePodSettings } from '../src/settings/pod-settings.js';
import { pinnedTxFor, resolveSettings, settingsKey } from '../src/settings/effective.js';
import { readSettingsDir } from '../src/settings/settings-dir.js';
import { SettingsError } from '../src/settings/values.js';
import { namespaceOf, spiffeNamespace } from '../src/server/engine-provider.js';
import type { CheckContext, PeerInfo } from '../src/server/check-mapper.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { cleanupDir, makeTempDir } from './helpers/server-process.js';

const FULL = `version: 1
namespace: shop
waf: enabled
mode: block
paranoia_level: 2
anomaly_threshold: 10
exclusions: true
events_webhook_secret: shop-hook
`;

function rejects(text: string, pattern: RegExp): void {
  assert.throws(() => parseSettingsText(text, '/etc/sidewall/settings/settings.yaml'), (err: unknown) => {
    assert.ok(err instanceof SettingsError, String(err));
    assert.match(err.message, /^settings \/etc\/sidewall\/settings\/settings\.yaml: /);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('settings.yaml', () => {
  test('the full contract format parses', () => {
    assert.deepEqual(parseSettingsText(FULL, 's.yaml'), {
      namespace: 'shop',
      waf: 'enabled',
      mode: 'block',
      paranoiaLevel: 2,
      anomalyThreshold: 10,
      exclusions: true,
      stagedExclusions: false,
      eventsWebhookSecret: 'shop-hook',
    });
  });

  test('only version is required; absent keys stay unset', () => {
    assert.deepEqual(parseSettingsText('version: 1\n', 's.yaml'), { namespace: null, exclusions: false, stagedExclusions: false, eventsWebhookSecret: null });
  });

  test('errors name the file and the key', () => {
    rejects('version: 2\n', /version: must be 1 \(got number 2\)/);
    rejects('namespace: shop\n', /version: missing \(expected 1\)/);
    rejects('version: 1\nmode: blok\n', /mode: must be one of block, detect \(got "blok"\)/);
    rejects('version: 1\nmode: off\n', /mode: must be one of block, detect/);
    rejects('version: 1\nwaf: on\n', /waf: must be one of enabled, disabled/);
    rejects('version: 1\nparanoia_level: 5\n', /paranoia_level: must be an integer 1\.\.4 \(got number 5\)/);
    rejects('version: 1\nparanoia_level: "2"\n', /paranoia_level: must be an integer 1\.\.4 \(got "2"\)/);
    rejects('version: 1\nanomaly_threshold: 0\n', /anomaly_threshold: must be an integer/);
    rejects('version: 1\nanomaly_threshold: 2.5\n', /anomaly_threshold: must be an integer/);
    rejects('version: 1\nexclusions: yes please\n', /exclusions: must be true or false/);
    rejects('version: 1\nnamespace: Shop_1\n', /namespace: must be a Kubernetes namespace name/);
    rejects('version: 1\nparanoia: 2\n', /paranoia: unknown key \(known keys: version, namespace, waf, mode, paranoia_level/);
    rejects('- version: 1\n', /must be a YAML mapping/);
    rejects('version: 1\nmode: block\nmode: detect\n', /invalid YAML at line 3/);
  });
});

describe('--pod-settings', () => {
  test('parses the keys the pod annotations set', () => {
    assert.deepEqual(parsePodSettings('mode=block,paranoia_level=2'), { mode: 'block', paranoiaLevel: 2 });
    assert.deepEqual(parsePodSettings(' waf=disabled , anomaly_threshold=7 '), { waf: 'disabled', anomalyThreshold: 7 });
    assert.deepEqual(parsePodSettings(''), {});
    assert.equal(formatPodSettings(parsePodSettings('anomaly_threshold=7,mode=detect')), 'mode=detect,anomaly_threshold=7');
  });

  test('errors name the flag and the key', () => {
    const cases: Array<[string, RegExp]> = [
      ['mode=blok', /^--pod-settings: mode: must be one of block, detect \(got "blok"\)$/],
      ['paranoia_level=9', /^--pod-settings: paranoia_level: must be an integer 1\.\.4 \(got number 9\)$/],
      ['paranoia_level=two', /^--pod-settings: paranoia_level: must be an integer 1\.\.4 \(got "two"\)$/],
      ['exclusions=true', /^--pod-settings: exclusions: unknown key/],
      ['mode', /^--pod-settings: expected key=value, got "mode"/],
      ['mode=block,mode=detect', /^--pod-settings: mode: given twice$/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parsePodSettings(text), { name: "SettingsError", message: pattern }, text);
  });

  test('the CLI config rejects bad --pod-settings as a config error and keeps good ones', () => {
    assert.throws(() => loadConfig({ overrides: { podSettings: 'mode=x' } }), (err: unknown) => err instanceof ConfigError && /--pod-settings: mode/.test(err.message));
    const config = loadConfig({ overrides: { podSettings: 'mode=block', settingsDir: 'rel/dir' }, cwd: '/base' });
    assert.deepEqual(config.podSettings, { mode: 'block' });
    assert.equal(config.settingsDir, '/base/rel/dir');
  });
});

describe('effective settings', () => {
  const ns = parseSettingsText('version: 1\nmode: detect\nparanoia_level: 2\nanomaly_threshold: 10\n', 'ns.yaml');

  test('defaults ← namespace ← pod: the pod wins key by key', () => {
    const eff = resolveSettings({ mode: null }, ns, { mode: 'block' });
    assert.deepEqual(
      { waf: eff.waf, mode: eff.mode, pl: eff.paranoiaLevel, thr: eff.anomalyThreshold },
      { waf: 'enabled', mode: 'block', pl: 2, thr: 10 },
    );
    const podPl = resolveSettings({ mode: null }, ns, { paranoiaLevel: 3, waf: 'disabled' });
    assert.equal(podPl.paranoiaLevel, 3);
    assert.equal(podPl.mode, 'detect');
    assert.equal(podPl.waf, 'disabled');
  });

  test('unset keys fall back to the server defaults (its --mode, the ruleset values)', () => {
    const eff = resolveSettings({ mode: 'block' }, parseSettingsText('version: 1\n', 'x'), {});
    assert.equal(eff.mode, 'block');
    assert.equal(eff.paranoiaLevel, null);
    assert.equal(eff.anomalyThreshold, null);
    assert.deepEqual(pinnedTxFor(eff), {});
    assert.equal(resolveSettings({ mode: null }, null, {}).mode, null);
  });

  test('paranoia level pins CRS v4 and embedded-rules variables; threshold pins the inbound threshold', () => {
    assert.deepEqual(pinnedTxFor(resolveSettings({ mode: null }, ns, {})), {
      blocking_paranoia_level: '2',
      detection_paranoia_level: '2',
      paranoia_level: '2',
      inbound_anomaly_score_threshold: '10',
    });
  });

  test('equal settings share a key; any difference (incl. exclusion text) makes another', () => {
    const a = resolveSettings({ mode: null }, ns, {}, { text: 'SecRuleRemoveById 1\n', file: '/a/exclusions.conf' });
    const b = resolveSettings({ mode: null }, ns, {}, { text: 'SecRuleRemoveById 1\n', file: '/b/exclusions.conf' });
    const c = resolveSettings({ mode: null }, ns, {}, { text: 'SecRuleRemoveById 2\n', file: '/a/exclusions.conf' });
    assert.equal(settingsKey(a), settingsKey(b));
    assert.notEqual(settingsKey(a), settingsKey(c));
    assert.notEqual(settingsKey(a), settingsKey(resolveSettings({ mode: null }, ns, {})));
    assert.notEqual(settingsKey(resolveSettings({ mode: null }, ns, {})), settingsKey(resolveSettings({ mode: null }, ns, { mode: 'block' })));
    // Blank exclusions are no exclusions.
    assert.equal(settingsKey(resolveSettings({ mode: null }, ns, {}, { text: '\n', file: '/a' })), settingsKey(resolveSettings({ mode: null }, ns, {})));
    assert.equal(settingsKey(resolveSettings({ mode: null }, ns, { waf: 'disabled' })), 'disabled');
  });
});

describe('settings directory layouts', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(cleanupDir));

  test('DIR/settings.yaml directly: the sidecar layout, exclusions read when flagged', () => {
    const dir = makeTempDir('sidewall-settings-');
    dirs.push(dir);
    writeFileSync(join(dir, 'settings.yaml'), FULL);
    writeFileSync(join(dir, 'exclusions.conf'), 'SecRuleRemoveById 942100\n');
    const snap = readSettingsDir(dir);
    assert.equal(snap.layout, 'single');
    assert.ok(snap.layout === 'single' && snap.entry.ok);
    assert.equal(snap.entry.value.namespace, 'shop');
    assert.deepEqual(snap.entry.value.exclusions, { text: 'SecRuleRemoveById 942100\n', file: join(dir, 'exclusions.conf') });
  });

  test('exclusions: true without exclusions.conf is an error naming both files', () => {
    const dir = makeTempDir('sidewall-settings-');
    dirs.push(dir);
    writeFileSync(join(dir, 'settings.yaml'), 'version: 1\nexclusions: true\n');
    const snap = readSettingsDir(dir);
    assert.ok(snap.layout === 'single' && !snap.entry.ok);
    assert.match(snap.entry.error, /settings .*settings\.yaml: exclusions: true but .*exclusions\.conf does not exist/);
  });

  test('one subdirectory per namespace: the gateway layout; ConfigMap ..data symlinks followed, bad entries reported', () => {
    const dir = makeTempDir('sidewall-settings-');
    dirs.push(dir);
    // shop: a ConfigMap-style volume (files are symlinks into ..data → ..2024_01)
    mkdirSync(join(dir, 'shop', '..2024_01'), { recursive: true });
    writeFileSync(join(dir, 'shop', '..2024_01', 'settings.yaml'), 'version: 1\nnamespace: shop\nmode: block\n');
    symlinkSync('..2024_01', join(dir, 'shop', '..data'));
    symlinkSync('..data/settings.yaml', join(dir, 'shop', 'settings.yaml'));
    mkdirSync(join(dir, 'blog'));
    writeFileSync(join(dir, 'blog', 'settings.yaml'), 'version: 1\nnamespace: shop\n');
    mkdirSync(join(dir, 'empty'));
    mkdirSync(join(dir, 'typo'));
    writeFileSync(join(dir, 'typo', 'settings.yaml'), 'version: 1\nmdoe: block\n');
    const snap = readSettingsDir(dir);
    assert.equal(snap.layout, 'multi');
    assert.ok(snap.layout === 'multi');
    assert.deepEqual([...snap.namespaces.keys()], ['blog', 'shop', 'typo']);
    const shop = snap.namespaces.get('shop')!;
    assert.ok(shop.ok && shop.value.settings.mode === 'block' && shop.value.namespace === 'shop');
    const blog = snap.namespaces.get('blog')!;
    assert.ok(!blog.ok && /namespace: "shop" does not match its directory "blog"/.test(blog.error));
    const typo = snap.namespaces.get('typo')!;
    assert.ok(!typo.ok && /typo\/settings\.yaml: mdoe: unknown key/.test(typo.error));
  });

  test('a missing directory is an empty gateway layout', () => {
    const snap = readSettingsDir('/nonexistent/sidewall/settings');
    assert.ok(snap.layout === 'multi' && snap.missing && snap.namespaces.size === 0);
  });
});

describe('namespace selection', () => {
  const peer = (principal: string): PeerInfo => ({ address: '', port: 0, principal, service: '', labels: {} });
  const context = (ext: Record<string, string>, dst = '', src = ''): CheckContext => ({
    requestId: 'r',
    host: 'h',
    scheme: 'http',
    source: peer(src),
    destination: peer(dst),
    contextExtensions: ext,
    filterMetadata: {},
    sni: '',
  });

  test('SPIFFE ids', () => {
    assert.equal(spiffeNamespace('spiffe://cluster.local/ns/shop/sa/frontend'), 'shop');
    assert.equal(spiffeNamespace('spiffe://td/ns/blog'), 'blog');
    assert.equal(spiffeNamespace('spiffe://td/sa/x'), null);
    assert.equal(spiffeNamespace('spiffe://td/ns//sa/x'), null);
    assert.equal(spiffeNamespace('https://td/ns/shop/sa/x'), null);
    assert.equal(spiffeNamespace(''), null);
  });

  test('context_extensions.namespace, then the destination principal, then the source principal', () => {
    assert.equal(namespaceOf(context({ namespace: 'a' }, 'spiffe://td/ns/b/sa/x', 'spiffe://td/ns/c/sa/y')), 'a');
    assert.equal(namespaceOf(context({}, 'spiffe://td/ns/b/sa/x', 'spiffe://td/ns/c/sa/y')), 'b');
    assert.equal(namespaceOf(context({}, '', 'spiffe://td/ns/c/sa/y')), 'c');
    assert.equal(namespaceOf(context({ namespace: '' }, '', '')), null);
  });
});
