// The server stack (gRPC + admin + check service + metrics + health) started in-process with
// a scripted fake engine, exercised over real sockets with the real gRPC client. Covers the
// response contract independently of the rule engine; server-process.test.ts covers the same
// over the spawned CLI with the real engine.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type * as grpc from '@grpc/grpc-js';
import type { HttpRequest, RuleMatch, Verdict, EngineMode } from '../src/engine/api.js';
import type { SidewallConfig } from '../src/config/config.js';
import { startApp, type App } from '../src/server/app.js';
import type { WafLike } from '../src/server/check-service.js';
import { CheckClient, startSplitCheck } from './helpers/check-client.js';
import { cleanupDir, makeTempDir, type LogLine } from './helpers/server-process.js';

function match(id: number, matchedVar: string, matchedData: string, msg = `rule ${id}`): RuleMatch {
  return {
    id,
    phase: 2,
    msg,
    logdata: `Matched Data: ${matchedData} found within ${matchedVar}`,
    severity: 2,
    tags: ['test'],
    matchedVar,
    matchedData,
    disruptive: true,
    file: 'fake.conf',
    line: id,
  };
}

/** A scripted engine: looks at the request and answers like the real one would. */
class FakeWaf implements WafLike {
  readonly ruleCount = 3;
  readonly seen: HttpRequest[] = [];
  constructor(readonly mode: EngineMode) {}

  evaluate(req: HttpRequest): Verdict {
    this.seen.push(req);
    const header = (name: string) => req.headers.find(([k]) => k === name)?.[1];
    if (header('x-throw')) throw new Error('engine exploded');
    const matches: RuleMatch[] = [];
    if (req.uri.includes('attack')) matches.push(match(1001, 'ARGS:q', 'attack', 'test attack'));
    const cookie = header('cookie');
    if (cookie?.includes('evil')) matches.push(match(1002, 'REQUEST_COOKIES:session', cookie));
    const auth = header('authorization');
    if (auth?.includes('evil')) matches.push(match(1003, 'REQUEST_HEADERS:Authorization', auth));
    const redirect = header('x-redirect');
    const fired = matches.length > 0 || redirect !== undefined;
    return {
      action: !fired ? 'allow' : this.mode === 'block' ? 'deny' : 'detect',
      mode: this.mode,
      status: redirect ? 302 : 403,
      redirectUrl: redirect ?? null,
      interruptingRuleId: matches[0]?.id ?? 0,
      ruleIds: matches.map((m) => m.id),
      matches,
      anomalyScore: matches.length * 5,
      requestId: req.id,
      requestBodyError: null,
      bodyPartial: req.bodyPartial,
    };
  }
}

interface Harness {
  app: App;
  waf: FakeWaf;
  client: CheckClient;
  logs: LogLine[];
  stop(): Promise<void>;
}

async function harness(options: { mode?: EngineMode; failOpen?: boolean; config?: Partial<SidewallConfig>; listen?: string } = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const waf = new FakeWaf(options.mode ?? 'block');
  const config: SidewallConfig = {
    listen: options.listen ?? '127.0.0.1:0',
    admin: '127.0.0.1:0',
    rules: '/dev/null',
    mode: null,
    failOpen: options.failOpen ?? false,
    denyResponse: { body: null, contentType: 'application/json' },
    logLevel: 'info',
    regexFallbackRuleIds: [],
    configFile: null,
    ...options.config,
  };
  const app = await startApp({ config, logger, loadEngine: () => waf, drainTimeoutMs: 3000, defaultMetrics: false });
  const client = new CheckClient(app.grpcAddress);
  return {
    app,
    waf,
    client,
    logs,
    async stop() {
      client.close();
      await app.shutdown('test');
    },
  };
}

