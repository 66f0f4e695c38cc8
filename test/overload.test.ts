// Overload behaviour: per-check budgets in the engine, and the server's admission queue
// (deadlines, shedding, max_check_ms, metrics, health/readiness) over real gRPC sockets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { EngineMode, HttpRequest, Verdict } from '../src/engine/api.js';
import { CheckBudget, type Budget } from '../src/engine/budget.js';
import { Waf } from '../src/engine/waf.js';
import type { SidewallConfig } from '../src/config/config.js';
import { loadConfig, parseConfigText, ConfigError } from '../src/config/config.js';
import { AdmissionQueue, DEFAULT_ADMISSION, deadlineOnPerfClock, type AdmissionConfig, type CallState } from '../src/server/admission.js';
import { OverloadMetrics } from '../src/server/overload-metrics.js';
import { Registry } from 'prom-client';
import { LogThrottle } from '../src/server/log-throttle.js';
import { startApp, type App } from '../src/server/app.js';
import type { WafLike } from '../src/server/check-service.js';
import { CheckClient, type CheckResult } from './helpers/check-client.js';
import type { LogLine } from './helpers/server-process.js';

function request(uri: string): HttpRequest {
  return {
    id: 'r1', method: 'GET', uri, protocol: 'HTTP/1.1', headers: [['Host', 'x']], body: null, bodyPartial: false,
    clientIp: '10.0.0.1', clientPort: 1234, serverIp: '10.0.0.2', serverPort: 80,
  };
}

/** Exhausted after `n` calls. */
class CountingBudget implements Budget {
  calls = 0;
  constructor(private readonly n: number) {}
  exhausted(): boolean {
    return ++this.calls > this.n;
  }
}

