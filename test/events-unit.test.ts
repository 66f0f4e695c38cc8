// Security events, unit level: redaction, path templates, event shape, aggregation,
// signatures, body formats, retry timing, spool recovery and limits, config validation.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig, parseConfigText } from '../src/config/config.js';
import { Aggregator, aggregationKey } from '../src/events/aggregator.js';
import { formatBody } from '../src/events/body-format.js';
import { buildEvent } from '../src/events/build-event.js';
import { pathTemplate } from '../src/events/path-template.js';
import { redactMatchedData, redactPath } from '../src/events/redact.js';
import { backoffDelay, classifyStatus, parseRetryAfter } from '../src/events/retry.js';
import type { SecurityEvent } from '../src/events/schema.js';
import { sign, verify } from '../src/events/signature.js';
import { formatRecord, parseRecord, Spool, type SpoolOptions } from '../src/events/spool.js';
import { detection, ruleMatch } from './helpers/events.js';
import { cleanupDir, makeTempDir, writeFiles } from './helpers/server-process.js';

const dir = makeTempDir('sidewall-events-unit-');
after(() => cleanupDir(dir));

describe('redaction', () => {
  test('secret-named query parameters are redacted, others kept, fragment dropped', () => {
    assert.equal(
      redactPath('/login?user=bob&password=hunter2&api_key=K1&apikey=K2&access_token=T&q=x#frag'),
      '/login?user=bob&password=[redacted]&api_key=[redacted]&apikey=[redacted]&access_token=[redacted]&q=x',
    );
    assert.equal(redactPath('/a?Session%49d=s&card_number=4111&pwd=p&auth=a&passwd=z'), '/a?Session%49d=[redacted]&card_number=[redacted]&pwd=[redacted]&auth=[redacted]&passwd=[redacted]');
    assert.equal(redactPath('/plain/path'), '/plain/path');
    assert.equal(redactPath('/a?page=2&sort=asc'), '/a?page=2&sort=asc');
  });

  test('matched data of credential variables is redacted; query-like variables are redacted per parameter; 200 bytes max', () => {
    assert.equal(redactMatchedData('REQUEST_HEADERS:Authorization', 'Bearer abc', 200), '[redacted]');
    assert.equal(redactMatchedData('REQUEST_HEADERS:Cookie', 'sid=1', 200), '[redacted]');
    assert.equal(redactMatchedData('REQUEST_COOKIES:theme', "' or 1=1", 200), '[redacted]');
    assert.equal(redactMatchedData('ARGS:password', "' or 1=1", 200), '[redacted]');
    assert.equal(redactMatchedData('ARGS_GET:access_token', 'x', 200), '[redacted]');
    assert.equal(redactMatchedData('REQUEST_URI', "/x?id=1' or 1&token=abc", 200), "/x?id=1' or 1&token=[redacted]");
    assert.equal(redactMatchedData('ARGS:q', "<script>", 200), '<script>');
    assert.equal(redactMatchedData('ARGS:q', 'a'.repeat(500), 200).length, 200);
    // UTF-8 (latin1 byte string in): a cut multi-byte character is dropped, not mangled.
    const bytes = Buffer.from('é'.repeat(150), 'utf8').toString('latin1');
    const text = redactMatchedData('ARGS:q', bytes, 201);
    assert.equal(text, 'é'.repeat(100));
  });

  test('events never carry Authorization/Cookie values or secret query values', () => {
    const e = buildEvent(
      detection({
        uri: '/login?password=hunter2&q=1',
        matches: [
          ruleMatch({ matchedVar: 'REQUEST_HEADERS:Authorization', matchedData: 'Basic dXNlcjpodW50ZXIy' }),
          ruleMatch({ id: 941100, matchedVar: 'REQUEST_HEADERS:Cookie', matchedData: 'session=s3cr3t' }),
        ],
      }),
    );
    const json = JSON.stringify(e);
    assert.ok(!json.includes('hunter2'));
    assert.ok(!json.includes('dXNlcjpodW50ZXIy'));
    assert.ok(!json.includes('s3cr3t'));
    assert.equal(e.request.path, '/login?password=[redacted]&q=1');
  });
});

