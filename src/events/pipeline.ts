// The security event pipeline:
//   CheckService --enqueue(Detection)--> buffer --(next turn)--> aggregator --> outputs
// enqueue is O(1): it stores references and schedules a drain; building, redacting and
// serializing events happen in the drain, off the Check path. Outputs: the log sink and
// one WebhookSink per configured webhook.
import type { Logger } from 'pino';
import type { EventMetrics } from '../server/metrics.js';
import { Aggregator } from './aggregator.js';
import type { EventsConfig } from './config.js';
import { LogSink } from './log-sink.js';
import type { EventOutput } from './output.js';
import type { Detection, SecurityEvent } from './schema.js';
import { WebhookSink } from './webhook-sink.js';

/** What the Check path sees. */
export interface EventSink {
  /** Hands over one detection. O(1), never blocks, never throws. */
  enqueue(detection: Detection): void;
}

export interface EventPipelineOptions {
  config: EventsConfig;
  logger: Logger;
  metrics: EventMetrics;
  /** user-agent of webhook requests. */
  userAgent: string;
  /** Extra outputs (tests). */
  outputs?: EventOutput[];
}

export class EventPipeline implements EventSink {
  readonly outputs: EventOutput[];
  private buffer: Detection[] = [];
  private scheduled = false;
  private closed = false;
  private readonly bufferMax: number;
  private readonly aggregator: Aggregator;
  private readonly logger: Logger;
  private readonly metrics: EventMetrics;
  private readonly droppedBuffer: (reason: string, n: number) => void;
  private readonly drainNow = () => this.drain();
  private readonly serialize: boolean;

  /** Builds the outputs; throws (SpoolError) when a spool directory is unusable. */
  constructor(options: EventPipelineOptions) {
    const { config, logger, metrics } = options;
    this.logger = logger;
    this.metrics = metrics;
    this.bufferMax = config.buffer;
    this.droppedBuffer = (reason, n) => metrics.pipelineDropped(reason, n);
    const outputs: EventOutput[] = [];
    if (config.log) outputs.push(new LogSink(logger, metrics.sink('log')));
    try {
      for (const w of config.webhooks) {
        outputs.push(new WebhookSink({ config: w, metrics: metrics.sink(w.name), logger, userAgent: options.userAgent }));
      }
    } catch (err) {
      for (const o of outputs) void o.close(0);
      throw err;
    }
    outputs.push(...(options.outputs ?? []));
    this.outputs = outputs;
    this.serialize = outputs.some((o) => !(o instanceof LogSink));
    this.aggregator = new Aggregator({
      windowMs: config.aggregation.windowMs,
      maxKeys: config.aggregation.maxKeys,
      emit: (e) => this.emit(e),
      onFolded: (n) => metrics.folded(n),
    });
  }

  enqueue(detection: Detection): void {
    if (this.closed) return;
    if (this.buffer.length >= this.bufferMax) {
      this.droppedBuffer('buffer_full', 1);
      return;
    }
    this.buffer.push(detection);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.buffer;
    this.buffer = [];
    for (let i = 0; i < batch.length; i++) {
      try {
        this.aggregator.add(batch[i]!);
      } catch (err) {
        // A bug here must not take the server down; the detection is still in the check log.
        this.droppedBuffer('internal_error', 1);
        this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'security event could not be built');
      }
    }
  }

  private emit(event: SecurityEvent): void {
    this.metrics.eventProduced();
    const json = this.serialize ? JSON.stringify(event) : '';
    const producedMs = Date.now();
    for (const o of this.outputs) {
      try {
        o.write(event, json, producedMs);
      } catch (err) {
        this.logger.error({ sink: o.name, err: err instanceof Error ? err.message : String(err) }, 'security event output failed');
      }
    }
  }

  /**
   * Shutdown (after the gRPC server drained): turns buffered detections into events, emits
   * pending aggregates, then lets each output deliver until `timeoutMs` has passed.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.drain();
    this.aggregator.flush();
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    await Promise.all(this.outputs.map((o) => o.close(deadline)));
  }
}
