// Security events end to end with real processes: `sidewall serve` delivering to
// `sidewall events receive` (and to loopback collectors) over real sockets; collector
// outage, SIGKILL mid-delivery with the spool, spool limits, the receiver's checks, CLI errors.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sign } from '../src/events/signature.js';
import type { SecurityEvent } from '../src/events/schema.js';
import { CheckClient } from './helpers/check-client.js';
import { metric, waitUntil } from './helpers/events.js';
import { BLOCK_RULES, CLI_PATH, cleanupDir, engineAvailable, freePort, makeTempDir, runCli, startServer, writeFiles, type ServerProcess } from './helpers/server-process.js';

const skip = (await engineAvailable()) ? false : 'awaits the rule engine';
const SECRET = 'process-test-secret';
const work = makeTempDir('sidewall-events-proc-');
after(() => cleanupDir(work));

interface Receiver {
  child: ChildProcess;
  url: string;
  out: string;
  stderr(): string;
  /** Events in the output file (one per line). */
  events(): SecurityEvent[];
  stop(): Promise<void>;
}

/** Starts `sidewall events receive` on `port` (0 = any) appending to `out`. */
async function startReceiver(out: string, port = 0): Promise<Receiver> {
  const child = spawn(process.execPath, [CLI_PATH, 'events', 'receive', '--listen', `127.0.0.1:${port}`, '--secret', SECRET, '--out', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`receiver not listening: ${stderr}`)), 10_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /"address":"([^"]+)"/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`receiver exited ${code}: ${stderr}`)));
  });
  return {
    child,
    url: `http://${address}/events`,
    out,
    stderr: () => stderr,
    events: () =>
      existsSync(out)
        ? readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as SecurityEvent)
        : [],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function metricsText(server: ServerProcess): Promise<string> {
  return (await fetch(`${server.adminUrl}/metrics`)).text();
}

