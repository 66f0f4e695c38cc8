// Settings → engine: mode, pinned paranoia level and anomaly threshold (winning over what the
// ruleset itself sets), exclusion rules appended after the base ruleset, waf: disabled. Checked
// with the embedded rules (tx.paranoia_level) and with OWASP CRS v4 (tx.blocking_paranoia_level).
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HttpRequest, Verdict } from '../src/engine/api.js';
import { DEFAULT_RULES_FILE } from '../src/config/paths.js';
import { readDirectives } from '../src/seclang/reader.js';
import type { Directive } from '../src/seclang/ast.js';
import { resolveSettings, type EffectiveSettings } from '../src/settings/effective.js';
import type { SettingsValues } from '../src/settings/values.js';
import { buildEngine, DisabledEngine } from '../src/server/engine-builder.js';
import type { WafLike } from '../src/server/check-service.js';
import { writeEntryConf } from '../bench/lib/crs-config.js';
import { cleanupDir, makeTempDir } from './helpers/server-process.js';
import { sharedPath } from '../bench/lib/shared.js';

function request(uri: string, headers: Array<[string, string]> = [['User-Agent', 'orders-client/1.0'], ['Accept', 'application/json']]): HttpRequest {
  return {
    id: 'settings-test',
    method: 'GET',
    uri,
    protocol: 'HTTP/1.1',
    headers: [['Host', 'orders.shop.svc.cluster.local'], ...headers],
    body: null,
    bodyPartial: false,
    clientIp: '10.1.2.3',
    clientPort: 41234,
    serverIp: '10.1.9.9',
    serverPort: 8080,
  };
}

function settings(values: SettingsValues, exclusions: { text: string; file: string } | null = null): EffectiveSettings {
  return resolveSettings({ mode: null }, null, values, exclusions);
}

async function engine(base: Directive[], values: SettingsValues, warnings: string[] = [], exclusions: { text: string; file: string } | null = null): Promise<WafLike> {
  return buildEngine(base, settings(values, exclusions), { sliceMs: 5, onWarning: (m) => warnings.push(m) });
}

const SQLI = "/orders?id=1'%20or%201=1--";

describe('embedded rules (tx.paranoia_level)', () => {
  let dir: string;
  let base: Directive[];
  let overriding: Directive[];
  before(() => {
    dir = makeTempDir('sidewall-settings-engine-');
    base = readDirectives(DEFAULT_RULES_FILE);
    // An entry file whose own local setting raises the paranoia level (main.conf documents this).
    const wrapper = join(dir, 'local.conf');
    writeFileSync(wrapper, `SecAction "id:1000,phase:1,pass,nolog,setvar:tx.paranoia_level=2"\nInclude ${DEFAULT_RULES_FILE}\n`);
    overriding = readDirectives(wrapper);
  });
  after(() => cleanupDir(dir));

  test('a PL2-only rule fires only when paranoia_level is 2', async () => {
    const req = request('/backup.sql');
    const pl1 = (await engine(base, { mode: 'block' })).evaluate(req);
    assert.equal(pl1.action, 'allow');
    assert.ok(!pl1.ruleIds.includes(1130200));
    const pl2 = (await engine(base, { mode: 'block', paranoiaLevel: 2 })).evaluate(req);
    assert.ok(pl2.ruleIds.includes(1130200), `rule ids ${pl2.ruleIds}`);
    assert.equal(pl2.action, 'deny');
  });

  test('the pinned level wins over the ruleset setting its own, with one warning naming the setvar', async () => {
    const req = request('/backup.sql');
    assert.ok((await engine(overriding, { mode: 'block' })).evaluate(req).ruleIds.includes(1130200), 'the ruleset alone runs PL2');
    const warnings: string[] = [];
    const pinned = (await engine(overriding, { mode: 'block', paranoiaLevel: 1 }, warnings)).evaluate(req);
    assert.ok(!pinned.ruleIds.includes(1130200), `rule ids ${pinned.ruleIds}`);
    assert.equal(pinned.action, 'allow');
    const w = warnings.filter((m) => m.includes('pinned'));
    assert.equal(w.length, 1, warnings.join('\n'));
    assert.match(w[0]!, /tx\.paranoia_level is pinned to 1 by the operator settings; setvar at .*local\.conf:1 is ignored/);
  });

  test('anomaly_threshold decides blocking; mode decides deny vs detect', async () => {
    const req = request(SQLI);
    const v5 = (await engine(base, { mode: 'block' })).evaluate(req);
    assert.equal(v5.action, 'deny');
    const high = (await engine(base, { mode: 'block', anomalyThreshold: 1000 })).evaluate(req);
    assert.equal(high.action, 'allow');
    assert.ok(high.ruleIds.length > 0 && high.anomalyScore >= 5, 'detections still reported');
    const detect = (await engine(base, { mode: 'detect' })).evaluate(req);
    assert.equal(detect.action, 'detect');
    assert.equal(detect.mode, 'detect');
  });

  test('exclusions load after the base rules and can remove them; their errors name exclusions.conf:line', async () => {
    const file = join(dir, 'exclusions.conf');
    const excluded = await engine(base, { mode: 'block', paranoiaLevel: 2 }, [], { text: '# shop exclusions\nSecRuleRemoveById 1130200\n', file });
    assert.equal(excluded.evaluate(request('/backup.sql')).action, 'allow');
    assert.equal(excluded.evaluate(request(SQLI)).action, 'deny', 'other rules still work');
    await assert.rejects(
      engine(base, { mode: 'block' }, [], { text: '# shop exclusions\nSecRule ARGS "@nope x" "id:10,phase:1,pass"\n', file }),
      (err: Error) => {
        assert.ok(err.message.startsWith(`${file}:2: `), err.message);
        return true;
      },
    );
  });

  test('waf: disabled allows everything without evaluating', async () => {
    const off = await engine(base, { waf: 'disabled', mode: 'block' });
    assert.ok(off instanceof DisabledEngine);
    const v: Verdict = off.evaluate(request(SQLI));
    assert.equal(v.action, 'allow');
    assert.equal(v.mode, 'off');
    assert.deepEqual(v.ruleIds, []);
    assert.equal(v.requestId, 'settings-test');
  });
});

