// Staged policies: annotations → settings.yaml → staged engine; the shadow evaluator never touches
// the enforced verdict (real server over gRPC, compared with the same settings unstaged), counts
// disagreements and emits events marked staged; sampling and the bounded queue.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { readAnnotations, resolveNamespacePolicy, resolvePodPolicy } from '../src/k8s/annotations.js';
import { parseRenderedSettings, renderSettingsConfigMap } from '../src/k8s/settings-render.js';
import type { HttpRequest, Verdict } from '../src/engine/api.js';
import type { Detection } from '../src/events/schema.js';
import { buildEvent } from '../src/events/build-event.js';
import { parseSettingsText } from '../src/settings/settings-file.js';
import { formatPodSettings, parsePodSettings } from '../src/settings/pod-settings.js';
import { resolveSettings } from '../src/settings/effective.js';
import { DEFAULT_STAGED_SAMPLE_RATE, resolveStaged } from '../src/settings/staged.js';
import { ShadowEvaluator, StagedMetrics, disagreement } from '../src/server/shadow.js';
import type { StagedEngine } from '../src/server/engine-provider.js';
import type { CheckContext } from '../src/server/check-mapper.js';
import { CheckClient, type RequestSpec } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, startServer, type LogLine, type ServerProcess } from './helpers/server-process.js';
import { eventually, fetchMetrics, metricValue } from './helpers/settings-dir.js';
import { detection } from './helpers/events.js';