describe('event shape', () => {
  test('fields from verdict, context extensions and SPIFFE principal', () => {
    const e = buildEvent(
      detection({
        requestId: 'r-42',
        sourcePrincipal: 'spiffe://cluster.local/ns/frontend/sa/web',
        matches: [ruleMatch(), ruleMatch({ id: 949110, severity: 0, tags: [], msg: 'Inbound Anomaly Score Exceeded', disruptive: true, matchedVar: 'TX:blocking_inbound_anomaly_score', matchedData: '5' })],
      }),
    );
    assert.equal(e.schema, 'sidewall.security_event/v1');
    assert.match(e.id, /^[0-9a-f-]{36}$/);
    assert.equal(e.request_id, 'r-42');
    assert.equal(e.verdict, 'blocked');
    assert.equal(e.mode, 'block');
    assert.equal(e.status, 403);
    assert.equal(e.count, 1);
    assert.equal(e.severity, 'emergency');
    assert.equal(e.anomaly_score, 10);
    assert.deepEqual(e.source, { ip: '10.1.2.3', port: 40000, principal: 'spiffe://cluster.local/ns/frontend/sa/web', service_account: 'web', namespace: 'frontend' });
    assert.deepEqual(e.destination, { ip: '10.9.8.7', port: 8080, namespace: 'shop', pod: 'web-7f9c', service: 'web' });
    assert.deepEqual(e.request, { method: 'GET', host: 'shop.example.com', path: '/item?id=1', protocol: 'HTTP/1.1' });
    assert.deepEqual(e.rules[0], {
      id: 942100,
      msg: 'SQL Injection Attack Detected via libinjection',
      tags: ['attack-sqli', 'paranoia-level/1'],
      matched_var: 'ARGS:id',
      matched_data: "1' or '1'='1",
      disruptive: false,
      severity: 'critical',
      paranoia_level: 1,
    });
    assert.equal(e.rules[1]!.disruptive, true);
    assert.equal(e.rules[1]!.paranoia_level, undefined);
    const detected = buildEvent(detection({ action: 'detect' }));
    assert.equal(detected.verdict, 'detected');
    assert.equal(detected.mode, 'detect');
    assert.equal(detected.status, undefined);
  });

  test('path templates: numeric, uuid and hex segments become {id}', () => {
    assert.equal(pathTemplate('/users/42/orders/9f1c2e3d-1111-4222-8333-444455556666?x=1'), '/users/{id}/orders/{id}');
    assert.equal(pathTemplate('/blob/a3f9c0d1e2b4'), '/blob/{id}');
    assert.equal(pathTemplate('/api/v1/facade/search'), '/api/v1/facade/search');
    const a = aggregationKey(detection({ uri: '/users/1?q=a', matches: [ruleMatch({ id: 2 }), ruleMatch({ id: 1 })] }));
    const b = aggregationKey(detection({ uri: '/users/2?q=b', matches: [ruleMatch({ id: 1 }), ruleMatch({ id: 2 })] }));
    assert.equal(a, b);
    assert.notEqual(a, aggregationKey(detection({ uri: '/users/2', ip: '10.0.0.9', matches: [ruleMatch({ id: 1 }), ruleMatch({ id: 2 })] })));
  });
});