async function attacks(server: ServerProcess, n: number, prefix: string): Promise<string[]> {
  const client = new CheckClient(server.grpcAddress);
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${i}`;
      const r = await client.check({ path: `/item-${prefix}-${i}?q=attack`, requestId: id });
      assert.equal(r.httpStatus, 403);
      ids.push(id);
    }
  } finally {
    client.close();
  }
  return ids;
}

/** Config with fast retries and no aggregation (every request its own event). */
function eventsConfig(url: string, extra = '', maxDelayMs = 50): string {
  return `events:
  aggregation: { window_ms: 0 }
  flush_timeout_ms: 300
  webhooks:
    - name: rx
      url: ${url}
      secret: ${SECRET}
      batch: { max_events: 5, max_delay_ms: ${maxDelayMs} }
      retry: { initial_ms: 50, max_ms: 300 }
${extra}`;
}

describe('security events: real processes', { skip }, () => {
  test('quick start flags: events reach `sidewall events receive`, signed, redacted, with workload fields; log sink line', async () => {
    const rx = await startReceiver(join(work, 'quick.ndjson'));
    const server = await startServer({ rules: BLOCK_RULES, args: ['--events-webhook', rx.url, '--events-secret', SECRET] });
    const client = new CheckClient(server.grpcAddress);
    try {
      assert.equal((await client.check({ path: '/login?q=hello', requestId: 'benign-1' })).code, 0, 'no rule matched: no event');
      const r = await client.check({
        path: '/login?q=attack&password=hunter2',
        requestId: 'quick-1',
        headers: { authorization: 'Bearer topsecret' },
        contextExtensions: { namespace: 'shop', pod: 'web-0', service: 'web' },
        source: { address: '10.0.0.7', port: 5555, principal: 'spiffe://cluster.local/ns/edge/sa/gateway' },
      });
      assert.equal(r.httpStatus, 403);
      await waitUntil(() => rx.events().length === 1, 8000, () => rx.stderr());
      const e = rx.events()[0]!;
      assert.equal(e.schema, 'sidewall.security_event/v1');
      assert.equal(e.request_id, 'quick-1');
      assert.equal(e.verdict, 'blocked');
      assert.equal(e.mode, 'block');
      assert.equal(e.count, 1);
      assert.equal(e.request.path, '/login?q=attack&password=[redacted]');
      assert.deepEqual(e.destination, { ip: '10.9.8.7', port: 8080, namespace: 'shop', pod: 'web-0', service: 'web' });
      assert.equal(e.source.namespace, 'edge');
      assert.equal(e.source.service_account, 'gateway');
      assert.deepEqual(e.rules.map((x) => [x.id, x.matched_var, x.matched_data]), [[1001, 'ARGS:q', 'attack']]);
      assert.ok(!JSON.stringify(rx.events()).includes('hunter2') && !JSON.stringify(rx.events()).includes('topsecret'));
      const line = await server.waitForLog((l) => l.event === 'security_event');
      assert.equal((line.security_event as SecurityEvent).id, e.id, 'same event on the log sink');
      const text = await metricsText(server);
      assert.equal(metric(text, 'sidewall_events_total'), 1);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="log"}'), 1);
      const sink = `127.0.0.1-${new URL(rx.url).port}`; // named after the URL's host and port
      assert.equal(metric(text, `sidewall_events_delivered_total{sink="${sink}"}`), 1);
    } finally {
      client.close();
      assert.equal((await server.stop()).code, 0);
      await rx.stop();
    }
  });

  test('aggregation: a flood of identical detections → one event at once, one with count N-1 at window end', async () => {
    const rx = await startReceiver(join(work, 'flood.ndjson'));
    const config = `events:
  aggregation: { window_ms: 700 }
  webhooks: [ { url: "${rx.url}", secret: ${SECRET}, batch: { max_delay_ms: 20 } } ]
`;
    const server = await startServer({ rules: BLOCK_RULES, config });
    const client = new CheckClient(server.grpcAddress);
    try {
      const N = 40;
      await Promise.all(Array.from({ length: N }, (_, i) => client.check({ path: `/users/${i}?q=attack`, requestId: `f${i}` })));
      await waitUntil(() => rx.events().length >= 1, 5000);
      assert.equal(rx.events()[0]!.count, 1);
      await waitUntil(() => rx.events().length === 2, 5000);
      assert.equal(rx.events()[1]!.count, N - 1);
      assert.equal(rx.events()[1]!.window_ms, 700);
      const text = await metricsText(server);
      assert.equal(metric(text, 'sidewall_events_total'), 2);
      assert.equal(metric(text, 'sidewall_events_aggregated_total'), N - 1);
    } finally {
      client.close();
      await server.stop();
      await rx.stop();
    }
  });

  test('collector down for a while, then up: every event delivered, exactly once after dedup', async () => {
    const port = await freePort();
    const spool = join(work, 'outage-spool');
    const server = await startServer({ rules: BLOCK_RULES, config: eventsConfig(`http://127.0.0.1:${port}/events`), args: ['--events-spool', spool] });
    let rx: Receiver | null = null;
    try {
      const sent = await attacks(server, 30, 'down');
      await waitUntil(async () => metric(await metricsText(server), 'sidewall_events_retries_total{sink="rx"}') >= 2, 5000);
      await new Promise((r) => setTimeout(r, 800));
      rx = await startReceiver(join(work, 'outage.ndjson'), port);
      await waitUntil(async () => metric(await metricsText(server), 'sidewall_events_delivered_total{sink="rx"}') === 30, 10_000);
      const got = rx.events().map((e) => e.request_id);
      assert.equal(got.length, 30);
      assert.deepEqual([...got].sort(), [...sent].sort());
      const text = await metricsText(server);
      assert.equal(metric(text, 'sidewall_events_pending{sink="rx"}'), 0);
      assert.equal(text.includes('sidewall_events_dropped_total{'), false, 'nothing dropped');
    } finally {
      await server.stop();
      await rx?.stop();
    }
  });

  test('SIGKILL mid-delivery, restart with the same spool: nothing lost', async () => {
    // A collector that accepts the first batch and then hangs: a delivery is in flight at the kill.
    const received = new Map<string, number>();
    const requestIds = new Set<string>();
    const hanging: ServerResponse[] = [];
    let hang = true;
    let requests = 0;
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests++;
        if (hang && requests > 1) {
          hanging.push(res);
          return;
        }
        for (const e of JSON.parse(Buffer.concat(chunks).toString()) as SecurityEvent[]) {
          received.set(e.id, (received.get(e.id) ?? 0) + 1);
          requestIds.add(e.request_id);
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    const spool = join(work, 'kill-spool');
    // Batches close by count (5), not by time: under load the 23 checks take longer than a short
    // max_delay and the first batch would hold fewer than the 5 events this test counts on.
    const config = eventsConfig(url, '      timeout_ms: 60000\n', 2000);
    let server = await startServer({ rules: BLOCK_RULES, config, args: ['--events-spool', spool] });
    try {
      const sent = await attacks(server, 23, 'kill');
      await waitUntil(() => requests >= 2 && received.size === 5, 5000, () => `requests ${requests}, received ${received.size}`);
      await waitUntil(async () => metric(await metricsText(server), 'sidewall_events_total') === 23, 5000);
      const segments = readdirSync(join(spool, 'rx')).filter((n) => n.startsWith('seg-'));
      assert.ok(segments.length >= 1, 'events are in the spool');
      await server.stop('SIGKILL');
      for (const res of hanging) res.destroy();
      hang = false;

      server = await startServer({ rules: BLOCK_RULES, config, args: ['--events-spool', spool] });
      await server.waitForLog((l) => l.msg === 'undelivered spooled events found, delivering them first');
      await waitUntil(() => received.size === 23, 10_000, () => `received ${received.size}`);
      assert.equal(received.size, 23, 'every event delivered (consumers dedup by id)');
      const text = await metricsText(server);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="rx"}'), 18, 'the 18 not acknowledged before the kill are delivered after the restart');
      assert.deepEqual([...requestIds].sort(), [...sent].sort(), 'exactly the requests sent');
    } finally {
      await server.stop();
      await new Promise<void>((r) => {
        collector.close(() => r());
        collector.closeAllConnections();
      });
    }
  });

  test('spool full: oldest dropped, counted in sidewall_events_dropped_total{reason="spool_full"}, bounded on disk', async () => {
    const port = await freePort(); // nobody listens: everything stays in the spool
    const spool = join(work, 'full-spool');
    const config = `${eventsConfig(`http://127.0.0.1:${port}/`)}  spool: { dir: ${spool}, max_bytes: 8192, segment_bytes: 2048, on_full: drop_oldest }
`;
    const server = await startServer({ rules: BLOCK_RULES, config });
    try {
      await attacks(server, 40, 'full');
      await waitUntil(async () => metric(await metricsText(server), 'sidewall_events_total') === 40, 5000);
      await new Promise((r) => setTimeout(r, 100));
      const text = await metricsText(server);
      const dropped = metric(text, 'sidewall_events_dropped_total{sink="rx",reason="spool_full"}');
      assert.ok(dropped > 0, 'drops counted');
      assert.ok(metric(text, 'sidewall_events_spool_bytes{sink="rx"}') <= 8192);
      assert.equal(metric(text, 'sidewall_events_pending{sink="rx"}') + dropped, 40, 'pending + dropped = produced');
      const onDisk = readdirSync(join(spool, 'rx')).filter((n) => n.startsWith('seg-'));
      assert.ok(onDisk.length <= 5, `${onDisk.length} segments`);
      const warn = await server.waitForLog((l) => l.msg === 'security events dropped' && l.reason === 'spool_full');
      assert.equal(warn.webhook, 'rx');
    } finally {
      await server.stop();
    }
  });

  test('--events-webhook-dir (mounted Secret: url, secret, format) with CloudEvents', async () => {
    const rx = await startReceiver(join(work, 'dir.ndjson'));
    const dir = join(work, 'webhook');
    mkdirSync(dir, { recursive: true });
    writeFiles(dir, { url: rx.url + '\n', secret: SECRET + '\n', format: 'cloudevents\n' });
    const server = await startServer({ rules: BLOCK_RULES, args: ['--events-webhook-dir', dir] });
    try {
      await attacks(server, 1, 'dir');
      await waitUntil(() => rx.events().length === 1, 8000, () => rx.stderr());
      assert.equal(rx.events()[0]!.request_id, 'dir-0');
      assert.ok(/"sink":"webhook"|webhook/.test(JSON.stringify(server.logs.find((l) => l.msg === 'security events enabled'))));
    } finally {
      await server.stop();
      await rx.stop();
    }
  });

  test('receiver: 401 and a log line on a tampered body or bad timestamp; duplicates dropped', async () => {
    const rx = await startReceiver(join(work, 'rx.ndjson'));
    try {
      const body = Buffer.from(JSON.stringify([{ id: 'evt-1', verdict: 'blocked' }]));
      const ts = Math.floor(Date.now() / 1000);
      const post = (b: Buffer, t: number, sig: string) =>
        fetch(rx.url, { method: 'POST', body: new Uint8Array(b), headers: { 'content-type': 'application/json', 'x-sidewall-timestamp': String(t), 'x-sidewall-signature': sig } });
      const tampered = Buffer.from(body.toString().replace('blocked', 'allowed'));
      const r1 = await post(tampered, ts, sign(SECRET, ts, body));
      assert.equal(r1.status, 401);
      const old = ts - 3600;
      assert.equal((await post(body, old, sign(SECRET, old, body))).status, 401);
      await waitUntil(() => /bad signature/.test(rx.stderr()), 3000);
      const ok = await post(body, ts, sign(SECRET, ts, body));
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { accepted: 1, duplicates: 0 });
      const dup = await post(body, ts, sign(SECRET, ts, body));
      assert.deepEqual(await dup.json(), { accepted: 0, duplicates: 1 });
      assert.deepEqual(rx.events(), [{ id: 'evt-1', verdict: 'blocked' }]);
    } finally {
      await rx.stop();
    }
    // Restarted on the same --out file: ids already there are still duplicates.
    const again = await startReceiver(join(work, 'rx.ndjson'));
    try {
      const body = Buffer.from(JSON.stringify([{ id: 'evt-1' }, { id: 'evt-2' }]));
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(again.url, { method: 'POST', body: new Uint8Array(body), headers: { 'x-sidewall-timestamp': String(ts), 'x-sidewall-signature': sign(SECRET, ts, body) } });
      assert.deepEqual(await res.json(), { accepted: 1, duplicates: 1 });
    } finally {
      await again.stop();
    }
  });

  test('CLI: events config errors exit 2 with one line naming the flag', async () => {
    const r1 = await runCli(['serve', '--events-webhook', 'http://127.0.0.1:1/x']);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /^sidewall: --events-webhook http:\/\/127\.0\.0\.1:1\/x: needs a signing secret/);
    const r2 = await runCli(['serve', '--events-webhook-dir', join(work, 'nope')]);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /--events-webhook-dir: .*nope: directory not found/);
    const r3 = await runCli(['events', 'receive', '--listen', '127.0.0.1:0']);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--secret S \(or --secret-file F\) is required/);
  });
});
