// The namespace watcher + settings controller against a local server speaking the Kubernetes
// list/watch protocol: ConfigMaps rendered on list and on watch events, invalid annotations
// reported (Event + metric) with the previous valid setting kept, 410 Gone (status and ERROR
// event) → re-list, dropped connections and failing lists → bounded backoff and recovery.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse } from 'yaml';
import { ControllerMetrics } from '../src/k8s/controller-metrics.js';
import { KubeClient } from '../src/k8s/kube-client.js';
import { NamespaceWatcher, type RestartReason } from '../src/k8s/namespace-watcher.js';
import { SettingsController } from '../src/k8s/settings-controller.js';
import { FakeKubeApi } from './helpers/k8s-fake-api.js';

const logger = pino({ level: 'silent' });

function settingsOf(api: FakeKubeApi, ns: string): Record<string, unknown> | null {
  const cm = api.configmaps.get(`${ns}/sidewall-settings`);
  return cm ? (parse(cm.data['settings.yaml']) as Record<string, unknown>) : null;
}

describe('namespace watcher + settings controller', () => {
  const api = new FakeKubeApi();
  let client: KubeClient;
  let metrics: ControllerMetrics;
  let controller: SettingsController;
  let watcher: NamespaceWatcher;
  const restarts: RestartReason[] = [];

  before(async () => {
    await api.start();
    // State before the controller starts: one enabled namespace with exclusions, one plain.
    api.setConfigMap('shop', 'shop-exclusions', { 'b.conf': 'SecRuleRemoveById 942100\n', 'a.conf': 'SecRuleRemoveById 941100', 'notes.txt': 'x' });
    api.setNamespace('shop', { 'sidewall.io/waf': 'enabled', 'sidewall.io/exclusions': 'shop-exclusions', 'sidewall.io/anomaly-threshold': '7' });
    api.setNamespace('plain', {});
    client = new KubeClient({ server: api.url, token: api.token });
    metrics = new ControllerMetrics({ defaultMetrics: false });
    controller = new SettingsController({ client, logger, metrics });
    watcher = new NamespaceWatcher(
      client,
      { onSync: (all) => controller.sync(all), onUpsert: (ns) => controller.upsert(ns), onDelete: (ns) => controller.remove(ns) },
      { logger, backoff: { initialMs: 20, maxMs: 200 }, watchTimeoutSeconds: 30, onRestart: (r) => restarts.push(r) },
    );
    watcher.start();
  });

  after(async () => {
    await watcher.stop();
    client.close();
    await api.stop();
  });

  test('initial list renders the enabled namespace (exclusions concatenated in key order), not the plain one', async () => {
    await api.waitFor(() => api.configmaps.has('shop/sidewall-settings'), 'shop settings');
    const cm = api.configmaps.get('shop/sidewall-settings')!;
    assert.deepEqual(cm.metadata.labels, { 'app.kubernetes.io/managed-by': 'sidewall' });
    assert.equal(
      cm.data['settings.yaml'],
      'version: 1\nnamespace: shop\nwaf: enabled\nmode: detect\nparanoia_level: 1\nanomaly_threshold: 7\nexclusions: true\n',
    );
    assert.equal(cm.data['exclusions.conf'], 'SecRuleRemoveById 941100\nSecRuleRemoveById 942100\n');
    assert.equal(api.configmaps.has('plain/sidewall-settings'), false);
    await api.waitFor(() => api.openWatches === 1, 'a watch');
    assert.equal(watcher.synced, true);
    assert.ok(api.requests.some((r) => /^GET \/api\/v1\/namespaces\?watch=true.*resourceVersion=\d+/.test(r)), 'watch from the list resourceVersion');
  });

  test('watch MODIFIED: mode change updates the ConfigMap; an unrelated change writes nothing', async () => {
    api.setNamespace('shop', { 'sidewall.io/waf': 'enabled', 'sidewall.io/exclusions': 'shop-exclusions', 'sidewall.io/anomaly-threshold': '7', 'sidewall.io/mode': 'block' });
    await api.waitFor(() => settingsOf(api, 'shop')?.mode === 'block', 'mode block');
    const puts = () => api.requests.filter((r) => r.startsWith('PUT /api/v1/namespaces/shop/configmaps')).length;
    const before = puts();
    api.setNamespace('shop', { 'sidewall.io/waf': 'enabled', 'sidewall.io/exclusions': 'shop-exclusions', 'sidewall.io/anomaly-threshold': '7', 'sidewall.io/mode': 'block', other: 'x' });
    await api.waitFor(() => api.requests.filter((r) => r.startsWith('GET /api/v1/namespaces/shop/configmaps/shop-exclusions')).length >= 3, 'exclusions re-read');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(puts(), before, 'no write when nothing changed');
  });

  test('ADDED namespace enabled by annotation gets its ConfigMap', async () => {
    api.setNamespace('blog', { 'sidewall.io/waf': 'enabled', 'sidewall.io/paranoia-level': '3', 'sidewall.io/events-webhook': 'blog-hook' });
    await api.waitFor(() => api.configmaps.has('blog/sidewall-settings'), 'blog settings');
    assert.deepEqual(settingsOf(api, 'blog'), {
      version: 1,
      namespace: 'blog',
      waf: 'enabled',
      mode: 'detect',
      paranoia_level: 3,
      exclusions: false,
      events_webhook_secret: 'blog-hook',
    });
    assert.equal(api.configmaps.get('blog/sidewall-settings')!.data['exclusions.conf'], '');
  });

  test('invalid values: Warning Event on the namespace + metric, previous valid setting stays', async () => {
    api.setNamespace('blog', { 'sidewall.io/waf': 'enabled', 'sidewall.io/paranoia-level': '7', 'sidewall.io/mode': 'blok', 'sidewall.io/events-webhook': 'blog-hook' });
    await api.waitFor(() => api.events.filter((e) => e.involvedObject.name === 'blog').length >= 2, 'two events');
    const events = api.events.filter((e) => e.involvedObject.name === 'blog');
    assert.ok(events.every((e) => e.type === 'Warning' && e.reason === 'InvalidAnnotation' && e.involvedObject.kind === 'Namespace' && e.involvedObject.uid === 'uid-blog'));
    assert.ok(events.some((e) => /sidewall\.io\/paranoia-level: must be an integer 1\.\.4 \(got "7"\)/.test(e.message)));
    assert.ok(events.some((e) => /sidewall\.io\/mode: must be one of block, detect \(got "blok"\)/.test(e.message)));
    const s = settingsOf(api, 'blog')!;
    assert.equal(s.paranoia_level, 3, 'previous valid paranoia level kept');
    assert.equal(s.mode, 'detect');
    const text = await metrics.render();
    assert.match(text, /sidewall_controller_invalid_annotations_total\{key="sidewall.io\/paranoia-level"\} 1/);
    // The same invalid value seen again (another event on the namespace) is not reported twice.
    api.setNamespace('blog', { 'sidewall.io/waf': 'enabled', 'sidewall.io/paranoia-level': '7', 'sidewall.io/mode': 'blok', 'sidewall.io/events-webhook': 'blog-hook', x: 'y' });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(api.events.filter((e) => e.involvedObject.name === 'blog').length, 2);
    // A valid change to another key still applies while the invalid one keeps its old value.
    api.setNamespace('blog', { 'sidewall.io/waf': 'enabled', 'sidewall.io/paranoia-level': '7', 'sidewall.io/mode': 'block', 'sidewall.io/events-webhook': 'blog-hook' });
    await api.waitFor(() => settingsOf(api, 'blog')?.mode === 'block', 'blog mode block');
    assert.equal(settingsOf(api, 'blog')!.paranoia_level, 3);
  });

  test('410 Gone as HTTP status → re-list, changes made meanwhile are picked up', async () => {
    const lists = () => api.requests.filter((r) => r === 'GET /api/v1/namespaces').length;
    const before = lists();
    api.goneStyle = 'status';
    api.dropWatches(); // the watcher reconnects with its resourceVersion ...
    api.compact(); // ... which is now too old → 410 → re-list
    api.setNamespace('news', { 'sidewall.io/waf': 'enabled' });
    await api.waitFor(() => lists() > before && api.configmaps.has('news/sidewall-settings'), 're-list after 410');
    assert.ok(restarts.includes('gone'));
    assert.ok(restarts.includes('dropped'));
  });

  test('410 as a watch ERROR event → re-list', async () => {
    await api.waitFor(() => api.openWatches === 1, 'watch open again');
    const lists = () => api.requests.filter((r) => r === 'GET /api/v1/namespaces').length;
    const before = lists();
    api.goneStyle = 'event';
    api.expireOpenWatches();
    api.setNamespace('wiki', { 'sidewall.io/waf': 'enabled', 'sidewall.io/mode': 'block' });
    await api.waitFor(() => lists() > before && settingsOf(api, 'wiki')?.mode === 'block', 're-list after ERROR 410');
  });

  test('failing lists back off and recover; a deleted namespace is forgotten on re-list', async () => {
    await api.waitFor(() => api.openWatches === 1, 'watch open again');
    api.failLists = 3;
    api.dropWatches();
    api.compact();
    api.deleteNamespace('wiki');
    api.setNamespace('plain', { 'sidewall.io/waf': 'enabled' });
    const t0 = Date.now();
    await api.waitFor(() => api.configmaps.has('plain/sidewall-settings'), 'recovered after failing lists');
    assert.equal(api.failLists, 0);
    assert.ok(Date.now() - t0 >= 20 + 40, 'backed off between failing lists');
    assert.ok(restarts.filter((r) => r === 'error').length >= 3);
    assert.equal(controller.policy('wiki'), null);
    assert.equal(controller.policy('plain')?.settings.waf, 'enabled');
  });

  test('disabling a namespace rewrites its ConfigMap with waf: disabled (sidecars stop evaluating)', async () => {
    await api.waitFor(() => api.openWatches === 1, 'watch open again');
    api.setNamespace('news', { 'sidewall.io/waf': 'disabled' });
    await api.waitFor(() => settingsOf(api, 'news')?.waf === 'disabled', 'news disabled');
  });

  test('resync picks up a changed exclusions ConfigMap and recreates a deleted settings ConfigMap', async () => {
    api.setConfigMap('shop', 'shop-exclusions', { 'exclusions.conf': 'SecRuleRemoveById 920350\n', 'z.conf': 'ignored when exclusions.conf exists' });
    api.configmaps.delete('blog/sidewall-settings');
    await controller.resync();
    assert.equal(api.configmaps.get('shop/sidewall-settings')!.data['exclusions.conf'], 'SecRuleRemoveById 920350\n');
    assert.equal(settingsOf(api, 'blog')?.mode, 'block');
  });

  test('a restarted controller keeps the last valid values it rendered before', async () => {
    const fresh = new SettingsController({ client, logger, metrics: new ControllerMetrics({ defaultMetrics: false }) });
    // blog's annotations still say paranoia-level=7 (invalid); the rendered ConfigMap says 3.
    await fresh.upsert(api.namespaces.get('blog') as never);
    assert.equal(fresh.policy('blog')?.settings.paranoiaLevel, 3);
  });

  test('a ConfigMap named sidewall-settings that is not ours is never overwritten', async () => {
    api.setConfigMap('owned', 'sidewall-settings', { 'settings.yaml': 'mine\n' });
    api.setNamespace('owned', { 'sidewall.io/waf': 'enabled' });
    await api.waitFor(() => api.events.some((e) => e.involvedObject.name === 'owned'), 'event about foreign ConfigMap');
    assert.equal(api.configmaps.get('owned/sidewall-settings')!.data['settings.yaml'], 'mine\n');
  });
});
