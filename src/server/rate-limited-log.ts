// A warning that may repeat at the rate of incoming requests (malformed CheckRequests from a
// broken or hostile client): logged at most once per interval, with how many were suppressed
// since the last line, so a flood cannot flood the log. The metric counts every one.
import type { Logger } from 'pino';

export class RateLimitedLog {
  private lastMs = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly event: string,
    private readonly message: string,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `detail` now, or counts it as suppressed when the last line was less than intervalMs ago. */
  warn(detail: string): void {
    const t = this.now();
    if (t - this.lastMs < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.logger.warn({ event: this.event, err: detail, suppressed: this.suppressed }, this.message);
    this.lastMs = t;
    this.suppressed = 0;
  }
}
