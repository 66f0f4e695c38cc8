// The transport reference of the benches: a grpc-js Check server that answers OK without
// evaluating anything. Benches start it as a child process (their own file with --trivial-server).
import * as grpc from '@grpc/grpc-js';
import { loadProtos } from '../src/server/proto.js';

export function runTrivialServer(address: string): void {
  const server = new grpc.Server();
  const ok = { status: { code: 0, message: '' }, ok_response: {}, dynamic_metadata: { fields: {} } };
  server.addService(loadProtos().authorization, { Check: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, ok) });
  server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`trivial server: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write('READY\n');
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** The p-th percentile (nearest rank) of an ascending array; 0 when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
