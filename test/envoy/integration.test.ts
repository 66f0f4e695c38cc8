// Sidewall behind the real Envoy binary: Envoy (README's ext_authz configuration, with the knobs
// varied) → Sidewall (real `sidewall serve`, embedded rules) → upstream app, over loopback TCP and
// a Unix socket, HTTP/1.1 and h2c.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchEnvoy, type EnvoyProcess } from '../helpers/envoy.js';
import { testBootstrap, type TestBootstrapOptions } from '../helpers/envoy-config.js';
import { h2c, http1 } from '../helpers/http-clients.js';
import { envoyMissing, skipUnless } from '../helpers/requirements.js';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process.js';
import { startUpstreamApp, type UpstreamApp } from '../helpers/upstream-app.js';

const skip = skipUnless(envoyMissing());
// Aggregation off: every test asserts the event of its own request.
const CONFIG = 'deny_response:\n  body: "Blocked, ref {{request_id}}"\n  content_type: text/plain\nevents:\n  aggregation: { window_ms: 0 }\n';
const SQLI = "1' OR '1'='1' UNION SELECT password FROM users--";
const XSS = '<script>alert(document.cookie)</script>';

interface Stack {
  envoy: EnvoyProcess;
  port: number;
}

async function stack(app: UpstreamApp, sidewall: ServerProcess | null, extra: Partial<TestBootstrapOptions> = {}): Promise<Stack> {
  const port = await freePort();
  const adminPort = await freePort();
  const target = sidewall?.grpcAddress ?? `127.0.0.1:${await freePort()}`;
  const sw = target.startsWith('unix:') ? { socketPath: target.slice(5) } : { port: Number(target.split(':')[1]) };
  const envoy = await launchEnvoy({ adminPort, bootstrap: testBootstrap({ listenerPort: port, adminPort, upstreamPort: app.port, sidewall: sw, ...extra }) });
  return { envoy, port };
}

