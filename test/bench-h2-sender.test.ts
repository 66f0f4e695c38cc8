// The peer benches' light gRPC load generator (bench/peers/drivers.ts h2GrpcSender) against the
// real server: it must see the same answers as grpc-js (grpcSender) — allow, deny with its HTTP
// status — and fail a call the server refuses instead of counting it as an answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { startApp } from '../src/server/app.js';
import { loadProtos } from '../src/server/proto.js';
import { Waf } from '../src/engine/waf.js';
import type { SidewallConfig } from '../src/config/config.js';
import { grpcSender, h2GrpcSender } from '../bench/peers/drivers.js';
import { benchRequests, envoyCheckRequest } from '../bench/peers/requests.js';

describe('h2GrpcSender', () => {
  test('answers like grpcSender: 200 allowed, the deny status denied, an error for a refused call', async () => {
    const waf = Waf.fromString('SecRuleEngine On\nSecRule ARGS "@contains attack" "id:1,phase:1,deny,status:418"\n', 'h2.conf');
    const config: SidewallConfig = {
      listen: '127.0.0.1:0', admin: '127.0.0.1:0', rules: '/dev/null', mode: null, failOpen: false,
      denyResponse: { body: null, contentType: 'application/json' }, logLevel: 'info', regexFallbackRuleIds: [], configFile: null,
    };
    const app = await startApp({ config, logger: pino({ level: 'silent' }), loadEngine: () => waf, drainTimeoutMs: 3000, defaultMetrics: false });
    const check = loadProtos().authorization.Check!;
    const decode = (b: Buffer) => check.responseDeserialize(b) as Record<string, any>;
    const benign = benchRequests().find((r) => r.name === 'benign-get')!;
    const bytes = (path: string) => check.requestSerialize(envoyCheckRequest({ ...benign, path }));
    const senders: Array<{ close: () => void }> = [];
    try {
      for (const [path, want] of [['/a?q=fine', 200], ['/a?q=attack', 418]] as const) {
        const h2 = h2GrpcSender(app.grpcAddress, bytes(path), decode);
        const js = grpcSender(app.grpcAddress, bytes(path), decode);
        senders.push(h2, js);
        await h2.waitForReady(5000);
        await js.waitForReady(5000);
        assert.equal(await h2.one(), want, path);
        assert.equal(await js.one(), want, path);
        // Several in flight on the one session.
        assert.deepEqual(await Promise.all([h2.one(), h2.one(), h2.one()]), [want, want, want]);
      }
      // Not a CheckRequest: the server answers INVALID_ARGUMENT, which is a failed call.
      const bad = h2GrpcSender(app.grpcAddress, Buffer.from([0xff]), decode);
      senders.push(bad);
      await bad.waitForReady(5000);
      await assert.rejects(bad.one(), /grpc-status 3/);
    } finally {
      for (const s of senders) s.close();
      await app.shutdown('test');
    }
  });
});
