// OWASP CRS v4 regression suite with Sidewall's detection layer loaded the way CRS directory mode
// loads it (before REQUEST-949): the layer only adds detections, so every CRS stage must still
// pass — a layer rule that changed what CRS's own tests observe would show up here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runCrs } from './crs/run-crs.js';
import { sharedPath } from '../bench/lib/shared.js';

test('CRS v4 go-ftw regression suite with the Sidewall layer: 100 % of applicable stages', { timeout: 600_000 }, async (t) => {
  if (!existsSync(sharedPath('crs', 'tests', 'regression', 'tests'))) {
    if (process.env.CI === 'true') assert.fail(`CRS corpus not found under ${sharedPath('crs')} (set SIDEWALL_SHARED)`);
    t.skip(`CRS corpus not found under ${sharedPath('crs')} (set SIDEWALL_SHARED to the directory holding crs/)`);
    return;
  }
  const summary = await runCrs({ sidewallLayer: true, writeReports: true, concurrency: 8, deadlineMs: 30_000, log: () => {} });
  t.diagnostic(`pass rate ${summary.passRate.toFixed(2)}% (${summary.passed}/${summary.applicable} applicable, ${summary.failed} failed)`);
  assert.equal(summary.errors, 0, 'no gRPC call errors');
  assert.ok(summary.applicable > 4500, `most stages are applicable (got ${summary.applicable})`);
  assert.deepEqual(summary.failures.map((f) => f.name), [], 'stages that fail only with the layer: see test-results/crs-layer-failures.txt');
  assert.equal(summary.passRate, 100);
});
