// A pod's network without Kubernetes: a "pod" network namespace and a "client" namespace joined by a
// veth pair (TEST-NET-1 addresses, only inside the namespaces), processes started inside the pod
// namespace with directories bind-mounted where the pod's volumes would be (the mounts live in the
// private mount namespace `ip netns exec` creates, so the host never sees them), and an HTTP client
// that runs in either namespace. Names are unique per run; destroy() kills what it started and
// deletes the namespaces, and is safe to call after a partial setup.
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { JsonLines } from '../../bench/lib/json-lines.js';

let counter = 0;

export interface PodProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Parsed JSON lines of stdout (non-JSON lines as { unparsed }). */
  readonly lines: Array<Record<string, unknown>>;
  stderr(): string;
  waitForLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export interface HttpCall {
  host: string;
  port: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Retry (every 100 ms, up to waitMs) until the status is this one (readiness polls). */
  untilStatus?: number;
  waitMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when no HTTP answer came: the error code (ECONNREFUSED, timeout, …). */
  error?: string;
}

// Runs in the namespace (node -e): one HTTP/1.1 request per call over its own connection.
const CLIENT_JS = `
const http = require('node:http');
const calls = JSON.parse(process.argv[1]);
const one = (c) => new Promise((resolve) => {
  const req = http.request({ host: c.host, port: c.port, method: c.method || 'GET', path: c.path || '/', headers: c.headers || {}, agent: false, timeout: 5000 }, (res) => {
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', (e) => resolve({ status: 0, headers: {}, body: '', error: e.code || String(e) }));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
  req.on('error', (e) => resolve({ status: 0, headers: {}, body: '', error: e.code || String(e) }));
  req.end(c.body);
});
(async () => {
  const out = [];
  for (const c of calls) {
    const deadline = Date.now() + (c.waitMs || 0);
    let r = await one(c);
    while (c.untilStatus !== undefined && r.status !== c.untilStatus && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      r = await one(c);
    }
    out.push(r);
  }
  process.stdout.write(JSON.stringify(out));
})();`;

export class PodNetwork {
  readonly pod: string;
  readonly client: string;
  readonly podIp: string;
  readonly clientIp = '192.0.2.1';
  private readonly vethPod: string;
  private readonly vethClient: string;
  private readonly processes: PodProcess[] = [];
  private readonly createdDirs: string[] = [];

  constructor() {
    const tag = `${process.pid % 100000}x${counter++}`;
    this.pod = `swpod-${tag}`;
    this.client = `swcli-${tag}`;
    this.vethPod = `swp${tag}`.slice(0, 15);
    this.vethClient = `swc${tag}`.slice(0, 15);
    this.podIp = '192.0.2.2';
  }

  /** Creates both namespaces, the veth pair, addresses, links up (loopback too). */
  setUp(): void {
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
    ip('netns', 'add', this.pod);
    ip('netns', 'add', this.client);
    ip('link', 'add', this.vethPod, 'type', 'veth', 'peer', 'name', this.vethClient);
    ip('link', 'set', this.vethPod, 'netns', this.pod);
    ip('link', 'set', this.vethClient, 'netns', this.client);
    this.exec(this.pod, 'ip', ['addr', 'add', `${this.podIp}/24`, 'dev', this.vethPod]);
    this.exec(this.client, 'ip', ['addr', 'add', `${this.clientIp}/24`, 'dev', this.vethClient]);
    for (const [ns, dev] of [[this.pod, this.vethPod], [this.client, this.vethClient]] as const) {
      this.exec(ns, 'ip', ['link', 'set', dev, 'up']);
      this.exec(ns, 'ip', ['link', 'set', 'lo', 'up']);
    }
  }

  /** Runs a command to completion in a namespace; returns stdout (throws with stderr on failure). */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 20_000): string {
    const r = spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`in ${ns}: ${cmd} ${args.join(' ').slice(0, 200)} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ''}`);
    return r.stdout;
  }

  /**
   * A mount point the pod's containers expect (e.g. /var/run/sidewall). A bind mount needs an
   * existing directory; one created here is removed again by destroy() (when still empty).
   */
  ensureMountPoint(dir: string): void {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) missing.push(d);
    if (missing.length === 0) return;
    mkdirSync(dir, { recursive: true });
    this.createdDirs.push(...missing.reverse()); // removed deepest first
  }

  /**
   * Starts `cmd args` in the pod namespace with `binds` (host dir → path in the container) mounted
   * first; the process is `ip` exec'ing sh exec'ing cmd, so child.pid is the command's own pid.
   */
  spawnInPod(cmd: string, args: string[], binds: Array<[string, string]> = [], env: NodeJS.ProcessEnv = process.env): PodProcess {
    for (const [, target] of binds) this.ensureMountPoint(target);
    const script = 'set -e; while [ "$1" != -- ]; do mount --bind "$1" "$2"; shift 2; done; shift; exec "$@"';
    const child = spawn('ip', ['netns', 'exec', this.pod, 'sh', '-c', script, 'sh', ...binds.flat(), '--', cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    let stderr = '';
    const out = new JsonLines<Record<string, unknown>>(child.stdout!, (text) => ({ unparsed: text }));
    const lines = out.lines;
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-200_000)));
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve((exitInfo = { code, signal }))),
    );
    const proc: PodProcess = {
      child,
      pid: child.pid ?? -1,
      lines,
      stderr: () => stderr,
      exited,
      waitForLine(pred, timeoutMs = 5000) {
        return out.waitFor(pred, timeoutMs, () => `${cmd}: last lines:\n${lines.slice(-20).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr.slice(-2000)}`);
      },
      async stop() {
        if (exitInfo !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      },
    };
    this.processes.push(proc);
    return proc;
  }

  /** HTTP/1.1 requests from inside `ns` (default: the client namespace), in order. */
  http(calls: HttpCall[], ns = this.client): Promise<HttpAnswer[]> {
    const timeout = calls.reduce((s, c) => s + (c.waitMs ?? 0) + 6000, 10_000);
    return new Promise((resolve, reject) => {
      execFile('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT_JS, JSON.stringify(calls)], { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
        if (err) reject(new Error(`HTTP client in ${ns} failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as HttpAnswer[]);
      });
    });
  }

  /** One request from the client namespace. */
  async request(call: HttpCall, ns = this.client): Promise<HttpAnswer> {
    return (await this.http([call], ns))[0]!;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    spawnSync('ip', ['netns', 'del', this.pod]);
    spawnSync('ip', ['netns', 'del', this.client]);
    for (const dir of this.createdDirs.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // not empty or in use by a parallel run: leave it
      }
    }
  }
}
