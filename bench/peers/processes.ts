// Starting and stopping the peer processes of the live bench (all on loopback or unix sockets in
// a temp dir), and reading their CPU time and RSS from /proc.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

/** utime+stime of one process, seconds (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
}

/** Resident set size in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Direct children of a process (nginx master → worker). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}


export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Peer {
  name: string;
  /** Processes whose CPU is counted (nginx: master + worker). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Spawns a process; resolves once `ready()` answers true, rejects if it exits or times out. */
export async function spawnPeer(
  name: string,
  command: string,
  args: string[],
  ready: (out: string) => Promise<boolean> | boolean,
  timeoutMs = 120_000,
  cwd?: string,
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) => child.once('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : null);
    r();
  }));
  child.once('error', (err) => (out += `\nspawn error: ${err.message}`));
  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exit;
    clearTimeout(t);
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`${name} exited (${exited}) before it was ready:\n${out.slice(-3000)}`);
    if (await ready(out)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} not ready after ${timeoutMs / 1000}s:\n${out.slice(-3000)}`);
    }
    await sleep(100);
  }
  return { child, output: () => out, stop };
}

export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Path of a command on PATH, or null. */
export function which(command: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' && existsSync(p) ? p : null;
}