async function metric(sidewall: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${sidewall.adminUrl}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function multipart(fields: Record<string, string>): { body: string; contentType: string } {
  const boundary = '----sidewall7MA4YWxkTrZu0gW';
  const parts = Object.entries(fields).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  return { body: `${parts.join('')}--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` };
}

const eventOf = (rid: string) => (l: Record<string, unknown>) => (l['security_event'] as { request_id?: string } | undefined)?.request_id === rid;

describe('Sidewall behind real Envoy', { skip }, () => {
  let app: UpstreamApp;
  let unixSidewall: ServerProcess;
  let tcpSidewall: ServerProcess;
  let block: Stack; // over the Unix socket
  const extra: Stack[] = [];
  before(async () => {
    app = await startUpstreamApp();
    [unixSidewall, tcpSidewall] = await Promise.all([
      startServer({ config: CONFIG, args: ['--mode', 'block'], unixSocket: true }),
      startServer({ config: CONFIG, args: ['--mode', 'block'] }),
    ]);
    block = await stack(app, unixSidewall);
  });
  after(async () => {
    await Promise.all([block, ...extra].map((s) => s?.envoy.stop()));
    await Promise.all([unixSidewall?.stop(), tcpSidewall?.stop()]);
    await app?.close();
  });
  const extraStack = async (sidewall: ServerProcess | null, o: Partial<TestBootstrapOptions>) => {
    const s = await stack(app, sidewall, o);
    extra.push(s);
    return s;
  };

  it('benign GET and POST (JSON, form, multipart) reach the app (200)', async () => {
    const get = await http1(block.port, { path: '/products?id=42&sort=price' });
    assert.equal(get.status, 200, get.body.toString());
    assert.match(get.body.toString(), /"app":"upstream"/);
    const json = await http1(block.port, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: '{"item":"book","qty":2}' });
    assert.equal(json.status, 200, json.body.toString());
    assert.match(json.body.toString(), /"bodyBytes":23/, 'the body reaches the app whole');
    const form = await http1(block.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'user=alice&remember=1' });
    assert.equal(form.status, 200, form.body.toString());
    const mp = multipart({ title: 'Holiday photos', comment: 'Nice weather, see you soon' });
    const up = await http1(block.port, { method: 'POST', path: '/upload', headers: { 'content-type': mp.contentType }, body: mp.body });
    assert.equal(up.status, 200, up.body.toString());
  });

  const mp = multipart({ title: 'x', comment: SQLI });
  for (const [where, req] of [
    ['query', { path: `/search?q=${encodeURIComponent(SQLI)}` }],
    ['form', { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=${encodeURIComponent(SQLI)}` }],
    ['JSON', { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: SQLI }) }],
    ['multipart', { method: 'POST', path: '/upload', headers: { 'content-type': mp.contentType }, body: mp.body }],
    ['Cookie header', { path: '/account', headers: { cookie: `session=${encodeURIComponent(SQLI)}` } }],
    ['Referer header (XSS)', { path: '/c', headers: { referer: `https://evil.example/${XSS}` } }],
    ['query (XSS)', { path: `/c?text=${encodeURIComponent(XSS)}` }],
  ] as const) {
    it(`attack in ${where} is denied with the configured status and body`, async () => {
      const rid = `rid-${where.replace(/\W/g, '')}`;
      const before = app.received.length;
      const res = await http1(block.port, { ...req, headers: { ...('headers' in req ? req.headers : {}), 'x-request-id': rid } });
      assert.equal(res.status, 403, res.body.toString());
      assert.equal(res.body.toString(), `Blocked, ref ${rid}`);
      assert.equal(res.headers['content-type'], 'text/plain');
      assert.equal(app.received.length, before, 'the attack must not reach the app');
      await unixSidewall.waitForLog(eventOf(rid));
    });
  }

  it('h2c: benign 200, attack in query and in body 403', async () => {
    const ok = await h2c(block.port, { path: '/products?id=1' });
    assert.equal(ok.status, 200);
    const okPost = await h2c(block.port, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: '{"item":"pen"}' });
    assert.equal(okPost.status, 200);
    const res = await h2c(block.port, { path: `/search?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': 'h2-q' } });
    assert.equal(res.status, 403);
    assert.equal(res.body.toString(), 'Blocked, ref h2-q');
    const body = await h2c(block.port, { method: 'POST', path: '/api', headers: { 'content-type': 'application/json', 'x-request-id': 'h2-b' }, body: JSON.stringify({ q: SQLI }) });
    assert.equal(body.status, 403);
    const line = await block.envoy.waitForAccessLog((l) => l['request_id'] === 'h2-b');
    assert.equal(line['protocol'], 'HTTP/2');
  });

  it('x-request-id flows into the verdict, the security event and the access log', async () => {
    const rid = 'trace-7f3a9c';
    const res = await http1(block.port, { path: `/search/rid?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': rid } });
    assert.equal(res.status, 403);
    const line = await block.envoy.waitForAccessLog((l) => l['request_id'] === rid);
    assert.equal(line['waf_action'], 'deny');
    assert.equal(line['waf_mode'], 'block');
    assert.equal(line['waf_request_id'], rid);
    assert.ok(Array.isArray(line['waf_rule_ids']) && line['waf_rule_ids'].length > 0, JSON.stringify(line));
    assert.ok((line['waf_rule_ids'] as unknown[]).every((id) => /^\d{6,7}$/.test(String(id))), JSON.stringify(line));
    assert.ok(Number(line['waf_anomaly_score']) >= 5, JSON.stringify(line));
    assert.equal(line['status'], 403);
    const event = await unixSidewall.waitForLog(eventOf(rid));
    const ev = event['security_event'] as { verdict: string; rules: Array<{ id: number }> };
    assert.equal(ev.verdict, 'blocked');
    assert.deepEqual(ev.rules.map((r) => String(r.id)).sort(), (line['waf_rule_ids'] as unknown[]).map(String).sort(), 'access log and event name the same rules');
  });

  it('access log of an allowed request: waf_action allow, no rules, score 0', async () => {
    const rid = 'allow-1';
    assert.equal((await http1(block.port, { path: '/products?id=7', headers: { 'x-request-id': rid } })).status, 200);
    const line = await block.envoy.waitForAccessLog((l) => l['request_id'] === rid);
    assert.equal(line['waf_action'], 'allow');
    assert.deepEqual(line['waf_rule_ids'], []);
    assert.equal(line['waf_anomaly_score'], 0);
    assert.equal(line['status'], 200);
  });

  for (const packAsBytes of [true, false]) {
    it(`gRPC over TCP, pack_as_bytes ${packAsBytes}: body attacks denied, benign and UTF-8 bodies pass`, async () => {
      const s = await extraStack(tcpSidewall, { withRequestBody: { maxRequestBytes: 1_048_576, allowPartialMessage: true, packAsBytes } });
      const ok = await http1(s.port, { method: 'POST', path: '/notes', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'Crème brûlée für 2 — ok' }) });
      assert.equal(ok.status, 200, ok.body.toString());
      const form = await http1(s.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=${encodeURIComponent(SQLI)}` });
      assert.equal(form.status, 403, form.body.toString());
      const json = await http1(s.port, { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: 'é', q: XSS }) });
      assert.equal(json.status, 403, json.body.toString());
    });
  }

  it('body over max_request_bytes, allow_partial_message false: Envoy answers 413, no check', async () => {
    const s = await extraStack(tcpSidewall, { withRequestBody: { maxRequestBytes: 1024, allowPartialMessage: false, packAsBytes: true } });
    const checks = await metric(tcpSidewall, 'sidewall_checks_total');
    const before = app.received.length;
    const res = await http1(s.port, { method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4096, 'a') });
    assert.equal(res.status, 413, res.body.toString());
    assert.equal(app.received.length, before);
    assert.equal(await metric(tcpSidewall, 'sidewall_checks_total'), checks, 'Envoy must not call Sidewall');
    const small = await http1(s.port, { method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(512, 'a') });
    assert.equal(small.status, 200);
  });

  it('body over max_request_bytes, allow_partial_message true: the first bytes are inspected (partial counted)', async () => {
    const s = await extraStack(tcpSidewall, { withRequestBody: { maxRequestBytes: 1024, allowPartialMessage: true, packAsBytes: true } });
    const partial = await metric(tcpSidewall, 'sidewall_partial_bodies_total');
    const pad = 'x'.repeat(3000);
    const head = await http1(s.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=${encodeURIComponent(SQLI)}&pad=${pad}` });
    assert.equal(head.status, 403, 'an attack inside the first max_request_bytes is seen');
    const before = app.received.length;
    const tail = await http1(s.port, { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `pad=${pad}&user=${encodeURIComponent(SQLI)}` });
    // Documented limit: what lies beyond max_request_bytes is never sent to Sidewall.
    assert.equal(tail.status, 200, tail.body.toString());
    assert.equal(app.received.at(-1)?.bodyBytes, 3004 + 5 + encodeURIComponent(SQLI).length + 1, 'the app still gets the whole body');
    assert.equal(app.received.length, before + 1);
    assert.equal(await metric(tcpSidewall, 'sidewall_partial_bodies_total'), partial + 2);
  });

  it('detect mode lets the attack through and still logs it', async () => {
    const sidewall = await startServer({ config: CONFIG, args: ['--mode', 'detect'] });
    try {
      const s = await extraStack(sidewall, {});
      const rid = 'detect-1';
      const res = await http1(s.port, { path: `/search?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': rid } });
      assert.equal(res.status, 200);
      const line = await s.envoy.waitForAccessLog((l) => l['request_id'] === rid);
      assert.equal(line['waf_action'], 'detect');
      assert.ok(Number(line['waf_anomaly_score']) >= 5);
      const event = await sidewall.waitForLog(eventOf(rid));
      assert.equal((event['security_event'] as { verdict: string }).verdict, 'detected');
    } finally {
      await sidewall.stop();
    }
  });

  for (const allow of [true, false]) {
    it(`Sidewall down: failure_mode_allow ${allow} → ${allow ? '200' : '403'}`, async () => {
      const s = await extraStack(null, { failureModeAllow: allow });
      const res = await http1(s.port, { path: '/products?id=1' });
      assert.equal(res.status, allow ? 200 : 403, res.body.toString());
      assert.equal(await s.envoy.stat(`http.ingress.ext_authz.${allow ? 'failure_mode_allowed' : 'error'}`), 1);
    });
  }

  it('Sidewall slow (process stopped): the check times out; failure_mode_allow true → 200, false → 403', async () => {
    const sidewall = await startServer({ config: CONFIG, args: ['--mode', 'block'] });
    try {
      const timeoutMs = 300;
      const open = await extraStack(sidewall, { failureModeAllow: true, timeoutMs });
      const closed = await extraStack(sidewall, { failureModeAllow: false, timeoutMs });
      // Warm: both Envoys hold an HTTP/2 connection to Sidewall, then Sidewall stops answering.
      assert.equal((await http1(open.port, { path: '/w' })).status, 200);
      assert.equal((await http1(closed.port, { path: '/w' })).status, 200);
      sidewall.child.kill('SIGSTOP');
      try {
        for (const [s, want] of [[open, 200], [closed, 403]] as const) {
          const t0 = performance.now();
          const res = await http1(s.port, { path: `/search?q=${encodeURIComponent(SQLI)}` }, { timeoutMs: 5000 });
          const ms = performance.now() - t0;
          assert.equal(res.status, want, res.body.toString());
          assert.ok(ms >= timeoutMs * 0.9 && ms < timeoutMs + 1500, `answered after ${ms.toFixed(0)} ms, the check timeout is ${timeoutMs} ms`);
        }
        assert.equal(await open.envoy.stat('http.ingress.ext_authz.failure_mode_allowed'), 1);
        assert.equal(await closed.envoy.stat('http.ingress.ext_authz.error'), 1);
      } finally {
        sidewall.child.kill('SIGCONT');
      }
      // Back: verdicts again.
      assert.equal((await http1(closed.port, { path: `/search?q=${encodeURIComponent(SQLI)}` })).status, 403);
    } finally {
      await sidewall.stop();
    }
  });
});
