// Flood aggregation. Key: sorted rule ids + source ip + method + path template.
// - The first detection of a key is emitted at once (count 1) and opens a window.
// - Repeats inside the window are only counted; at window end, if there were any, ONE event
//   is emitted for them (built from the last repeat) with count = number of repeats,
//   first_time = time of the first repeat, and the window re-opens for that key.
// - A window that ends with no repeats closes the key: its next detection is "first" again.
// So N identical detections inside one window yield 2 events: count 1, then count N-1; a
// sustained flood yields one event per window. window_ms 0 disables aggregation.
import { buildEvent } from './build-event.js';
import { pathTemplate } from './path-template.js';
import type { Detection, SecurityEvent } from './schema.js';

export interface AggregatorOptions {
  windowMs: number;
  /** Keys tracked at most; beyond that detections pass through unaggregated. */
  maxKeys: number;
  emit: (event: SecurityEvent) => void;
  /** Called with the number of detections folded into an aggregate (not emitted singly). */
  onFolded?: (n: number) => void;
  now?: () => number;
}

interface Entry {
  windowEnd: number;
  repeats: number;
  firstRepeatMs: number;
  last: Detection | null;
}

export function aggregationKey(d: Detection): string {
  const ids = d.verdict.ruleIds.length > 1 ? [...d.verdict.ruleIds].sort((a, b) => a - b) : d.verdict.ruleIds;
  const key = `${ids.join(',')}|${d.context.source.address}|${d.method}|${pathTemplate(d.uri)}`;
  // Staged (shadow) detections never fold into enforced ones.
  return d.staged === undefined ? key : `staged|${key}`;
}

export class Aggregator {
  // Insertion order = window end order (re-opened keys are re-inserted), so sweeps stop early.
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: AggregatorOptions) {
    this.now = options.now ?? Date.now;
  }

  get trackedKeys(): number {
    return this.entries.size;
  }

  add(d: Detection): void {
    const { windowMs } = this.options;
    if (windowMs <= 0) {
      this.options.emit(buildEvent(d));
      return;
    }
    const key = aggregationKey(d);
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.repeats === 0) entry.firstRepeatMs = d.timeMs;
      entry.repeats++;
      entry.last = d;
      return;
    }
    this.options.emit(buildEvent(d));
    if (this.entries.size >= this.options.maxKeys) return;
    this.entries.set(key, { windowEnd: this.now() + windowMs, repeats: 0, firstRepeatMs: 0, last: null });
    this.schedule();
  }

  /** Emits every pending aggregate now (shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const entry of this.entries.values()) this.emitAggregate(entry);
    this.entries.clear();
  }

  private emitAggregate(entry: Entry): void {
    if (entry.repeats === 0 || entry.last === null) return;
    const event = buildEvent(entry.last);
    event.count = entry.repeats;
    event.first_time = new Date(entry.firstRepeatMs).toISOString();
    event.window_ms = this.options.windowMs;
    this.options.onFolded?.(entry.repeats);
    this.options.emit(event);
  }

  private schedule(): void {
    if (this.timer !== null) return;
    const first = this.entries.values().next();
    if (first.done) return;
    const delay = Math.max(0, first.value.windowEnd - this.now());
    this.timer = setTimeout(() => this.sweep(), delay);
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = null;
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.windowEnd > now) break;
      this.entries.delete(key);
      if (entry.repeats > 0) {
        this.emitAggregate(entry);
        this.entries.set(key, { windowEnd: now + this.options.windowMs, repeats: 0, firstRepeatMs: 0, last: null });
      }
    }
    this.schedule();
  }
}
