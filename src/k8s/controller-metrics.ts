// Prometheus metrics of `sidewall controller` (its own registry, served on the controller's admin port).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { RestartReason } from './namespace-watcher.js';

export type AdmissionResult = 'injected' | 'skipped' | 'malformed' | 'error';
export type ConfigMapWrite = 'create' | 'update';

export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly invalid: Counter<'key'>;
  private readonly writes: Counter<'op'>;
  private readonly reconcileErrors: Counter;
  private readonly restarts: Counter<'reason'>;
  private readonly reviews: Counter<'result'>;
  private readonly enabled: Gauge;
  private readonly recommendationWrites: Counter<'op'>;
  private readonly recommendationErrors: Counter;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.invalid = new Counter({
      name: 'sidewall_controller_invalid_annotations_total',
      help: 'Rejected sidewall.io annotation values (namespaces and pods), by annotation key.',
      labelNames: ['key'],
      registers,
    });
    this.writes = new Counter({
      name: 'sidewall_controller_settings_writes_total',
      help: 'sidewall-settings ConfigMaps written, by operation (create, update).',
      labelNames: ['op'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'sidewall_controller_reconcile_errors_total',
      help: 'Namespace reconciliations that failed (API errors); retried on the next resync.',
      registers,
    });
    this.restarts = new Counter({
      name: 'sidewall_controller_watch_restarts_total',
      help: 'Namespace watch restarts, by reason (gone = 410 re-list, error, dropped, closed = normal end).',
      labelNames: ['reason'],
      registers,
    });
    this.reviews = new Counter({
      name: 'sidewall_controller_admission_reviews_total',
      help: 'Pod admission reviews answered, by result (injected, skipped, malformed, error).',
      labelNames: ['result'],
      registers,
    });
    this.enabled = new Gauge({
      name: 'sidewall_controller_namespaces_enabled',
      help: 'Namespaces whose effective sidewall.io/waf is enabled.',
      registers,
    });
    this.recommendationWrites = new Counter({
      name: 'sidewall_controller_recommendations_writes_total',
      help: 'sidewall-recommendations ConfigMaps written by the continuous recommender, by operation (create, update).',
      labelNames: ['op'],
      registers,
    });
    this.recommendationErrors = new Counter({
      name: 'sidewall_controller_recommendation_errors_total',
      help: 'Recommender passes or namespaces that failed (events unreadable, API errors); retried on the next pass.',
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  invalidAnnotation(key: string): void {
    this.invalid.labels(key).inc();
  }
  settingsWrite(op: ConfigMapWrite): void {
    this.writes.labels(op).inc();
  }
  reconcileError(): void {
    this.reconcileErrors.inc();
  }
  watchRestart(reason: RestartReason): void {
    this.restarts.labels(reason).inc();
  }
  review(result: AdmissionResult): void {
    this.reviews.labels(result).inc();
  }
  recommendationsWrite(op: ConfigMapWrite): void {
    this.recommendationWrites.labels(op).inc();
  }
  recommendationError(): void {
    this.recommendationErrors.inc();
  }
  setEnabledNamespaces(n: number): void {
    this.enabled.set(n);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
