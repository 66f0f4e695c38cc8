// Shadow evaluation of staged policies (src/settings/staged.ts).
//
// The check path calls offer() after the enforced verdict is known: it draws the sample and, when
// sampled, pushes references onto a bounded queue — O(1), nothing evaluated. The queue drains on
// setImmediate, i.e. after the gRPC answer was handed to the transport, so a staged evaluation
// never adds latency to the check it shadows and can never change its verdict (it only produces
// metrics and events). When the queue is full, or real checks are waiting for admission, samples
// are dropped and counted: shadowing yields to enforcement under load.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { CheckBudget } from '../engine/budget.js';
import type { HttpRequest, Verdict } from '../engine/api.js';
import type { EventSink } from '../events/pipeline.js';
import type { CheckContext } from './check-mapper.js';
import type { EngineSource, StagedEngine } from './engine-provider.js';

export const DEFAULT_SHADOW_QUEUE = 256;
/** A staged evaluation is stopped after this long (it must not starve real checks). */
export const DEFAULT_SHADOW_MAX_MS = 50;

export type DisagreementKind = 'would_block' | 'would_allow';
export type ShadowDropReason = 'queue_full' | 'busy';

export class StagedMetrics {
  private readonly checks: Counter;
  private readonly disagreementChildren: Record<DisagreementKind, { inc(): void }>;
  private readonly dropChildren: Record<ShadowDropReason, { inc(): void }>;
  private readonly errors: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.checks = new Counter({
      name: 'sidewall_staged_checks_total',
      help: 'Requests evaluated in shadow by a staged policy (after the enforced answer was sent).',
      registers,
    });
    const disagreements = new Counter({
      name: 'sidewall_staged_disagreements_total',
      help: 'Shadowed requests the staged policy would have answered differently: would_block (staged denies, enforced did not), would_allow (enforced denied, staged would not).',
      labelNames: ['kind'],
      registers,
    });
    this.disagreementChildren = { would_block: disagreements.labels('would_block'), would_allow: disagreements.labels('would_allow') };
    const dropped = new Counter({
      name: 'sidewall_staged_dropped_total',
      help: 'Sampled requests not shadowed, by reason: queue_full (shadow queue full), busy (real checks waiting).',
      labelNames: ['reason'],
      registers,
    });
    this.dropChildren = { queue_full: dropped.labels('queue_full'), busy: dropped.labels('busy') };
    this.errors = new Counter({
      name: 'sidewall_staged_errors_total',
      help: 'Staged evaluations that threw or ran out of their time budget (no comparison made).',
      registers,
    });
  }

  checked(): void {
    this.checks.inc();
  }
  disagreement(kind: DisagreementKind): void {
    this.disagreementChildren[kind].inc();
  }
  dropped(reason: ShadowDropReason): void {
    this.dropChildren[reason].inc();
  }
  error(): void {
    this.errors.inc();
  }
}

/** Whether a verdict blocks the request (detect mode blocks nothing). */
function blocks(v: Verdict): boolean {
  return v.action === 'deny';
}

/** How the staged verdict compares with the enforced one; null = same answer. */
export function disagreement(enforced: Verdict, staged: Verdict): DisagreementKind | null {
  const e = blocks(enforced);
  const s = blocks(staged);
  return e === s ? null : s ? 'would_block' : 'would_allow';
}

/** Same rules matched (order aside)? */
function sameRules(a: Verdict, b: Verdict): boolean {
  if (a.ruleIds.length !== b.ruleIds.length) return false;
  const set = new Set(a.ruleIds);
  return b.ruleIds.every((id) => set.has(id));
}

interface Sample {
  staged: StagedEngine;
  enforced: Verdict;
  context: CheckContext;
  request: HttpRequest;
  timeMs: number;
}

export interface ShadowOptions {
  metrics: StagedMetrics;
  logger: Logger;
  /** Security events; staged detections are emitted marked staged. null = metrics only. */
  events: EventSink | null;
  queueMax?: number;
  maxEvalMs?: number;
  /** True while real checks wait for admission: samples are dropped then. */
  busy?: () => boolean;
  /** [0, 1) source for sampling (tests). */
  random?: () => number;
}

export class ShadowEvaluator {
  private queue: Sample[] = [];
  private scheduled = false;
  private readonly queueMax: number;
  private readonly maxEvalMs: number;
  private readonly random: () => number;
  private readonly busy: () => boolean;
  private readonly drainNow = () => this.drain();
  /** Shadow evaluations done (for tests and the bench). */
  evaluated = 0;

  constructor(private readonly options: ShadowOptions) {
    this.queueMax = options.queueMax ?? DEFAULT_SHADOW_QUEUE;
    this.maxEvalMs = options.maxEvalMs ?? DEFAULT_SHADOW_MAX_MS;
    this.random = options.random ?? Math.random;
    this.busy = options.busy ?? (() => false);
  }

  /** The CheckService afterCheck hook: offers the check to its namespace's staged policy, if any. */
  hook(source: EngineSource): (context: CheckContext, request: HttpRequest, verdict: Verdict) => void {
    return (context, request, verdict) => {
      const staged = source.stagedFor?.(context) ?? null;
      if (staged !== null) this.offer(staged, verdict, context, request);
    };
  }

  /** Called on the check path with the enforced verdict. O(1); never throws, never evaluates. */
  offer(staged: StagedEngine, enforced: Verdict, context: CheckContext, request: HttpRequest): void {
    if (staged.sampleRate < 1 && this.random() >= staged.sampleRate) return;
    if (this.queue.length >= this.queueMax) {
      this.options.metrics.dropped('queue_full');
      return;
    }
    this.queue.push({ staged, enforced, context, request, timeMs: Date.now() });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drainNow);
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (let i = 0; i < batch.length; i++) {
      // Real checks first: a sample waiting behind queued checks is dropped, not evaluated.
      if (this.busy()) {
        this.options.metrics.dropped('busy');
        continue;
      }
      this.evaluate(batch[i]!);
    }
  }

  private evaluate(s: Sample): void {
    const { metrics } = this.options;
    let verdict: Verdict;
    try {
      verdict = s.staged.engine.evaluate(s.request, new CheckBudget({ maxCheckMs: this.maxEvalMs }));
    } catch (err) {
      metrics.error();
      this.options.logger.warn({ event: 'staged_error', request_id: s.context.requestId, err: (err as Error).message }, 'staged policy evaluation failed');
      return;
    }
    this.evaluated++;
    if (verdict.budgetStop) {
      metrics.error();
      return;
    }
    metrics.checked();
    const kind = disagreement(s.enforced, verdict);
    if (kind !== null) metrics.disagreement(kind);
    // Every disagreement is an event (a would_allow one may have no rules left); otherwise only
    // a staged verdict matching other rules: the enforced event already reports the same ones.
    if (this.options.events !== null && (kind !== null || (verdict.matches.length > 0 && !sameRules(s.enforced, verdict)))) {
      this.options.events.enqueue({
        timeMs: s.timeMs,
        verdict,
        context: s.context,
        method: s.request.method,
        uri: s.request.uri,
        protocol: s.request.protocol,
        staged: { policy: s.staged.staged, enforced: s.enforced.action, disagreement: kind },
      });
    }
  }
}
