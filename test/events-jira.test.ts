// The jira webhook format against a local Jira REST receiver (POST /rest/api/2/issue as Jira
// documents it): the created issue's fields, escaping of attacker-controlled text, the sink's
// behaviour on Jira's 4xx (dropped, counted, not retried) and 429 Retry-After (retried), and the
// config keys.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { buildEvent } from '../src/events/build-event.js';
import { EVENTS_DEFAULTS, type WebhookConfig } from '../src/events/config.js';
import { jiraIssue, JIRA_LIMITS } from '../src/events/formats/jira.js';
import type { SecurityEvent } from '../src/events/schema.js';
import { WebhookSink } from '../src/events/webhook-sink.js';
import { Metrics } from '../src/server/metrics.js';
import { detection, metric, ruleMatch, waitUntil } from './helpers/events.js';
import { cleanupDir, makeTempDir, writeFiles } from './helpers/server-process.js';
import { startJira } from './receivers/jira-rest.js';

const dir = makeTempDir('sidewall-jira-');
after(() => cleanupDir(dir));
const logger = pino({ level: 'silent' });
const JIRA = { projectKey: 'SEC', issueType: 'Bug', labels: ['waf'] };

function jiraSink(base: string, over: Partial<WebhookConfig> = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const config: WebhookConfig = {
    name: 'jira', url: `${base}/rest/api/2/issue`, secret: 'hmac-unused-by-jira', format: 'jira',
    batch: { maxEvents: 100, maxBytes: 1024 * 1024, maxDelayMs: 30 }, retry: { initialMs: 20, maxMs: 200, maxRetryAfterMs: 10_000 },
    timeoutMs: 2000, filter: { minSeverity: null, verdicts: null, namespaces: null }, queue: { ...EVENTS_DEFAULTS.queue }, spool: null,
    source: '/sidewall/test', jira: JIRA, ...over,
  };
  const sink = new WebhookSink({ config, metrics: metrics.events.sink('jira'), logger, userAgent: 'sidewall/test' });
  const send = (e: SecurityEvent) => sink.write(e, JSON.stringify(e), Date.now());
  return { sink, metrics, send };
}

