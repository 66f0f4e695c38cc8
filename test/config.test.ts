// Config file + flag validation.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { join } from 'node:path';
import {
  ConfigError,
  DEFAULT_ADMIN,
  DEFAULT_LISTEN,
  loadConfig,
  parseConfigText,
  parseListenAddress,
} from '../src/config/config.js';
import { DEFAULT_RULES_FILE, PACKAGE_ROOT } from '../src/config/paths.js';
import { cleanupDir, makeTempDir, writeFiles } from './helpers/server-process.js';

const dir = makeTempDir('sidewall-config-');
after(() => cleanupDir(dir));

function configError(text: string): string {
  try {
    parseConfigText(text, '/etc/x.yaml', '/etc');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `error must be one line: ${err.message}`);
    return err.message;
  }
  assert.fail(`no error for:\n${text}`);
}

describe('config defaults', () => {
  test('no file, no flags', () => {
    const c = loadConfig();
    assert.equal(c.listen, DEFAULT_LISTEN);
    assert.equal(c.listen, '127.0.0.1:9001');
    assert.equal(c.admin, DEFAULT_ADMIN);
    assert.equal(c.admin, '127.0.0.1:9002');
    assert.equal(c.rules, DEFAULT_RULES_FILE);
    assert.equal(c.rules, join(PACKAGE_ROOT, 'rules', 'main.conf'));
    assert.equal(c.mode, null);
    assert.equal(c.failOpen, false);
    assert.deepEqual(c.denyResponse, { body: null, contentType: 'application/json' });
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.regexFallbackRuleIds, []);
    assert.equal(c.configFile, null);
  });

  test('empty file is all defaults', () => {
    const { 'empty.yaml': file } = writeFiles(dir, { 'empty.yaml': '# nothing\n' });
    const c = loadConfig({ file });
    assert.equal(c.listen, DEFAULT_LISTEN);
    assert.equal(c.configFile, file);
  });
});

describe('config file', () => {
  test('every key', () => {
    const { 'full.yaml': file } = writeFiles(dir, {
      'full.yaml': `listen: unix:/run/sidewall/sidewall.sock
admin: 0.0.0.0:9102
rules: rules/custom.conf
mode: detect
fail_open: true
deny_response:
  body: "<h1>Blocked</h1> id={{request_id}}"
  content_type: text/html
log_level: debug
regex_fallback_rule_ids: [942100, 932200]
`,
    });
    const c = loadConfig({ file });
    assert.equal(c.listen, 'unix:/run/sidewall/sidewall.sock');
    assert.equal(c.admin, '0.0.0.0:9102');
    assert.equal(c.rules, join(dir, 'rules', 'custom.conf'), 'relative rules path resolves against the config file');
    assert.equal(c.mode, 'detect');
    assert.equal(c.failOpen, true);
    assert.deepEqual(c.denyResponse, { body: '<h1>Blocked</h1> id={{request_id}}', contentType: 'text/html' });
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.regexFallbackRuleIds, [942100, 932200]);
  });

  test('engine.acceleration switch: default on, false turns it off, bad values are named', () => {
    assert.equal(parseConfigText('engine:\n  acceleration: false\n', 'x', '/').acceleration, false);
    assert.equal(parseConfigText('engine:\n  acceleration: true\n', 'x', '/').acceleration, true);
    const { 'acc.yaml': file } = writeFiles(dir, { 'acc.yaml': 'log_level: info\n' });
    assert.equal(loadConfig({ file }).acceleration, true);
    assert.equal(configError('engine:\n  acceleration: "no"\n'), 'config /etc/x.yaml: engine.acceleration: must be true or false (got "no")');
    assert.match(configError('engine:\n  turbo: true\n'), /engine\.turbo: unknown key \(known keys: acceleration\)/);
    assert.match(configError('engine: fast\n'), /engine: must be a mapping/);
  });

  test('custom body without content_type defaults to text/plain', () => {
    const c = parseConfigText('deny_response:\n  body: nope\n', 'x', '/');
    assert.equal(c.denyBody, 'nope');
    assert.equal(c.denyContentType, undefined);
    const { 'body.yaml': file } = writeFiles(dir, { 'body.yaml': 'deny_response:\n  body: nope\n' });
    assert.equal(loadConfig({ file }).denyResponse.contentType, 'text/plain; charset=utf-8');
  });

  test('errors name the file, the key and the problem', () => {
    assert.equal(configError('mode: blok\n'), 'config /etc/x.yaml: mode: must be one of block, detect, off (got "blok")');
    assert.match(configError('mood: block\n'), /^config \/etc\/x\.yaml: mood: unknown key \(known keys: listen, admin, rules/);
    assert.equal(configError('fail_open: "yes"\n'), 'config /etc/x.yaml: fail_open: must be true or false (got "yes")');
    assert.equal(configError('listen: 9001\n'), 'config /etc/x.yaml: listen: must be a string (got number 9001)');
    assert.match(configError('listen: "localhost"\n'), /^config \/etc\/x\.yaml: listen: must be host:port, \[ipv6\]:port or unix:\/path/);
    assert.match(configError('admin: "127.0.0.1:99999"\n'), /admin: port must be 0\.\.65535/);
    assert.match(configError('admin: "::1:9002"\n'), /admin: IPv6 hosts must be in brackets/);
    assert.equal(configError('deny_response: blocked\n'), 'config /etc/x.yaml: deny_response: must be a mapping with body and/or content_type (got "blocked")');
    assert.match(configError('deny_response:\n  status: 403\n'), /deny_response\.status: unknown key/);
    assert.match(configError('deny_response:\n  body: [1]\n'), /deny_response\.body: must be a string \(got a list\)/);
    assert.match(configError('log_level: loud\n'), /log_level: must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/);
    assert.match(configError('regex_fallback_rule_ids: 942100\n'), /regex_fallback_rule_ids: must be a list of rule ids \(got number 942100\)/);
    assert.match(configError('regex_fallback_rule_ids: [1, x]\n'), /regex_fallback_rule_ids\[1\]: must be a positive integer rule id \(got "x"\)/);
    assert.match(configError('regex_fallback_rule_ids: [-5]\n'), /regex_fallback_rule_ids\[0\]: must be a positive integer/);
    assert.match(configError('rules: ""\n'), /rules: must not be empty/);
    assert.match(configError('- a\n- b\n'), /^config \/etc\/x\.yaml: must be a YAML mapping of settings \(got a list\)/);
  });

  test('YAML syntax errors give the line', () => {
    assert.match(configError('mode: block\nmode: detect\n'), /^config \/etc\/x\.yaml: invalid YAML at line 2, column 1: Map keys must be unique/);
    assert.match(configError('listen: [1,\n'), /invalid YAML at line \d+/);
  });

  test('missing file', () => {
    assert.throws(() => loadConfig({ file: join(dir, 'nope.yaml') }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^config .*nope\.yaml: cannot read: file not found$/);
      return true;
    });
  });
});