describe('aggregation', () => {
  test('a flood of N identical detections: the first at once, then one event with count N-1 at window end', async () => {
    const emitted: SecurityEvent[] = [];
    let folded = 0;
    const agg = new Aggregator({ windowMs: 300, maxKeys: 100, emit: (e) => emitted.push(e), onFolded: (n) => (folded += n) });
    const N = 1000;
    const t0 = Date.now();
    for (let i = 0; i < N; i++) agg.add(detection({ uri: `/users/${i}`, requestId: `r${i}` }));
    agg.add(detection({ ip: '192.0.2.1' })); // another source: its own first event
    assert.equal(emitted.length, 2, 'first of each key emitted synchronously');
    assert.equal(emitted[0]!.count, 1);
    assert.equal(emitted[0]!.request_id, 'r0');
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(emitted.length, 3);
    const agg1 = emitted[2]!;
    assert.equal(agg1.count, N - 1);
    assert.equal(agg1.request_id, `r${N - 1}`, 'built from the last repeat');
    assert.equal(agg1.window_ms, 300);
    assert.ok(Date.parse(agg1.first_time!) >= t0);
    assert.equal(folded, N - 1);
    // Quiet window: the key closes, the next detection is "first" again.
    await new Promise((r) => setTimeout(r, 400));
    agg.add(detection({ uri: '/users/5' }));
    assert.equal(emitted.length, 4);
    assert.equal(emitted[3]!.count, 1);
    agg.flush();
  });

  test('window 0 disables aggregation; flush emits pending aggregates', () => {
    const emitted: SecurityEvent[] = [];
    const off = new Aggregator({ windowMs: 0, maxKeys: 10, emit: (e) => emitted.push(e) });
    for (let i = 0; i < 5; i++) off.add(detection());
    assert.equal(emitted.length, 5);
    const on = new Aggregator({ windowMs: 60_000, maxKeys: 10, emit: (e) => emitted.push(e) });
    for (let i = 0; i < 5; i++) on.add(detection());
    on.flush();
    assert.deepEqual(emitted.slice(5).map((e) => e.count), [1, 4]);
  });
});

describe('signatures', () => {
  const body = Buffer.from('[{"id":"a"}]');
  test('sign/verify round trip; tampered body, wrong secret, stale timestamp rejected', () => {
    const now = 1_700_000_000;
    const sig = sign('s3cret', now, body);
    assert.match(sig, /^v1=[0-9a-f]{64}$/);
    assert.deepEqual(verify('s3cret', body, String(now), sig, { nowSeconds: now + 10 }), { ok: true });
    assert.deepEqual(verify('s3cret', body, String(now), `v1=${'0'.repeat(64)}, ${sig}`, { nowSeconds: now }), { ok: true });
    assert.equal(verify('s3cret', Buffer.from('[{"id":"b"}]'), String(now), sig, { nowSeconds: now }).ok, false);
    assert.equal(verify('other', body, String(now), sig, { nowSeconds: now }).ok, false);
    const stale = verify('s3cret', body, String(now), sig, { nowSeconds: now + 301 });
    assert.equal(stale.ok, false);
    assert.match((stale as { reason: string }).reason, /tolerance/);
    assert.equal(verify('s3cret', body, undefined, sig).ok, false);
    assert.equal(verify('s3cret', body, String(now), undefined, { nowSeconds: now }).ok, false);
  });
});

describe('body formats', () => {
  test('json array and CloudEvents 1.0 batch', () => {
    const events = [buildEvent(detection({ requestId: 'a' })), buildEvent(detection({ requestId: 'b', action: 'detect' }))];
    const jsons = events.map((e) => JSON.stringify(e));
    assert.deepEqual(JSON.parse(formatBody('json', jsons, '/sidewall/pod').toString()), events);
    const ce = JSON.parse(formatBody('cloudevents', jsons, '/sidewall/pod-1').toString()) as Array<Record<string, unknown>>;
    assert.equal(ce.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(Object.keys(ce[i]!).sort(), ['data', 'datacontenttype', 'dataschema', 'id', 'source', 'specversion', 'time', 'type']);
      assert.equal(ce[i]!.specversion, '1.0');
      assert.equal(ce[i]!.id, events[i]!.id);
      assert.equal(ce[i]!.time, events[i]!.time);
      assert.equal(ce[i]!.source, '/sidewall/pod-1');
      assert.equal(ce[i]!.type, 'io.sidewall.security.v1');
      assert.equal(ce[i]!.datacontenttype, 'application/json');
      assert.deepEqual(ce[i]!.data, events[i]);
    }
  });
});

