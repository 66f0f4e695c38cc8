// SecLang parser: reader (lines, quoting, comments, Include) and rule parser (variables, operator, actions).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SecLangError,
  parseActions,
  parseCtlTargetValue,
  parseDirectivesFromString,
  parseOperator,
  parseRule,
  parseTargetUpdate,
  parseVariables,
  readDirectives,
  compileGlob,
  type Directive,
  type RuleSpec,
  type VariableSpec,
} from '../src/seclang/index.js';
import { sharedPath } from '../bench/lib/shared.js';

const LOC = { file: 'test.conf', line: 7 };

function parse(text: string): Directive[] {
  return parseDirectivesFromString(text, '/virtual/test.conf');
}

function v(collection: string, key: string | null = null, extra: Partial<VariableSpec> = {}): VariableSpec {
  return { collection, key, keyIsRegex: false, count: false, exclude: false, ...extra };
}

function throwsSecLang(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SecLangError, `expected SecLangError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-seclang-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// -------------------------------------------------------------------------------------------------
describe('reader: lines, continuation, comments', () => {
  test('continuation lines are joined; loc is the first physical line', () => {
    const ds = parse(
      [
        '# header',
        '',
        'SecRule ARGS "@rx foo" \\',
        '    "id:1,\\',
        '    phase:1,\\',
        '    pass"',
        'SecMarker END',
      ].join('\n'),
    );
    assert.equal(ds.length, 2);
    assert.deepEqual(ds[0], {
      name: 'SecRule',
      args: ['ARGS', '@rx foo', 'id:1,    phase:1,    pass'],
      loc: { file: '/virtual/test.conf', line: 3 },
    });
    assert.deepEqual(ds[1]!.loc, { file: '/virtual/test.conf', line: 7 });
    // and the joined actions separate properly
    assert.deepEqual(
      parseActions(ds[0]!.args[2]!, ds[0]!.loc),
      [
        { name: 'id', value: '1' },
        { name: 'phase', value: '1' },
        { name: 'pass', value: null },
      ],
    );
  });

  test('continuation keeps the next line as written (leading whitespace included), like httpd', () => {
    const ds = parse('SecRule ARGS "@rx foo\\\n  bar" "id:1"\nSecAction \\\n"id:2"');
    assert.equal(ds[0]!.args[1], '@rx foo  bar');
    assert.deepEqual(ds[1]!.args, ['id:2']);
    // a quoted msg continued inside its single quotes (CRS 980170 style)
    const [d] = parse("SecAction \\\n    \"id:3,\\\n    msg:'Scores: \\\n(a=1, b=2)',\\\n    pass\"");
    const acts = parseActions(d!.args[0]!, d!.loc);
    assert.deepEqual(acts[1], { name: 'msg', value: 'Scores: (a=1, b=2)' });
    assert.deepEqual(acts[2], { name: 'pass', value: null });
  });

  test('CRLF line ends, UTF-8 BOM, blank lines with whitespace', () => {
    const ds = parse('\xef\xbb\xbfSecRuleEngine On\r\n   \t \r\nSecRule ARGS "@rx a" \\\r\n  "id:1"\r\n');
    assert.deepEqual(
      ds.map((d) => [d.name, d.args, d.loc.line]),
      [
        ['SecRuleEngine', ['On'], 1],
        ['SecRule', ['ARGS', '@rx a', 'id:1'], 3],
      ],
    );
  });

  test('a continuation on the last line ends the directive', () => {
    const ds = parse('SecMarker A \\');
    assert.deepEqual(ds[0]!.args, ['A']);
  });

  test('comments: only a leading #; a comment ending in \\ continues onto the next line', () => {
    const ds = parse(
      [
        '# plain comment',
        '   \t# indented comment',
        '#SecAction \\',
        '    "id:900000,\\',
        '    pass"',
        'SecMarker "a#b" # not-a-comment',
        '#',
      ].join('\n'),
    );
    assert.equal(ds.length, 1);
    assert.deepEqual(ds[0]!.args, ['a#b', '#', 'not-a-comment']);
    assert.equal(ds[0]!.loc.line, 6);
  });

  test('directive names keep their case', () => {
    const ds = parse('secrule ARGS "x" "id:1"\nSECACTION "id:2"');
    assert.deepEqual(
      ds.map((d) => d.name),
      ['secrule', 'SECACTION'],
    );
    assert.equal(parseRule(ds[0]!).kind, 'SecRule');
    assert.equal(parseRule(ds[1]!).kind, 'SecAction');
  });
});

// -------------------------------------------------------------------------------------------------
describe('reader: argument quoting and escapes', () => {
  test('\\" inside double quotes is a quote; other escapes are kept as written', () => {
    const [d] = parse(String.raw`SecRule ARGS "@rx [\"'\x5c]\d+\s\\\/\'" "msg:'a \"b\" c'"`);
    assert.deepEqual(d!.args, ['ARGS', String.raw`@rx ["'\x5c]\d+\s\\\/\'`, `msg:'a "b" c'`]);
  });

  test('\\\\ before the closing quote does not escape it', () => {
    const [d] = parse(String.raw`SecRule ARGS "@rx a\\" "id:1"`);
    assert.deepEqual(d!.args, ['ARGS', String.raw`@rx a\\`, 'id:1']);
  });

  test('single-quoted directive arguments', () => {
    const [d] = parse(String.raw`SecRule ARGS '@rx a "b" \'c\'' 'id:1,msg:x'`);
    assert.deepEqual(d!.args, ['ARGS', `@rx a "b" 'c'`, 'id:1,msg:x']);
  });

  test('quotes only start an argument at its beginning; adjacent quoted args split', () => {
    const [d] = parse(`SecRule ARGS:a"b "@rx x""id:1" x'y`);
    assert.deepEqual(d!.args, ['ARGS:a"b', '@rx x', 'id:1', "x'y"]);
  });

  test('empty quoted argument', () => {
    const [d] = parse('SecRule ARGS "" ""');
    assert.deepEqual(d!.args, ['ARGS', '', '']);
  });

  test('raw bytes survive (latin1)', () => {
    withTempDir((dir) => {
      const f = join(dir, 'bytes.conf');
      writeFileSync(f, Buffer.concat([Buffer.from('SecRule ARGS "@rx \\xc0'), Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from('" "id:1"\n')]));
      const [d] = readDirectives(f);
      assert.equal(d!.args[1], '@rx \\xc0\xc0\xaf\xff');
    });
  });

  test('unterminated quoted argument is an error naming file:line', () => {
    throwsSecLang(
      () => parse('SecMarker A\n\nSecRule ARGS "@rx foo \\"id:1'),
      /^\/virtual\/test\.conf:3: unterminated quoted argument/,
    );
    // a continuation whose backslash is followed by a space does not continue (httpd)
    throwsSecLang(() => parse('SecAction \\\n  "id:1,\\ \n  pass"'), /test\.conf:1: unterminated quoted argument .*"id:1,\\ ?$/);
  });
});

