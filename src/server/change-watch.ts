// Noticing that configuration files changed. Two mechanisms, because neither is enough alone:
// fs.watch on the directories (immediate; sees Kubernetes' atomic ..data symlink swap as a rename
// in the volume directory) and a fingerprint poll (catches what inotify misses: directories that
// did not exist yet, overlay/network file systems, watch limits).
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { join } from 'node:path';

/** fs.watch on a changing set of directories; every event calls `onChange`. */
export class DirWatchSet {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(private readonly onChange: (dir: string) => void) {}

  /** Watches exactly `dirs` from now on (directories that do not exist are left to the poll). */
  update(dirs: Iterable<string>): void {
    const want = new Set(dirs);
    for (const [dir, w] of this.watchers) {
      if (!want.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of want) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.onChange(dir));
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // ENOENT, ENOSPC (inotify limit), ...: the poll still covers it
      }
    }
  }

  get size(): number {
    return this.watchers.size;
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

async function visibleEntries(dir: string): Promise<string[] | null> {
  try {
    // '..data', '..2024_..' and other dot names are Kubernetes' volume internals, reached via symlinks.
    return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return null;
  }
}

async function hashTree(h: Hash, dir: string, depth: number): Promise<void> {
  const names = await visibleEntries(dir);
  if (names === null) {
    h.update('\0missing\0');
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    let st;
    try {
      st = await stat(path); // follows symlinks
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (depth > 0) {
        h.update(`\0dir ${name}\0`);
        await hashTree(h, path, depth - 1);
      }
    } else if (st.isFile()) {
      h.update(`\0file ${name} ${st.size}\0`);
      try {
        h.update(await readFile(path));
      } catch {
        h.update('\0unreadable\0');
      }
    }
  }
}

/** Content hash of a settings directory and its namespace subdirectories (small files). */
export async function contentFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  await hashTree(h, dir, 1);
  return h.digest('hex');
}

/**
 * Metadata hash of rule directories: names, sizes, inodes and ns mtimes of every visible file.
 * Cheaper than hashing a megabyte of CRS every poll; a replaced file always gets a new inode or
 * mtime, and an added .conf/.data file changes the listing.
 */
export async function statFingerprint(dirs: readonly string[], relevant: (path: string) => boolean = () => true): Promise<string> {
  const h = createHash('sha256');
  for (const dir of dirs) {
    h.update(`\0dir ${dir}\0`);
    const names = await visibleEntries(dir);
    if (names === null) {
      h.update('\0missing\0');
      continue;
    }
    for (const name of names) {
      if (!relevant(join(dir, name))) continue;
      try {
        const st = await stat(join(dir, name), { bigint: true });
        // Subdirectories are not rule files (and may be e.g. the settings directory).
        if (st.isFile()) h.update(`${name} ${st.size} ${st.ino} ${st.mtimeNs} ${st.ctimeNs}\n`);
      } catch {
        h.update(`${name} gone\n`);
      }
    }
  }
  return h.digest('hex');
}
