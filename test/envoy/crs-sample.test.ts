// A sample of the CRS regression corpus through the real Envoy (every 20th CRS v4 stage, every
// 10th 3.3.4 stage; `npm run test:crs:envoy` / `test:crs3:envoy` run them all): every stage real
// Envoy hands to ext_authz passes, and the Envoy model (bench/lib/envoy-http1.ts) agrees with the
// real Envoy on every sampled stage — what it rejects, with which status, and the rule ids.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrsRealEnvoy } from '../crs/real-envoy.js';
import { envoyMissing, skipUnless } from '../helpers/requirements.js';

const skip = skipUnless(envoyMissing());

describe('CRS through real Envoy (sampled)', { skip }, () => {
  for (const [suite, sample] of [['v4', 20], ['crs3', 10]] as const) {
    it(`${suite}: every ${sample}th stage — 100 % of what Envoy hands to ext_authz, no model disagreement`, async () => {
      const lines: string[] = [];
      const s = await runCrsRealEnvoy({ suite, sample, writeReports: false, log: (l) => lines.push(l) });
      const report = lines.join('\n');
      assert.ok(s.applicable >= 200, `${s.applicable} applicable stages\n${report}`);
      assert.equal(s.failed, 0, report);
      assert.equal(s.passRate, 100);
      assert.deepEqual(s.disagreements, [], report);
      assert.equal(s.envoyStats['http.ingress.ext_authz.error'], 0, 'every check was answered');
    });
  }
});