// -------------------------------------------------------------------------------------------------
describe('reader: Include', () => {
  test('glob + relative path + sorted order + locations of included files', () => {
    withTempDir((dir) => {
      mkdirSync(join(dir, 'rules'));
      writeFileSync(join(dir, 'rules', 'b.conf'), 'SecMarker B1\nSecMarker B2\n');
      writeFileSync(join(dir, 'rules', 'a.conf'), '\n\nSecMarker A\n');
      writeFileSync(join(dir, 'rules', 'C.conf'), 'SecMarker C\n'); // upper case sorts first (byte order)
      writeFileSync(join(dir, 'rules', 'x.data'), 'not a conf\n');
      writeFileSync(join(dir, 'rules', '.hidden.conf'), 'SecMarker HIDDEN\n');
      writeFileSync(join(dir, 'main.conf'), 'SecMarker START\nInclude rules/*.conf\nSecMarker END\n');
      const ds = readDirectives(join(dir, 'main.conf'));
      assert.deepEqual(
        ds.map((d) => d.args[0]),
        ['START', 'C', 'A', 'B1', 'B2', 'END'],
      );
      assert.ok(!ds.some((d) => /^include/i.test(d.name)));
      assert.deepEqual(ds[2]!.loc, { file: join(dir, 'rules', 'a.conf'), line: 3 });
      assert.deepEqual(ds[4]!.loc, { file: join(dir, 'rules', 'b.conf'), line: 2 });
      assert.deepEqual(ds[5]!.loc, { file: join(dir, 'main.conf'), line: 3 });
    });
  });

  test('?, [..] and wildcards in directory components; quoted path; directory include', () => {
    withTempDir((dir) => {
      for (const sub of ['set-1', 'set-2', 'other']) {
        mkdirSync(join(dir, sub));
        writeFileSync(join(dir, sub, 'r.conf'), `SecMarker ${sub}\n`);
      }
      writeFileSync(join(dir, 'set-2', 's.conf'), 'SecMarker set-2s\n');
      writeFileSync(join(dir, 'main.conf'), 'Include "set-?/r.conf"\nInclude set-[2]/*.conf\nInclude other\nInclude set-[!2]/r.conf\n');
      const ds = readDirectives(join(dir, 'main.conf'));
      assert.deepEqual(
        ds.map((d) => d.args[0]),
        ['set-1', 'set-2', 'set-2', 'set-2s', 'other', 'set-1'],
      );
    });
  });

  test('wildcard metacharacters in the including directory are not patterns', () => {
    withTempDir((dir) => {
      const odd = join(dir, 'we[i]rd*dir');
      mkdirSync(join(odd, 'r'), { recursive: true });
      writeFileSync(join(odd, 'r', 'x.conf'), 'SecMarker X\n');
      writeFileSync(join(odd, 'main.conf'), 'Include r/*.conf\nInclude ./r/../r/x.conf\n');
      assert.deepEqual(
        readDirectives(join(odd, 'main.conf')).map((d) => d.args[0]),
        ['X', 'X'],
      );
    });
  });

  test('paths are relative to the including file, through nested includes', () => {
    withTempDir((dir) => {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      writeFileSync(join(dir, 'main.conf'), 'Include a/one.conf\n');
      writeFileSync(join(dir, 'a', 'one.conf'), 'Include b/two.conf\nSecMarker ONE\n');
      writeFileSync(join(dir, 'a', 'b', 'two.conf'), 'SecMarker TWO\n');
      assert.deepEqual(
        readDirectives(join(dir, 'main.conf')).map((d) => d.args[0]),
        ['TWO', 'ONE'],
      );
      // absolute include path
      writeFileSync(join(dir, 'abs.conf'), `Include ${join(dir, 'a', 'b', 'two.conf')}\n`);
      assert.deepEqual(
        readDirectives(join(dir, 'abs.conf')).map((d) => d.args[0]),
        ['TWO'],
      );
      // from a string: relative to the virtual file's directory
      const ds = parseDirectivesFromString('Include b/two.conf', join(dir, 'a', 'inline.conf'));
      assert.deepEqual(ds[0]!.loc, { file: join(dir, 'a', 'b', 'two.conf'), line: 1 });
    });
  });

  test('missing file: Include fails with file:line, IncludeOptional is ignored', () => {
    withTempDir((dir) => {
      writeFileSync(join(dir, 'main.conf'), 'SecMarker A\n\nInclude nope/missing.conf\n');
      throwsSecLang(
        () => readDirectives(join(dir, 'main.conf')),
        new RegExp(`^${escapeRe(join(dir, 'main.conf'))}:3: Include: file not found: ${escapeRe(join(dir, 'nope', 'missing.conf'))}$`),
      );
      writeFileSync(join(dir, 'opt.conf'), 'IncludeOptional missing.conf\nIncludeOptional none-*.conf\nSecMarker A\n');
      assert.deepEqual(
        readDirectives(join(dir, 'opt.conf')).map((d) => d.args[0]),
        ['A'],
      );
      writeFileSync(join(dir, 'glob.conf'), 'Include none-*.conf\n');
      throwsSecLang(() => readDirectives(join(dir, 'glob.conf')), /glob\.conf:1: Include: no file matches wildcard: .*none-\*\.conf/);
      writeFileSync(join(dir, 'args.conf'), 'Include a.conf b.conf\n');
      throwsSecLang(() => readDirectives(join(dir, 'args.conf')), /args\.conf:1: Include: expected exactly one path argument/);
    });
  });

  test('missing entry file', () => {
    throwsSecLang(() => readDirectives('/nonexistent/sidewall/x.conf'), /file not found: \/nonexistent\/sidewall\/x\.conf/);
  });

  test('include cycles are errors', () => {
    withTempDir((dir) => {
      writeFileSync(join(dir, 'a.conf'), 'SecMarker A\nInclude b.conf\n');
      writeFileSync(join(dir, 'b.conf'), 'SecMarker B\nInclude a.conf\n');
      throwsSecLang(() => readDirectives(join(dir, 'a.conf')), /b\.conf:2: Include: include cycle: .*a\.conf -> .*b\.conf -> .*a\.conf/);
      writeFileSync(join(dir, 'self.conf'), 'Include *.conf\n');
      throwsSecLang(() => readDirectives(join(dir, 'self.conf')), /include cycle/);
      // including the same file twice (not a cycle) is fine
      writeFileSync(join(dir, 'twice.conf'), 'Include c.conf\nInclude c.conf\n');
      writeFileSync(join(dir, 'c.conf'), 'SecMarker C\n');
      assert.equal(readDirectives(join(dir, 'twice.conf')).length, 2);
    });
  });

  test('errors inside included files name the included file and line', () => {
    withTempDir((dir) => {
      writeFileSync(join(dir, 'main.conf'), 'Include bad.conf\n');
      writeFileSync(join(dir, 'bad.conf'), 'SecMarker A\nSecMarker "B\n');
      throwsSecLang(() => readDirectives(join(dir, 'main.conf')), new RegExp(`^${escapeRe(join(dir, 'bad.conf'))}:2: unterminated`));
    });
  });

  test('glob matcher', () => {
    const m = compileGlob('*.conf');
    assert.ok(m('a.conf'));
    assert.ok(m('.conf') === false); // leading dot must be explicit
    assert.ok(!m('a.conf.example'));
    assert.ok(compileGlob('REQUEST-9[0-4]?-*.conf')('REQUEST-942-APPLICATION-ATTACK-SQLI.conf'));
    assert.ok(!compileGlob('REQUEST-9[0-4]?-*.conf')('REQUEST-951-X.conf'));
    assert.ok(compileGlob('[!a]*')('b'));
    assert.ok(!compileGlob('[!a]*')('ab'));
    assert.ok(compileGlob('a\\*b')('a*b'));
    assert.ok(!compileGlob('a\\*b')('axb'));
    assert.ok(compileGlob('*a*a*a*a*a*b')('a'.repeat(40) + 'b'));
    assert.ok(!compileGlob('*a*a*a*a*a*b')('a'.repeat(5000)));
  });
});

