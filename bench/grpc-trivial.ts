// The transport reference of the benches: a grpc-js Check server that answers OK without
// evaluating anything, run as a child process (`node dist/bench/grpc-trivial.js ADDRESS`, or
// startTrivialServer) so its CPU is counted apart from the bench's.
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProtos } from '../src/server/proto.js';

/** This file, to spawn as the trivial server's process. */
export const TRIVIAL_SERVER_SCRIPT = fileURLToPath(import.meta.url);

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

/** Starts the trivial server on a unix socket in `dir` (extra environment: `env`); resolves once it listens. */
export async function startTrivialServer(dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ pid: number; target: string; stop: () => Promise<void> }> {
  const target = `unix:${join(dir, 'trivial.sock')}`;
  const child = spawn(process.execPath, [TRIVIAL_SERVER_SCRIPT, target], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trivial server not ready: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`trivial server exited (${code}): ${stderr}`));
    });
  });
  return {
    pid: child.pid!,
    target,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** The p-th percentile (nearest rank) of an ascending array; 0 when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

if (process.argv[1] === TRIVIAL_SERVER_SCRIPT) {
  const address = process.argv[2];
  if (address === undefined) {
    process.stderr.write('usage: node dist/bench/grpc-trivial.js ADDRESS (host:port or unix:/path)\n');
    process.exit(2);
  }
  runTrivialServer(address);
}