describe('engine budget', () => {
  const rules = `SecRuleEngine On
SecRule ARGS "@contains x" "id:1,phase:1,pass,log"
SecRule ARGS "@contains y" "id:2,phase:1,pass,log"
SecRule ARGS "@contains z" "id:3,phase:2,deny,log"
SecRule ARGS "@contains z" "id:4,phase:5,pass,log"
`;
  const waf = Waf.fromString(rules, 'budget.conf');

  test('no budget and an unexhausted budget give the same verdict', () => {
    for (const uri of ['/?a=x', '/?a=xyz', '/?a=none', '/?a=z']) {
      assert.deepEqual(waf.evaluate(request(uri), new CountingBudget(1000)), waf.evaluate(request(uri)));
    }
  });

  test('stops at the rule it was about to run and reports it; later phases do not run', () => {
    const v = waf.evaluate(request('/?a=xyz'), new CountingBudget(1));
    assert.deepEqual(v.budgetStop, { ruleId: 2, phase: 1 });
    assert.deepEqual(v.ruleIds, [1]);
    assert.equal(v.action, 'allow');
  });

  test('a budget exhausted after phase 1 stops before the body processor (rule 0, phase 2)', () => {
    const v = waf.evaluate(request('/?a=z'), new CountingBudget(2));
    assert.deepEqual(v.budgetStop, { ruleId: 0, phase: 2 });
    assert.deepEqual(v.ruleIds, []);
  });

  test('inside one rule: a hostile request with thousands of values stops in the rule that reads them', () => {
    const many = '/?a=xy&' + Array.from({ length: 900 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join('&');
    // Unexhausted, the in-rule checks change nothing.
    const full = waf.evaluate(request(many));
    assert.deepEqual(full.ruleIds, [1, 2]);
    assert.deepEqual(waf.evaluate(request(many), new CountingBudget(1e6)), full);
    const budget = new CountingBudget(3);
    const v = waf.evaluate(request(many), budget);
    // Call 1 is before rule 1; calls 2 and 3 inside it pass; call 4 (after ~48 KB of values) stops it.
    assert.deepEqual(v.budgetStop, { ruleId: 1, phase: 1 });
    assert.equal(budget.calls, 4);
    assert.deepEqual(v.ruleIds, []);
    assert.equal(v.action, 'allow');
  });

  test('inside one accelerated @rx rule (prefiltered values, unions): the budget still stops it', () => {
    const rx = Waf.fromString(
      `SecRuleEngine On
SecRule ARGS "@rx abc[0-9]" "id:20,phase:1,pass,log"
SecRule ARGS "@rx zzz[0-9]" "id:21,phase:1,pass,log"
`,
      'rx-budget.conf',
    );
    // Every value holds a literal of the rule (abc0…abc9), so the prefilter says "maybe" and the regex runs on each.
    const uri = '/?' + Array.from({ length: 900 }, (_, i) => `k${i}=abc${i % 10}${'v'.repeat(40)}`).join('&');
    assert.deepEqual(rx.evaluate(request(uri)).ruleIds, [20]);
    const budget = new CountingBudget(3);
    const v = rx.evaluate(request(uri), budget);
    assert.deepEqual(v.budgetStop, { ruleId: 20, phase: 1 });
    assert.equal(budget.calls, 4);
    assert.deepEqual(v.ruleIds, []);
  });

  test('inside a chain: the stop names the chain head and the chain does not match', () => {
    const chained = Waf.fromString(
      `SecRuleEngine On
SecRule REQUEST_METHOD "@streq GET" "id:10,phase:1,deny,log,chain"
  SecRule ARGS "@contains needle" ""
SecRule ARGS "@contains y" "id:11,phase:1,pass,log"
`,
      'chain-budget.conf',
    );
    const uri = '/?z=needle&' + Array.from({ length: 900 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join('&');
    assert.equal(chained.evaluate(request(uri)).action, 'deny');
    const v = chained.evaluate(request(uri), new CountingBudget(2));
    assert.deepEqual(v.budgetStop, { ruleId: 10, phase: 1 });
    assert.equal(v.action, 'allow');
    assert.deepEqual(v.ruleIds, []);
  });

  test('CheckBudget: max_check_ms and deadline, whichever comes first, and the reason', () => {
    const now = performance.now();
    const a = new CheckBudget({ maxCheckMs: 1000, deadlineAt: now - 1, now });
    assert.equal(a.exhausted(), true);
    assert.equal(a.reason, 'deadline');
    const b = new CheckBudget({ maxCheckMs: 1, deadlineAt: now + 60_000, now: now - 5 });
    assert.equal(b.exhausted(), true);
    assert.equal(b.reason, 'max_check_ms');
    const c = new CheckBudget({ now });
    assert.equal(c.bounded, false);
    assert.equal(c.exhausted(), false);
  });

  test('deadlineOnPerfClock maps Date deadlines and keeps Infinity', () => {
    assert.equal(deadlineOnPerfClock(Infinity, 100, 5000), Infinity);
    assert.equal(deadlineOnPerfClock(new Date(5250), 100, 5000), 350);
    assert.equal(deadlineOnPerfClock(5250, 100, 5000), 350);
  });

  test('LogThrottle: one line per interval per kind, counting the ones held back', () => {
    const t = new LogThrottle(1000);
    assert.equal(t.take('a', 0), 0);
    assert.equal(t.take('a', 10), -1);
    assert.equal(t.take('a', 20), -1);
    assert.equal(t.take('b', 20), 0);
    assert.equal(t.take('a', 1001), 2);
  });
});

describe('overload config', () => {
  test('overload section and max_check_ms are validated and default sensibly', () => {
    assert.deepEqual(loadConfig({}).admission, DEFAULT_ADMISSION);
    assert.equal(loadConfig({}).readyWhenOverloaded, false);
    const s = parseConfigText('max_check_ms: 50\noverload:\n  max_queue: 10\n  queue_target_ms: 5\n  max_queue_wait_ms: 300\n  readiness: true\n', 'c.yaml', '/');
    assert.deepEqual(s.admission, { maxCheckMs: 50, maxQueue: 10, queueTargetMs: 5, maxQueueWaitMs: 300 });
    assert.equal(s.readiness, true);
    assert.throws(() => parseConfigText('overload:\n  max_queu: 1\n', 'c.yaml', '/'), /config c\.yaml: overload\.max_queu: unknown key/);
    assert.throws(() => parseConfigText('max_check_ms: -1\n', 'c.yaml', '/'), /max_check_ms: must be a whole number >= 0/);
    assert.throws(() => parseConfigText('overload:\n  max_queue: 0\n', 'c.yaml', '/'), ConfigError);
    assert.throws(() => loadConfig({ overrides: { maxCheckMs: '5ms' } }), /--max-check-ms: must be a whole number/);
    assert.equal(loadConfig({ overrides: { overload: 'off', maxCheckMs: '20' } }).admission?.enabled, false);
    assert.equal(loadConfig({ overrides: { maxCheckMs: '20' } }).admission?.maxCheckMs, 20);
  });
});

/** An engine that burns `workMs` of CPU per check in small steps, honouring the budget like the rule loop does. */
class SlowWaf implements WafLike {
  readonly ruleCount = 1;
  readonly mode: EngineMode = 'block';
  evaluated: string[] = [];
  constructor(public workMs: number) {}
  evaluate(req: HttpRequest, budget?: Budget | null): Verdict {
    this.evaluated.push(req.id);
    const end = performance.now() + this.workMs;
    let step = 0;
    const verdict: Verdict = {
      action: 'allow', mode: 'block', status: 200, redirectUrl: null, interruptingRuleId: 0, ruleIds: [], matches: [],
      anomalyScore: 0, requestId: req.id, requestBodyError: null, bodyPartial: false,
    };
    while (performance.now() < end) {
      step++;
      if (budget && budget.exhausted()) {
        verdict.budgetStop = { ruleId: 900000 + (step > 0 ? 42 : 0), phase: 2 };
        return verdict;
      }
      for (let i = 0; i < 2000; i++) step ^= i;
    }
    return verdict;
  }
}

interface Harness {
  app: App;
  waf: SlowWaf;
  client: CheckClient;
  logs: LogLine[];
  stop(): Promise<void>;
}

async function harness(workMs: number, admission: Partial<AdmissionConfig>, extra: Partial<SidewallConfig> = {}): Promise<Harness> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const waf = new SlowWaf(workMs);
  const config: SidewallConfig = {
    listen: '127.0.0.1:0', admin: '127.0.0.1:0', rules: '/dev/null', mode: null, failOpen: false,
    denyResponse: { body: null, contentType: 'application/json' }, logLevel: 'info', regexFallbackRuleIds: [], configFile: null,
    admission: { ...DEFAULT_ADMISSION, ...admission },
    ...extra,
  };
  const app = await startApp({ config, logger, loadEngine: () => waf, drainTimeoutMs: 3000, defaultMetrics: false });
  const client = new CheckClient(app.grpcAddress);
  waf.workMs = 0;
  await client.check({ requestId: 'warmup' });
  waf.workMs = workMs;
  waf.evaluated = [];
  return { app, waf, client, logs, async stop() { client.close(); await app.shutdown('test'); } };
}

async function metric(app: App, series: string): Promise<number> {
  const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

type Answer = { kind: 'answer'; r: CheckResult } | { kind: 'error'; code: number };
function send(client: CheckClient, id: string, deadlineMs: number): Promise<Answer> {
  return client.check({ requestId: id }, { deadlineMs }).then(
    (r) => ({ kind: 'answer', r }),
    (err: { code: number }) => ({ kind: 'error', code: err.code }),
  );
}

describe('admission under overload (in-process server, real gRPC)', () => {
  test('checks whose deadline passed while waiting are not evaluated, counted expired, answered per policy', async () => {
    const h = await harness(150, { queueTargetMs: 10_000 }); // FIFO throughout
    try {
      // Client and server share this event loop: all calls are written before the server runs any.
      const first = send(h.client, 'long-1', 5000);
      const calls = [first, ...Array.from({ length: 5 }, (_, i) => send(h.client, `short-${i}`, 60))];
      const answers = await Promise.all(calls);
      assert.equal(answers[0]!.kind, 'answer');
      for (const a of answers.slice(1)) assert.deepEqual(a, { kind: 'error', code: 4 }, 'the client sees DEADLINE_EXCEEDED');
      await new Promise((r) => setTimeout(r, 200)); // let the server reach the expired calls
      assert.deepEqual(h.waf.evaluated, ['long-1'], 'expired calls were never evaluated');
      assert.equal(await metric(h.app, 'sidewall_checks_expired_total'), 5);
      assert.equal(await h.client.healthCheck(), 'SERVING');
    } finally {
      await h.stop();
    }
  });

  test('with max_queue full the oldest waiting call is shed at once: 503 + waf_overload=shed, counted, logged once', async () => {
    const h = await harness(100, { maxQueue: 2, queueTargetMs: 10_000 });
    try {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(h.client, `c${i}`, 10_000)));
      const shed = answers.filter((a) => a.kind === 'answer' && a.r.metadata.waf_overload === 'shed');
      const evaluated = answers.filter((a) => a.kind === 'answer' && a.r.metadata.waf_overload === undefined);
      assert.equal(shed.length + evaluated.length, 8);
      assert.ok(shed.length >= 4, `shed ${shed.length}`);
      for (const a of shed) {
        assert.ok(a.kind === 'answer');
        assert.equal(a.r.allowed, false);
        assert.equal(a.r.httpStatus, 503);
      }
      assert.equal(await metric(h.app, 'sidewall_checks_shed_total{reason="queue_full"}'), shed.length);
      assert.equal(h.waf.evaluated.length, evaluated.length);
      assert.equal(h.logs.filter((l) => l.event === 'overload').length, 1, 'rate-limited to one line per second');
      assert.equal(await metric(h.app, 'sidewall_check_queue_depth'), 0);
    } finally {
      await h.stop();
    }
  });

  // Goodput under 3x overload is measured against the real server process by bench/overload-bench.ts:
  // an in-process client shares the server's event loop and cannot offer open-loop load.

  test('max_check_ms cuts an evaluation off: fail closed 503, metric and log name the rule', async () => {
    const h = await harness(400, { maxCheckMs: 30 });
    try {
      const t0 = performance.now();
      const r = await h.client.check({ requestId: 'slow-1' });
      assert.ok(performance.now() - t0 < 300, 'answered long before the 400 ms of work');
      assert.equal(r.httpStatus, 503);
      assert.equal(r.metadata.waf_overload, 'budget');
      assert.equal(await metric(h.app, 'sidewall_checks_budget_exceeded_total{reason="max_check_ms",rule_id="900042"}'), 1);
      const line = h.logs.find((l) => l.event === 'budget_exceeded');
      assert.equal(line?.rule_id, 900042);
      assert.match(String(line?.msg), /stopped at rule 900042/);
    } finally {
      await h.stop();
    }
  });

  test('fail_open: budget-exceeded and shed checks are allowed', async () => {
    const h = await harness(400, { maxCheckMs: 30 }, { failOpen: true });
    try {
      const r = await h.client.check({ requestId: 'slow-2' });
      assert.equal(r.allowed, true);
      assert.equal(r.metadata.waf_overload, 'budget');
    } finally {
      await h.stop();
    }
  });

  test('readiness reflects overload only when configured; /healthz stays 200', async () => {
    for (const configured of [true, false]) {
      const h = await harness(100, { maxQueue: 1, queueTargetMs: 10_000 }, { readyWhenOverloaded: configured });
      try {
        await Promise.all(Array.from({ length: 4 }, (_, i) => send(h.client, `r${i}`, 10_000)));
        const ready = await fetch(`${h.app.adminUrl}/readyz`);
        assert.equal(ready.status, configured ? 503 : 200);
        if (configured) assert.equal(await ready.text(), 'overloaded\n');
        assert.equal((await fetch(`${h.app.adminUrl}/healthz`)).status, 200);
        assert.equal(await h.client.healthCheck(), 'SERVING');
      } finally {
        await h.stop();
      }
    }
  });

  test('a zero-rule block-mode engine gets a warning at start', async () => {
    const logs: LogLine[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    const waf = Waf.fromString('SecRuleEngine On\n', 'empty.conf');
    const config: SidewallConfig = {
      listen: '127.0.0.1:0', admin: '127.0.0.1:0', rules: '/tmp/empty.conf', mode: null, failOpen: false,
      denyResponse: { body: null, contentType: 'application/json' }, logLevel: 'info', regexFallbackRuleIds: [], configFile: null,
    };
    const app = await startApp({ config, logger, loadEngine: () => waf, defaultMetrics: false });
    await app.shutdown('test');
    const warn = logs.find((l) => /zero rules in block mode/.test(String(l.msg)));
    assert.ok(warn, 'warning logged');
    assert.equal(warn.level, 40);
    const detect = Waf.fromString('SecRuleEngine DetectionOnly\n', 'empty.conf');
    logs.length = 0;
    const app2 = await startApp({ config, logger, loadEngine: () => detect, defaultMetrics: false });
    await app2.shutdown('test');
    assert.equal(logs.filter((l) => /zero rules/.test(String(l.msg))).length, 0, 'detect mode: no warning');
  });
});

describe('admission order', () => {
  /** Admits calls 0..n-1 in one tick (after an already-expired call when `overloaded`) and returns the order they ran in. */
  async function runOrder(n: number, overloaded: boolean): Promise<{ ran: number[]; refused: string[] }> {
    const ran: number[] = [];
    const refused: string[] = [];
    const q = new AdmissionQueue<number>(
      { ...DEFAULT_ADMISSION, queueTargetMs: 1 },
      {
        run: (p) => {
          ran.push(p.item);
          const until = performance.now() + 3; // each check outlasts queue_target_ms
          while (performance.now() < until);
        },
        refuse: (p, reason) => refused.push(`${p.item}:${reason}`),
      },
      new OverloadMetrics(new Registry()),
    );
    const live: CallState = { cancelled: false, getDeadline: () => Infinity };
    if (overloaded) q.admit(-1, { cancelled: false, getDeadline: () => Date.now() - 1 });
    for (let i = 0; i < n; i++) q.admit(i, live);
    while (ran.length < n) await new Promise((r) => setImmediate(r));
    return { ran, refused };
  }

  test('a standing queue without overload stays FIFO (no call starves behind newer ones)', async () => {
    const { ran, refused } = await runOrder(6, false);
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(refused, []);
  });

  test('overloaded (a call just expired) and past queue_target_ms: newest first', async () => {
    const { ran, refused } = await runOrder(6, true);
    assert.deepEqual(refused, ['-1:expired']);
    // The first pick may still be FIFO (the oldest may not have waited 1 ms yet); from then on LIFO.
    const rest = ran[0] === 0 ? ran.slice(1) : ran;
    assert.deepEqual(rest, [5, 4, 3, 2, 1, 0].slice(0, rest.length));
  });
});
