// CheckBudget reads the clock only every few consultations (src/engine/budget.ts): these tests hold
// it to its documented bound on overshoot, with a simulated clock and with the real engine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { CheckBudget, CLOCK_STRIDE } from '../src/engine/budget.js';
import { Waf } from '../src/engine/waf.js';
import type { HttpRequest } from '../src/engine/api.js';

/** A budget on a simulated clock; `advance(ms)` is the work done before the next consultation. */
function simulated(maxCheckMs: number) {
  let t = 1000;
  const budget = new CheckBudget({ maxCheckMs, clock: () => t });
  return {
    budget,
    get t() {
      return t;
    },
    advance(ms: number) {
      t += ms;
    },
  };
}

describe('CheckBudget clock readings', () => {
  test('at a steady pace it stops at the first consultation past the limit, reading the clock far less than once per call', () => {
    for (const stepMs of [0.0005, 0.003, 0.01, 0.37]) {
      const s = simulated(5);
      const limit = 1000 + 5;
      let calls = 0;
      let lateCalls = 0;
      for (;;) {
        s.advance(stepMs);
        calls++;
        const pastLimit = s.t >= limit;
        if (s.budget.exhausted()) break;
        if (pastLimit) lateCalls++;
        assert.ok(calls < 1e7, 'never stopped');
      }
      assert.equal(lateCalls, 0, `step ${stepMs} ms: ${lateCalls} consultations answered "not exhausted" after the limit`);
      assert.equal(s.budget.reason, 'max_check_ms');
      if (calls > 1000) assert.ok(s.budget.readings < calls / 4, `step ${stepMs} ms: ${s.budget.readings} readings for ${calls} calls`);
    }
  });

  test('a sudden slowdown is noticed at most CLOCK_STRIDE − 1 consultations late', () => {
    for (const slowMs of [0.5, 3, 40]) {
      const s = simulated(50);
      const limit = 1000 + 50;
      let calls = 0;
      let lateCalls = 0;
      for (;;) {
        // Fast rules first (1 µs each), then every consultation is one slow rule.
        s.advance(calls < 20_000 && s.t < limit - 1 ? 0.001 : slowMs);
        calls++;
        const pastLimit = s.t >= limit;
        if (s.budget.exhausted()) break;
        if (pastLimit) lateCalls++;
        assert.ok(calls < 1e7, 'never stopped');
      }
      assert.ok(lateCalls <= CLOCK_STRIDE - 1, `slow ${slowMs} ms: ${lateCalls} consultations late`);
    }
  });

  test('a deadline already passed, or passed between consultations, is seen on the next reading', () => {
    let t = 0;
    const b = new CheckBudget({ deadlineAt: 10, clock: () => t });
    assert.equal(b.exhausted(), false);
    t = 10;
    assert.equal(b.exhausted(), true); // the first readings have no pace yet: nothing skipped
    assert.equal(b.reason, 'deadline');
    assert.equal(b.exhausted(), true);
  });
});

describe('CheckBudget with the engine', () => {
  // 300 rules, each running its regex on 900 values: ~hundreds of ms unbounded on any machine.
  const rules = ['SecRuleEngine On'];
  for (let i = 0; i < 300; i++) rules.push(`SecRule ARGS "@rx ^(?:v+w|${'q'.repeat(1 + (i % 7))}\\d)$" "id:${1000 + i},phase:1,pass,log"`);
  const waf = Waf.fromString(rules.join('\n') + '\n', 'long-budget.conf', { acceleration: false });
  const request: HttpRequest = {
    id: 'r1', method: 'GET', protocol: 'HTTP/1.1', headers: [['Host', 'x']], body: null, bodyPartial: false,
    uri: '/?' + Array.from({ length: 900 }, (_, i) => `k${i}=${'v'.repeat(40)}`).join('&'),
    clientIp: '10.0.0.1', clientPort: 1234, serverIp: '10.0.0.2', serverPort: 80,
  };

  test('a long rule set stops within the bound of max_check_ms', () => {
    const limitMs = 15;
    const t0 = performance.now();
    const full = waf.evaluate(request);
    const fullMs = performance.now() - t0;
    assert.equal(full.budgetStop ?? null, null);
    // Only meaningful when the unbounded evaluation runs far past the limit.
    assert.ok(fullMs > 4 * limitMs, `the rule set took only ${fullMs.toFixed(1)} ms unbounded`);
    for (let i = 0; i < 3; i++) {
      const budget = new CheckBudget({ maxCheckMs: limitMs });
      const v = waf.evaluate(request, budget);
      const took = budget.elapsedMs();
      assert.ok(v.budgetStop, 'did not stop');
      assert.equal(budget.reason, 'max_check_ms');
      // A steady rule loop stops at the first consultation past the limit; the margin is for a GC
      // pause or a descheduled thread, far below the unbounded run.
      assert.ok(took < limitMs + 10, `stopped after ${took.toFixed(1)} ms (limit ${limitMs} ms, unbounded ${fullMs.toFixed(0)} ms)`);
      assert.ok(budget.readings > 0);
    }
  });
});