// -------------------------------------------------------------------------------------------------
describe('rule parser: variables', () => {
  test('plain, keyed, excluded, counted; names upper-cased, keys as written', () => {
    assert.deepEqual(parseVariables('args|Request_Headers:User-Agent|!REQUEST_COOKIES:foo|&TX:Bar', LOC), [
      v('ARGS'),
      v('REQUEST_HEADERS', 'User-Agent'),
      v('REQUEST_COOKIES', 'foo', { exclude: true }),
      v('TX', 'Bar', { count: true }),
    ]);
  });

  test('regex keys may contain | : / escapes and spaces; a | inside /.../ is not a separator', () => {
    assert.deepEqual(parseVariables('REQUEST_COOKIES|!REQUEST_COOKIES:/^(?:_ga|_gid|a:b)$/|ARGS', LOC), [
      v('REQUEST_COOKIES'),
      v('REQUEST_COOKIES', '^(?:_ga|_gid|a:b)$', { exclude: true, keyIsRegex: true }),
      v('ARGS'),
    ]);
    assert.deepEqual(parseVariables(String.raw`ARGS:/a\/b|c d/|TX:/^x\\/`, LOC), [
      v('ARGS', String.raw`a\/b|c d`, { keyIsRegex: true }),
      v('TX', String.raw`^x\\`, { keyIsRegex: true }),
    ]);
    assert.deepEqual(parseVariables(String.raw`ARGS_NAMES:/^[\w]+\[[\w\-]+\]\[[\w\-]*?\]$/|!ARGS_NAMES:/^[\w]+\[[\w\-]+\]$/`, LOC), [
      v('ARGS_NAMES', String.raw`^[\w]+\[[\w\-]+\]\[[\w\-]*?\]$`, { keyIsRegex: true }),
      v('ARGS_NAMES', String.raw`^[\w]+\[[\w\-]+\]$`, { keyIsRegex: true, exclude: true }),
    ]);
  });

  test("quoted keys: 'foo bar', quoted regex '/a|b/', escaped quote", () => {
    assert.deepEqual(parseVariables(`ARGS:'foo bar'|ARGS:'/^(a|b)$/'|&TX:'/LEAKAGE\\\\\\/ERRORS/'|ARGS:'it\\'s'`, LOC), [
      v('ARGS', 'foo bar'),
      v('ARGS', '^(a|b)$', { keyIsRegex: true }),
      v('TX', String.raw`LEAKAGE\\\/ERRORS`, { keyIsRegex: true, count: true }),
      v('ARGS', "it's"),
    ]);
  });

  test('XML keys are XPath literals, never regexes', () => {
    assert.deepEqual(parseVariables('ARGS|XML:/*|XML://@*|XML:/a/b[@c]', LOC), [
      v('ARGS'),
      v('XML', '/*'),
      v('XML', '//@*'),
      v('XML', '/a/b[@c]'),
    ]);
  });

  test('whitespace around separators, comma separator, dot key separator, empty key', () => {
    assert.deepEqual(parseVariables(' ARGS | ARGS_NAMES,REQUEST_BODY ', LOC), [v('ARGS'), v('ARGS_NAMES'), v('REQUEST_BODY')]);
    assert.deepEqual(parseVariables('TX.foo|REQUEST_HEADERS:X.Filename', LOC), [v('TX', 'foo'), v('REQUEST_HEADERS', 'X.Filename')]);
    assert.deepEqual(parseVariables('ARGS:|ARGS_NAMES', LOC), [v('ARGS'), v('ARGS_NAMES')]);
  });

  test('errors', () => {
    throwsSecLang(() => parseVariables('', LOC), /^test\.conf:7: variable list "": empty/);
    throwsSecLang(() => parseVariables('ARGS||ARGS_NAMES', LOC), /missing variable name at position 5/);
    throwsSecLang(() => parseVariables('ARGS|', LOC), /dangling '\|'/);
    throwsSecLang(() => parseVariables('ARGS:/abc', LOC), /unterminated regular expression key/);
    throwsSecLang(() => parseVariables('ARGS:/a/b', LOC), /expected '\|' between variables at position 8/);
    throwsSecLang(() => parseVariables("ARGS:'abc", LOC), /unterminated quoted key/);
    throwsSecLang(() => parseVariables('!&ARGS', LOC), /cannot be combined/);
    throwsSecLang(() => parseVariables('ARGS ARGS_NAMES', LOC), /expected '\|' between variables/);
    throwsSecLang(() => parseVariables('ARGS://', LOC), /empty regular expression key/);
  });

  test('target updates (SecRuleUpdateTargetById, ctl:ruleRemoveTargetById)', () => {
    assert.deepEqual(parseTargetUpdate('!ARGS:foo|REQUEST_HEADERS:/^x-/', LOC), [
      v('ARGS', 'foo', { exclude: true }),
      v('REQUEST_HEADERS', '^x-', { keyIsRegex: true }),
    ]);
    assert.deepEqual(parseTargetUpdate('!REQUEST_COOKIES:/^_ga(?:_\\w+)?$/', LOC), [
      v('REQUEST_COOKIES', '^_ga(?:_\\w+)?$', { exclude: true, keyIsRegex: true }),
    ]);
    assert.deepEqual(parseCtlTargetValue('942100;ARGS:payload', LOC), { selector: '942100', targets: [v('ARGS', 'payload')] });
    assert.deepEqual(parseCtlTargetValue('OWASP_CRS;ARGS:account[pass][pass1]', LOC), {
      selector: 'OWASP_CRS',
      targets: [v('ARGS', 'account[pass][pass1]')],
    });
    throwsSecLang(() => parseCtlTargetValue('942100', LOC), /expected "<rule selector>;<targets>"/);
    throwsSecLang(() => parseTargetUpdate('', LOC), /target list "": empty/);
  });
});