describe('staged settings: annotations, rendering, settings.yaml, --pod-settings', () => {
  test('namespace annotations → rendered settings.yaml → parsed back', () => {
    const { policy, problems } = resolveNamespacePolicy(
      {
        'sidewall.io/waf': 'enabled',
        'sidewall.io/mode': 'detect',
        'sidewall.io/staged-mode': 'block',
        'sidewall.io/staged-paranoia-level': '2',
        'sidewall.io/staged-anomaly-threshold': '7',
        'sidewall.io/staged-exclusions': 'shop-staged',
        'sidewall.io/staged-sample-rate': '0.25',
      },
      null,
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(policy.settings.staged, { mode: 'block', paranoiaLevel: 2, anomalyThreshold: 7, exclusions: 'shop-staged', sampleRate: 0.25 });
    const cm = renderSettingsConfigMap('shop', policy.settings, '', 'SecRuleRemoveById 1001\n');
    const yaml = cm.data!['settings.yaml']!;
    assert.match(yaml, /\nstaged_mode: block\nstaged_paranoia_level: 2\nstaged_anomaly_threshold: 7\nstaged_exclusions: true\nstaged_sample_rate: 0.25\n$/);
    assert.equal(cm.data!['staged-exclusions.conf'], 'SecRuleRemoveById 1001\n');
    const parsed = parseSettingsText(yaml, 'settings.yaml');
    assert.equal(parsed.stagedMode, 'block');
    assert.equal(parsed.stagedParanoiaLevel, 2);
    assert.equal(parsed.stagedAnomalyThreshold, 7);
    assert.equal(parsed.stagedExclusions, true);
    assert.equal(parsed.stagedSampleRate, 0.25);
    // A restarted controller reads the staged values back as the last valid ones.
    assert.deepEqual(parseRenderedSettings(yaml)?.staged, { mode: 'block', paranoiaLevel: 2, anomalyThreshold: 7, sampleRate: 0.25 });
  });

  test('nothing staged: the ConfigMap data is exactly as before (no staged keys, no staged file)', () => {
    const { policy } = resolveNamespacePolicy({ 'sidewall.io/waf': 'enabled' }, null);
    const cm = renderSettingsConfigMap('shop', policy.settings, '');
    assert.deepEqual(Object.keys(cm.data!).sort(), ['exclusions.conf', 'settings.yaml']);
    assert.doesNotMatch(cm.data!['settings.yaml']!, /staged/);
  });

  test('invalid staged values are reported and keep the previous valid value', () => {
    const first = resolveNamespacePolicy({ 'sidewall.io/staged-paranoia-level': '3', 'sidewall.io/staged-sample-rate': '0.5' }, null).policy;
    const { policy, problems } = resolveNamespacePolicy({ 'sidewall.io/staged-paranoia-level': '9', 'sidewall.io/staged-sample-rate': '1.5' }, first);
    assert.deepEqual(problems.map((p) => p.key).sort(), ['sidewall.io/staged-paranoia-level', 'sidewall.io/staged-sample-rate']);
    assert.match(problems.find((p) => p.key === 'sidewall.io/staged-sample-rate')!.problem, /greater than 0 and at most 1/);
    assert.deepEqual(policy.settings.staged, { paranoiaLevel: 3, sampleRate: 0.5 });
    for (const bad of ['0', '-0.1', 'abc', '.', '', '1.01', '10%']) {
      assert.equal(readAnnotations({ 'sidewall.io/staged-sample-rate': bad }).problems.length, 1, bad);
    }
    for (const good of ['1', '0.1', '.5', '1.0']) assert.deepEqual(readAnnotations({ 'sidewall.io/staged-sample-rate': good }).problems, [], good);
  });

  test('pod annotations: staged keys go to --pod-settings (round trip); staged exclusions are namespace-only', () => {
    const ns = resolveNamespacePolicy({ 'sidewall.io/waf': 'enabled', 'sidewall.io/staged-paranoia-level': '2' }, null).policy;
    const pod = resolvePodPolicy({ 'sidewall.io/staged-mode': 'block', 'sidewall.io/staged-sample-rate': '0.5', 'sidewall.io/staged-exclusions': 'x' }, ns);
    assert.deepEqual(pod.problems.map((p) => p.key), ['sidewall.io/staged-exclusions']);
    assert.deepEqual(pod.settings.staged, { paranoiaLevel: 2, mode: 'block', sampleRate: 0.5 });
    const flag = formatPodSettings(pod.podSettings);
    assert.equal(flag, 'staged_mode=block,staged_sample_rate=0.5');
    assert.deepEqual(parsePodSettings(flag), { stagedMode: 'block', stagedSampleRate: 0.5 });
    assert.throws(() => parsePodSettings('staged_sample_rate=2'), /--pod-settings: staged_sample_rate: must be a number greater than 0/);
  });

  test('resolveStaged: staged keys over the enforced settings; the sample rate alone stages nothing', () => {
    const enforced = resolveSettings({ mode: null }, null, { mode: 'detect', paranoiaLevel: 1 }, { text: 'SecRuleRemoveById 1\n', file: 'ex.conf' });
    assert.equal(resolveStaged(enforced, { stagedSampleRate: 1 }, {}, null), null);
    const p = resolveStaged(enforced, { stagedParanoiaLevel: 2 }, { stagedMode: 'block' }, null)!;
    assert.equal(p.sampleRate, DEFAULT_STAGED_SAMPLE_RATE);
    assert.deepEqual(p.settings, { waf: 'enabled', mode: 'block', paranoiaLevel: 2, anomalyThreshold: null, exclusions: enforced.exclusions });
    assert.deepEqual(p.staged, { sample_rate: DEFAULT_STAGED_SAMPLE_RATE, mode: 'block', paranoia_level: 2 });
    // Staged exclusions replace the enforced ones (they are the complete set, as once promoted).
    const q = resolveStaged(enforced, {}, {}, { text: 'SecRuleRemoveById 2\n', file: 'staged.conf' })!;
    assert.equal(q.settings.exclusions?.file, 'staged.conf');
  });
});

function verdict(action: Verdict['action'], ruleIds: number[] = []): Verdict {
  return {
    action,
    mode: action === 'detect' ? 'detect' : 'block',
    status: 403,
    redirectUrl: null,
    interruptingRuleId: 0,
    ruleIds,
    matches: [],
    anomalyScore: 0,
    requestId: 'r',
    requestBodyError: null,
    bodyPartial: false,
  };
}

describe('shadow evaluator (in process)', () => {
  const logger = pino({ level: 'silent' });
  const sample = detection();
  const context: CheckContext = sample.context;
  const request = { id: 'r', method: 'GET', uri: '/', protocol: 'HTTP/1.1', headers: [], body: null, bodyPartial: false } as unknown as HttpRequest;
  const engineAnswering = (v: Verdict, calls: { n: number }): StagedEngine => ({
    engine: { mode: 'block', ruleCount: 1, evaluate: () => (calls.n++, v) },
    sampleRate: 1,
    staged: { sample_rate: 1, paranoia_level: 2 },
  });

  test('disagreement kinds: detect blocks nothing', () => {
    assert.equal(disagreement(verdict('allow'), verdict('deny')), 'would_block');
    assert.equal(disagreement(verdict('detect'), verdict('deny')), 'would_block');
    assert.equal(disagreement(verdict('deny'), verdict('detect')), 'would_allow');
    assert.equal(disagreement(verdict('deny'), verdict('deny')), null);
    assert.equal(disagreement(verdict('allow'), verdict('detect')), null);
  });

  test('offer() never evaluates on the check path; the drain runs on a later turn', async () => {
    const calls = { n: 0 };
    const shadow = new ShadowEvaluator({ metrics: new StagedMetrics(new Registry()), logger, events: null });
    shadow.offer(engineAnswering(verdict('deny'), calls), verdict('allow'), context, request);
    assert.equal(calls.n, 0, 'evaluated synchronously');
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.n, 1);
  });

  test('bounded queue drops when full, busy drops, sampling draws per request', async () => {
    const registry = new Registry();
    const calls = { n: 0 };
    let busy = false;
    let draw = 0;
    const draws = [0.05, 0.5, 0.2, 0.09];
    const shadow = new ShadowEvaluator({ metrics: new StagedMetrics(registry), logger, events: null, queueMax: 3, busy: () => busy, random: () => draws[draw++ % draws.length]! });
    const engine = engineAnswering(verdict('deny'), calls);
    for (let i = 0; i < 5; i++) shadow.offer(engine, verdict('allow'), context, request);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.n, 3);
    busy = true;
    shadow.offer(engine, verdict('allow'), context, request);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.n, 3);
    busy = false;
    const sampled = { ...engine, sampleRate: 0.1 };
    for (let i = 0; i < 4; i++) shadow.offer(sampled, verdict('allow'), context, request);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.n, 5, 'draws 0.05 and 0.09 are below 0.1');
    const text = await registry.metrics();
    assert.equal(metricValue(text, 'sidewall_staged_dropped_total{reason="queue_full"}'), 2);
    assert.equal(metricValue(text, 'sidewall_staged_dropped_total{reason="busy"}'), 1);
    assert.equal(metricValue(text, 'sidewall_staged_checks_total'), 5);
    assert.equal(metricValue(text, 'sidewall_staged_disagreements_total{kind="would_block"}'), 5);
  });

  test('a staged evaluation that throws is counted, never propagated', async () => {
    const registry = new Registry();
    const shadow = new ShadowEvaluator({ metrics: new StagedMetrics(registry), logger, events: null });
    const broken: StagedEngine = { engine: { mode: 'block', ruleCount: 1, evaluate: () => { throw new Error('boom'); } }, sampleRate: 1, staged: { sample_rate: 1 } };
    shadow.offer(broken, verdict('allow'), context, request);
    await new Promise((r) => setImmediate(r));
    assert.equal(metricValue(await registry.metrics(), 'sidewall_staged_errors_total'), 1);
  });

  test('staged events are marked, carry the policy, no status, and never aggregate with enforced ones', () => {
    const d: Detection = { ...detection(), staged: { policy: { sample_rate: 1, paranoia_level: 2 }, enforced: 'allow', disagreement: 'would_block' } };
    const e = buildEvent(d);
    assert.equal(e.staged, true);
    assert.deepEqual(e.staged_policy, { sample_rate: 1, paranoia_level: 2 });
    assert.equal(e.enforced_action, 'allow');
    assert.equal(e.disagreement, 'would_block');
    assert.equal(e.status, undefined);
    const plain = buildEvent(detection());
    assert.equal(plain.staged, undefined);
    assert.equal(plain.staged_policy, undefined);
  });
});

