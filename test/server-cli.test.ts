// The `sidewall` command line: help, version, and start-up failures (exit 2, one stderr line).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { packageVersion } from '../src/config/paths.js';
import { cleanupDir, engineAvailable, freePort, makeTempDir, runCli, writeFiles, type CliResult } from './helpers/server-process.js';

const dir = makeTempDir('sidewall-cli-');
after(() => cleanupDir(dir));

const engineSkip = (await engineAvailable()) ? false : 'awaits the rule engine (src/engine/waf.ts is a stub)';

/** Asserts a start-up failure: exit code, a single stderr line, no stack trace. */
function assertOneLineFailure(r: CliResult, code: number): string {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.match(lines[0]!, /^sidewall: /);
  return lines[0]!;
}

async function ports(): Promise<string[]> {
  return ['--listen', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${await freePort()}`];
}

describe('sidewall CLI', () => {
  test('version', async () => {
    const r = await runCli(['version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `sidewall ${packageVersion()}\n`);
  });

  test('--help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /sidewall serve \[options\]/);
    assert.match(r.stdout, /--fail-open/);
    const serveHelp = await runCli(['serve', '--help']);
    assert.equal(serveHelp.code, 0);
  });

  test('no command / unknown command / unknown flag → exit 2', async () => {
    assert.equal((await runCli([])).code, 2);
    assert.match(assertOneLineFailure(await runCli(['frobnicate']), 2), /unknown command "frobnicate"/);
    assert.match(assertOneLineFailure(await runCli(['serve', '--bogus']), 2), /--bogus/);
  });

  test('bad flag value names the flag', async () => {
    const line = assertOneLineFailure(await runCli(['serve', '--mode', 'blok']), 2);
    assert.equal(line, 'sidewall: --mode: must be one of block, detect, off (got "blok")');
  });

  test('bad config: unknown key, bad value, bad YAML, missing file → exit 2 naming file and key', async () => {
    const files = writeFiles(dir, {
      'unknown.yaml': 'listen: 127.0.0.1:9001\nlisten_port: 9001\n',
      'mode.yaml': 'mode: blok\n',
      'yaml.yaml': 'mode: block\n  admin: x\n',
      'nested.yaml': 'deny_response:\n  code: 403\n',
    });
    const unknown = assertOneLineFailure(await runCli(['serve', '--config', files['unknown.yaml']!]), 2);
    assert.match(unknown, /^sidewall: config .*unknown\.yaml: listen_port: unknown key/);
    const mode = assertOneLineFailure(await runCli(['serve', '--config', files['mode.yaml']!]), 2);
    assert.match(mode, /^sidewall: config .*mode\.yaml: mode: must be one of block, detect, off \(got "blok"\)$/);
    const yaml = assertOneLineFailure(await runCli(['serve', '--config', files['yaml.yaml']!]), 2);
    assert.match(yaml, /^sidewall: config .*yaml\.yaml: invalid YAML at line \d+, column \d+: /);
    const nested = assertOneLineFailure(await runCli(['serve', '--config', files['nested.yaml']!]), 2);
    assert.match(nested, /deny_response\.code: unknown key/);
    const missing = assertOneLineFailure(await runCli(['serve', '--config', 'does-not-exist.yaml'], { cwd: dir }), 2);
    assert.match(missing, /^sidewall: config does-not-exist\.yaml: cannot read: file not found$/);
  });

  test('missing rules file → exit 2', async () => {
    const line = assertOneLineFailure(await runCli(['serve', '--rules', 'nope.conf', ...(await ports())], { cwd: dir }), 2);
    assert.match(line, /^sidewall: rules: .*nope\.conf: file not found$/);
  });

  test('admin address in use → exit 1 naming the address', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { 'ok.conf': rules } = writeFiles(dir, { 'ok.conf': 'SecRuleEngine On\n' });
      const r = await runCli(['serve', '--rules', rules!, '--listen', `127.0.0.1:${await freePort()}`, '--admin', `127.0.0.1:${port}`]);
      const line = assertOneLineFailure(r, 1);
      assert.match(line, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(admin\\): address already in use`));
    } finally {
      blocker.close();
    }
  });

  test('bad rule file → exit 2, message names file:line', { skip: engineSkip }, async () => {
    const { 'bad.conf': rules } = writeFiles(dir, {
      'bad.conf': 'SecRuleEngine On\nSecRule ARGS "@contains x" "id:1,phase:1,deny,log"\nSecRule ARGS\n',
    });
    const line = assertOneLineFailure(await runCli(['serve', '--rules', rules!, ...(await ports())]), 2);
    assert.match(line, /^sidewall: rules: .*bad\.conf:3: /);
  });
});
