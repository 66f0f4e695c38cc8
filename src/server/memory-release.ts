// Giving memory back to the system when nothing is being served.
//
// Compiling CRS allocates far more than it keeps: the regex analysis, the RE2 programs built only to
// validate patterns (each freed when its wrapper is collected), parse trees. V8 grows the young
// generation to its maximum while that runs (32 MB committed with Node's defaults), and does the
// same under a burst of checks. It gives that back only when its memory reducer fires — and the
// reducer is armed by a full (mark-compact) collection: after a burst served by young-generation
// collections alone it never fires, and an idle `sidewall serve` stayed at ~149 MB RSS instead of
// ~100 MB (npm run bench:rss, 25 s of idling after 200 checks).
//
// So `sidewall serve` asks for one memory-reducing full collection (the "last resort" flavour,
// which also shrinks the young generation and releases pooled pages, unlike a plain gc()):
//  - once after the startup compile, before it reports ready (nothing is served yet);
//  - when idle (IdleMemoryRelease): an interval in which the process used almost no CPU, after the
//    heap grew well past what the last collection left. This also covers the garbage of a reload,
//    which compiles in time slices while serving and must not hold the event loop for a full GC.
// V8 only lets JS ask for this through its gc extension; enabling --expose-gc just while one new
// context is created gives this module the function without putting `gc` on the global object of
// the application's context (the way Jest's leak detector gets it).
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

interface GcOptions {
  type: 'major';
  execution: 'sync';
  flavor: 'last-resort';
}
type GcFunction = (options?: GcOptions) => void;

export interface ReleaseOutcome {
  /** How long the collection took. */
  ms: number;
  /** V8 heap committed (total_heap_size) before and after, bytes. */
  heapBefore: number;
  heapAfter: number;
}

let cachedGc: GcFunction | null | undefined;

function gcFunction(): GcFunction | null {
  if (cachedGc !== undefined) return cachedGc;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return (cachedGc = own as GcFunction); // node --expose-gc
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    cachedGc = typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    cachedGc = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return cachedGc;
}

/** One memory-reducing full GC; null when this runtime offers no way to ask for it. */
export function releaseGarbage(): ReleaseOutcome | null {
  const gc = gcFunction();
  if (gc === null) return null;
  const heapBefore = getHeapStatistics().total_heap_size;
  const started = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const ms = performance.now() - started;
  return { ms, heapBefore, heapAfter: getHeapStatistics().total_heap_size };
}

export interface IdleReleaseOptions {
  /** How often idleness is checked (default 5 s). */
  intervalMs?: number;
  /** An interval is idle when the process used at most this share of it in CPU (default 0.02). */
  idleCpuShare?: number;
  /** Release only once the committed heap exceeds what the last release left by this much (default 8 MB). */
  growthBytes?: number;
  /** Called after each release (for a log line). */
  onRelease?: (outcome: ReleaseOutcome) => void;
  /** For tests: the process's CPU µs so far, the committed heap bytes, the release. */
  cpuMicros?: () => number;
  heapBytes?: () => number;
  release?: () => ReleaseOutcome | null;
}

const DEFAULT_INTERVAL_MS = 5000;
const DEFAULT_IDLE_CPU_SHARE = 0.02;
const DEFAULT_GROWTH_BYTES = 8 * 2 ** 20;

/**
 * Releases garbage when the process is idle and its heap has grown (see the top of this file).
 * Its timer is unref'd: it never keeps the process alive. Costs one cpuUsage and one heap
 * statistics read per interval.
 */
export class IdleMemoryRelease {
  private readonly intervalMs: number;
  private readonly idleCpuShare: number;
  private readonly growthBytes: number;
  private readonly cpuMicros: () => number;
  private readonly heapBytes: () => number;
  private readonly release: () => ReleaseOutcome | null;
  private readonly onRelease: ((outcome: ReleaseOutcome) => void) | undefined;
  private timer: NodeJS.Timeout | null = null;
  private lastCpu: number;
  /** Committed heap right after the last release (or at start). */
  private baseline: number;

  constructor(options: IdleReleaseOptions = {}) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.idleCpuShare = options.idleCpuShare ?? DEFAULT_IDLE_CPU_SHARE;
    this.growthBytes = options.growthBytes ?? DEFAULT_GROWTH_BYTES;
    this.cpuMicros = options.cpuMicros ?? (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    });
    this.heapBytes = options.heapBytes ?? (() => getHeapStatistics().total_heap_size);
    this.release = options.release ?? releaseGarbage;
    this.onRelease = options.onRelease;
    this.lastCpu = this.cpuMicros();
    this.baseline = this.heapBytes();
  }

  start(): this {
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check (the timer's callback; public for tests). Returns whether it released. */
  tick(): boolean {
    const cpu = this.cpuMicros();
    const used = cpu - this.lastCpu;
    this.lastCpu = cpu;
    if (used > this.intervalMs * 1000 * this.idleCpuShare) return false; // serving: not now
    const heap = this.heapBytes();
    if (heap < this.baseline + this.growthBytes) {
      if (heap < this.baseline) this.baseline = heap; // V8 shrank it on its own
      return false;
    }
    const outcome = this.release();
    if (outcome === null) {
      this.stop(); // no gc function in this runtime: nothing to do, ever
      return false;
    }
    this.baseline = outcome.heapAfter;
    this.lastCpu = this.cpuMicros(); // the collection's own CPU does not make the next interval busy
    this.onRelease?.(outcome);
    return true;
  }
}
