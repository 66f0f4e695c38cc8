// One webhook: filter → queue (spool or memory) → batches (size- and time-bounded) → signed
// POST with retries. One delivery loop per webhook, so batches go out in order, one at a time.
//
// Retries: 408, 429, 5xx and network errors are retried forever (the queue bounds what
// waits) with exponential backoff and full jitter; Retry-After on 429/503 is honoured (capped
// by retry.max_retry_after_ms). Other statuses (3xx, 4xx) are permanent failures: the batch
// is dropped and counted (reason "rejected") so one bad batch cannot stall the webhook.
import type { Logger } from 'pino';
import type { EventSinkMetrics } from '../server/metrics.js';
import { CONTENT_TYPES, formatBody } from './body-format.js';
import type { WebhookConfig } from './config.js';
import { HttpPoster } from './http-post.js';
import { MemoryQueue } from './memory-queue.js';
import type { EventOutput } from './output.js';
import type { EventQueue, QueuedRecord } from './queue.js';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry.js';
import { severityLevel, type SecurityEvent } from './schema.js';
import { sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.js';
import { Spool } from './spool.js';

export interface WebhookSinkOptions {
  config: WebhookConfig;
  metrics: EventSinkMetrics;
  logger: Logger;
  userAgent: string;
}

export class WebhookSink implements EventOutput {
  readonly name: string;
  private readonly config: WebhookConfig;
  private readonly metrics: EventSinkMetrics;
  private readonly logger: Logger;
  private readonly queue: EventQueue;
  private readonly url: URL;
  private readonly poster = new HttpPoster();
  private readonly headers: Record<string, string>;
  private readonly verdicts: Set<string> | null;
  private readonly namespaces: Set<string> | null;
  private wake: (() => void) | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private stopped = false;
  private abort = new AbortController();
  private readonly loop: Promise<void>;

  constructor(options: WebhookSinkOptions) {
    const c = options.config;
    this.config = c;
    this.name = c.name;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.url = new URL(c.url);
    this.headers = { 'content-type': CONTENT_TYPES[c.format], 'user-agent': options.userAgent };
    if (c.auth) this.headers.authorization = c.auth.header();
    this.verdicts = c.filter.verdicts ? new Set(c.filter.verdicts) : null;
    this.namespaces = c.filter.namespaces ? new Set(c.filter.namespaces) : null;
    const hooks = {
      dropped: (reason: string, n: number) => {
        this.metrics.dropped(reason, n);
        this.logger.warn({ webhook: this.name, reason, events: n }, 'security events dropped');
      },
      bytes: (n: number) => this.metrics.spoolBytes(n),
      warn: (message: string, fields?: Record<string, unknown>) => this.logger.warn({ webhook: this.name, ...fields }, message),
    };
    // Spool.open throws SpoolError (a startup failure) when the directory is unusable.
    this.queue = c.spool ? Spool.open(c.spool, hooks) : new MemoryQueue(c.queue.maxEvents, c.queue.onFull, hooks);
    this.queue.onAvailable = () => this.notify();
    if (this.queue.unacked > 0) this.logger.info({ webhook: this.name, events: this.queue.unacked }, 'undelivered spooled events found, delivering them first');
    this.metrics.pending(this.queue.unacked);
    this.loop = this.run().catch((err: unknown) => {
      this.logger.error({ webhook: this.name, err: err instanceof Error ? err.message : String(err) }, 'webhook delivery loop failed');
    });
  }

  /** Per-webhook filter. */
  accepts(event: SecurityEvent): boolean {
    const f = this.config.filter;
    if (f.minSeverity !== null && (event.severity === undefined || severityLevel(event.severity) > f.minSeverity)) return false;
    if (this.verdicts !== null && !this.verdicts.has(event.verdict)) return false;
    if (this.namespaces !== null && (event.destination.namespace === undefined || !this.namespaces.has(event.destination.namespace))) return false;
    return true;
  }

  write(event: SecurityEvent, json: string, producedMs: number): void {
    if (this.closing || !this.accepts(event)) return;
    this.queue.push(json, producedMs);
  }

  private notify(): void {
    this.metrics.pending(this.queue.unacked);
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
  }

  /** Waits until notified or `ms` elapsed (ms < 0: no timeout). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.wakeTimer) clearTimeout(this.wakeTimer);
        this.wakeTimer = null;
        this.wake = null;
        resolve();
      };
      this.wake = done;
      if (ms >= 0) this.wakeTimer = setTimeout(done, ms);
    });
  }

  private async run(): Promise<void> {
    const { batch } = this.config;
    while (!this.stopped) {
      const q = this.queue;
      if (q.available === 0) {
        if (this.closing) return;
        await this.sleep(-1);
        continue;
      }
      if (!this.closing && q.available < batch.maxEvents && q.availableBytes < batch.maxBytes) {
        const due = q.availableSinceMs + batch.maxDelayMs - Date.now();
        if (due > 0) {
          await this.sleep(due);
          continue;
        }
      }
      const records = q.take(batch.maxEvents, batch.maxBytes);
      if (records.length === 0) continue;
      await this.deliver(records);
      this.metrics.pending(q.unacked);
    }
  }

  /** Delivers one batch, retrying until it succeeds, fails permanently, or the sink stops. */
  private async deliver(records: QueuedRecord[]): Promise<void> {
    const body = formatBody(this.config.format, records.map((r) => r.json), this.config.source, this.config);
    const { retry } = this.config;
    for (let attempt = 0; !this.stopped; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000);
      // Signed when there is a secret; a webhook with `auth` only is authenticated by its Authorization header.
      const headers: Record<string, string> = { ...this.headers, 'x-sidewall-event-count': String(records.length) };
      if (this.config.secret !== null) {
        headers[TIMESTAMP_HEADER] = String(timestamp);
        headers[SIGNATURE_HEADER] = sign(this.config.secret, timestamp, body);
      }
      let status = 0;
      let retryAfterMs: number | null = null;
      let error: string | null = null;
      try {
        const res = await this.poster.post(this.url, body, headers, this.config.timeoutMs, this.abort.signal);
        status = res.status;
        if (status === 429 || status === 503) {
          const h = res.headers['retry-after'];
          retryAfterMs = parseRetryAfter(Array.isArray(h) ? h[0] : h);
        }
      } catch (err) {
        if (this.stopped) return;
        error = err instanceof Error ? err.message : String(err);
      }
      const outcome = error === null ? classifyStatus(status) : 'retry';
      if (outcome === 'delivered') {
        this.queue.ack(records);
        this.metrics.delivered(records.length);
        const now = Date.now();
        for (const r of records) this.metrics.observeDelivery(Math.max(0, now - r.producedMs) / 1000);
        if (attempt > 0) this.logger.info({ webhook: this.name, attempts: attempt + 1, events: records.length }, 'webhook delivery succeeded after retries');
        return;
      }
      if (outcome === 'permanent') {
        this.queue.ack(records);
        this.metrics.dropped('rejected', records.length);
        this.logger.error({ webhook: this.name, status, events: records.length }, 'webhook rejected the batch (permanent failure), events dropped');
        return;
      }
      this.metrics.retry();
      const delay = retryAfterMs !== null ? Math.min(retryAfterMs, retry.maxRetryAfterMs) : backoffDelay(attempt, retry.initialMs, retry.maxMs);
      this.logger.warn(
        { webhook: this.name, status: status || undefined, err: error ?? undefined, attempt: attempt + 1, retry_in_ms: delay, retry_after: retryAfterMs !== null || undefined },
        'webhook delivery failed, will retry',
      );
      await this.pause(delay);
    }
  }

  /** A retry pause that ends early only when the sink stops. */
  private async pause(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.stopped) {
      const left = end - Date.now();
      if (left <= 0) return;
      await this.sleep(left);
    }
  }

  /**
   * Stops accepting events, delivers what is queued until `deadline` (Date.now() ms), then
   * stops. Spooled events left undelivered stay on disk for the next start.
   */
  async close(deadline: number): Promise<void> {
    this.closing = true;
    this.queue.flush();
    this.notify();
    const left = deadline - Date.now();
    let timer: NodeJS.Timeout | null = null;
    await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, left))))]);
    if (timer) clearTimeout(timer);
    this.stopped = true;
    this.abort.abort();
    this.notify();
    await this.loop;
    this.queue.close();
    this.poster.close();
    this.metrics.pending(this.queue.kind === 'spool' ? this.queue.unacked : 0);
  }
}
