// The controller's continuous recommender against the local Kubernetes API stand-in: per-namespace
// sidewall-recommendations ConfigMaps (exclusions.conf + evidence.json) created, then updated when
// the evidence changes, not written when nothing changed (also after a restart), none for a
// namespace without events, never overwriting a ConfigMap that is not ours, never applied.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { buildEvent } from '../src/events/build-event.js';
import type { SecurityEvent } from '../src/events/schema.js';
import { ControllerMetrics } from '../src/k8s/controller-metrics.js';
import { KubeClient } from '../src/k8s/kube-client.js';
import {
  boundedEvidence,
  DIGEST_ANNOTATION,
  EVIDENCE_MAX_BYTES,
  EVIDENCE_FILE,
  fileEventSource,
  RecommendationsController,
  RECOMMENDATIONS_CONFIGMAP,
  type EventSource,
} from '../src/k8s/recommendations-controller.js';
import type { GroupDecision } from '../src/recommend/index.js';
import { parseDirectivesFromString } from '../src/seclang/reader.js';
import { detection, metric, ruleMatch } from './helpers/events.js';
import { FakeKubeApi } from './helpers/k8s-fake-api.js';
import { CLI_PATH, cleanupDir, freePort, makeTempDir, runCli } from './helpers/server-process.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

/** Recurring low-score detect-mode detections of one rule on one variable: a false positive. */
function falsePositives(namespace: string, n: number, offsetMs = 0): SecurityEvent[] {
  return Array.from({ length: n }, (_, i) =>
    buildEvent(detection({
      action: 'detect',
      requestId: `${namespace}-fp-${offsetMs}-${i}`,
      ip: `10.0.${i % 8}.${1 + (i % 200)}`,
      uri: `/search?q=union%20select%20members${i}`,
      timeMs: NOW - 2 * HOUR - offsetMs - i * 1000,
      extensions: { namespace, pod: 'web-1', service: 'web' },
      matches: [ruleMatch({ id: 942190, msg: 'Detects MSSQL code execution and information gathering attempts', matchedVar: 'ARGS:q', matchedData: 'union select members' })],
    })),
  );
}

/** Blocked multi-rule detections: an attack, never recommended. */
function attacks(namespace: string, n: number): SecurityEvent[] {
  return Array.from({ length: n }, (_, i) =>
    buildEvent(detection({
      requestId: `${namespace}-atk-${i}`,
      ip: `192.0.2.${1 + (i % 30)}`,
      uri: `/search?q=%3Cscript%3Ealert(${i})%3C%2Fscript%3E&id=1%27%20or%201=1`,
      timeMs: NOW - HOUR - i * 1000,
      extensions: { namespace, pod: 'web-1', service: 'web' },
      matches: [ruleMatch({ id: 941100, matchedVar: 'ARGS:q' }), ruleMatch({ id: 942100, matchedVar: 'ARGS:id' }), ruleMatch({ id: 949110, matchedVar: 'TX:blocking_inbound_anomaly_score' })],
    })),
  );
}