describe('jira format', () => {
  test('a batch becomes one issue in the configured project with rule ids, request ids, paths, namespace/pod and labels', async () => {
    const jira = await startJira({ projects: [{ key: 'SEC', issueTypes: ['Bug', 'Task'] }], auth: null });
    const { sink, metrics, send } = jiraSink(jira.base);
    try {
      const a = buildEvent(detection({ requestId: 'jr-1', uri: '/item?id=1%27or', matches: [ruleMatch({ id: 942100 }), ruleMatch({ id: 949110, msg: 'Inbound Anomaly Score Exceeded' })] }));
      const b = buildEvent(detection({ requestId: 'jr-2', action: 'detect', uri: '/search?q=<script>', extensions: { namespace: 'billing', pod: 'api-5d4', service: 'api' }, matches: [ruleMatch({ id: 941100, matchedVar: 'ARGS:q' })] }));
      send(a);
      send(b);
      await waitUntil(() => jira.issues.size === 1, 5000, () => JSON.stringify(jira.log));
      assert.deepEqual(jira.log.map((l) => `${l.method} ${l.path} ${l.status}`), ['POST /rest/api/2/issue 201']);
      const issue = jira.issues.get('SEC-1')!;
      assert.equal(issue.fields.project.key, 'SEC');
      assert.equal(issue.fields.issuetype.name, 'Bug');
      assert.equal(issue.fields.summary, 'Sidewall: 2 security events (1 blocked) on shop/web-7f9c, billing/api-5d4');
      const d = issue.fields.description;
      for (const needle of ['942100, 949110', '941100', 'jr\\-1', 'jr\\-2', '/item\\?id=1%27or', '/search\\?q=<script>', a.id.replace(/-/g, '\\-'), b.id.replace(/-/g, '\\-')]) {
        assert.ok(d.includes(needle), `description lacks ${needle}:\n${d}`);
      }
      assert.match(d, /\|\|Namespace\|\{\{billing\}\}\|/);
      assert.match(d, /\|\|Pod\|\{\{api\\-5d4\}\}\|/);
      assert.match(d, /\|\|Namespace\|\{\{shop\}\}\|/);
      assert.deepEqual(issue.fields.labels.sort(), ['namespace-billing', 'namespace-shop', 'rule-941100', 'rule-942100', 'rule-949110', 'sidewall', 'sidewall-blocked', 'sidewall-detected', 'waf']);
      await waitUntil(async () => metric(await metrics.render(), 'sidewall_events_delivered_total{sink="jira"}') === 2, 5000);
      // Read back through the API as an operator's script would.
      const got = (await (await fetch(`${jira.base}/rest/api/2/issue/SEC-1`)).json()) as { key: string; fields: { summary: string } };
      assert.equal(got.fields.summary, issue.fields.summary);
    } finally {
      await sink.close(Date.now() + 1000);
      await jira.close();
    }
  });

  test('one event: the summary names verdict, path, workload and rules; batch.max_events 1 gives one issue per event', async () => {
    const jira = await startJira({ projects: [{ key: 'SEC', issueTypes: ['Bug'] }], auth: null });
    const { sink, send } = jiraSink(jira.base, { batch: { maxEvents: 1, maxBytes: 1024 * 1024, maxDelayMs: 0 } });
    try {
      for (let i = 0; i < 3; i++) send(buildEvent(detection({ requestId: `one-${i}`, uri: `/p${i}` })));
      await waitUntil(() => jira.issues.size === 3, 5000, () => JSON.stringify(jira.log));
      assert.deepEqual([...jira.issues.values()].map((i) => i.fields.summary), [0, 1, 2].map((i) => `Sidewall blocked: GET /p${i} on shop/web-7f9c (rules 942100)`));
    } finally {
      await sink.close(Date.now() + 1000);
      await jira.close();
    }
  });

  test('attacker-controlled text cannot inject wiki markup or break the summary line; limits hold', () => {
    const evil = buildEvent(detection({
      uri: '/x?a={noformat}|[link|http://evil]*bold*\nline',
      matches: [ruleMatch({ id: 942100, msg: 'msg {color:red}', matchedVar: 'ARGS:a', matchedData: '{noformat}||x||' })],
    }));
    const many = Array.from({ length: 80 }, (_, i) => buildEvent(detection({ requestId: `m-${i}`, uri: '/' + 'y'.repeat(3000) })));
    const one = jiraIssue([evil], JIRA).fields;
    assert.ok(!/\{noformat\}|\{color/.test(one.description.replace(/\\[{}]/g, '')), one.description);
    assert.ok(!one.description.includes('[link|'), 'links are escaped');
    assert.ok(!/[\r\n]/.test(one.summary));
    const big = jiraIssue(many, JIRA).fields;
    assert.ok(big.description.length <= JIRA_LIMITS.description);
    assert.ok(big.summary.length <= JIRA_LIMITS.summary);
    assert.ok(big.labels.every((l) => !/\s/.test(l)));
  });

  test('Jira 4xx (unknown project) drops the batch once, counted as rejected; 429 with Retry-After is retried', async () => {
    const jira = await startJira({ projects: [{ key: 'SEC', issueTypes: ['Bug'] }], auth: null });
    const bad = jiraSink(jira.base, { jira: { projectKey: 'NOPE', issueType: 'Bug', labels: [] } });
    try {
      bad.send(buildEvent(detection({ requestId: 'lost' })));
      await waitUntil(async () => metric(await bad.metrics.render(), 'sidewall_events_dropped_total{sink="jira",reason="rejected"}') === 1, 5000);
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(jira.log.map((l) => l.status), [400], 'a 400 is not retried');
      assert.equal(jira.issues.size, 0);
    } finally {
      await bad.sink.close(Date.now() + 1000);
    }
    const good = jiraSink(jira.base);
    try {
      jira.log.length = 0;
      jira.failNext({ status: 429, headers: { 'retry-after': '0' } }, { status: 503 });
      good.send(buildEvent(detection({ requestId: 'later' })));
      await waitUntil(async () => metric(await good.metrics.render(), 'sidewall_events_delivered_total{sink="jira"}') === 1, 5000, () => JSON.stringify(jira.log));
      assert.deepEqual(jira.log.map((l) => l.status), [429, 503, 201]);
      assert.equal(jira.issues.size, 1);
      const text = await good.metrics.render();
      assert.equal(metric(text, 'sidewall_events_retries_total{sink="jira"}'), 2);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="jira"}'), 1);
    } finally {
      await good.sink.close(Date.now() + 1000);
      await jira.close();
    }
  });
});

describe('jira config', () => {
  const load = (text: string) => loadConfig({ cwd: dir, file: writeFiles(dir, { 'c.yaml': text })['c.yaml'] });
  const err = (text: string): string => {
    try {
      load(text);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    return assert.fail('no error');
  };

  test('project key, issue type (default Task) and labels', () => {
    const c = load('events:\n  webhooks:\n    - { name: j, url: "https://jira.example.com/rest/api/2/issue", secret: s, format: jira, jira: { project_key: SEC, labels: [waf, prod] } }\n');
    assert.deepEqual(c.events!.webhooks[0]!.jira, { projectKey: 'SEC', issueType: 'Task', labels: ['waf', 'prod'] });
    const t = load('events:\n  webhooks:\n    - { url: "https://j/rest/api/2/issue", secret: s, format: jira, jira: { project_key: OPS_2, issue_type: Security Incident } }\n');
    assert.equal(t.events!.webhooks[0]!.jira!.issueType, 'Security Incident');
  });

  test('errors name the key', () => {
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: jira }\n'), /events\.webhooks\[0\]\.jira: format jira needs jira\.project_key/);
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: jira, jira: { issue_type: Bug } }\n'), /events\.webhooks\[0\]\.jira\.project_key: is required/);
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: jira, jira: { project_key: sec } }\n'), /events\.webhooks\[0\]\.jira\.project_key: must be a Jira project key/);
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: json, jira: { project_key: SEC } }\n'), /events\.webhooks\[0\]\.jira: only applies to format: jira/);
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: jira, jira: { project_key: SEC, labels: ["a b"] } }\n'), /jira\.labels\[0\]: Jira labels cannot contain spaces/);
    assert.match(err('events:\n  webhooks:\n    - { url: "http://j", secret: s, format: jira, jira: { project_key: SEC, epic: X } }\n'), /jira\.epic: unknown key/);
  });
});
