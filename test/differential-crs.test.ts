// Differential test, CRS regression stages: every applicable stage of the CRS v4 and CRS 3.3.4
// suites, turned into the request the server would see (the CRS runner's own conversion), evaluated
// in process with acceleration on and off must give identical verdicts (action, rule ids, matched
// variables and data, anomaly score ...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpRequest } from '../src/engine/api.js';
import { mapCheckRequest, type CheckRequestMsg } from '../src/server/check-mapper.js';
import { planStage, type ApplicablePlan } from './crs/convert.js';
import { DEFAULT_CHECK_OPTIONS } from '../bench/lib/check-request.js';
import { crs3EntryConfText, entryConfText } from '../bench/lib/crs-config.js';
import { DEFAULT_ENVOY_OPTIONS } from '../bench/lib/envoy-http1.js';
import { authorizationServiceDefinition } from '../bench/lib/grpc-check.js';
import { loadOverrides } from './crs/expectations.js';
import { loadCorpus } from './crs/ftw-corpus.js';
import { loadLegacyCorpus } from './crs/ftw-legacy.js';
import { CRS3_REGEX_FALLBACK_RULE_IDS, DEBIAN_CRS3_RULES_DIR, DEBIAN_CRS3_SETUP } from './crs/run-crs.js';
import { difference, enginePair } from './helpers/differential.js';
import { REPO_ROOT, sharedPath } from '../bench/lib/shared.js';

function stageRequests(corpus: ReturnType<typeof loadCorpus>, overridesFile: string): HttpRequest[] {
  const overrides = loadOverrides(join(REPO_ROOT, 'test', 'crs', overridesFile));
  // Through the real protobuf encoding and decoding, so the mapper sees what the server receives.
  const check = authorizationServiceDefinition()['Check']!;
  const out: HttpRequest[] = [];
  corpus.stages.forEach((s, i) => {
    const plan = planStage(s, overrides, { envoy: DEFAULT_ENVOY_OPTIONS, check: DEFAULT_CHECK_OPTIONS }, String(i + 1));
    if (!plan.applicable) return;
    const p = plan as ApplicablePlan;
    for (const cr of [p.checkRequest, p.preservedCheckRequest]) {
      if (cr !== null) out.push(mapCheckRequest(check.requestDeserialize(check.requestSerialize(cr)) as CheckRequestMsg).request);
    }
  });
  return out;
}

function assertSame(name: string, entry: string, requests: HttpRequest[], fallback: number[] = []): void {
  const pair = enginePair(entry, { mode: 'detect', regexFallbackRuleIds: new Set(fallback) });
  assert.ok(pair.on.ruleset.acceleration!.literal.rules > 100, `${name}: the literal prefilter covers most @rx rules`);
  assert.equal(pair.off.ruleset.acceleration!.literal.rules, 0);
  const diffs: string[] = [];
  for (const r of requests) {
    const d = difference(pair, r);
    if (d !== null) diffs.push(`${r.method} ${r.uri.slice(0, 120)}: ${d}`);
  }
  assert.deepEqual(diffs.slice(0, 5), [], `${name}: ${diffs.length} of ${requests.length} requests differ`);
}

const v4Tests = sharedPath('crs', 'tests', 'regression', 'tests');

test('CRS v4 regression stages: acceleration on = off', { timeout: 600_000 }, (t) => {
  if (!existsSync(v4Tests)) {
    if (process.env.CI === 'true') assert.fail(`CRS corpus missing under ${sharedPath('crs')}`);
    t.skip(`CRS corpus not found under ${sharedPath('crs')} (set SIDEWALL_SHARED)`);
    return;
  }
  const requests = stageRequests(loadCorpus(v4Tests), 'overrides.yaml');
  assert.ok(requests.length > 4500, `stages converted (${requests.length})`);
  assertSame('CRS v4', entryConfText({ crsDir: sharedPath('crs'), testSetup: true }), requests);
  t.diagnostic(`${requests.length} requests identical`);
});

const v3Tests = sharedPath('crs-3.3.4-tests', 'tests', 'regression', 'tests');

test('CRS 3.3.4 regression stages: acceleration on = off', { timeout: 600_000 }, (t) => {
  const missing = [v3Tests, DEBIAN_CRS3_RULES_DIR, DEBIAN_CRS3_SETUP].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    if (process.env.CI === 'true') assert.fail(`missing: ${missing.join(', ')}`);
    t.skip(`missing ${missing.join(', ')} (apt-get install modsecurity-crs; set SIDEWALL_SHARED)`);
    return;
  }
  assert.ok(readdirSync(DEBIAN_CRS3_RULES_DIR).length > 10);
  const requests = stageRequests(loadLegacyCorpus(v3Tests), 'overrides-crs3.yaml');
  assert.ok(requests.length > 2000, `stages converted (${requests.length})`);
  const entry = crs3EntryConfText({ rulesDir: DEBIAN_CRS3_RULES_DIR, crsSetup: DEBIAN_CRS3_SETUP });
  assertSame('CRS 3.3.4', entry, requests, CRS3_REGEX_FALLBACK_RULE_IDS);
  t.diagnostic(`${requests.length} requests identical`);
});