async function metricsText(app: App): Promise<string> {
  const res = await fetch(`${app.adminUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return res.text();
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('in-process server, block mode', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.stop());

  test('allow: OK, ok_response, waf_* metadata', async () => {
    const r = await h.client.check({ path: '/hello?q=fine', requestId: 'req-allow-1' });
    assert.equal(r.code, 0);
    assert.equal(r.allowed, true);
    assert.ok(r.raw.ok_response, 'ok_response is set');
    assert.equal(r.raw.http_response, 'ok_response');
    assert.equal(r.httpStatus, null);
    assert.deepEqual(r.metadata, {
      waf_action: 'allow',
      waf_mode: 'block',
      waf_rule_ids: [],
      waf_anomaly_score: 0,
      waf_request_id: 'req-allow-1',
    });
  });

  test('deny: PERMISSION_DENIED, HTTP 403, JSON body with request id, metadata', async () => {
    const r = await h.client.check({ path: '/search?q=attack', requestId: 'req-deny-1' });
    assert.equal(r.code, 7);
    assert.equal(r.allowed, false);
    assert.equal(r.raw.http_response, 'denied_response');
    assert.equal(r.httpStatus, 403);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), { error: 'request blocked', request_id: 'req-deny-1' });
    assert.deepEqual(r.metadata, {
      waf_action: 'deny',
      waf_mode: 'block',
      waf_rule_ids: [1001],
      waf_anomaly_score: 5,
      waf_request_id: 'req-deny-1',
    });
  });

  test('deny body escapes a hostile request id', async () => {
    const r = await h.client.check({ path: '/?q=attack', requestId: 'x"}<script>' });
    assert.equal(JSON.parse(r.body).request_id, 'x"}<script>');
  });

  test('redirect verdict: location header and 3xx status', async () => {
    const r = await h.client.check({ headers: { 'x-redirect': 'https://example.com/blocked' } });
    assert.equal(r.code, 7);
    assert.equal(r.httpStatus, 302);
    assert.equal(r.headers['location'], 'https://example.com/blocked');
  });

  test('the engine receives the request as Envoy described it', async () => {
    await h.client.check({
      method: 'POST',
      path: '/p%41th?x=1',
      protocol: 'HTTP/2',
      host: 'shop.example',
      rawHeaders: true,
      headers: { 'x-bytes': '\xe9\xff' },
      body: Buffer.from([1, 2, 255]),
      packAsBytes: true,
      requestId: 'seen-1',
      source: { address: '203.0.113.9', port: 40000 },
    });
    const req = h.waf.seen.find((r) => r.id === 'seen-1');
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.uri, '/p%41th?x=1');
    assert.equal(req.protocol, 'HTTP/2');
    assert.deepEqual(req.headers.find(([k]) => k === 'host'), ['host', 'shop.example']);
    assert.deepEqual(req.headers.find(([k]) => k === 'x-bytes'), ['x-bytes', '\xe9\xff']);
    assert.deepEqual([...req.body!], [1, 2, 255]);
    assert.equal(req.clientIp, '203.0.113.9');
    assert.equal(req.clientPort, 40000);
  });

  test('one detection log line, without cookie/authorization values or bodies', async () => {
    const secretBody = 'password=hunter2-' + 'x'.repeat(50);
    await h.client.check({
      method: 'POST',
      path: '/login?q=attack',
      requestId: 'req-log-1',
      headers: { cookie: 'session=evil-cookie-secret', authorization: 'Bearer evil-token-secret' },
      body: secretBody,
    });
    const lines = h.logs.filter((l) => l.request_id === 'req-log-1');
    assert.equal(lines.length, 1, 'exactly one line per detection');
    const line = lines[0]!;
    assert.equal(line.event, 'detection');
    assert.equal(line.action, 'deny');
    assert.deepEqual(line.rule_ids, [1001, 1002, 1003]);
    assert.equal(line.path, '/login', 'query string left out of the log');
    const matches = line.matches as Array<Record<string, unknown>>;
    assert.deepEqual(matches.map((m) => m.id), [1001, 1002, 1003]);
    assert.equal(matches[0]!.msg, 'test attack');
    const text = JSON.stringify(line);
    assert.ok(!text.includes('evil-cookie-secret'), 'cookie value logged');
    assert.ok(!text.includes('evil-token-secret'), 'authorization value logged');
    assert.ok(!text.includes('hunter2'), 'body logged');
  });

  test('no log line for a clean request', async () => {
    await h.client.check({ path: '/clean', requestId: 'req-clean-1' });
    assert.equal(h.logs.filter((l) => l.request_id === 'req-clean-1').length, 0);
  });

  test('malformed CheckRequest → INVALID_ARGUMENT, server keeps serving', async () => {
    for (const bad of [{}, { attributes: {} }, { attributes: { request: {} } }, { attributes: { request: { http: { path: '/' } } } }]) {
      await assert.rejects(h.client.checkRaw(bad), (err: grpc.ServiceError) => {
        assert.equal(err.code, 3);
        assert.match(err.details, /CheckRequest\.attributes/);
        return true;
      });
    }
    const ok = await h.client.check({ path: '/after-bad' });
    assert.equal(ok.code, 0);
    assert.equal(metricValue(await metricsText(h.app), 'sidewall_errors_total{kind="invalid_request"}'), 4);
  });

  test('/metrics: checks by action, rule hits, duration, rules loaded, partial bodies', async () => {
    await h.client.check({ method: 'POST', path: '/upload', body: 'abc', partialBody: true });
    const text = await metricsText(h.app);
    assert.ok((metricValue(text, 'sidewall_checks_total{action="allow"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'sidewall_checks_total{action="deny"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'sidewall_rule_hits_total{rule_id="1001"}') ?? 0) >= 1);
    assert.ok((metricValue(text, 'sidewall_check_duration_seconds_count') ?? 0) >= 2);
    assert.match(text, /sidewall_check_duration_seconds_bucket\{le="0.00005"\}/);
    assert.match(text, /sidewall_check_duration_seconds_bucket\{le="1"\}/);
    assert.equal(metricValue(text, 'sidewall_rules_loaded'), 3);
    assert.equal(metricValue(text, 'sidewall_partial_bodies_total'), 1);
  });

  test('/healthz, /readyz, unknown path', async () => {
    assert.equal((await fetch(`${h.app.adminUrl}/healthz`)).status, 200);
    const ready = await fetch(`${h.app.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
    assert.equal((await fetch(`${h.app.adminUrl}/nope`)).status, 404);
  });

  test('grpc.health.v1 Check: SERVING, unknown service NOT_FOUND', async () => {
    assert.equal(await h.client.healthCheck(''), 'SERVING');
    assert.equal(await h.client.healthCheck('envoy.service.auth.v3.Authorization'), 'SERVING');
    await assert.rejects(h.client.healthCheck('no.such.Service'), (err: grpc.ServiceError) => err.code === 5);
  });
});

