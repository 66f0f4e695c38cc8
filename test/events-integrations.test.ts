// Event consumers operators already run, against the real service: Alertmanager (the upstream
// binary, v0.28.1, on loopback) receives Sidewall's alerts through the webhook sink and lists them
// on GET /api/v2/alerts with our grouping labels. In CI a missing binary is a failure; on a dev
// machine the test says how to get it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildEvent } from '../src/events/build-event.js';
import { EVENTS_DEFAULTS, type WebhookConfig } from '../src/events/config.js';
import { WebhookSink } from '../src/events/webhook-sink.js';
import { Metrics } from '../src/server/metrics.js';
import { detection, ruleMatch } from './helpers/events.js';

const INSTALL = 'GOFLAGS=-mod=mod go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.28.1';

function findAlertmanager(): string | null {
  for (const p of [process.env.ALERTMANAGER_BIN, join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'alertmanager')]) {
    if (p && existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', 'command -v alertmanager'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
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
