// Runs the real `sidewall serve` process for integration tests: free ports (or a unix
// socket in a temp dir), waits for /readyz, collects stdout JSON logs, stops and cleans up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../../bench/lib/server-process.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../bench/lib/shared.js';
import { JsonLines } from '../../bench/lib/json-lines.js';

/** One free-port helper for every harness (never the same port twice in a process). */
export { freePort };

export const CLI_PATH = join(REPO_ROOT, 'dist', 'src', 'cli.js');

/** Rules that block `attack` in any argument (phase 1), for tests. */
export const BLOCK_RULES = `SecRuleEngine On
SecRule ARGS "@contains attack" "id:1001,phase:1,deny,status:403,log,msg:'test attack'"
`;

/** Same rule with the engine in DetectionOnly. */
export const DETECT_RULES = `SecRuleEngine DetectionOnly
SecRule ARGS "@contains attack" "id:1001,phase:1,deny,status:403,log,msg:'test attack'"
`;

export type LogLine = Record<string, unknown> & { msg?: string; level?: string | number };

/** Whether the rule engine is implemented yet (src/engine/waf.ts was a stub at first). */
export async function engineAvailable(): Promise<boolean> {
  try {
    const { Waf } = await import('../../src/engine/waf.js');
    Waf.fromString('SecRuleEngine On\n', 'probe.conf');
    return true;
  } catch (err) {
    return !/not implemented/i.test(String((err as Error)?.message));
  }
}


/** A fresh temp directory; remove it with cleanupDir. */
export function makeTempDir(prefix = 'sidewall-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanupDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Writes `files` (name → text) into `dir`; returns the absolute paths by name. */
export function writeFiles(dir: string, files: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileSync(path, text);
    out[name] = path;
  }
  return out;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (for commands that exit on their own). */
export function runCli(args: string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidewall ${args.join(' ')} did not exit within ${options.timeoutMs ?? 15000} ms\n${stderr}`));
    }, options.timeoutMs ?? 15000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServerOptions {
  /** SecLang text written to rules.conf and passed with --rules. */
  rules?: string;
  /** An existing rules file (instead of `rules`). */
  rulesFile?: string;
  /** YAML text written to sidewall.yaml and passed with --config. */
  config?: string;
  /** Extra CLI arguments after `serve`. */
  args?: string[];
  /** Listen on unix:<tempdir>/sidewall.sock instead of a TCP port. */
  unixSocket?: boolean;
  readyTimeoutMs?: number;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Temp directory holding rules/config/socket; removed by stop(). */
  readonly dir: string;
  /** gRPC address for CheckClient (host:port or unix:/path). */
  readonly grpcAddress: string;
  /** http://127.0.0.1:port of the admin server. */
  readonly adminUrl: string;
  /** Parsed JSON log lines seen on stdout so far. */
  readonly logs: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line (past or future) matching `pred`. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM), waits for exit (SIGKILL after timeoutMs), removes the temp dir. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServer(options: ServerOptions = {}): Promise<ServerProcess> {
  const dir = makeTempDir();
  const args = ['serve'];
  if (options.rules !== undefined) args.push('--rules', writeFiles(dir, { 'rules.conf': options.rules })['rules.conf']!);
  else if (options.rulesFile !== undefined) args.push('--rules', options.rulesFile);
  if (options.config !== undefined) args.push('--config', writeFiles(dir, { 'sidewall.yaml': options.config })['sidewall.yaml']!);
  const grpcAddress = options.unixSocket ? `unix:${join(dir, 'sidewall.sock')}` : `127.0.0.1:${await freePort()}`;
  const adminPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  args.push('--listen', grpcAddress, '--admin', `127.0.0.1:${adminPort}`, ...(options.args ?? []));

  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const log = new JsonLines<LogLine>(child.stdout!, (text) => ({ msg: text, unparsed: true }));
  const logs = log.lines;
  child.stdout!.on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  void exited.then((info) => (exitInfo = info));

  const proc: ServerProcess = {
    child,
    dir,
    grpcAddress,
    adminUrl,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLog(pred, timeoutMs = 5000) {
      return log.waitFor(pred, timeoutMs, () => `stdout:\n${stdout}\nstderr:\n${stderr}`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10000) {
      if (exitInfo === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      cleanupDir(dir);
      return (await exited) ?? exitInfo;
    },
  };

  // Wait for /readyz 200, or fail early if the process exits.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20000);
  for (;;) {
    if (exitInfo !== null) {
      cleanupDir(dir);
      throw new Error(`sidewall exited before becoming ready (${JSON.stringify(exitInfo)}); stderr:\n${stderr}\nstdout:\n${stdout}`);
    }
    try {
      const res = await fetch(`${adminUrl}/readyz`);
      await res.text();
      if (res.status === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop('SIGKILL');
      throw new Error(`sidewall not ready within ${options.readyTimeoutMs ?? 20000} ms; stderr:\n${stderr}\nstdout:\n${stdout}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