// Detection rules in phase 2, so phase-1 ctl exclusions (appended after the base) apply to them,
// as with CRS. Scores: 1001 adds 5 for "attack", 1002 adds 5 for "probe"; 1100 denies at the threshold.
const RULES = `SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.inbound_anomaly_score_threshold=5"
SecRule ARGS "@contains attack" "id:1001,phase:2,pass,log,msg:'test attack',setvar:tx.score=+5"
SecRule ARGS "@contains probe" "id:1002,phase:2,pass,log,msg:'test probe',setvar:tx.score=+5"
SecRule TX:score "@ge %{tx.inbound_anomaly_score_threshold}" "id:1100,phase:2,deny,status:403,log,msg:'anomaly score'"
`;

function writeNamespace(root: string, ns: string, files: Record<string, string>): void {
  mkdirSync(join(root, ns), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, ns, name), name === 'settings.yaml' ? `version: 1\nnamespace: ${ns}\nwaf: enabled\n${text}` : text);
}

describe('staged policies over real gRPC (gateway layout, real process)', () => {
  let dir: string;
  let server: ServerProcess;
  let client: CheckClient;
  const stagedEvents = () => server.logs.filter((l: LogLine) => (l.security_event as { staged?: boolean } | undefined)?.staged === true);

  before(async () => {
    dir = makeTempDir('sidewall-staged-');
    const settingsDir = join(dir, 'settings');
    // tight: enforced blocks at 5; staged threshold 100 would allow → would_allow.
    writeNamespace(settingsDir, 'tight', { 'settings.yaml': 'mode: block\nstaged_anomaly_threshold: 100\nstaged_sample_rate: 1\n' });
    writeNamespace(settingsDir, 'tight-ref', { 'settings.yaml': 'mode: block\n' });
    // loose: enforced threshold 100 allows; staged threshold 5 would block → would_block.
    writeNamespace(settingsDir, 'loose', { 'settings.yaml': 'mode: block\nanomaly_threshold: 100\nstaged_anomaly_threshold: 5\nstaged_sample_rate: 1\n' });
    writeNamespace(settingsDir, 'loose-ref', { 'settings.yaml': 'mode: block\nanomaly_threshold: 100\n' });
    // excl: staged exclusions remove the "probe" rule for ARGS:q only.
    writeNamespace(settingsDir, 'excl', {
      'settings.yaml': 'mode: block\nstaged_exclusions: true\nstaged_sample_rate: 1\n',
      'staged-exclusions.conf': 'SecRule REQUEST_FILENAME "@beginsWith /search" "id:9001,phase:1,pass,nolog,ctl:ruleRemoveTargetById=1002;ARGS:q"\n',
    });
    writeNamespace(settingsDir, 'excl-ref', { 'settings.yaml': 'mode: block\n' });
    const rulesFile = join(dir, 'rules.conf');
    writeFileSync(rulesFile, RULES);
    const config = 'events:\n  log: true\n  aggregation: { window_ms: 0 }\n';
    server = await startServer({ rulesFile, config, args: ['--settings-dir', settingsDir] });
    client = new CheckClient(server.grpcAddress);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    cleanupDir(dir);
  });

  const PATHS = ['/?q=hello', '/?q=attack', '/?q=probe', '/search?q=probe', '/search?q=probe&x=attack', '/search?x=probe', '/?a=attack&b=probe'];
  const answer = async (ns: string, path: string) => {
    const r = await client.check({ path, contextExtensions: { namespace: ns } } as RequestSpec);
    return { allowed: r.allowed, code: r.code, httpStatus: r.httpStatus, action: r.metadata.waf_action, rules: r.metadata.waf_rule_ids, score: r.metadata.waf_anomaly_score };
  };

  test('enforced verdicts are exactly those of the same settings without anything staged', async () => {
    for (const [staged, ref] of [['tight', 'tight-ref'], ['loose', 'loose-ref'], ['excl', 'excl-ref']] as const) {
      for (const path of PATHS) {
        // Several rounds so shadow evaluations of earlier requests run in between.
        for (let i = 0; i < 3; i++) assert.deepEqual(await answer(staged, path), await answer(ref, path), `${staged} ${path}`);
      }
    }
    // The staged policies did run (so the comparison above is not vacuous).
    const text = await fetchMetrics(server.adminUrl);
    assert.ok((metricValue(text, 'sidewall_staged_checks_total') ?? 0) >= PATHS.length * 3 * 3, text.match(/sidewall_staged.*/g)?.join('\n'));
  });

  test('disagreements are counted by kind and the staged events say what the staged policy would do', async () => {
    const before = await fetchMetrics(server.adminUrl);
    const wb0 = metricValue(before, 'sidewall_staged_disagreements_total{kind="would_block"}') ?? 0;
    const wa0 = metricValue(before, 'sidewall_staged_disagreements_total{kind="would_allow"}') ?? 0;
    const checks0 = metricValue(before, 'sidewall_staged_checks_total') ?? 0;
    const events0 = stagedEvents().length;
    const id = `staged-${Date.now()}`;
    // loose: attack allowed (score 5 < 100); staged (5) would block.
    const loose = await client.check({ path: '/?q=attack', requestId: `${id}-loose`, contextExtensions: { namespace: 'loose' } });
    assert.equal(loose.allowed, true);
    // tight: attack denied; staged (100) would allow.
    const tight = await client.check({ path: '/?q=attack', requestId: `${id}-tight`, contextExtensions: { namespace: 'tight' } });
    assert.equal(tight.allowed, false);
    // excl: /search?q=probe denied; staged exclusion removes 1002 for ARGS:q → would allow.
    const excl = await client.check({ path: '/search?q=probe', requestId: `${id}-excl`, contextExtensions: { namespace: 'excl' } });
    assert.equal(excl.allowed, false);
    // excl, attack elsewhere: the exclusion is narrow, staged still blocks → no disagreement.
    const exclAttack = await client.check({ path: '/search?q=probe&x=attack', requestId: `${id}-excl2`, contextExtensions: { namespace: 'excl' } });
    assert.equal(exclAttack.allowed, false);
    await eventually(async () => (metricValue(await fetchMetrics(server.adminUrl), 'sidewall_staged_checks_total') ?? 0) >= checks0 + 4, 5000, 'staged checks');
    const after = await fetchMetrics(server.adminUrl);
    assert.equal(metricValue(after, 'sidewall_staged_disagreements_total{kind="would_block"}'), wb0 + 1);
    assert.equal(metricValue(after, 'sidewall_staged_disagreements_total{kind="would_allow"}'), wa0 + 2);
    const byId = (rid: string) => stagedEvents().map((l) => l.security_event as Record<string, any>).filter((e) => e.request_id === rid);
    // Each of the four requests has its staged event (log lines arrive in any order and later than the metrics).
    await eventually(async () => stagedEvents().length >= events0 + 4 && ['loose', 'tight', 'excl', 'excl2'].every((k) => byId(`${id}-${k}`).length > 0), 10_000, 'staged events');
    const [lb] = byId(`${id}-loose`);
    assert.equal(lb?.verdict, 'blocked');
    assert.equal(lb?.enforced_action, 'allow');
    assert.equal(lb?.disagreement, 'would_block');
    assert.deepEqual(lb?.staged_policy, { sample_rate: 1, anomaly_threshold: 5 });
    assert.equal(lb?.status, undefined);
    const [ta] = byId(`${id}-tight`);
    assert.equal(ta?.verdict, 'detected');
    assert.equal(ta?.disagreement, 'would_allow');
    const [ex] = byId(`${id}-excl`);
    assert.equal(ex?.disagreement, 'would_allow');
    assert.match(String(ex?.staged_policy?.exclusions), /excl\/staged-exclusions\.conf$/);
    // Same answer, fewer rules (1002 excluded on ARGS:q): a staged event without disagreement.
    const ex2 = byId(`${id}-excl2`);
    assert.deepEqual(ex2.map((e) => e.rules.map((r: { id: number }) => r.id)), [[1001, 1100]]);
    assert.equal(ex2[0]!.disagreement, undefined);
    assert.equal(ex2[0]!.verdict, 'blocked');
    // The enforced events of the same requests are unmarked.
    const enforced = server.logs.map((l) => l.security_event as Record<string, any> | undefined).filter((e) => e?.request_id === `${id}-tight`);
    assert.equal(enforced.filter((e) => e!.staged === undefined).length, 1);
    assert.equal(enforced.find((e) => e!.staged === undefined)!.verdict, 'blocked');
  });
});
