// A preload (node --import, or NODE_OPTIONS=--import=…) that lets a bench read a child's own view of
// its memory: on SIGUSR2 it appends one JSON line to the file named by SIDEWALL_MEMORY_PROBE with
// process.memoryUsage() and v8.getHeapSpaceStatistics(). It only registers a signal handler, so the
// process under measurement allocates nothing until asked. SIGUSR1 is Node's inspector signal;
// nothing in Sidewall uses SIGUSR2.
import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

export const MEMORY_PROBE_ENV = 'SIDEWALL_MEMORY_PROBE';

export interface HeapSpace {
  /** Committed bytes of the space (space_size). */
  size: number;
  used: number;
  /** Resident bytes (physical_space_size). */
  physical: number;
}

export interface ProbeReport {
  /** Sequence number from the bench (the probe counts signals). */
  seq: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, HeapSpace>;
}

const file = process.env[MEMORY_PROBE_ENV];
if (file !== undefined && file !== '') {
  let seq = 0;
  process.on('SIGUSR2', () => {
    const m = process.memoryUsage();
    const spaces: Record<string, HeapSpace> = {};
    for (const s of getHeapSpaceStatistics()) {
      spaces[s.space_name] = { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size };
    }
    const report: ProbeReport = { seq: ++seq, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces };
    appendFileSync(file, JSON.stringify(report) + '\n');
  });
}
