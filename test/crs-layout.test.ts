// Issue #5: an unmodified CRS v4 installation directory as `--rules` — crs-setup, plugins
// (*-config, *-before, *-after) and the two exclusion templates once renamed — through the real
// server process and real gRPC, with a user exclusion written the CRS way.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckClient, type RequestSpec } from './helpers/check-client.js';
import { engineAvailable, makeTempDir, cleanupDir, startServer, type ServerProcess } from './helpers/server-process.js';
import { sharedPath } from '../bench/lib/shared.js';

const CRS = sharedPath('crs');

/** waf_action and waf_rule_ids of one check. */
async function verdict(client: CheckClient, spec: RequestSpec): Promise<{ action: string; ruleIds: number[] }> {
  const r = await client.check(spec);
  return { action: String(r.metadata['waf_action']), ruleIds: (r.metadata['waf_rule_ids'] as number[]) ?? [] };
}
const SQLI = encodeURIComponent("1' UNION SELECT password FROM users--");

/** A CRS install the way INSTALL.md lays it out, with the shared CRS rule files linked in. */
function crsInstall(dir: string): void {
  mkdirSync(join(dir, 'rules'));
  mkdirSync(join(dir, 'plugins'));
  for (const f of readdirSync(join(CRS, 'rules'))) {
    if (f.endsWith('.conf') || f.endsWith('.data')) symlinkSync(join(CRS, 'rules', f), join(dir, 'rules', f));
  }
  symlinkSync(join(CRS, 'crs-setup.conf.example'), join(dir, 'crs-setup.conf.example'));
  // The exclusion templates, "renamed" (.example dropped) with user exclusions added the CRS way.
  const beforeTpl = readFileSync(join(CRS, 'rules', 'REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf.example'), 'utf8');
  writeFileSync(
    join(dir, 'rules', 'REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf'),
    beforeTpl +
      '\nSecRule REQUEST_URI "@beginsWith /api/upload" "id:1000,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:payload"\n',
  );
  const afterTpl = readFileSync(join(CRS, 'rules', 'RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf.example'), 'utf8');
  writeFileSync(join(dir, 'rules', 'RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf'), afterTpl + '\nSecRuleUpdateTargetById 942100 "!ARGS:comment"\n');
  // A plugin: its config sets a flag, its before-rule needs it, its after-rule sees CRS's score.
  writeFileSync(join(dir, 'plugins', 'probe-config.conf'), 'SecAction "id:9500000,phase:1,pass,nolog,setvar:tx.probe-plugin_enabled=1"\n');
  writeFileSync(
    join(dir, 'plugins', 'probe-before.conf'),
    'SecRule TX:probe-plugin_enabled "@eq 1" "id:9500010,phase:1,pass,log,msg:\'probe plugin before\',chain"\n' +
      '  SecRule REQUEST_URI "@beginsWith /probe" "t:none"\n',
  );
  writeFileSync(
    join(dir, 'plugins', 'probe-after.conf'),
    'SecRule TX:BLOCKING_INBOUND_ANOMALY_SCORE "@ge 5" "id:9500020,phase:2,pass,log,msg:\'probe plugin after: score %{tx.blocking_inbound_anomaly_score}\'"\n',
  );
}

describe('CRS v4 installation directory as --rules (plugins, renamed exclusion templates)', { skip: !existsSync(join(CRS, 'rules')) && 'CRS not under ../shared' }, () => {
  let dir = '';
  let server: ServerProcess | undefined;
  let client: CheckClient | undefined;

  before(async () => {
    if (!(await engineAvailable())) throw new Error('build first: dist/src/cli.js missing');
    dir = makeTempDir('sidewall-crs-install-');
    crsInstall(dir);
    server = await startServer({ rulesFile: dir, args: ['--mode', 'block'], readyTimeoutMs: 30_000 });
    client = new CheckClient(server.grpcAddress);
  });

  after(async () => {
    client?.close();
    await server?.stop();
    if (dir) cleanupDir(dir);
  });

  it('loads in INSTALL order and says crs-setup.conf.example was used', async () => {
    const warn = await server!.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('crs-setup.conf.example: used as is'));
    assert.ok(warn);
    const r = await verdict(client!, { path: '/?q=hello' });
    assert.equal(r.action, 'allow');
  });

  it('blocks SQLi with the unmodified CRS rules', async () => {
    const r = await verdict(client!, { path: `/search?payload=${SQLI}` });
    assert.equal(r.action, 'deny');
    assert.ok(r.ruleIds.includes(942100), `942100 in ${r.ruleIds.join(',')}`);
  });

  it('REQUEST-900 exclusion: ctl:ruleRemoveTargetById=942100;ARGS:payload only under /api/upload, only for payload', async () => {
    const excluded = await verdict(client!, { path: `/api/upload?payload=${SQLI}` });
    assert.ok(!excluded.ruleIds.includes(942100), `942100 still fired: ${excluded.ruleIds.join(',')}`);
    const otherArg = await verdict(client!, { path: `/api/upload?name=${SQLI}` });
    assert.ok(otherArg.ruleIds.includes(942100), 'other arguments under /api/upload are still inspected');
    const otherPath = await verdict(client!, { path: `/api/other?payload=${SQLI}` });
    assert.ok(otherPath.ruleIds.includes(942100), 'payload elsewhere is still inspected');
  });

  it('RESPONSE-999 exclusion: SecRuleUpdateTargetById after the CRS rules takes effect', async () => {
    const r = await verdict(client!, { path: `/?comment=${SQLI}` });
    assert.ok(!r.ruleIds.includes(942100), `942100 fired on ARGS:comment: ${r.ruleIds.join(',')}`);
  });

  it('plugins run around the rules: config before before-rules, after-rules see the CRS score', async () => {
    const probe = await verdict(client!, { path: '/probe?q=hello' });
    assert.ok(probe.ruleIds.includes(9500010), `before-plugin rule: ${probe.ruleIds.join(',')}`);
    const attack = await verdict(client!, { path: `/search?payload=${SQLI}` });
    // Blocking mode: 949110 denies in phase 2 before the after-plugin rule runs; detection of the
    // score by an after-plugin is shown in detect mode below.
    assert.ok(attack.ruleIds.includes(949110));
  });
});

describe('CRS directory in detect mode: after-plugins run after the blocking evaluation', { skip: !existsSync(join(CRS, 'rules')) && 'CRS not under ../shared' }, () => {
  it('the after-plugin rule sees the anomaly score CRS computed', async () => {
    const dir = makeTempDir('sidewall-crs-install-');
    crsInstall(dir);
    const server = await startServer({ rulesFile: dir, args: ['--mode', 'detect'], readyTimeoutMs: 30_000 });
    const client = new CheckClient(server.grpcAddress);
    try {
      const r = await verdict(client, { path: `/search?payload=${SQLI}` });
      assert.equal(r.action, 'detect');
      const ids = r.ruleIds;
      assert.ok(ids.includes(9500020), `after-plugin rule: ${ids.join(',')}`);
      assert.ok(ids.indexOf(949110) < ids.indexOf(9500020), 'after-plugin runs after REQUEST-949');
    } finally {
      client.close();
      await server.stop();
      cleanupDir(dir);
    }
  });
});

describe('a directory that is not a CRS install', () => {
  it('is refused with a message naming it', async () => {
    const dir = makeTempDir('sidewall-not-crs-');
    try {
      const server = startServer({ rulesFile: dir, readyTimeoutMs: 10_000 });
      await assert.rejects(server, /not a regular file nor a CRS directory/);
    } finally {
      cleanupDir(dir);
    }
  });
});
