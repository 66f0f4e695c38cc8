// Metrics of configuration loads (startup and live reloads), on the server's registry.
import { Counter, Gauge, type Registry } from 'prom-client';

export type ReloadResult = 'success' | 'failure';

export class ReloadMetrics {
  private readonly results: Record<ReloadResult, { inc(): void }>;
  private readonly lastSuccess: Gauge;
  private readonly duration: Gauge;
  private readonly engines: Gauge;
  private readonly namespaces: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const reloads = new Counter({
      name: 'sidewall_reloads_total',
      help: 'Configuration loads (startup, file changes, SIGHUP) by result; failure = a file was rejected and the previous configuration kept for it.',
      labelNames: ['result'],
      registers,
    });
    this.results = { success: reloads.labels('success'), failure: reloads.labels('failure') };
    this.lastSuccess = new Gauge({
      name: 'sidewall_reload_last_success_timestamp_seconds',
      help: 'Unix time of the last configuration load without errors.',
      registers,
    });
    this.duration = new Gauge({
      name: 'sidewall_reload_duration_seconds',
      help: 'Wall time of the last configuration load (reading, compiling, swapping).',
      registers,
    });
    this.engines = new Gauge({
      name: 'sidewall_engines',
      help: 'Compiled engines in use (one per distinct effective settings).',
      registers,
    });
    this.namespaces = new Gauge({
      name: 'sidewall_settings_namespaces',
      help: 'Namespaces with their own settings (gateway layout; 1 in the sidecar layout).',
      registers,
    });
  }

  loaded(result: ReloadResult, seconds: number, engines: number, namespaces: number): void {
    this.results[result].inc();
    this.duration.set(seconds);
    this.engines.set(engines);
    this.namespaces.set(namespaces);
    if (result === 'success') this.lastSuccess.set(Date.now() / 1000);
  }

  /** A load rejected as a whole (the base ruleset failed): nothing changed but the counter. */
  rejected(seconds: number): void {
    this.results.failure.inc();
    this.duration.set(seconds);
  }
}