describe('in-process server, detect mode', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ mode: 'detect' });
  });
  after(() => h.stop());

  test('detect: OK + waf_action detect, logged, counted', async () => {
    const r = await h.client.check({ path: '/?q=attack', requestId: 'req-detect-1' });
    assert.equal(r.code, 0);
    assert.ok(r.raw.ok_response);
    assert.deepEqual(r.metadata, {
      waf_action: 'detect',
      waf_mode: 'detect',
      waf_rule_ids: [1001],
      waf_anomaly_score: 5,
      waf_request_id: 'req-detect-1',
    });
    const line = h.logs.find((l) => l.request_id === 'req-detect-1');
    assert.equal(line?.action, 'detect');
    assert.equal(metricValue(await metricsText(h.app), 'sidewall_checks_total{action="detect"}'), 1);
  });
});

describe('in-process server, evaluation errors', () => {
  test('fail closed (default): deny with HTTP 503 and count the error', async () => {
    const h = await harness();
    try {
      const r = await h.client.check({ headers: { 'x-throw': '1' }, requestId: 'req-err-1' });
      assert.equal(r.code, 7, 'PERMISSION_DENIED, not UNAVAILABLE');
      assert.equal(r.httpStatus, 503);
      assert.equal(r.metadata.waf_action, 'deny');
      assert.equal(r.metadata.waf_error, true);
      assert.equal(JSON.parse(r.body).request_id, 'req-err-1');
      assert.equal(metricValue(await metricsText(h.app), 'sidewall_errors_total{kind="evaluation"}'), 1);
      const line = h.logs.find((l) => l.event === 'evaluation_error');
      assert.equal(line?.request_id, 'req-err-1');
      assert.equal((await h.client.check({})).code, 0, 'keeps serving');
    } finally {
      await h.stop();
    }
  });

  test('fail open: allow and count the error', async () => {
    const h = await harness({ failOpen: true });
    try {
      const r = await h.client.check({ headers: { 'x-throw': '1' } });
      assert.equal(r.code, 0);
      assert.equal(r.metadata.waf_action, 'allow');
      assert.equal(r.metadata.waf_error, true);
      const text = await metricsText(h.app);
      assert.equal(metricValue(text, 'sidewall_errors_total{kind="evaluation"}'), 1);
      assert.equal(metricValue(text, 'sidewall_checks_total{action="allow"}'), 1);
    } finally {
      await h.stop();
    }
  });
});

