// CPU time of one process split by thread group, from /proc/<pid>/task/*/stat (Linux): the main
// thread (JS + I/O), the V8 platform workers (Node names them "node": parallel scavenges,
// concurrent marking and sweeping, background compilation), libuv's thread pool, the rest.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

export type ThreadGroup = 'main' | 'v8-workers' | 'libuv' | 'other';
export type ThreadSplit = Record<ThreadGroup, number>;

export const THREAD_GROUPS: readonly ThreadGroup[] = ['main', 'v8-workers', 'libuv', 'other'];

/** Which group a thread of a Node process belongs to (by tid and /proc comm). */
export function threadGroup(pid: number, tid: number, comm: string): ThreadGroup {
  if (tid === pid) return 'main';
  if (comm === 'node') return 'v8-workers'; // node names its V8 platform worker threads after the process
  if (comm.startsWith('libuv-worker')) return 'libuv';
  return 'other';
}

/** utime+stime seconds of every thread of `pid`, grouped (a thread that ended meanwhile is not counted). */
export function threadCpu(pid: number): ThreadSplit {
  const out: ThreadSplit = { main: 0, 'v8-workers': 0, libuv: 0, other: 0 };
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between readdir and read
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the ")" closing comm: utime is field 14, stime 15 (1-based).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out[threadGroup(pid, Number(t), comm)] += (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  }
  return out;
}

export function splitDiff(a: ThreadSplit, b: ThreadSplit): ThreadSplit {
  return { main: b.main - a.main, 'v8-workers': b['v8-workers'] - a['v8-workers'], libuv: b.libuv - a.libuv, other: b.other - a.other };
}

export function splitTotal(s: ThreadSplit): number {
  return s.main + s['v8-workers'] + s.libuv + s.other;
}