describe('continuous recommender', () => {
  const api = new FakeKubeApi();
  let client: KubeClient;
  before(async () => {
    await api.start();
    client = new KubeClient({ server: api.url, token: api.token });
  });
  after(async () => {
    client.close();
    await api.stop();
  });

  const writes = () => api.requests.filter((r) => /^(POST|PUT) .*\/configmaps/.test(r));
  const controller = (events: EventSource, metrics = new ControllerMetrics({ defaultMetrics: false }), now = NOW) =>
    new RecommendationsController({ client, logger, metrics, events, windowMs: 24 * HOUR, intervalMs: HOUR, now: () => now });

  test('create, unchanged → no write (also after a restart), update on new evidence; namespaces without events get none', async () => {
    let events = [...falsePositives('shop', 30), ...attacks('shop', 40), ...attacks('billing', 5)];
    const source: EventSource = (since, until) => events.filter((e) => Date.parse(e.time) >= since && Date.parse(e.time) < until);
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    const c = controller(source, metrics);

    assert.deepEqual(await c.runOnce(), { billing: 'created', shop: 'created' });
    const cm = api.configmaps.get(`shop/${RECOMMENDATIONS_CONFIGMAP}`)!;
    assert.equal(cm.metadata.labels['app.kubernetes.io/managed-by'], 'sidewall');
    const conf: string = cm.data['exclusions.conf'];
    assert.match(conf, /SecRule REQUEST_FILENAME "@streq \/search" "id:10000,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942190;ARGS:q"/);
    assert.ok(!/ruleRemoveTargetById=94(1100|2100)/.test(conf), `attacks are never recommended:\n${conf}`);
    assert.match(conf, /Nothing here is applied automatically/);
    parseDirectivesFromString(conf, 'exclusions.conf');
    const evidence = JSON.parse(cm.data[EVIDENCE_FILE]);
    assert.equal(evidence.namespace, 'shop');
    assert.equal(evidence.events, 70);
    assert.deepEqual(evidence.recommended, [{ id: 10000, rule: 942190, variable: 'ARGS:q', path: '/search' }]);
    const attack = evidence.groups.find((g: { ruleId: number }) => g.ruleId === 941100);
    assert.equal(attack.recommended, false);
    assert.ok(attack.reasons.some((r: string) => /blocked/.test(r)), attack.reasons.join('; '));
    // billing has only attacks: a ConfigMap saying so, with no exclusion rule in it.
    const billing = api.configmaps.get(`billing/${RECOMMENDATIONS_CONFIGMAP}`)!;
    assert.ok(!/^SecRule/m.test(billing.data['exclusions.conf']));
    assert.equal(api.configmaps.has(`quiet/${RECOMMENDATIONS_CONFIGMAP}`), false);
    // Not applied: no settings ConfigMap and no exclusion annotation were touched.
    assert.ok(!api.requests.some((r) => /sidewall-settings|\/namespaces\/[^/]+$/.test(r) && !r.startsWith('GET')), api.requests.join('\n'));

    const before = writes().length;
    assert.deepEqual(await c.runOnce(), { billing: 'unchanged', shop: 'unchanged' });
    const restarted = controller(source, new ControllerMetrics({ defaultMetrics: false }), NOW + 60_000);
    assert.deepEqual(await restarted.runOnce(), { billing: 'unchanged', shop: 'unchanged' }, 'a later pass over the same evidence does not write');
    assert.equal(writes().length, before);

    events = [...events, ...falsePositives('shop', 10, 10 * HOUR)];
    assert.deepEqual(await c.runOnce(), { billing: 'unchanged', shop: 'updated' });
    const updated = api.configmaps.get(`shop/${RECOMMENDATIONS_CONFIGMAP}`)!;
    assert.notEqual(updated.metadata.annotations[DIGEST_ANNOTATION], cm.metadata.annotations[DIGEST_ANNOTATION]);
    assert.equal(JSON.parse(updated.data[EVIDENCE_FILE]).events, 80);
    assert.equal(writes().length, before + 1);
    const text = await metrics.render();
    assert.equal(metric(text, 'sidewall_controller_recommendations_writes_total{op="create"}'), 2);
    assert.equal(metric(text, 'sidewall_controller_recommendations_writes_total{op="update"}'), 1);
  });

  test('events outside the window are ignored; a namespace whose events all aged out is not written', async () => {
    const old = falsePositives('archive', 30).map((e) => ({ ...e, time: new Date(NOW - 48 * HOUR).toISOString() }));
    const c = controller(() => old.filter((e) => Date.parse(e.time) >= NOW - 24 * HOUR));
    assert.deepEqual(await c.runOnce(), {});
    assert.equal(api.configmaps.has(`archive/${RECOMMENDATIONS_CONFIGMAP}`), false);
  });

  test('a ConfigMap of that name that is not ours is left alone; accepts() limits the namespaces', async () => {
    api.setConfigMap('legacy', RECOMMENDATIONS_CONFIGMAP, { 'exclusions.conf': '# hand-written\n' });
    const events = [...falsePositives('legacy', 30), ...falsePositives('skipped', 30)];
    const c = new RecommendationsController({
      client, logger, metrics: new ControllerMetrics({ defaultMetrics: false }), events: () => events,
      windowMs: 24 * HOUR, intervalMs: HOUR, now: () => NOW, accepts: (ns) => ns !== 'skipped',
    });
    assert.deepEqual(await c.runOnce(), { legacy: 'not-ours' });
    assert.equal(api.configmaps.get(`legacy/${RECOMMENDATIONS_CONFIGMAP}`)!.data['exclusions.conf'], '# hand-written\n');
    assert.equal(api.configmaps.has(`skipped/${RECOMMENDATIONS_CONFIGMAP}`), false);
  });

  test('fileEventSource reads the receiver NDJSON each pass; an unreadable source is an error, not a crash', async () => {
    const dir = makeTempDir('sidewall-recs-');
    try {
      const file = join(dir, 'events.ndjson');
      writeFileSync(file, falsePositives('files', 25).map((e) => JSON.stringify(e)).join('\n') + '\nnot an event line\n');
      const metrics = new ControllerMetrics({ defaultMetrics: false });
      const c = controller(fileEventSource([file], logger), metrics);
      assert.deepEqual(await c.runOnce(), { files: 'created' });
      assert.match(api.configmaps.get(`files/${RECOMMENDATIONS_CONFIGMAP}`)!.data['exclusions.conf'], /ruleRemoveTargetById=942190;ARGS:q/);
      assert.deepEqual(await c.runOnce(), { files: 'unchanged' });
      // The receiver appends: the next pass reads the grown file again.
      appendFileSync(file, falsePositives('files', 10, 5 * HOUR).map((e) => JSON.stringify(e)).join('\n') + '\n');
      assert.deepEqual(await c.runOnce(), { files: 'updated' });
      assert.equal(JSON.parse(api.configmaps.get(`files/${RECOMMENDATIONS_CONFIGMAP}`)!.data[EVIDENCE_FILE]).events, 35);
      // A second file in a directory source is picked up; a removed one is forgotten.
      const more = join(dir, 'more');
      mkdirSync(more);
      writeFileSync(join(more, 'a.ndjson'), falsePositives('files', 5, 9 * HOUR).map((e) => JSON.stringify(e)).join('\n') + '\n');
      const d = controller(fileEventSource([file, more], logger), metrics);
      await d.runOnce();
      assert.equal(JSON.parse(api.configmaps.get(`files/${RECOMMENDATIONS_CONFIGMAP}`)!.data[EVIDENCE_FILE]).events, 40);
      rmSync(join(more, 'a.ndjson'));
      await d.runOnce();
      assert.equal(JSON.parse(api.configmaps.get(`files/${RECOMMENDATIONS_CONFIGMAP}`)!.data[EVIDENCE_FILE]).events, 35);
      const broken = controller(() => {
        throw new Error('disk gone');
      }, metrics);
      assert.deepEqual(await broken.runOnce(), {});
      assert.equal(metric(await metrics.render(), 'sidewall_controller_recommendation_errors_total'), 1);
    } finally {
      cleanupDir(dir);
    }
  });
});

