// Webhook authentication (basic / bearer, secrets from files) against receivers that reject
// missing or wrong credentials: the Jira REST stand-in (Basic email:api-token, Bearer PAT) and
// a plain collector. HMAC signing becomes optional with auth. Secrets never reach logs, errors,
// JSON or inspect output. Bad config names the key and the file.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { buildEvent } from '../src/events/build-event.js';
import type { WebhookConfig } from '../src/events/config.js';
import { WebhookSink } from '../src/events/webhook-sink.js';
import { Metrics } from '../src/server/metrics.js';
import { detection, metric, startCollector, waitUntil } from './helpers/events.js';
import { CheckClient } from './helpers/check-client.js';
import { BLOCK_RULES, cleanupDir, makeTempDir, startServer, writeFiles } from './helpers/server-process.js';
import { startJira } from './receivers/jira-rest.js';

const dir = makeTempDir('sidewall-webhook-auth-');
after(() => cleanupDir(dir));

const PASSWORD = 'atl-api-token-Zq9x!pass';
const TOKEN = 'pat-0123456789abcdefXYZ';
const files = writeFiles(dir, { 'password': `${PASSWORD}\n`, 'token': `${TOKEN}\n`, 'wrong-token': 'pat-wrong\n' });

function configFile(text: string) {
  return loadConfig({ cwd: dir, file: writeFiles(dir, { 'c.yaml': text })['c.yaml'] });
}

/** A sink from a config file's first webhook, with its log lines captured. */
function sinkFromConfig(text: string) {
  const config = configFile(text).events!.webhooks[0]! as WebhookConfig;
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
  const metrics = new Metrics({ defaultMetrics: false });
  const sink = new WebhookSink({ config: { ...config, batch: { ...config.batch, maxDelayMs: 20 }, retry: { initialMs: 20, maxMs: 100, maxRetryAfterMs: 1000 } }, metrics: metrics.events.sink(config.name), logger, userAgent: 'sidewall/test' });
  const send = (requestId: string) => {
    const e = buildEvent(detection({ requestId }));
    sink.write(e, JSON.stringify(e), Date.now());
  };
  return { config, sink, metrics, send, lines };
}

