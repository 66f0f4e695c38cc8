// Starts the real Sidewall server (`node dist/src/cli.js serve`) as a child process on a unix
// socket, waits for /readyz, and stops it. Shared by the CRS runner and the benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './shared.js';

export interface ServerOptions {
  rulesFile: string;
  mode: 'block' | 'detect' | 'off';
  /** Directory for the socket and log (default: a new temp dir, removed on stop). */
  workDir?: string;
  logLevel?: string;
  /** How long to wait for /readyz (rule compilation can take a while). */
  readyTimeoutMs?: number;
  /** Extra CLI arguments. */
  extraArgs?: string[];
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** Path of the CLI (default dist/src/cli.js in the repository). */
  cliPath?: string;
}

export interface RunningServer {
  pid: number;
  /** gRPC target for grpc-js: "unix:/…/sidewall.sock". */
  target: string;
  adminPort: number;
  logFile: string;
  child: ChildProcess;
  /** Last lines of the server output (for error messages). */
  logTail(lines?: number): string;
  stop(): Promise<number | null>;
}

export function defaultCliPath(): string {
  return join(REPO_ROOT, 'dist', 'src', 'cli.js');
}

/** Ports this process handed out recently: the kernel may give the same ephemeral port to two binds in a row. */
const handedOut = new Set<number>();

/** A TCP port that was free a moment ago (bind :0, read the port, close), never one already handed out. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindEphemeral();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: 50 binds in a row returned ports already handed out');
}

function bindEphemeral(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function httpGet(port: number, path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const cli = options.cliPath ?? defaultCliPath();
  if (!existsSync(cli)) throw new Error(`server CLI not found at ${cli} (run npx tsc -p tsconfig.json first)`);
  const ownDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'sidewall-srv-'));
  const socket = join(workDir, 'sidewall.sock');
  const logFile = join(workDir, 'server.log');
  const adminPort = await freePort();
  const args = [
    cli, 'serve',
    '--listen', `unix:${socket}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--rules', options.rulesFile,
    '--mode', options.mode,
    '--log-level', options.logLevel ?? 'warn',
    ...(options.extraArgs ?? []),
  ];
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let exited: number | null | undefined;
  const exitPromise = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : null);
      resolve(exited);
    });
  });

  const logTail = (lines = 20): string => {
    try {
      const text = readFileSync(logFile, 'utf8');
      return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };

  let stopped = false;
  const stop = async (): Promise<number | null> => {
    if (stopped) return exitPromise;
    stopped = true;
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (exited === undefined) child.kill('SIGKILL');
      }, 10_000);
      await exitPromise;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => log.end(() => r()));
    if (ownDir) rmSync(workDir, { recursive: true, force: true });
    return exitPromise;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 180_000);
  for (;;) {
    if (exited !== undefined) {
      await new Promise<void>((r) => log.end(() => r()));
      const tail = logTail(30);
      if (ownDir) rmSync(workDir, { recursive: true, force: true });
      throw new Error(`server exited with code ${exited} before becoming ready:\n${tail}`);
    }
    try {
      const r = await httpGet(adminPort, '/readyz', 1000);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const tail = logTail(30);
      await stop();
      throw new Error(`server not ready after ${(options.readyTimeoutMs ?? 180_000) / 1000}s:\n${tail}`);
    }
    await sleep(100);
  }
  return { pid: child.pid!, target: `unix:${socket}`, adminPort, logFile, child, logTail, stop };
}

/** utime+stime of a process in seconds, from /proc/<pid>/stat (Linux). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ")" that closes comm: state is field 3; utime 14, stime 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** sysconf(_SC_CLK_TCK); 100 on every Linux we run on. */
export const CLOCK_TICKS = 100;
