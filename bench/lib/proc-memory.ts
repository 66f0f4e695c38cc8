// A process's memory as the kernel counts it (Linux /proc): VmRSS/VmHWM and the resident split by
// what backs it — the node binary's pages (code, embedded snapshot and ICU data: shared, clean),
// other mapped files (shared libraries, addons), the malloc heap ([heap]) and anonymous mappings
// (V8's heap pages, thread arenas, addon allocations).
import { readFileSync, realpathSync } from 'node:fs';

export interface ProcMemory {
  vmRss: number;
  vmHwm: number;
  rssAnon: number;
  rssFile: number;
  /** From smaps_rollup. */
  pss: number;
  privateDirty: number;
  /** Resident bytes by backing (from smaps). */
  resident: { nodeBinary: number; otherFiles: number; mallocHeap: number; anonymous: number; other: number };
}

const KB = 1024;

function statusField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m === null) throw new Error(`/proc status has no ${name}`);
  return Number(m[1]) * KB;
}

function rollupField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]) * KB;
}

/** Reads /proc/<pid>/{status,smaps_rollup,smaps}; `nodeBinary` is the executable's real path. */
export function readProcMemory(pid: number, nodeBinary: string = realpathSync(process.execPath)): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const resident = { nodeBinary: 0, otherFiles: 0, mallocHeap: 0, anonymous: 0, other: 0 };
  let bucket: keyof typeof resident = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header !== null) {
      const name = header[1]!;
      if (name === '') bucket = 'anonymous';
      else if (name === '[heap]') bucket = 'mallocHeap';
      else if (name === nodeBinary) bucket = 'nodeBinary';
      else if (name.startsWith('/')) bucket = 'otherFiles';
      else bucket = 'other'; // [stack], [vdso], anon_inode:…
      continue;
    }
    if (line.startsWith('Rss:')) resident[bucket] += Number(/(\d+)/.exec(line)![1]) * KB;
  }
  return {
    vmRss: statusField(status, 'VmRSS'),
    vmHwm: statusField(status, 'VmHWM'),
    rssAnon: statusField(status, 'RssAnon'),
    rssFile: statusField(status, 'RssFile'),
    pss: rollupField(rollup, 'Pss'),
    privateDirty: rollupField(rollup, 'Private_Dirty'),
    resident,
  };
}