describe('webhook auth against receivers that check credentials', () => {
  test('jira with basic auth (email + API token from a file) creates the issue; no HMAC needed', async () => {
    const jira = await startJira({ projects: [{ key: 'SEC', issueTypes: ['Task'] }], auth: { type: 'basic', username: 'waf-bot@example.com', password: PASSWORD } });
    const s = sinkFromConfig(`events:
  webhooks:
    - name: jira
      url: ${jira.base}/rest/api/2/issue
      format: jira
      jira: { project_key: SEC }
      auth: { type: basic, username: waf-bot@example.com, password_file: password }
`);
    try {
      assert.equal(s.config.secret, null);
      s.send('basic-1');
      await waitUntil(async () => metric(await s.metrics.render(), 'sidewall_events_delivered_total{sink="jira"}') === 1, 5000, () => JSON.stringify(jira.log));
      assert.deepEqual(jira.log.map((l) => l.status), [201]);
      assert.equal(jira.log[0]!.authorization, 'Basic ' + Buffer.from(`waf-bot@example.com:${PASSWORD}`).toString('base64'));
      assert.equal(jira.issues.get('SEC-1')!.fields.issuetype.name, 'Task');
    } finally {
      await s.sink.close(Date.now() + 1000);
      await jira.close();
    }
  });

  test('bearer token: the right one is accepted, a wrong one gets 401 (dropped as rejected, logged without the secret)', async () => {
    const jira = await startJira({ projects: [{ key: 'SEC', issueTypes: ['Task'] }], auth: { type: 'bearer', token: TOKEN } });
    const hook = (file: string) => `events:
  webhooks:
    - name: jira
      url: ${jira.base}/rest/api/2/issue
      format: jira
      jira: { project_key: SEC }
      auth: { type: bearer, token_file: ${file} }
`;
    const good = sinkFromConfig(hook('token'));
    const bad = sinkFromConfig(hook('wrong-token'));
    try {
      good.send('bearer-ok');
      bad.send('bearer-bad');
      await waitUntil(async () => metric(await good.metrics.render(), 'sidewall_events_delivered_total{sink="jira"}') === 1, 5000);
      await waitUntil(async () => metric(await bad.metrics.render(), 'sidewall_events_dropped_total{sink="jira",reason="rejected"}') === 1, 5000);
      assert.deepEqual(jira.log.map((l) => `${l.authorization} ${l.status}`).sort(), [`Bearer ${TOKEN} 201`, 'Bearer pat-wrong 401']);
      assert.equal(jira.issues.size, 1);
      const logged = [...good.lines, ...bad.lines].join('');
      assert.match(logged, /rejected the batch/);
      assert.ok(!logged.includes(TOKEN) && !logged.includes('pat-wrong'), logged);
    } finally {
      await good.sink.close(Date.now() + 1000);
      await bad.sink.close(Date.now() + 1000);
      await jira.close();
    }
  });

  test('a collector requiring auth rejects a webhook without credentials; with auth and a secret both are sent', async () => {
    const expected = 'Basic ' + Buffer.from(`collector:${PASSWORD}`).toString('base64');
    const c = await startCollector((req) => ({ status: req.headers.authorization === expected ? 200 : 401 }));
    const none = sinkFromConfig(`events:\n  webhooks:\n    - { name: hook, url: "${c.url}", secret: s1 }\n`);
    const both = sinkFromConfig(`events:\n  webhooks:\n    - { name: hook, url: "${c.url}", secret: s1, auth: { type: basic, username: collector, password_file: ${files.password} } }\n`);
    try {
      none.send('no-creds');
      await waitUntil(async () => metric(await none.metrics.render(), 'sidewall_events_dropped_total{sink="hook",reason="rejected"}') === 1, 5000);
      both.send('with-creds');
      await waitUntil(async () => metric(await both.metrics.render(), 'sidewall_events_delivered_total{sink="hook"}') === 1, 5000);
      assert.deepEqual(c.deliveries.map((d) => d.status), [401, 200]);
      assert.equal(c.deliveries[0]!.headers.authorization, undefined);
      const ok = c.deliveries[1]!;
      assert.equal(ok.headers.authorization, expected);
      assert.match(String(ok.headers['x-sidewall-signature']), /^v1=[0-9a-f]{64}$/, 'the HMAC signature is still sent when a secret is set');
    } finally {
      await none.sink.close(Date.now() + 1000);
      await both.sink.close(Date.now() + 1000);
      await c.close();
    }
  });

  test('--events-webhook-dir for jira: DIR/jira_project_key (required), DIR/jira_issue_type, DIR/username + DIR/password', () => {
    const wd = join(dir, 'jira-dir');
    mkdirSync(wd, { recursive: true });
    writeFiles(wd, { url: 'https://example.atlassian.net/rest/api/2/issue\n', format: 'jira\n', username: 'bot@example.com\n', password: `${PASSWORD}\n` });
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [wd] } }), /--events-webhook-dir .*jira-dir: jira_project_key: format jira needs DIR\/jira_project_key/);
    writeFiles(wd, { jira_project_key: 'sec\n' });
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [wd] } }), /jira_project_key: must be a Jira project key/);
    writeFiles(wd, { jira_project_key: 'SEC\n', jira_issue_type: 'Bug\n' });
    const w = loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [wd] } }).events!.webhooks[0]!;
    assert.deepEqual(w.jira, { projectKey: 'SEC', issueType: 'Bug', labels: [] });
    assert.equal(w.auth?.type, 'basic');
    assert.equal(w.auth?.header(), 'Basic ' + Buffer.from(`bot@example.com:${PASSWORD}`).toString('base64'));
    assert.equal(w.secret, null);
  });

  test('auth only: no signature headers; --events-webhook-dir takes DIR/token without DIR/secret', async () => {
    const c = await startCollector((req) => ({ status: req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401 }));
    const wd = join(dir, 'hook-dir');
    mkdirSync(wd, { recursive: true });
    writeFiles(wd, { url: `${c.url}\n`, token: `${TOKEN}\n` });
    const w = loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [wd] } }).events!.webhooks[0]!;
    assert.equal(w.secret, null);
    assert.equal(w.auth?.type, 'bearer');
    const metrics = new Metrics({ defaultMetrics: false });
    const sink = new WebhookSink({ config: { ...w, batch: { ...w.batch, maxDelayMs: 10 } }, metrics: metrics.events.sink(w.name), logger: pino({ level: 'silent' }), userAgent: 'sidewall/test' });
    try {
      const e = buildEvent(detection({ requestId: 'dir-1' }));
      sink.write(e, JSON.stringify(e), Date.now());
      await c.waitFor((d) => d.length === 1);
      const d = c.deliveries[0]!;
      assert.equal(d.status, 200);
      assert.equal(d.headers['x-sidewall-signature'], undefined);
      assert.equal(d.headers['x-sidewall-timestamp'], undefined);
    } finally {
      await sink.close(Date.now() + 1000);
      await c.close();
    }
  });
});

