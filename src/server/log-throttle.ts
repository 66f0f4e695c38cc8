// At most one log line per kind per interval under overload: shedding thousands of calls a second
// must not turn into thousands of log lines a second. Lines held back are counted and reported
// with the next line of their kind.
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs = 1000) {}

  /** -1 = do not log now; otherwise log, reporting this many lines held back since the last one. */
  take(kind: string, now = Date.now()): number {
    const state = this.last.get(kind);
    if (state === undefined) {
      this.last.set(kind, { at: now, suppressed: 0 });
      return 0;
    }
    if (now - state.at < this.intervalMs) {
      state.suppressed++;
      return -1;
    }
    const held = state.suppressed;
    state.at = now;
    state.suppressed = 0;
    return held;
  }
}
