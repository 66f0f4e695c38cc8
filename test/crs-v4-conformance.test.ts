// OWASP CRS v4 regression suite through the real ext_authz server (spawned process, real gRPC).
// The full runner with reports is `npm run test:crs`; this keeps the pass rate from regressing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runCrs } from './crs/run-crs.js';
import { sharedPath } from './helpers/shared.js';

/** Issue target for the first slice was 85%; we hold the line at what the engine reaches now. */
const MIN_PASS_RATE = 99.0;

test('CRS v4 go-ftw regression suite pass rate', { timeout: 600_000 }, async (t) => {
  if (!existsSync(sharedPath('crs', 'tests', 'regression', 'tests'))) {
    t.skip(`CRS corpus not found under ${sharedPath('crs')} (set SIDEWALL_SHARED)`);
    return;
  }
  const summary = await runCrs({ writeReports: true });
  t.diagnostic(
    `pass rate ${summary.passRate.toFixed(2)}% (${summary.passed}/${summary.applicable} applicable, ` +
      `${summary.failed} failed, ${summary.notApplicable} not applicable)`,
  );
  assert.equal(summary.errors, 0, 'no gRPC call errors');
  assert.ok(summary.applicable > 4500, `most stages are applicable (got ${summary.applicable})`);
  assert.ok(summary.passRate >= MIN_PASS_RATE, `pass rate ${summary.passRate.toFixed(2)}% < ${MIN_PASS_RATE}%; see test-results/crs-failures.txt`);
});