describe('webhook auth config', () => {
  const err = (text: string): string => {
    try {
      configFile(text);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(!e.message.includes(PASSWORD) && !e.message.includes(TOKEN), e.message);
      return e.message;
    }
    return assert.fail('no error');
  };
  const hook = (extra: string) => `events:\n  webhooks:\n    - { url: "http://r.example/in", ${extra} }\n`;

  test('neither secret nor auth: the error says what is needed', () => {
    assert.match(err(hook('format: json')), /events\.webhooks\[0\]: needs secret or secret_file \(or --events-secret\), or auth \(basic or bearer\)/);
    const empty = makeTempDir('sidewall-auth-dir-');
    writeFiles(empty, { url: 'http://x/\n' });
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [empty] } }), /secret: cannot read .*secret: file not found/);
    cleanupDir(empty);
  });

  test('missing, unreadable or empty secret files name the key and the file', () => {
    assert.match(err(hook('auth: { type: basic, username: u, password_file: /nonexistent/pw }')), /events\.webhooks\[0\]\.auth\.password_file: cannot read \/nonexistent\/pw: file not found/);
    assert.match(err(hook('auth: { type: bearer, token_file: nope.txt }')), new RegExp(`events\\.webhooks\\[0\\]\\.auth\\.token_file: cannot read ${join(dir, 'nope.txt').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: file not found`));
    assert.match(err(hook(`auth: { type: bearer, token_file: ${dir} }`)), /auth\.token_file: cannot read .*: is a directory/);
    const blank = writeFiles(dir, { blank: '\n' }).blank!;
    assert.match(err(hook(`auth: { type: bearer, token_file: ${blank} }`)), /auth\.token_file: .*blank is empty/);
    if (process.getuid?.() !== 0) {
      const locked = writeFiles(dir, { locked: 'x\n' }).locked!;
      chmodSync(locked, 0o000);
      assert.match(err(hook(`auth: { type: bearer, token_file: ${locked} }`)), /auth\.token_file: cannot read .*locked/);
    }
  });

  test('shape errors: type, required keys, inline secrets refused, unusable values (without echoing them)', () => {
    assert.match(err(hook('auth: { type: digest }')), /auth\.type: must be one of basic, bearer/);
    assert.match(err(hook('auth: basic')), /events\.webhooks\[0\]\.auth: must be a mapping/);
    assert.match(err(hook('auth: { type: basic, password_file: password }')), /auth\.username: is required for basic auth/);
    assert.match(err(hook('auth: { type: basic, username: u }')), /auth\.password_file: is required for basic auth/);
    assert.match(err(hook('auth: { type: bearer }')), /auth\.token_file: is required for bearer auth/);
    assert.match(err(hook(`auth: { type: basic, username: u, password: "${PASSWORD}" }`)), /auth\.password: secrets are read from files only: use password_file/);
    assert.match(err(hook(`auth: { type: bearer, token: "${TOKEN}" }`)), /auth\.token: secrets are read from files only: use token_file/);
    assert.match(err(hook('auth: { type: bearer, token_file: token, username: u }')), /auth\.username: unknown key \(known keys: type, token_file\)/);
    assert.match(err(hook('auth: { type: basic, username: "a:b", password_file: password }')), /auth\.username: must not contain ":"/);
    const split = writeFiles(dir, { split: `${TOKEN} x\n` }).split!;
    assert.match(err(hook(`auth: { type: bearer, token_file: ${split} }`)), /auth\.token_file: .*split: the token must be a bearer token/);
  });

  test('the loaded config never shows the secrets (JSON, inspect, startup log shape)', () => {
    const c = configFile(hook(`secret: s, auth: { type: basic, username: bot, password_file: password }`));
    const w = c.events!.webhooks[0]!;
    assert.equal(w.auth!.header(), 'Basic ' + Buffer.from(`bot:${PASSWORD}`).toString('base64'));
    const shown = JSON.stringify(c) + inspect(c, { depth: 10 });
    assert.ok(!shown.includes(PASSWORD) && !shown.includes(Buffer.from(`bot:${PASSWORD}`).toString('base64')), shown);
    assert.match(JSON.stringify(w.auth), /"type":"basic","username":"bot","file":".*password"/);
  });
});

