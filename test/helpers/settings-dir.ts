// Writing settings directories the way Kubernetes does for tests of live reload, and reading
// the server's /metrics.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

let generation = 0;

/**
 * Publishes `files` into `dir` like the kubelet updates a ConfigMap volume: the files go into a
 * fresh hidden timestamped directory, a new `..data` symlink is renamed over the old one in one
 * atomic step, and the visible names are symlinks through `..data`. The old generation is removed.
 */
export function publishConfigMap(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const gen = `..${Date.now()}_${process.pid}_${++generation}`;
  mkdirSync(join(dir, gen));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, gen, name), text);
  const dataLink = join(dir, '..data');
  const previous = existsSync(dataLink) ? readlinkSync(dataLink) : null;
  symlinkSync(gen, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), dataLink);
  for (const name of Object.keys(files)) {
    const visible = join(dir, name);
    if (!existsSync(visible)) symlinkSync(join('..data', name), visible);
  }
  if (previous !== null) rmSync(join(dir, previous), { recursive: true, force: true });
}

/** The value of one series (name plus labels exactly as rendered), undefined when absent. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export async function fetchMetrics(adminUrl: string): Promise<string> {
  const res = await fetch(`${adminUrl}/metrics`);
  return res.text();
}

/** Polls `probe` until it returns true (or throws on timeout); returns the ms it took. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
