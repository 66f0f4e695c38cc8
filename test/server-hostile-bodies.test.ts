// Hostile request bodies over real gRPC to the real server process: every one gets a verdict in
// bounded time, the process keeps serving, and its memory stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CheckClient } from './helpers/check-client.js';
import { startServer, type ServerProcess } from './helpers/server-process.js';

const RULES = `SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecRule REQUEST_HEADERS:Content-Type "@rx ^application/json" "id:1,phase:1,pass,nolog,t:lowercase,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application|text)/xml" "id:2,phase:1,pass,nolog,t:lowercase,ctl:requestBodyProcessor=XML"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,deny,status:400,log,msg:'body error %{REQBODY_ERROR_MSG}'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,deny,status:400,log,msg:'multipart error'"
SecRule ARGS "@contains attack" "id:1001,phase:2,deny,status:403,log"
`;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

function multipart(parts: number, closed: boolean): string {
  let s = '';
  for (let i = 0; i < parts; i++) s += `--B\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv${i}\r\n`;
  return s + (closed ? '--B--\r\n' : '');
}

const HOSTILE: Array<{ name: string; contentType: string; body: Buffer; status: number }> = [
  { name: '8 MB urlencoded body, limit 1 MB', contentType: 'application/x-www-form-urlencoded', body: Buffer.alloc(8 << 20, 'a'), status: 413 },
  { name: 'JSON nesting bomb (depth 200k)', contentType: 'application/json', body: Buffer.from('['.repeat(200_000)), status: 400 },
  // Over SecArgumentsLimit (1000): parsing stops with a body error rather than leaving parts uninspected.
  { name: '10,000-part multipart', contentType: 'multipart/form-data; boundary=B', body: Buffer.from(multipart(10_000, true)), status: 400 },
  { name: 'multipart with no closing boundary', contentType: 'multipart/form-data; boundary=B', body: Buffer.from(multipart(50, false)), status: 400 },
  {
    name: 'XML entity bomb',
    contentType: 'application/xml',
    body: Buffer.from('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;&c;&c;&c;</l>'),
    status: 400,
  },
  { name: 'invalid UTF-8 in JSON', contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0x22, 0x7d]), status: 400 },
];

describe('hostile bodies through the server', () => {
  let server: ServerProcess;
  let client: CheckClient;
  let rssBefore = 0;
  before(async () => {
    server = await startServer({ rules: RULES, unixSocket: true });
    client = new CheckClient(server.grpcAddress);
    rssBefore = rssKb(server.child.pid!);
  });
  after(async () => {
    client?.close();
    const exit = await server?.stop();
    assert.equal(exit?.code, 0, 'clean exit on SIGTERM');
  });

  for (const h of HOSTILE) {
    test(h.name, async (t) => {
      const started = process.hrtime.bigint();
      const r = await client.check(
        { method: 'POST', path: '/upload', headers: { 'content-type': h.contentType }, body: h.body, packAsBytes: true },
        { deadlineMs: 10_000 },
      );
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      t.diagnostic(`${h.name}: ${ms.toFixed(0)} ms, action ${String(r.metadata.waf_action)}, rules ${JSON.stringify(r.metadata.waf_rule_ids)}`);
      assert.equal(r.code, 7, 'denied');
      assert.equal(r.httpStatus, h.status);
      assert.ok(ms < 5000, `verdict in bounded time (${ms} ms)`);
      // The server still answers an ordinary request right after.
      const ok = await client.check({ path: '/health?x=1' });
      assert.equal(ok.metadata.waf_action, 'allow');
    });
  }

  test('memory stays bounded after all hostile bodies', (t) => {
    const grown = rssKb(server.child.pid!) - rssBefore;
    t.diagnostic(`server RSS grew by ${(grown / 1024).toFixed(1)} MB`);
    assert.ok(grown < 256 * 1024, `RSS grew by ${grown} kB`);
  });
});