describe('sidewall serve delivering to Jira with auth (real process)', () => {
  test('blocked checks become a Jira issue through the bearer-authenticated webhook; the token is in no log line', { timeout: 30_000 }, async () => {
    const jira = await startJira({ projects: [{ key: 'WAF', issueTypes: ['Bug'] }], auth: { type: 'bearer', token: TOKEN } });
    const config = `events:
  aggregation: { window_ms: 0 }
  webhooks:
    - name: jira
      url: ${jira.base}/rest/api/2/issue
      format: jira
      jira: { project_key: WAF, issue_type: Bug }
      auth: { type: bearer, token_file: ${files.token} }
      batch: { max_events: 10, max_delay_ms: 100 }
`;
    const server = await startServer({ rules: BLOCK_RULES, config, args: ['--log-level', 'debug'] });
    const client = new CheckClient(server.grpcAddress);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await client.check({ path: `/orders?q=attack${i}`, requestId: `proc-${i}` })).httpStatus, 403);
      await waitUntil(() => [...jira.issues.values()].reduce((n, issue) => n + (issue.fields.description.match(/\|\|Request id\|/g)?.length ?? 0), 0) === 3, 10_000, () => JSON.stringify(jira.log));
      assert.ok(jira.log.every((l) => l.authorization === `Bearer ${TOKEN}` && l.status === 201), JSON.stringify(jira.log));
      const issue = [...jira.issues.values()][0]!;
      assert.equal(issue.fields.project.key, 'WAF');
      assert.ok(issue.fields.labels.includes('rule-1001'), issue.fields.labels.join());
      assert.match(issue.fields.description, /proc\\-0/);
      const started = server.logs.find((l) => l.msg === 'security events enabled') as { webhooks?: Array<{ auth: string; signed: boolean }> } | undefined;
      assert.deepEqual(started?.webhooks?.map((w) => [w.auth, w.signed]), [['bearer', false]]);
    } finally {
      client.close();
      await server.stop();
      await jira.close();
    }
    assert.ok(!server.stdout().includes(TOKEN) && !server.stderr().includes(TOKEN), 'token never logged');
  });
});