// -------------------------------------------------------------------------------------------------
describe('rule parser: operator', () => {
  test('explicit, negated, implicit rx, empty argument, aliases', () => {
    assert.deepEqual(parseOperator('@rx ^a b$', LOC), { name: 'rx', negated: false, arg: '^a b$' });
    assert.deepEqual(parseOperator('!@rx foo', LOC), { name: 'rx', negated: true, arg: 'foo' });
    assert.deepEqual(parseOperator('! @streq x', LOC), { name: 'streq', negated: true, arg: 'x' });
    assert.deepEqual(parseOperator('^foo.*', LOC), { name: 'rx', negated: false, arg: '^foo.*' });
    assert.deepEqual(parseOperator('!^foo', LOC), { name: 'rx', negated: true, arg: '^foo' });
    assert.deepEqual(parseOperator('', LOC), { name: 'rx', negated: false, arg: '' });
    assert.deepEqual(parseOperator('@detectSQLi', LOC), { name: 'detectsqli', negated: false, arg: '' });
    assert.deepEqual(parseOperator('@unconditionalMatch ', LOC), { name: 'unconditionalmatch', negated: false, arg: '' });
    assert.deepEqual(parseOperator('@pmFromFile a.data', LOC), { name: 'pmfromfile', negated: false, arg: 'a.data' });
    assert.deepEqual(parseOperator('@pmf a.data', LOC), { name: 'pmfromfile', negated: false, arg: 'a.data' });
    assert.deepEqual(parseOperator('@ipMatchF ips.txt', LOC), { name: 'ipmatchfromfile', negated: false, arg: 'ips.txt' });
    assert.deepEqual(parseOperator('@ipMatchFromFile ips.txt', LOC), { name: 'ipmatchfromfile', negated: false, arg: 'ips.txt' });
  });

  test('the argument is kept byte for byte (only the first space is the separator)', () => {
    assert.deepEqual(parseOperator('@pm  a  b ', LOC), { name: 'pm', negated: false, arg: ' a  b ' });
    assert.deepEqual(parseOperator('@rx \\x5c\\d\xc0%{tx.x}', LOC), { name: 'rx', negated: false, arg: '\\x5c\\d\xc0%{tx.x}' });
    assert.deepEqual(parseOperator('@eq\t0', LOC), { name: 'eq', negated: false, arg: '0' });
  });

  test('errors', () => {
    throwsSecLang(() => parseOperator('@ foo', LOC), /^test\.conf:7: operator "@ foo": missing operator name after '@'/);
    throwsSecLang(() => parseOperator('!@', LOC), /missing operator name/);
  });
});