describe('retry timing', () => {
  test('full jitter backoff is bounded by min(max, initial * 2^attempt)', () => {
    assert.equal(backoffDelay(0, 100, 1000, () => 0.999999), 99);
    assert.equal(backoffDelay(3, 100, 1000, () => 0.5), 400);
    assert.equal(backoffDelay(10, 100, 1000, () => 0.999999), 999);
    assert.equal(backoffDelay(5, 100, 1000, () => 0), 0);
  });
  test('Retry-After: seconds and HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(new Date(1_000_000 + 5000).toUTCString(), 1_000_000), 5000);
    assert.equal(parseRetryAfter('garbage'), null);
    assert.equal(parseRetryAfter(undefined), null);
  });
  test('status classes', () => {
    assert.equal(classifyStatus(204), 'delivered');
    for (const s of [408, 429, 500, 503]) assert.equal(classifyStatus(s), 'retry');
    for (const s of [301, 400, 401, 404, 413]) assert.equal(classifyStatus(s), 'permanent');
  });
});

describe('spool', () => {
  const opts = (name: string, over: Partial<SpoolOptions> = {}): SpoolOptions => ({
    dir: join(dir, name),
    maxBytes: 1024 * 1024,
    segmentBytes: 4096,
    fsync: 'never',
    fsyncIntervalMs: 1000,
    onFull: 'drop_oldest',
    ...over,
  });
  const hooks = () => {
    const dropped: Record<string, number> = {};
    return { dropped, hooks: { dropped: (r: string, n: number) => (dropped[r] = (dropped[r] ?? 0) + n) } };
  };
  const json = (i: number) => JSON.stringify({ id: `e${i}`, pad: 'x'.repeat(100) });

  test('record format: checksum detects any change', () => {
    const rec = formatRecord(7, 123, '{"id":"é"}');
    assert.deepEqual(parseRecord(rec.subarray(0, rec.length - 1)), { seq: 7, producedMs: 123, json: '{"id":"é"}' });
    const bad = Buffer.from(rec);
    bad[bad.length - 3] ^= 1;
    assert.equal(parseRecord(bad.subarray(0, bad.length - 1)), null);
  });

  test('delivered records are not redelivered after reopen; undelivered are, in order; segments rotate and are deleted', () => {
    const o = opts('reopen');
    const h = hooks();
    const s1 = Spool.open(o, h.hooks);
    for (let i = 0; i < 100; i++) s1.push(json(i), 1);
    s1.flush();
    assert.ok(readdirSync(o.dir).filter((n) => n.startsWith('seg-')).length > 2, 'rotated into several segments');
    const first = s1.take(30, 1e9);
    assert.deepEqual(first.map((r) => JSON.parse(r.json).id), Array.from({ length: 30 }, (_, i) => `e${i}`));
    s1.ack(first);
    const inflight = s1.take(10, 1e9); // taken, not acked: must come back
    assert.equal(inflight.length, 10);
    s1.close();

    const s2 = Spool.open(o, h.hooks);
    assert.equal(s2.available, 70);
    const rest: string[] = [];
    for (;;) {
      const batch = s2.take(16, 1e9);
      if (batch.length === 0) break;
      rest.push(...batch.map((r) => JSON.parse(r.json).id as string));
      s2.ack(batch);
    }
    assert.deepEqual(rest, Array.from({ length: 70 }, (_, i) => `e${i + 30}`));
    s2.push(json(100), 1);
    s2.flush();
    const last = s2.take(10, 1e9);
    assert.deepEqual(last.map((r) => JSON.parse(r.json).id), ['e100']);
    s2.ack(last);
    s2.close();
    assert.deepEqual(readdirSync(o.dir).filter((n) => n.startsWith('seg-')), [], 'fully delivered segments deleted');
    assert.deepEqual(h.dropped, {});
  });

  test('a torn tail and a corrupt record are skipped and counted, never fatal', () => {
    const o = opts('torn');
    const h = hooks();
    const s1 = Spool.open(o, h.hooks);
    for (let i = 0; i < 5; i++) s1.push(json(i), 1);
    s1.close();
    const seg = readdirSync(o.dir).find((n) => n.startsWith('seg-'))!;
    const file = join(o.dir, seg);
    const lines = readFileSync(file, 'latin1').split('\n');
    lines[2] = lines[2]!.replace('"e2"', '"eX"'); // bit rot: checksum mismatch
    writeFileSync(file, lines.join('\n'), 'latin1');
    appendFileSync(file, formatRecord(6, 1, json(6)).subarray(0, 40)); // torn write (SIGKILL mid-write)
    const s2 = Spool.open(o, h.hooks);
    assert.deepEqual(h.dropped, { corrupt: 2 });
    const got = s2.take(100, 1e9).map((r) => JSON.parse(r.json).id);
    assert.deepEqual(got, ['e0', 'e1', 'e3', 'e4']);
    s2.push(json(7), 1); // new writes go to a new segment, unharmed by the torn tail
    s2.flush();
    assert.deepEqual(s2.take(100, 1e9).map((r) => JSON.parse(r.json).id), ['e7']);
    s2.close();
  });

  test('full: drop_oldest drops whole oldest segments, drop_newest refuses new events; every drop counted', () => {
    for (const onFull of ['drop_oldest', 'drop_newest'] as const) {
      const o = opts(`full-${onFull}`, { maxBytes: 8192, segmentBytes: 2048, onFull });
      const h = hooks();
      const s = Spool.open(o, h.hooks);
      const N = 300;
      for (let i = 0; i < N; i++) {
        s.push(json(i), 1);
        if (i % 7 === 0) s.flush();
      }
      s.flush();
      assert.ok(s.bytes <= 8192, `bounded: ${s.bytes}`);
      const ids: number[] = [];
      for (;;) {
        const b = s.take(50, 1e9);
        if (b.length === 0) break;
        ids.push(...b.map((r) => Number((JSON.parse(r.json).id as string).slice(1))));
        s.ack(b);
      }
      assert.ok(h.dropped.spool_full! > 0, `${onFull}: drops counted`);
      assert.equal(ids.length + h.dropped.spool_full!, N, `${onFull}: delivered + dropped = produced`);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'order kept');
      if (onFull === 'drop_oldest') assert.equal(ids[ids.length - 1], N - 1, 'newest kept');
      else assert.equal(ids[0], 0, 'oldest kept');
      s.close();
    }
  });

  test('a spool directory in use by a live process is refused', () => {
    const o = opts('locked');
    const s = Spool.open(o, hooks().hooks);
    s.close();
    writeFileSync(join(o.dir, 'lock'), `${process.ppid}\n`);
    assert.throws(() => Spool.open(o, hooks().hooks), /in use by process/);
  });
});