describe('in-process server, custom deny response', () => {
  test('body template and content type', async () => {
    const h = await harness({
      config: { denyResponse: { body: '<p>Blocked. Reference: {{request_id}}</p>', contentType: 'text/html' } },
    });
    try {
      const r = await h.client.check({ path: '/?q=attack', requestId: 'abc-123<b>' });
      assert.equal(r.httpStatus, 403);
      assert.equal(r.headers['content-type'], 'text/html');
      assert.equal(r.body, '<p>Blocked. Reference: abc-123b</p>', 'request id sanitized in templates');
    } finally {
      await h.stop();
    }
  });
});

describe('in-process server, unix socket', () => {
  test('listens on unix:/path', async () => {
    const dir = makeTempDir();
    const h = await harness({ listen: `unix:${join(dir, 'sw.sock')}` });
    try {
      assert.equal(h.app.grpcAddress, `unix:${join(dir, 'sw.sock')}`);
      assert.equal((await h.client.check({ path: '/?q=attack' })).httpStatus, 403);
    } finally {
      await h.stop();
      cleanupDir(dir);
    }
  });
});

describe('in-process server, unix socket files', () => {
  test('a stale socket file is removed; a live one is refused', async () => {
    const dir = makeTempDir();
    const path = join(dir, 'stale.sock');
    // Leave a socket file behind: a process listening on it dies without cleanup.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => child.stdout!.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(existsSync(path), 'stale socket file left behind');
    const h = await harness({ listen: `unix:${path}` });
    try {
      assert.equal((await h.client.check({})).code, 0);
      // A second server on the same, now live, socket is refused.
      await assert.rejects(harness({ listen: `unix:${path}` }), /another process is listening on it/);
    } finally {
      await h.stop();
      cleanupDir(dir);
    }
  });
});

describe('in-process server, graceful shutdown', () => {
  test('drains an in-flight check; readiness 503 and health NOT_SERVING while draining', async () => {
    const h = await harness();
    const watch = h.client.healthWatch('');
    const statuses: string[] = [];
    watch.on('data', (m: { status: string }) => statuses.push(m.status));
    watch.on('error', () => {});
    const call = startSplitCheck(h.app.grpcAddress, { path: '/?q=attack', requestId: 'in-flight-1' });
    try {
      await call.started;
      await new Promise((r) => setTimeout(r, 50)); // the server has the stream
      const shutdown = h.app.shutdown('test');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(h.app.state, 'draining');
      const ready = await fetch(`${h.app.adminUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(await ready.text(), 'draining\n');
      call.finish();
      const res = await call.done;
      assert.equal(res.grpcStatus, 0);
      assert.equal(res.result?.httpStatus, 403);
      assert.equal(res.result?.metadata.waf_request_id, 'in-flight-1');
      assert.equal(await shutdown, 'graceful');
      assert.equal(h.app.state, 'stopped');
      assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
    } finally {
      call.close();
      h.client.close();
    }
  });
});