// -------------------------------------------------------------------------------------------------
describe('rule parser: actions', () => {
  test('names lower-cased, values unquoted, flags have null values', () => {
    assert.deepEqual(parseActions('id:1,Phase:2,t:none,t:lowercase,chain,skipAfter:END-X,ver:\'OWASP_CRS/4.28.0\'', LOC), [
      { name: 'id', value: '1' },
      { name: 'phase', value: '2' },
      { name: 't', value: 'none' },
      { name: 't', value: 'lowercase' },
      { name: 'chain', value: null },
      { name: 'skipafter', value: 'END-X' },
      { name: 'ver', value: 'OWASP_CRS/4.28.0' },
    ]);
  });

  test('quoted values may contain commas, colons and escaped quotes', () => {
    assert.deepEqual(
      parseActions(
        "msg:'a, b: c',logdata:'Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}',msg:'lama\\'s\\'hell',setvar:'tx.x=+%{tx.y}',tag:'attack-sqli',msg:''",
        LOC,
      ),
      [
        { name: 'msg', value: 'a, b: c' },
        { name: 'logdata', value: 'Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}' },
        { name: 'msg', value: "lama's'hell" },
        { name: 'setvar', value: 'tx.x=+%{tx.y}' },
        { name: 'tag', value: 'attack-sqli' },
        { name: 'msg', value: '' },
      ],
    );
    // other backslash sequences stay as written
    assert.deepEqual(parseActions(String.raw`msg:'a\d\\b'`, LOC), [{ name: 'msg', value: String.raw`a\d\\b` }]);
  });

  test('unquoted values run to the next comma (ctl with ; and :, setvar, macros)', () => {
    assert.deepEqual(
      parseActions('ctl:ruleRemoveTargetById=942100;ARGS:foo,setvar:tx.x=1,setvar:!tx.y,ctl:ruleEngine=Off,logdata:%{MATCHED_VAR} here,expirevar:ip.a=60', LOC),
      [
        { name: 'ctl', value: 'ruleRemoveTargetById=942100;ARGS:foo' },
        { name: 'setvar', value: 'tx.x=1' },
        { name: 'setvar', value: '!tx.y' },
        { name: 'ctl', value: 'ruleEngine=Off' },
        { name: 'logdata', value: '%{MATCHED_VAR} here' },
        { name: 'expirevar', value: 'ip.a=60' },
      ],
    );
  });

  test('whitespace (from continued lines) around actions, names and values is tolerated', () => {
    assert.deepEqual(parseActions("  id:1,    phase:1,\t pass ,  msg : 'x' , t: none,  ", LOC), [
      { name: 'id', value: '1' },
      { name: 'phase', value: '1' },
      { name: 'pass', value: null },
      { name: 'msg', value: 'x' },
      { name: 't', value: 'none' },
    ]);
    assert.deepEqual(parseActions('', LOC), []);
    assert.deepEqual(parseActions('   ', LOC), []);
  });

  test('errors', () => {
    throwsSecLang(() => parseActions("msg:'abc", LOC), /^test\.conf:7: actions "msg:'abc": unterminated quoted value for action 'msg'/);
    throwsSecLang(() => parseActions('id:1,,pass', LOC), /empty action at position 5/);
    throwsSecLang(() => parseActions(',pass', LOC), /empty action at position 0/);
    throwsSecLang(() => parseActions('pass deny', LOC), /unexpected "d" after action 'pass'/);
    throwsSecLang(() => parseActions("msg:'a'b,pass", LOC), /unexpected "b" after the quoted value of action 'msg'/);
    throwsSecLang(() => parseActions(':1', LOC), /missing action name at position 0/);
  });
});