describe('OWASP CRS v4 (tx.blocking_paranoia_level)', () => {
  const crsDir = sharedPath('crs');
  const available = existsSync(join(crsDir, 'crs-setup.conf.example'));
  let dir: string;
  let base: Directive[];
  let raised: Directive[];
  before(() => {
    if (!available) return;
    dir = makeTempDir('sidewall-settings-crs-');
    base = readDirectives(writeEntryConf(dir, { crsDir, testSetup: false }, 'crs.conf'));
    // What an operator's crs-setup.conf does when 900000 is uncommented, here with PL 4.
    const extra = 'SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=4"';
    raised = readDirectives(writeEntryConf(dir, { crsDir, testSetup: false, extra }, 'crs-pl4.conf'));
  });
  after(() => dir && cleanupDir(dir));

  // 920320 "Missing User Agent Header" is a paranoia level 2 rule.
  const noUserAgent = request('/orders', [['Accept', 'application/json']]);

  test('a PL2-only rule (920320) fires only when paranoia_level is 2', { skip: !available && 'CRS not found' }, async () => {
    const pl1 = (await engine(base, { mode: 'block' })).evaluate(noUserAgent);
    assert.ok(!pl1.ruleIds.includes(920320), `rule ids ${pl1.ruleIds}`);
    const pl2 = (await engine(base, { mode: 'block', paranoiaLevel: 2 })).evaluate(noUserAgent);
    assert.ok(pl2.ruleIds.includes(920320), `rule ids ${pl2.ruleIds}`);
  });

  test('the pinned level wins over crs-setup SecAction 900000 (PL 4 there, 1 pinned)', { skip: !available && 'CRS not found' }, async () => {
    assert.ok((await engine(raised, { mode: 'block' })).evaluate(noUserAgent).ruleIds.includes(920320), 'the ruleset alone runs PL4');
    const warnings: string[] = [];
    const pinned = (await engine(raised, { mode: 'block', paranoiaLevel: 1 }, warnings)).evaluate(noUserAgent);
    assert.ok(!pinned.ruleIds.includes(920320), `rule ids ${pinned.ruleIds}`);
    const w = warnings.filter((m) => m.includes('pinned'));
    // Only the unconditional setvar is reported, not CRS 901's "set when unset" defaults.
    assert.equal(w.length, 1, w.join('\n'));
    assert.match(w[0]!, /tx\.blocking_paranoia_level is pinned to 1 .*crs-pl4\.conf:\d+ is ignored/);
  });

  test('anomaly_threshold sets tx.inbound_anomaly_score_threshold', { skip: !available && 'CRS not found' }, async () => {
    const req = request(SQLI);
    const dflt = (await engine(base, { mode: 'block' })).evaluate(req);
    assert.equal(dflt.action, 'deny');
    assert.equal(dflt.interruptingRuleId, 949110);
    const high = (await engine(base, { mode: 'block', anomalyThreshold: 1000 })).evaluate(req);
    assert.equal(high.action, 'allow');
    assert.ok(high.anomalyScore >= 5, `score ${high.anomalyScore}`);
  });
});