describe('flags override the file', () => {
  test('overrides', () => {
    const { 'base.yaml': file } = writeFiles(dir, { 'base.yaml': 'listen: 127.0.0.1:7001\nmode: detect\nfail_open: true\nlog_level: warn\n' });
    const c = loadConfig({
      file,
      cwd: '/srv',
      overrides: { listen: '[::1]:7002', admin: 'unix:/tmp/admin.sock', rules: 'r/main.conf', mode: 'block', logLevel: 'error' },
    });
    assert.equal(c.listen, '[::1]:7002');
    assert.equal(c.admin, 'unix:/tmp/admin.sock');
    assert.equal(c.rules, '/srv/r/main.conf', 'relative --rules resolves against cwd');
    assert.equal(c.mode, 'block');
    assert.equal(c.failOpen, true, 'kept from the file');
    assert.equal(c.logLevel, 'error');
    assert.equal(loadConfig({ file, overrides: { failOpen: false } }).failOpen, false);
  });

  test('bad flag values name the flag', () => {
    assert.throws(() => loadConfig({ overrides: { mode: 'blok' } }), /^ConfigError: --mode: must be one of block, detect, off \(got "blok"\)$/);
    assert.throws(() => loadConfig({ overrides: { listen: 'nowhere' } }), /^ConfigError: --listen: must be host:port/);
    assert.throws(() => loadConfig({ overrides: { logLevel: 'x' } }), /^ConfigError: --log-level: must be one of/);
  });

  test('listen and admin must differ', () => {
    assert.throws(() => loadConfig({ overrides: { listen: '127.0.0.1:9002' } }), /admin: must differ from listen/);
  });
});

describe('parseListenAddress', () => {
  test('forms', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9001'), { kind: 'tcp', host: '127.0.0.1', port: 9001 });
    assert.deepEqual(parseListenAddress('[::]:9001'), { kind: 'tcp', host: '::', port: 9001 });
    assert.deepEqual(parseListenAddress('localhost:0'), { kind: 'tcp', host: 'localhost', port: 0 });
    assert.deepEqual(parseListenAddress('unix:/run/s.sock'), { kind: 'unix', path: '/run/s.sock' });
    assert.deepEqual(parseListenAddress('unix:///run/s.sock'), { kind: 'unix', path: '/run/s.sock' });
    assert.equal(typeof parseListenAddress('unix:'), 'string');
    assert.equal(typeof parseListenAddress(':9001'), 'string');
    assert.equal(typeof parseListenAddress('host:port'), 'string');
  });
});
