// Webhook delivery in-process against real HTTP collectors on loopback: signature, batching
// by count, bytes and time, retry after 503, Retry-After, permanent failures, filters,
// CloudEvents, memory queue limits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { EVENTS_DEFAULTS, type WebhookConfig } from '../src/events/config.js';
import { buildEvent } from '../src/events/build-event.js';
import type { SecurityEvent } from '../src/events/schema.js';
import { verify } from '../src/events/signature.js';
import { WebhookSink } from '../src/events/webhook-sink.js';
import { Metrics } from '../src/server/metrics.js';
import { detection, metric, ruleMatch, startCollector } from './helpers/events.js';

const SECRET = 'test-secret-0123456789';
const logger = pino({ level: 'silent' });

function webhook(url: string, over: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    name: 'hook',
    url,
    secret: SECRET,
    format: 'json',
    batch: { maxEvents: 100, maxBytes: 1024 * 1024, maxDelayMs: 50 },
    retry: { initialMs: 20, maxMs: 200, maxRetryAfterMs: 10_000 },
    timeoutMs: 2000,
    filter: { minSeverity: null, verdicts: null, namespaces: null },
    queue: { ...EVENTS_DEFAULTS.queue },
    spool: null,
    source: '/sidewall/test',
    ...over,
  };
}

function sinkFor(url: string, over: Partial<WebhookConfig> = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const sink = new WebhookSink({ config: webhook(url, over), metrics: metrics.events.sink('hook'), logger, userAgent: 'sidewall/test' });
  const send = (e: SecurityEvent) => sink.write(e, JSON.stringify(e), Date.now());
  return { sink, metrics, send };
}

const ids = (body: Buffer) => (JSON.parse(body.toString()) as SecurityEvent[]).map((e) => e.request_id);

