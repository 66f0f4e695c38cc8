// Sidewall behind the real Envoy binary: Envoy (README's ext_authz configuration) → Sidewall
// (real `sidewall serve`, embedded rules) → upstream app, over loopback TCP and a Unix socket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchEnvoy, type EnvoyProcess } from '../helpers/envoy.js';
import { testBootstrap, type TestBootstrapOptions } from '../helpers/envoy-config.js';
import { h2c, http1 } from '../helpers/http-clients.js';
import { envoyMissing, skipUnless } from '../helpers/requirements.js';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process.js';
import { startUpstreamApp, type UpstreamApp } from '../helpers/upstream-app.js';

const skip = skipUnless(envoyMissing());
const DENY_CONFIG = 'deny_response:\n  body: "Blocked, ref {{request_id}}"\n  content_type: text/plain\n';
const SQLI = "1' OR '1'='1' UNION SELECT password FROM users--";

interface Stack {
  envoy: EnvoyProcess;
  sidewall: ServerProcess | null;
  port: number;
}

async function stack(app: UpstreamApp, sidewall: ServerProcess | null, extra: Partial<TestBootstrapOptions> = {}): Promise<Stack> {
  const port = await freePort();
  const adminPort = await freePort();
  const target = sidewall?.grpcAddress ?? `127.0.0.1:${await freePort()}`;
  const sw = target.startsWith('unix:') ? { socketPath: target.slice(5) } : { port: Number(target.split(':')[1]) };
  const envoy = await launchEnvoy({ adminPort, bootstrap: testBootstrap({ listenerPort: port, adminPort, upstreamPort: app.port, sidewall: sw, ...extra }) });
  return { envoy, sidewall, port };
}

describe('Sidewall behind real Envoy', { skip }, () => {
  let app: UpstreamApp;
  let block: Stack;
  before(async () => {
    app = await startUpstreamApp();
    const sidewall = await startServer({ config: DENY_CONFIG, args: ['--mode', 'block'], unixSocket: true });
    block = await stack(app, sidewall);
  });
  after(async () => {
    await block?.envoy.stop();
    await block?.sidewall?.stop();
    await app?.close();
  });

  it('benign GET and POST reach the app (200)', async () => {
    const get = await http1(block.port, { path: '/products?id=42&sort=price' });
    assert.equal(get.status, 200, get.body.toString());
    assert.match(get.body.toString(), /"app":"upstream"/);
    const post = await http1(block.port, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: '{"item":"book","qty":2}' });
    assert.equal(post.status, 200, post.body.toString());
  });

  for (const [where, req] of [
    ['query', { path: `/search?q=${encodeURIComponent(SQLI)}` }],
    ['form', { method: 'POST', path: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=${encodeURIComponent(SQLI)}` }],
    ['JSON', { method: 'POST', path: '/api', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q: SQLI }) }],
    ['XSS in query', { path: `/c?text=${encodeURIComponent('<script>alert(document.cookie)</script>')}` }],
  ] as const) {
    it(`SQLi/XSS in ${where} is denied with the configured status and body`, async () => {
      const before = app.received.length;
      const res = await http1(block.port, { ...req, headers: { ...('headers' in req ? req.headers : {}), 'x-request-id': `rid-${where.replace(/\W/g, '')}` } });
      assert.equal(res.status, 403, res.body.toString());
      assert.equal(res.body.toString(), `Blocked, ref rid-${where.replace(/\W/g, '')}`);
      assert.equal(app.received.length, before, 'the attack must not reach the app');
    });
  }

  it('h2c: benign 200, attack 403', async () => {
    assert.equal((await h2c(block.port, { path: '/products?id=1' })).status, 200);
    const res = await h2c(block.port, { path: `/search?q=${encodeURIComponent(SQLI)}` });
    assert.equal(res.status, 403);
    assert.match(res.body.toString(), /^Blocked, ref /);
  });

  it('x-request-id flows into the verdict, the security event and the access log', async () => {
    const rid = 'trace-7f3a9c';
    const res = await http1(block.port, { path: `/search?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': rid } });
    assert.equal(res.status, 403);
    const line = await block.envoy.waitForAccessLog((l) => l['request_id'] === rid);
    assert.equal(line['waf_action'], 'deny');
    assert.equal(line['waf_request_id'], rid);
    assert.match(String(line['waf_rule_ids']), /\d{7}/);
    assert.ok(Number(line['waf_anomaly_score']) >= 5, JSON.stringify(line));
    const event = await block.sidewall!.waitForLog((l) => (l['security_event'] as { request_id?: string } | undefined)?.request_id === rid);
    assert.equal((event['security_event'] as { verdict: string }).verdict, 'blocked');
  });

  it('detect mode lets the attack through and still logs it', async () => {
    const sidewall = await startServer({ args: ['--mode', 'detect'] });
    const s = await stack(app, sidewall);
    try {
      const rid = 'detect-1';
      const res = await http1(s.port, { path: `/search?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': rid } });
      assert.equal(res.status, 200);
      const line = await s.envoy.waitForAccessLog((l) => l['request_id'] === rid);
      assert.equal(line['waf_action'], 'detect');
      await sidewall.waitForLog((l) => (l['security_event'] as { request_id?: string } | undefined)?.request_id === rid);
    } finally {
      await s.envoy.stop();
      await sidewall.stop();
    }
  });

  for (const allow of [true, false]) {
    it(`Sidewall down: failure_mode_allow ${allow} → ${allow ? '200' : '403'}`, async () => {
      const s = await stack(app, null, { failureModeAllow: allow });
      try {
        const res = await http1(s.port, { path: '/products?id=1' });
        assert.equal(res.status, allow ? 200 : 403, res.body.toString());
      } finally {
        await s.envoy.stop();
      }
    });
  }
});
