// Event consumers operators already run, against the real service: an OTLP/HTTP logs receiver
// validating with opentelemetry-proto's protobuf JSON parser, and Alertmanager (the upstream
// binary, v0.28.1, on loopback) receives Sidewall's alerts through the webhook sink and lists them
// on GET /api/v2/alerts with our grouping labels. In CI a missing binary is a failure; on a dev
// machine the test says how to get it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildEvent } from '../src/events/build-event.js';
import { EVENTS_DEFAULTS, type WebhookConfig } from '../src/events/config.js';
import { WebhookSink } from '../src/events/webhook-sink.js';
import { Metrics } from '../src/server/metrics.js';
import { detection, ruleMatch } from './helpers/events.js';
import { REPO_ROOT } from '../bench/lib/shared.js';
import { freePort } from './helpers/server-process.js';

const INSTALL = 'GOFLAGS=-mod=mod go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.28.1';

function findAlertmanager(): string | null {
  for (const p of [process.env.ALERTMANAGER_BIN, join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'alertmanager')]) {
    if (p && existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', 'command -v alertmanager'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function until<T>(what: string, fn: () => Promise<T | null>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

test('alertmanager format: a real Alertmanager v2 API accepts the alerts and groups them by our labels', { timeout: 60_000 }, async (t) => {
  const bin = findAlertmanager();
  if (bin === null) {
    if (process.env.CI === 'true') assert.fail(`alertmanager binary missing (.ci/run installs it: ${INSTALL})`);
    t.skip(`alertmanager not found; get it with: ${INSTALL} (or set ALERTMANAGER_BIN)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-am-'));
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, "route:\n  receiver: 'null'\n  group_by: ['namespace', 'workload', 'rule_id', 'severity']\nreceivers:\n  - name: 'null'\n");
  const port = await freePort();
  const clusterPort = await freePort();
  const am = spawn(bin, [`--config.file=${config}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, `--cluster.listen-address=`, `--cluster.advertise-address=127.0.0.1:${clusterPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let amLog = '';
  am.stderr.on('data', (b: Buffer) => (amLog += b.toString()));
  const base = `http://127.0.0.1:${port}`;
  const metrics = new Metrics({ defaultMetrics: false });
  const hook: WebhookConfig = {
    name: 'am', url: `${base}/api/v2/alerts`, secret: 'unused-by-alertmanager', format: 'alertmanager',
    batch: { maxEvents: 10, maxBytes: 1024 * 1024, maxDelayMs: 20 }, retry: { initialMs: 50, maxMs: 500, maxRetryAfterMs: 1000 },
    timeoutMs: 2000, filter: { minSeverity: null, verdicts: null, namespaces: null }, queue: { ...EVENTS_DEFAULTS.queue }, spool: null,
    source: 'https://sidewall.example.com/events',
  };
  const sink = new WebhookSink({ config: hook, metrics: metrics.events.sink('am'), logger: pino({ level: 'silent' }), userAgent: 'sidewall/test' });
  try {
    await until('alertmanager ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : null));
    const events = [
      buildEvent(detection({ requestId: 'am-1', matches: [ruleMatch({ id: 942100, severity: 2 })] })),
      buildEvent(detection({ requestId: 'am-2', action: 'detect', extensions: { namespace: 'billing', service: 'api' }, matches: [ruleMatch({ id: 941100, severity: 2 })] })),
    ];
    for (const e of events) sink.write(e, JSON.stringify(e), Date.now());
    const alerts = await until('alerts listed', async () => {
      const list = (await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[];
      return list.length === 2 ? list : null;
    });
    const byReq = new Map(alerts.map((a) => [a.annotations.request_id, a]));
    const a1 = byReq.get('am-1')!;
    assert.deepEqual(a1.labels, { alertname: 'SidewallSecurityEvent', verdict: 'blocked', severity: 'critical', rule_id: '942100', namespace: 'shop', workload: 'web' });
    assert.equal(a1.status.state, 'active');
    assert.equal(a1.generatorURL, 'https://sidewall.example.com/events');
    assert.equal(Date.parse(a1.endsAt) - Date.parse(a1.startsAt), 5 * 60_000);
    assert.equal(Date.parse(a1.startsAt), Date.parse(events[0]!.time));
    assert.equal(a1.annotations.event_id, events[0]!.id);
    assert.deepEqual(byReq.get('am-2')!.labels, { alertname: 'SidewallSecurityEvent', verdict: 'detected', severity: 'critical', rule_id: '941100', namespace: 'billing', workload: 'api' });
    // Grouping by the labels: two groups, one per namespace/workload/rule.
    const groups = (await (await fetch(`${base}/api/v2/alerts/groups`)).json()) as Array<{ labels: Record<string, string> }>;
    assert.deepEqual(groups.map((g) => g.labels.namespace).sort(), ['billing', 'shop']);
    assert.ok(groups.every((g) => Object.keys(g.labels).sort().join() === 'namespace,rule_id,severity,workload'), JSON.stringify(groups.map((g) => g.labels)));
  } catch (err) {
    throw new Error(`${(err as Error).message}\nalertmanager log:\n${amLog.slice(-2000)}`);
  } finally {
    await sink.close(Date.now() + 1000);
    am.kill('SIGTERM');
  }
});

test('otlp format: an OTLP/HTTP logs receiver parsing with opentelemetry-proto accepts the logs', { timeout: 60_000 }, async (t) => {
  const probe = spawnSync('python3', ['-c', 'import opentelemetry.proto.collector.logs.v1.logs_service_pb2'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    if (process.env.CI === 'true') assert.fail('python3 opentelemetry-proto missing (.ci/run installs it: pip install opentelemetry-proto==1.45.2)');
    t.skip('opentelemetry-proto missing; get it with: pip install opentelemetry-proto==1.45.2');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-otlp-'));
  const portFile = join(dir, 'port');
  const out = join(dir, 'logs.ndjson');
  const receiver = spawn('python3', [join(REPO_ROOT, 'test', 'receivers', 'otlp_logs_receiver.py'), portFile, out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  receiver.stderr.on('data', (b: Buffer) => (log += b.toString()));
  let sink: WebhookSink | null = null;
  try {
    const port = await until('receiver port', async () => (existsSync(portFile) && readFileSync(portFile, 'utf8') !== '' ? readFileSync(portFile, 'utf8') : null));
    const metrics = new Metrics({ defaultMetrics: false });
    sink = new WebhookSink({
      config: {
        name: 'otlp', url: `http://127.0.0.1:${port}/v1/logs`, secret: 's', format: 'otlp',
        batch: { maxEvents: 10, maxBytes: 1024 * 1024, maxDelayMs: 20 }, retry: { initialMs: 50, maxMs: 500, maxRetryAfterMs: 1000 },
        timeoutMs: 2000, filter: { minSeverity: null, verdicts: null, namespaces: null }, queue: { ...EVENTS_DEFAULTS.queue }, spool: null, source: '/sidewall/test',
      },
      metrics: metrics.events.sink('otlp'), logger: pino({ level: 'silent' }), userAgent: 'sidewall/test',
    });
    const events = [
      buildEvent(detection({ requestId: 'o-1', matches: [ruleMatch({ id: 942100, severity: 2 })] })),
      buildEvent(detection({ requestId: 'o-2', extensions: { namespace: 'billing', pod: 'api-1', service: 'api' }, matches: [ruleMatch({ id: 930120, severity: 3 })] })),
      buildEvent(detection({ requestId: 'o-3', matches: [ruleMatch({ id: 941100, severity: 2 })] })),
    ];
    for (const e of events) sink.write(e, JSON.stringify(e), Date.now());
    const lines = await until('logs received', async () => {
      const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
      const n = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { resourceLogs: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }> });
      const count = n.flatMap((r) => r.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((s) => s.logRecords))).length;
      return count === 3 ? n : null;
    });
    const rls = lines.flatMap((r) => r.resourceLogs);
    const attrs = (rl: (typeof rls)[number]) => Object.fromEntries(rl.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    const shop = rls.find((rl) => attrs(rl)['k8s.namespace.name'] === 'shop')!;
    const billing = rls.find((rl) => attrs(rl)['k8s.namespace.name'] === 'billing')!;
    assert.deepEqual(attrs(shop), { 'service.name': 'web', 'telemetry.sdk.name': 'sidewall', 'k8s.namespace.name': 'shop', 'k8s.pod.name': 'web-7f9c' });
    assert.equal(attrs(billing)['k8s.pod.name'], 'api-1');
    const recs = shop.scopeLogs[0]!.logRecords;
    assert.equal(recs.length, 2, 'events of one workload share one ResourceLogs');
    // Canonical protobuf JSON: the enum comes back by name, int64 as a string.
    assert.equal(recs[0]!.severityNumber, 'SEVERITY_NUMBER_ERROR2');
    assert.equal(billing.scopeLogs[0]!.logRecords[0]!.severityNumber, 'SEVERITY_NUMBER_ERROR');
    assert.equal(recs[0]!.timeUnixNano, String(BigInt(Date.parse(events[0]!.time)) * 1_000_000n));
    const body = JSON.parse((recs[0]!.body as { stringValue: string }).stringValue);
    assert.equal(body.id, events[0]!.id);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nreceiver log:\n${log.slice(-2000)}`);
  } finally {
    await sink?.close(Date.now() + 1000);
    receiver.kill('SIGTERM');
  }
});

/** A local Slack incoming-webhook stand-in that checks the body against Block Kit's documented limits. */
function slackProblems(body: unknown): string[] {
  const p: string[] = [];
  const m = body as { text?: unknown; blocks?: Array<{ type: string; text?: { type: string; text: string }; elements?: unknown[] }> };
  if (typeof m.text !== 'string' || m.text === '') p.push('text (the notification fallback) is required');
  if (!Array.isArray(m.blocks)) return [...p, 'blocks must be an array'];
  if (m.blocks.length > 50) p.push(`${m.blocks.length} blocks (max 50)`);
  for (const [i, b] of m.blocks.entries()) {
    if (b.type === 'header') {
      if (b.text?.type !== 'plain_text') p.push(`blocks[${i}]: header text must be plain_text`);
      if ((b.text?.text.length ?? 0) > 150) p.push(`blocks[${i}]: header text over 150 chars`);
    } else if (b.type === 'section') {
      if (b.text?.type !== 'mrkdwn' && b.text?.type !== 'plain_text') p.push(`blocks[${i}]: section text type`);
      if ((b.text?.text.length ?? 0) > 3000) p.push(`blocks[${i}]: section text over 3000 chars`);
    } else if (b.type === 'context') {
      if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10) p.push(`blocks[${i}]: context needs 1..10 elements`);
    } else p.push(`blocks[${i}]: unexpected type ${b.type}`);
  }
  return p;
}

test('slack format: Block Kit messages within the documented limits, large batches summarised', { timeout: 30_000 }, async () => {
  const { createServer: createHttpServer } = await import('node:http');
  const received: Array<{ blocks: Array<{ type: string; text?: { text: string } }> }> = [];
  const problems: string[] = [];
  const srv = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('invalid_payload');
        return;
      }
      const p = slackProblems(body);
      if (req.headers['content-type'] !== 'application/json' || p.length > 0) {
        problems.push(...p);
        res.writeHead(400).end('invalid_blocks'); // what Slack answers
        return;
      }
      received.push(body as (typeof received)[number]);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const metrics = new Metrics({ defaultMetrics: false });
  const sink = new WebhookSink({
    config: {
      name: 'slack', url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`, secret: 's', format: 'slack',
      batch: { maxEvents: 100, maxBytes: 4 * 1024 * 1024, maxDelayMs: 50 }, retry: { initialMs: 50, maxMs: 500, maxRetryAfterMs: 1000 },
      timeoutMs: 2000, filter: { minSeverity: null, verdicts: null, namespaces: null }, queue: { ...EVENTS_DEFAULTS.queue }, spool: null, source: '/sidewall/test',
    },
    metrics: metrics.events.sink('slack'), logger: pino({ level: 'silent' }), userAgent: 'sidewall/test',
  });
  try {
    const long = 'x'.repeat(5000);
    const events = Array.from({ length: 60 }, (_, i) =>
      buildEvent(detection({ requestId: `s-${i}`, uri: `/p?${long}`, matches: [ruleMatch({ id: 942100 }), ruleMatch({ id: 949110, msg: long })] })),
    );
    for (const e of events) sink.write(e, JSON.stringify(e), Date.now());
    await until('slack message', async () => (received.length > 0 || problems.length > 0 ? true : null));
    assert.deepEqual(problems, []);
    const msg = received[0]!;
    assert.equal(msg.blocks.length, 50);
    assert.equal(msg.blocks[0]!.type, 'header');
    assert.match(msg.blocks[0]!.text!.text, /^Sidewall: 60 security events \(60 blocked\)$/);
    assert.match(msg.blocks[1]!.text!.text, /\*Blocked\* `GET shop\.example\.com\/p\?x+/);
    assert.equal(msg.blocks[49]!.type, 'context');
  } finally {
    await sink.close(Date.now() + 1000);
    srv.close();
  }
});