describe('webhook delivery', () => {
  test('signed JSON batch: consumer verifies over the exact bytes; a tampered body fails', async () => {
    const c = await startCollector();
    const { sink, metrics, send } = sinkFor(c.url);
    try {
      const e = buildEvent(detection({ requestId: 'sig-1' }));
      send(e);
      await c.waitFor((d) => d.length === 1);
      const d = c.deliveries[0]!;
      assert.equal(d.headers['content-type'], 'application/json');
      assert.equal(d.headers['user-agent'], 'sidewall/test');
      assert.equal(d.headers['x-sidewall-event-count'], '1');
      const ts = d.headers['x-sidewall-timestamp'] as string;
      const sig = d.headers['x-sidewall-signature'] as string;
      assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 5);
      assert.deepEqual(verify(SECRET, d.body, ts, sig), { ok: true });
      const tampered = Buffer.from(d.body.toString().replace('sig-1', 'sig-2'));
      assert.equal(verify(SECRET, tampered, ts, sig).ok, false);
      assert.deepEqual(JSON.parse(d.body.toString()), [e]);
      await sink.close(Date.now() + 1000);
      assert.equal(metric(await metrics.render(), 'sidewall_events_delivered_total{sink="hook"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('batches bounded by event count and by time', async () => {
    const c = await startCollector();
    const { sink, send } = sinkFor(c.url, { batch: { maxEvents: 10, maxBytes: 1024 * 1024, maxDelayMs: 400 } });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 25; i++) send(buildEvent(detection({ requestId: `b${i}` })));
      await c.waitFor((d) => d.length === 3, 5000);
      assert.deepEqual(c.deliveries.map((d) => ids(d.body).length), [10, 10, 5]);
      assert.deepEqual(c.deliveries.flatMap((d) => ids(d.body)), Array.from({ length: 25 }, (_, i) => `b${i}`));
      assert.ok(c.deliveries[1]!.at - t0 < 300, 'full batches go out without waiting for the delay');
      assert.ok(c.deliveries[2]!.at - t0 >= 380, `the partial batch waits max_delay_ms (${c.deliveries[2]!.at - t0} ms)`);
    } finally {
      await sink.close(Date.now() + 1000);
      await c.close();
    }
  });

  test('batches bounded by bytes', async () => {
    const c = await startCollector();
    const { sink, send } = sinkFor(c.url, { batch: { maxEvents: 1000, maxBytes: 4096, maxDelayMs: 50 } });
    try {
      const events = Array.from({ length: 12 }, (_, i) => buildEvent(detection({ requestId: `y${i}` })));
      const size = JSON.stringify(events[0]).length;
      for (const e of events) send(e);
      await c.waitFor((d) => d.reduce((n, x) => n + ids(x.body).length, 0) === 12);
      for (const d of c.deliveries) assert.ok(d.body.length <= 4096 + 64, `body ${d.body.length} bytes`);
      assert.ok(c.deliveries.length >= Math.ceil((12 * size) / 4096), `${c.deliveries.length} batches of ≤4 KB`);
    } finally {
      await sink.close(Date.now() + 1000);
      await c.close();
    }
  });

  test('503 is retried with backoff until delivered; retries counted', async () => {
    const c = await startCollector((_req, _body, n) => ({ status: n < 2 ? 503 : 204 }));
    const { sink, metrics, send } = sinkFor(c.url);
    try {
      send(buildEvent(detection({ requestId: 'r503' })));
      await c.waitFor((d) => d.length === 3);
      assert.deepEqual(c.deliveries.map((d) => d.status), [503, 503, 204]);
      assert.deepEqual(ids(c.deliveries[2]!.body), ['r503']);
      // each attempt is signed afresh and verifies
      for (const d of c.deliveries) assert.ok(verify(SECRET, d.body, d.headers['x-sidewall-timestamp'] as string, d.headers['x-sidewall-signature'] as string).ok);
      await sink.close(Date.now() + 1000);
      const text = await metrics.render();
      assert.equal(metric(text, 'sidewall_events_retries_total{sink="hook"}'), 2);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="hook"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('Retry-After on 429 (seconds) and 503 (HTTP date) is honoured', async () => {
    const c = await startCollector((_req, _body, n) =>
      n === 0
        ? { status: 429, headers: { 'retry-after': '1' } }
        : n === 1
          ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } }
          : { status: 200 },
    );
    // Backoff alone would retry within 5 ms: only Retry-After explains the waits.
    const { sink, send } = sinkFor(c.url, { retry: { initialMs: 1, maxMs: 5, maxRetryAfterMs: 10_000 } });
    try {
      send(buildEvent(detection()));
      await c.waitFor((d) => d.length === 3, 8000);
      const [a, b, d] = c.deliveries;
      assert.ok(b!.at - a!.at >= 950, `waited ${b!.at - a!.at} ms after Retry-After: 1`);
      // HTTP dates have 1 s resolution: the wait is between 1 and 2 s.
      assert.ok(d!.at - b!.at >= 950, `waited ${d!.at - b!.at} ms after a Retry-After date`);
    } finally {
      await sink.close(Date.now() + 1000);
      await c.close();
    }
  });

  test('other 4xx is a permanent failure: the batch is dropped and counted, the next one goes out', async () => {
    const c = await startCollector((_req, _body, n) => ({ status: n === 0 ? 400 : 200 }));
    const { sink, metrics, send } = sinkFor(c.url, { batch: { maxEvents: 1, maxBytes: 1 << 20, maxDelayMs: 0 } });
    try {
      send(buildEvent(detection({ requestId: 'bad' })));
      send(buildEvent(detection({ requestId: 'good' })));
      await c.waitFor((d) => d.length === 2);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.deliveries.length, 2, 'the rejected batch is not retried');
      assert.deepEqual(ids(c.deliveries[1]!.body), ['good']);
      await sink.close(Date.now() + 1000);
      const text = await metrics.render();
      assert.equal(metric(text, 'sidewall_events_dropped_total{sink="hook",reason="rejected"}'), 1);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="hook"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('filters: minimum severity, verdicts, namespaces', async () => {
    const c = await startCollector();
    const { sink, send } = sinkFor(c.url, { filter: { minSeverity: 2, verdicts: ['blocked'], namespaces: ['shop', 'pay'] } });
    try {
      send(buildEvent(detection({ requestId: 'pass' })));
      send(buildEvent(detection({ requestId: 'low', matches: [ruleMatch({ severity: 4 })] })));
      send(buildEvent(detection({ requestId: 'noseverity', matches: [ruleMatch({ severity: null })] })));
      send(buildEvent(detection({ requestId: 'detected', action: 'detect' })));
      send(buildEvent(detection({ requestId: 'otherns', extensions: { namespace: 'dev' } })));
      send(buildEvent(detection({ requestId: 'pay', extensions: { namespace: 'pay' }, matches: [ruleMatch({ severity: 0 })] })));
      await new Promise((r) => setTimeout(r, 200));
      await sink.close(Date.now() + 1000);
      assert.deepEqual(c.deliveries.flatMap((d) => ids(d.body)), ['pass', 'pay']);
    } finally {
      await c.close();
    }
  });

  test('CloudEvents batch format', async () => {
    const c = await startCollector();
    const { sink, send } = sinkFor(c.url, { format: 'cloudevents' });
    try {
      const e = buildEvent(detection());
      send(e);
      await c.waitFor((d) => d.length === 1);
      const d = c.deliveries[0]!;
      assert.equal(d.headers['content-type'], 'application/cloudevents-batch+json');
      const [ce] = JSON.parse(d.body.toString()) as Array<Record<string, unknown>>;
      assert.equal(ce!.specversion, '1.0');
      assert.equal(ce!.id, e.id);
      assert.equal(ce!.type, 'io.sidewall.security.v1');
      assert.deepEqual(ce!.data, e);
      assert.ok(verify(SECRET, d.body, d.headers['x-sidewall-timestamp'] as string, d.headers['x-sidewall-signature'] as string).ok);
    } finally {
      await sink.close(Date.now() + 1000);
      await c.close();
    }
  });

  test('without a spool: bounded memory queue while the collector is down, drops counted', async () => {
    const c = await startCollector(() => ({ status: 503 }));
    const { sink, metrics, send } = sinkFor(c.url, { queue: { maxEvents: 5, onFull: 'drop_oldest' }, batch: { maxEvents: 2, maxBytes: 1 << 20, maxDelayMs: 0 } });
    try {
      for (let i = 0; i < 12; i++) send(buildEvent(detection({ requestId: `m${i}` })));
      await c.waitFor((d) => d.length >= 2);
      c.setResponder(() => ({ status: 200 }));
      await c.waitFor((d) => d.filter((x) => x.status === 200).reduce((n, x) => n + ids(x.body).length, 0) === 5, 5000);
      await sink.close(Date.now() + 1000);
      const text = await metrics.render();
      assert.equal(metric(text, 'sidewall_events_dropped_total{sink="hook",reason="queue_full"}'), 7);
      assert.equal(metric(text, 'sidewall_events_delivered_total{sink="hook"}'), 5);
      const delivered = c.deliveries.filter((x) => x.status === 200).flatMap((d) => ids(d.body));
      assert.deepEqual(delivered.slice(-3), ['m9', 'm10', 'm11'], 'drop_oldest keeps the newest');
    } finally {
      await c.close();
    }
  });
});