describe('sidewall controller --recommend-events (real process, local Kubernetes API)', () => {
  test('writes sidewall-recommendations for WAF-enabled namespaces with events, none elsewhere, and never touches their exclusions', { timeout: 30_000 }, async () => {
    const api = new FakeKubeApi();
    await api.start();
    const dir = makeTempDir('sidewall-recs-ctl-');
    api.setNamespace('shop', { 'sidewall.io/waf': 'enabled', 'sidewall.io/mode': 'detect' });
    api.setNamespace('other', {});
    api.setNamespace('quiet', { 'sidewall.io/waf': 'enabled' });
    api.webhookConfigs.set('sidewall', {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'sidewall' },
      webhooks: [{ name: 'inject.sidewall.io', clientConfig: { service: { name: 'sidewall-controller', namespace: 'sidewall-system', path: '/mutate' } } }],
    });
    const now = Date.now();
    const shift = (e: SecurityEvent) => ({ ...e, time: new Date(Date.parse(e.time) - NOW + now).toISOString() });
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, [...falsePositives('shop', 30), ...falsePositives('other', 30)].map((e) => JSON.stringify(shift(e))).join('\n') + '\n');
    const child = spawn(process.execPath, [CLI_PATH, 'controller', '--kube-api', api.url, '--kube-token', api.token, '--namespace', 'sidewall-system',
      '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${await freePort()}`, '--recommend-events', file, '--recommend-window', '1d', '--recommend-interval', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await api.waitFor(() => api.configmaps.has(`shop/${RECOMMENDATIONS_CONFIGMAP}`), 'recommendations ConfigMap', 15_000).catch((err) => {
        throw new Error(`${(err as Error).message}\ncontroller output:\n${out}`);
      });
      assert.match(api.configmaps.get(`shop/${RECOMMENDATIONS_CONFIGMAP}`)!.data['exclusions.conf'], /ctl:ruleRemoveTargetById=942190;ARGS:q/);
      // Two more passes (interval 1 s): same evidence, no further write.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(api.requests.filter((r) => /^(POST|PUT) .*sidewall-recommendations/.test(r) || /^POST \/api\/v1\/namespaces\/shop\/configmaps$/.test(r)).length, 2, 'settings ConfigMap + one recommendations ConfigMap');
      assert.equal(api.configmaps.has(`other/${RECOMMENDATIONS_CONFIGMAP}`), false, 'WAF not enabled: no recommendations');
      assert.equal(api.configmaps.has(`quiet/${RECOMMENDATIONS_CONFIGMAP}`), false, 'no events: no recommendations');
      assert.doesNotMatch(api.configmaps.get('shop/sidewall-settings')!.data['settings.yaml'], /exclusions: true/, 'nothing applied');
      assert.match(out, /recommendations ConfigMap created \(not applied; review it\)/);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      await api.stop();
      cleanupDir(dir);
    }
  });
});