describe('events config', () => {
  const err = (text: string): string => {
    try {
      const s = parseConfigText(text, 'x.yaml', dir);
      loadConfig({ overrides: {}, cwd: dir, file: writeFiles(dir, { 'c.yaml': text })['c.yaml'] });
      void s;
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(!e.message.includes('\n'));
      return e.message;
    }
    return assert.fail('no error');
  };

  test('defaults: log sink on, no webhooks, 10 s aggregation window', () => {
    const c = loadConfig({ cwd: dir });
    assert.equal(c.events?.enabled, true);
    assert.equal(c.events?.log, true);
    assert.deepEqual(c.events?.webhooks, []);
    assert.equal(c.events?.aggregation.windowMs, 10_000);
  });

  test('full section, secret_file / url_file, spool per webhook directory', () => {
    const files = writeFiles(dir, { 'url.txt': 'https://siem.example.com/in\n', 'secret.txt': 'from-file\n' });
    const text = `events:
  log: false
  aggregation: { window_ms: 5000, max_keys: 50 }
  spool: { dir: spool, max_bytes: 1048576, fsync: always, on_full: drop_newest }
  webhooks:
    - name: siem
      url_file: ${files['url.txt']}
      secret_file: ${files['secret.txt']}
      format: cloudevents
      batch: { max_events: 10, max_bytes: 65536, max_delay_ms: 200 }
      retry: { initial_ms: 100, max_ms: 5000 }
      filter: { min_severity: critical, verdicts: [blocked], namespaces: [shop] }
    - url: http://chat.local:8080/hook
      secret: s2
      spool: false
`;
    const c = loadConfig({ file: writeFiles(dir, { 'full.yaml': text })['full.yaml'], cwd: dir });
    const e = c.events!;
    assert.equal(e.log, false);
    assert.deepEqual(e.aggregation, { windowMs: 5000, maxKeys: 50 });
    const [siem, chat] = e.webhooks;
    assert.equal(siem!.url, 'https://siem.example.com/in');
    assert.equal(siem!.secret, 'from-file');
    assert.equal(siem!.format, 'cloudevents');
    assert.deepEqual(siem!.filter, { minSeverity: 2, verdicts: ['blocked'], namespaces: ['shop'] });
    assert.equal(siem!.spool?.dir, join(dir, 'spool', 'siem'));
    assert.equal(siem!.spool?.fsync, 'always');
    assert.equal(siem!.spool?.onFull, 'drop_newest');
    assert.equal(chat!.name, 'chat.local-8080');
    assert.equal(chat!.spool, null);
  });

  test('flags: --events-webhook, --events-secret, --events-spool, --events-webhook-dir', () => {
    const wd = join(dir, 'wh');
    writeFiles(makeDir(wd), { url: 'http://collector.sec:9000/events\n', secret: 'k8s-secret\n', format: 'cloudevents\n' });
    const c = loadConfig({
      cwd: dir,
      overrides: { eventsWebhooks: ['http://a.example/x', 'http://a.example/y'], eventsSecret: 'flag-secret', eventsSpool: 'sp', eventsWebhookDirs: [wd] },
    });
    const w = c.events!.webhooks;
    assert.deepEqual(w.map((x) => x.name), ['a.example', 'a.example-2', 'wh']);
    assert.deepEqual(w.map((x) => x.secret), ['flag-secret', 'flag-secret', 'k8s-secret']);
    assert.equal(w[2]!.format, 'cloudevents');
    assert.equal(w[0]!.spool?.dir, join(dir, 'sp', 'a.example'));
  });

  test('errors name the key or flag', () => {
    assert.match(err('events: { webhooks: [ { url: "ftp://x", secret: s } ] }'), /events\.webhooks\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(err('events: { webhooks: [ { secret: s } ] }'), /events\.webhooks\[0\]: needs url or url_file/);
    assert.match(err('events: { webhooks: [ { url: "http://x" } ] }'), /events\.webhooks\[0\]: needs secret or secret_file/);
    assert.match(err('events: { webhooks: [ { url: "http://x", secret_file: /nonexistent/s } ] }'), /events\.webhooks\[0\]\.secret_file: cannot read \/nonexistent\/s: file not found/);
    assert.match(err('events: { webhooks: [ { url: "http://x", secret: s, format: xml } ] }'), /events\.webhooks\[0\]\.format: must be one of json, cloudevents/);
    assert.match(err('events: { webhooks: [ { url: "http://x", secret: s, filter: { min_severity: loud } } ] }'), /filter\.min_severity: must be one of emergency/);
    assert.match(err('events: { spool: { dir: /tmp/x, fsync: sometimes } }'), /events\.spool\.fsync: must be one of always, interval, never/);
    assert.match(err('events: { aggregation: { window_ms: -1 } }'), /events\.aggregation\.window_ms: must be an integer >= 0/);
    assert.match(err('events: { sinks: [] }'), /events\.sinks: unknown key/);
    assert.match(err('events: { webhooks: [ { name: a, url: "http://x", secret: s }, { name: a, url: "http://y", secret: s } ] }'), /events\.webhooks\[1\]\.name: duplicate webhook name "a"/);
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhooks: ['http://x'] } }), /--events-webhook http:\/\/x: needs a signing secret/);
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhooks: ['nope'], eventsSecret: 's' } }), /--events-webhook: must be an http/);
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [join(dir, 'missing')] } }), /--events-webhook-dir: .*missing: directory not found/);
    const partial = makeDir(join(dir, 'partial'));
    writeFiles(partial, { url: 'http://x/\n' });
    assert.throws(() => loadConfig({ cwd: dir, overrides: { eventsWebhookDirs: [partial] } }), /--events-webhook-dir .*partial: secret: cannot read .*secret: file not found/);
  });
});

function makeDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}
