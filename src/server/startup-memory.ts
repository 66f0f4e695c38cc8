// Compiling CRS allocates far more than it keeps: the regex analysis, the RE2 programs built only to
// validate patterns (each freed when its wrapper is collected), parse trees. V8 grows the young
// generation to its maximum while that runs (32 MB committed with Node's defaults) and gives nothing
// back until its memory reducer fires, 8-16 s later and only if the process is idle by then: a
// freshly started `sidewall serve` sat at ~145 MB RSS instead of ~110 MB (npm run bench:rss).
//
// So once, after the startup compile and before the server reports ready (nothing is served yet),
// we run one memory-reducing full collection — the "last resort" flavour, which also shrinks the
// young generation and releases pooled pages, unlike a plain gc(). V8 only lets JS call it through
// the gc extension; enabling --expose-gc just while one new context is created gives this module that
// function without putting `gc` on the global object of the application's context (the way Jest's
// leak detector gets it). Not used after reloads: a full GC holds the event loop for tens of ms
// while checks are being served, and reloads compile in time slices precisely to avoid that.
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

function gcFunction(): GcFunction | null {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as GcFunction; // node --expose-gc
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as GcFunction) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** One memory-reducing full GC; null when this runtime offers no way to ask for it. */
export function releaseStartupGarbage(): ReleaseOutcome | null {
  const gc = gcFunction();
  if (gc === null) return null;
  const heapBefore = getHeapStatistics().total_heap_size;
  const started = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const ms = performance.now() - started;
  return { ms, heapBefore, heapAfter: getHeapStatistics().total_heap_size };
}