// -------------------------------------------------------------------------------------------------
describe('rule parser: parseRule', () => {
  test('SecRule with and without actions; SecAction', () => {
    const ds = parse(
      [
        'SecRule REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/ "!@rx ^(?:a|b)$" "id:10,phase:2,block"',
        'SecRule ARGS "@unconditionalMatch"',
        'SecAction "id:11,phase:1,pass,nolog,setvar:\'tx.a=1\'"',
      ].join('\n'),
    );
    const [r1, r2, r3] = ds.map(parseRule) as [RuleSpec, RuleSpec, RuleSpec];
    assert.deepEqual(r1, {
      kind: 'SecRule',
      variables: [v('REQUEST_COOKIES'), v('REQUEST_COOKIES', '__utm', { exclude: true, keyIsRegex: true })],
      operator: { name: 'rx', negated: true, arg: '^(?:a|b)$' },
      actions: [
        { name: 'id', value: '10' },
        { name: 'phase', value: '2' },
        { name: 'block', value: null },
      ],
      loc: { file: '/virtual/test.conf', line: 1 },
    });
    assert.deepEqual(r2.actions, []);
    assert.equal(r2.operator.name, 'unconditionalmatch');
    assert.deepEqual(r3, {
      kind: 'SecAction',
      variables: [],
      operator: { name: 'unconditionalmatch', negated: false, arg: '' },
      actions: [
        { name: 'id', value: '11' },
        { name: 'phase', value: '1' },
        { name: 'pass', value: null },
        { name: 'nolog', value: null },
        { name: 'setvar', value: 'tx.a=1' },
      ],
      loc: { file: '/virtual/test.conf', line: 3 },
    });
  });

  test('argument count errors name file:line', () => {
    const ds = parse('SecMarker X\nSecRule ARGS\nSecRule ARGS @rx foo "id:1"\nSecAction\nSecMarker Y');
    throwsSecLang(() => parseRule(ds[1]!), /^\/virtual\/test\.conf:2: SecRule: expected 2 or 3 arguments .*got 1/);
    throwsSecLang(() => parseRule(ds[2]!), /^\/virtual\/test\.conf:3: SecRule: expected 2 or 3 arguments .*got 4 \(check quoting/);
    throwsSecLang(() => parseRule(ds[3]!), /^\/virtual\/test\.conf:4: SecAction: expected 1 argument/);
    throwsSecLang(() => parseRule(ds[4]!), /SecMarker is not a SecRule or SecAction directive/);
  });

  test('errors in a rule part carry the directive location', () => {
    const [d] = parse('\n\nSecRule ARGS:/x "@rx a" "id:1"');
    throwsSecLang(() => parseRule(d!), /^\/virtual\/test\.conf:3: variable list "ARGS:\/x": unterminated regular expression key/);
  });
});

// -------------------------------------------------------------------------------------------------
/** Independent grep-style count: lines that start (after indentation) with SecRule/SecAction. */
function grepCount(file: string): number {
  const text = readFileSync(file, 'latin1');
  let n = 0;
  for (const line of text.split('\n')) if (/^[ \t]*(SecRule|SecAction)[ \t]/.test(line)) n++;
  return n;
}

function ruleById(rules: RuleSpec[], id: string): RuleSpec {
  const r = rules.find((x) => x.actions.some((a) => a.name === 'id' && a.value === id));
  assert.ok(r, `rule ${id} not found`);
  return r;
}

function actionValues(r: RuleSpec, name: string): (string | null)[] {
  return r.actions.filter((a) => a.name === name).map((a) => a.value);
}

describe('OWASP CRS v4', () => {
  const crsDir = sharedPath('crs');
  const rulesDir = join(crsDir, 'rules');
  const available = existsSync(rulesDir);

  test('parses every rule file and crs-setup.conf.example with the expected counts', { skip: available ? false : `no CRS at ${rulesDir}` }, () => {
    const files = [
      ...readdirSync(rulesDir)
        .filter((f) => f.endsWith('.conf') || f.endsWith('.conf.example'))
        .sort()
        .map((f) => join(rulesDir, f)),
      join(crsDir, 'crs-setup.conf.example'),
    ];
    const t0 = performance.now();
    const perFile = files.map((f) => ({ f, ds: readDirectives(f) }));
    const rules: RuleSpec[] = [];
    for (const { ds } of perFile) for (const d of ds) if (/^sec(rule|action)$/i.test(d.name)) rules.push(parseRule(d));
    const ms = performance.now() - t0;

    let expected = 0;
    for (const { f, ds } of perFile) {
      const got = ds.filter((d) => /^sec(rule|action)$/i.test(d.name)).length;
      assert.equal(got, grepCount(f), `SecRule/SecAction count in ${f}`);
      expected += got;
    }
    assert.equal(rules.length, expected);
    assert.ok(rules.length > 650, `only ${rules.length} rules`);
    // every rule has an id or is a chained continuation
    const withId = rules.filter((r) => r.actions.some((a) => a.name === 'id')).length;
    const chainStarts = rules.filter((r) => r.actions.some((a) => a.name === 'chain')).length;
    assert.equal(withId + chainStarts, rules.length);
    // generous bound here (test machines vary); the parse itself is ~10-30 ms
    assert.ok(ms < 2000, `parsing CRS took ${ms.toFixed(1)} ms`);
    console.log(`CRS v4: ${files.length} files, ${rules.length} SecRule/SecAction parsed in ${ms.toFixed(1)} ms`);

    // spot checks
    const r942100 = ruleById(rules, '942100');
    assert.deepEqual(r942100.operator, { name: 'detectsqli', negated: false, arg: '' });
    assert.deepEqual(r942100.variables, [
      v('REQUEST_COOKIES'),
      v('REQUEST_COOKIES_NAMES'),
      v('REQUEST_HEADERS', 'User-Agent'),
      v('REQUEST_HEADERS', 'Referer'),
      v('ARGS_NAMES'),
      v('ARGS'),
      v('XML', '/*'),
      v('XML', '//@*'),
    ]);
    assert.deepEqual(actionValues(r942100, 't'), ['none', 'utf8toUnicode', 'urlDecodeUni', 'removeNulls']);
    assert.deepEqual(actionValues(r942100, 'logdata'), ['Matched Data: %{TX.0} found within %{MATCHED_VAR_NAME}: %{MATCHED_VAR}']);
    assert.deepEqual(actionValues(r942100, 'setvar'), [
      'tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}',
      'tx.sql_injection_score=+%{tx.critical_anomaly_score}',
    ]);
    assert.deepEqual(actionValues(r942100, 'multimatch'), [null]);
    assert.ok(r942100.loc.file.endsWith('REQUEST-942-APPLICATION-ATTACK-SQLI.conf'));

    const r901100 = ruleById(rules, '901100');
    assert.deepEqual(r901100.variables, [v('TX', 'inbound_anomaly_score_threshold', { count: true })]);
    assert.deepEqual(r901100.operator, { name: 'eq', negated: false, arg: '0' });
    assert.deepEqual(r901100.actions, [
      { name: 'id', value: '901100' },
      { name: 'phase', value: '1' },
      { name: 'pass', value: null },
      { name: 'nolog', value: null },
      { name: 'tag', value: 'OWASP_CRS' },
      { name: 'ver', value: 'OWASP_CRS/4.28.0' },
      { name: 'setvar', value: 'tx.inbound_anomaly_score_threshold=5' },
    ]);

    // \" in an operator becomes a quote; regex escapes stay
    assert.equal(ruleById(rules, '955350').operator.arg, '<h1 style="margin-bottom: 0">webadmin.php</h1>');
    const r932240 = ruleById(rules, '932240');
    assert.ok(r932240.operator.arg.startsWith(String.raw`(?i)[\-0-9_a-z]+(?:[\s\x0b]*["'][^\s\x0b"',:]+["']`));
    assert.ok(r932240.operator.arg.includes(String.raw`\x5c`));
    // \' inside a quoted action value, \" inside the double-quoted argument
    assert.deepEqual(actionValues(ruleById(rules, '955220'), 'msg'), ["lama's'hell web shell"]);
    assert.match(String(actionValues(ruleById(rules, '942220'), 'msg')[0]), /is the "magic number" crash$/);
    // msg continued over several lines inside single quotes (980170)
    const msg980170 = String(actionValues(ruleById(rules, '980170'), 'msg')[0]);
    assert.match(msg980170, /^Anomaly Scores: \(Inbound Scores: blocking=%\{tx\.blocking_inbound_anomaly_score\}, /);
    assert.ok(!msg980170.includes('\\'));
    // regex variable keys
    assert.ok(
      rules.some((r) => r.variables.some((x) => x.collection === 'REQUEST_COOKIES' && x.keyIsRegex && x.key === String.raw`\x22?\x24Version`)),
    );
    // chained rule: the chain's second rule has no id
    const r920450 = ruleById(rules, '920450');
    assert.ok(r920450.actions.some((a) => a.name === 'chain'));

    // SecRuleUpdateTargetById targets and SecDefaultAction actions parse too
    const all = perFile.flatMap((p) => p.ds);
    const updates = all.filter((d) => d.name === 'SecRuleUpdateTargetById');
    assert.ok(updates.length > 10);
    for (const d of updates) {
      assert.equal(d.args.length, 2, `${d.loc.file}:${d.loc.line}`);
      assert.ok(parseTargetUpdate(d.args[1]!, d.loc).length >= 1);
    }
    const defaults = all.filter((d) => d.name === 'SecDefaultAction');
    assert.equal(defaults.length, 5);
    for (const d of defaults) assert.equal(parseActions(d.args[0]!, d.loc)[0]!.name, 'phase');
    // every ctl:ruleRemoveTarget* value splits
    for (const r of rules) {
      for (const a of r.actions) {
        if (a.name === 'ctl' && /^ruleRemoveTarget/i.test(a.value ?? '')) {
          const { targets } = parseCtlTargetValue(a.value!.slice(a.value!.indexOf('=') + 1), r.loc);
          assert.ok(targets.length >= 1);
        }
      }
    }
  });

  test('repeated parse of all of CRS v4 stays well under 100 ms', { skip: available ? false : 'no CRS' }, () => {
    const files = readdirSync(rulesDir)
      .filter((f) => f.endsWith('.conf'))
      .map((f) => join(rulesDir, f));
    const run = (): number => {
      let n = 0;
      for (const f of files) for (const d of readDirectives(f)) if (/^sec(rule|action)$/i.test(d.name)) n += parseRule(d).actions.length;
      return n;
    };
    run(); // warm-up
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      run();
      times.push(performance.now() - t0);
    }
    const best = Math.min(...times);
    console.log(`CRS v4 parse (warm): best ${best.toFixed(1)} ms of ${times.map((t) => t.toFixed(1)).join(', ')}`);
    assert.ok(best < 100, `best parse took ${best.toFixed(1)} ms`);
  });
});

describe('OWASP CRS 3.3.4 (Debian modsecurity-crs package)', () => {
  const load = '/usr/share/modsecurity-crs/owasp-crs.load';
  const rulesDir = '/usr/share/modsecurity-crs/rules';
  const reason = existsSync(rulesDir) ? false : 'CRS 3.3.4 is not installed at /usr/share/modsecurity-crs (apt-get install modsecurity-crs)';

  test('parses every rule file', { skip: reason }, () => {
    let total = 0;
    for (const f of readdirSync(rulesDir).filter((x) => x.endsWith('.conf')).sort()) {
      const ds = readDirectives(join(rulesDir, f));
      const rules = ds.filter((d) => /^sec(rule|action)$/i.test(d.name)).map(parseRule);
      assert.equal(rules.length, grepCount(join(rulesDir, f)), f);
      total += rules.length;
    }
    assert.ok(total > 700, `only ${total} rules`);
  });

  test('the package entry file (Include + IncludeOptional + wildcard) loads', { skip: reason || (existsSync(load) ? false : `no ${load}`) }, () => {
    let ds: Directive[];
    try {
      ds = readDirectives(load);
    } catch (e) {
      // the setup file lives in /etc/modsecurity/crs; tolerate a machine where it was removed
      if (e instanceof SecLangError && /crs-setup\.conf/.test(e.message)) return;
      throw e;
    }
    assert.ok(!ds.some((d) => /^include/i.test(d.name)));
    const rules = ds.filter((d) => /^sec(rule|action)$/i.test(d.name)).map(parseRule);
    assert.ok(rules.length > 700);
    // quoted regex key with escapes (980 correlation) is kept as written
    assert.ok(rules.some((r) => r.variables.some((x) => x.count && x.collection === 'TX' && x.keyIsRegex && x.key === String.raw`LEAKAGE\\\/ERRORS`)));
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