test('controller: bad --recommend-* flags → exit 2 naming the flag', async () => {
  for (const [args, re] of [
    [['--recommend-events', '/tmp/x', '--recommend-window', 'soon'], /--recommend-window: must be a duration like 7d/],
    [['--recommend-events', '/tmp/x', '--recommend-interval', '0s'], /--recommend-interval: must be a duration/],
    [['--recommend-interval', '1h'], /need --recommend-events PATH/],
  ] as const) {
    const r = await runCli(['controller', '--kube-api', 'http://127.0.0.1:1', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('evidence.json stays within the ConfigMap budget: every recommended group kept, the rest cut and counted', () => {
  const group = (i: number, recommended: boolean): GroupDecision => ({
    namespace: 'shop', ruleId: 942000 + (i % 1000), msg: 'x'.repeat(100), pathTemplate: `/p/${i}`, variable: `ARGS:a${i}`,
    detections: 1, requests: 1, sources: 1, firstTime: '2026-11-30T00:00:00Z', lastTime: '2026-11-30T00:00:00Z', scoreP90: 5,
    blockedShare: 0, cooccurShare: 0, cooccurringRules: [], samples: ['y'.repeat(200)], recommended, reasons: ['only 1 requests (< 20)'],
  });
  const groups = [...Array.from({ length: 30 }, (_, i) => group(i, true)), ...Array.from({ length: 5000 }, (_, i) => group(100 + i, false))];
  const text = boundedEvidence({ namespace: 'shop' }, groups);
  assert.ok(Buffer.byteLength(text) <= EVIDENCE_MAX_BYTES, String(Buffer.byteLength(text)));
  const doc = JSON.parse(text) as { groups: GroupDecision[]; groups_omitted: number };
  assert.equal(doc.groups.filter((g) => g.recommended).length, 30);
  assert.equal(doc.groups.length + doc.groups_omitted, 5030);
  assert.ok(doc.groups_omitted > 0);
  const small = JSON.parse(boundedEvidence({}, groups.slice(0, 40))) as { groups: unknown[]; groups_omitted?: number };
  assert.equal(small.groups.length, 40);
  assert.equal(small.groups_omitted, undefined);
});
