// The continuous exclusion recommender: every interval, runs the recommender over each
// namespace's security events of the last window and writes the result into that namespace's
// `sidewall-recommendations` ConfigMap (exclusions.conf + evidence.json), for an operator to review.
// Nothing is applied: the sidecars read exclusions only from the ConfigMaps named by the
// sidewall.io/exclusions and sidewall.io/staged-exclusions annotations, which the operator sets.
//
// - a namespace without events in the window gets no ConfigMap (an existing one is left as it is);
// - unchanged recommendations cause no write: the ConfigMap carries a digest of its content
//   (rules and evidence, not the generation time or window bounds) and is rewritten only when it
//   differs — also across controller restarts, since the digest is read back from the live object;
// - a ConfigMap of that name that is not ours (no managed-by label) is never overwritten.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { SecurityEvent } from '../events/schema.js';
import { DEFAULT_RECOMMEND, readEvents, recommend, type GroupDecision, type ReadCache, type RecommendOptions } from '../recommend/index.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { KubeApiError, seg, type KubeClient } from './kube-client.js';
import { EXCLUSIONS_FILE, MANAGED_BY, MANAGED_BY_LABEL, type ConfigMapLike } from './settings-render.js';

export const RECOMMENDATIONS_CONFIGMAP = 'sidewall-recommendations';
export const EVIDENCE_FILE = 'evidence.json';
export const DIGEST_ANNOTATION = 'sidewall.io/recommendations-digest';
export const GENERATED_ANNOTATION = 'sidewall.io/recommendations-generated';

/** Where the events come from: all events with time in [sinceMs, untilMs). */
export type EventSource = (sinceMs: number, untilMs: number) => SecurityEvent[] | Promise<SecurityEvent[]>;

/**
 * Events from files/directories `sidewall recommend` reads (receiver NDJSON, spools, log lines);
 * each pass re-reads only the files that changed since the last one.
 */
export function fileEventSource(paths: readonly string[], logger: Logger): EventSource {
  const cache: ReadCache = new Map();
  return (sinceMs, untilMs) => {
    const read = readEvents([...paths], cache);
    if (read.problems.length > 0) {
      logger.warn({ problems: read.problems.length, first: read.problems[0] }, 'recommender: some event lines could not be read');
    }
    return read.events.filter((e) => {
      const t = Date.parse(e.time);
      return t >= sinceMs && t < untilMs;
    });
  };
}

export interface RecommendationsControllerOptions {
  client: KubeClient;
  logger: Logger;
  metrics: ControllerMetrics;
  events: EventSource;
  /** How far back each pass looks. */
  windowMs: number;
  /** Time between passes (start()). */
  intervalMs: number;
  /** Recommender thresholds (window and namespace are set per pass). */
  thresholds?: Partial<Omit<RecommendOptions, 'sinceMs' | 'untilMs' | 'namespace'>>;
  firstId?: number;
  /** Only namespaces this accepts get recommendations (e.g. WAF-enabled ones); default all. */
  accepts?: (namespace: string) => boolean;
  now?: () => number;
}

/** A ConfigMap holds at most 1 MiB; evidence.json stays well below, with room for exclusions.conf. */
export const EVIDENCE_MAX_BYTES = 512 * 1024;

/**
 * evidence.json within EVIDENCE_MAX_BYTES: every recommended group, then as many of the others
 * (most requests first, the analysis' order) as fit; how many were left out is stated.
 */
export function boundedEvidence(head: Record<string, unknown>, groups: readonly GroupDecision[]): string {
  const recommended = groups.filter((g) => g.recommended);
  const others = groups.filter((g) => !g.recommended);
  const text = (n: number) => {
    const omitted = others.length - n;
    return JSON.stringify({ ...head, ...(omitted > 0 ? { groups_omitted: omitted } : {}), groups: [...recommended, ...others.slice(0, n)] }, null, 2) + '\n';
  };
  let n = others.length;
  let out = text(n);
  while (Buffer.byteLength(out) > EVIDENCE_MAX_BYTES && n > 0) {
    n = Math.floor(n / 2);
    out = text(n);
  }
  return out;
}

export type PassResult = Record<string, 'created' | 'updated' | 'unchanged' | 'not-ours' | 'error'>;

export class RecommendationsController {
  private readonly o: RecommendationsControllerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult> | null = null;

  constructor(options: RecommendationsControllerOptions) {
    this.o = options;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => void this.runOnce();
    this.timer = setInterval(tick, this.o.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass over every namespace with events in the window; passes never overlap. */
  runOnce(): Promise<PassResult> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<PassResult> {
    const now = (this.o.now ?? Date.now)();
    const sinceMs = now - this.o.windowMs;
    const result: PassResult = {};
    let events: SecurityEvent[];
    try {
      events = await this.o.events(sinceMs, now);
    } catch (err) {
      this.o.metrics.recommendationError();
      this.o.logger.error({ err: (err as Error).message }, 'recommender: cannot read events; retried next pass');
      return result;
    }
    const byNamespace = new Map<string, SecurityEvent[]>();
    for (const e of events) {
      const ns = e.destination?.namespace;
      if (!ns || (this.o.accepts && !this.o.accepts(ns))) continue;
      let list = byNamespace.get(ns);
      if (!list) byNamespace.set(ns, (list = []));
      list.push(e);
    }
    for (const [namespace, list] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
      try {
        result[namespace] = await this.write(namespace, this.render(namespace, list, sinceMs, now));
      } catch (err) {
        result[namespace] = 'error';
        this.o.metrics.recommendationError();
        this.o.logger.error({ namespace, err: (err as Error).message }, 'recommender: cannot write recommendations; retried next pass');
      }
    }
    return result;
  }

  /** The ConfigMap for one namespace's events. */
  private render(namespace: string, events: readonly SecurityEvent[], sinceMs: number, untilMs: number): ConfigMapLike & { metadata: { annotations: Record<string, string> } } {
    const options: RecommendOptions = { ...DEFAULT_RECOMMEND, ...this.o.thresholds, sinceMs, untilMs, namespace };
    const window = { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString() };
    const r = recommend(events, options, { firstId: this.o.firstId ?? 10000, generatedAt: new Date(untilMs), window }, { file: `${namespace}/${RECOMMENDATIONS_CONFIGMAP}/${EXCLUSIONS_FILE}` });
    const groups = r.analysis.groups;
    // The digest covers what the operator reviews, not when it was computed.
    const digest = createHash('sha256')
      .update(r.rendered.rules.map((x) => x.text).join('\n'))
      .update('\0')
      .update(JSON.stringify(groups))
      .digest('hex');
    const evidenceText = boundedEvidence({
      namespace,
      generated: window.until,
      window,
      events: r.analysis.considered,
      recommended: r.rendered.rules.map((x) => ({ id: x.id, rule: x.group.ruleId, variable: x.group.variable, path: x.group.pathTemplate })),
      unexpressible: r.rendered.unexpressible.map((u) => ({ rule: u.group.ruleId, variable: u.group.variable, path: u.group.pathTemplate, reason: u.reason })),
    }, groups);
    return {
      metadata: {
        name: RECOMMENDATIONS_CONFIGMAP,
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/component': 'recommendations' },
        annotations: { [DIGEST_ANNOTATION]: digest, [GENERATED_ANNOTATION]: window.until },
      },
      data: { [EXCLUSIONS_FILE]: r.rendered.text, [EVIDENCE_FILE]: evidenceText },
    };
  }

  private async write(namespace: string, desired: ReturnType<RecommendationsController['render']>, attempt = 0): Promise<PassResult[string]> {
    const path = `/api/v1/namespaces/${seg(namespace)}/configmaps`;
    const body = { apiVersion: 'v1', kind: 'ConfigMap', ...desired };
    const live = await this.o.client.getOrNull<ConfigMapLike & { metadata?: { annotations?: Record<string, string> } }>(`${path}/${RECOMMENDATIONS_CONFIGMAP}`);
    const digest = desired.metadata.annotations[DIGEST_ANNOTATION];
    if (live === null) {
      try {
        await this.o.client.request('POST', path, body);
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409 && attempt < 3) return this.write(namespace, desired, attempt + 1); // raced: re-read
        throw err;
      }
      this.o.metrics.recommendationsWrite('create');
      this.o.logger.info({ namespace, configmap: RECOMMENDATIONS_CONFIGMAP }, 'recommendations ConfigMap created (not applied; review it)');
      return 'created';
    }
    if (live.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
      this.o.logger.warn({ namespace, configmap: RECOMMENDATIONS_CONFIGMAP }, `ConfigMap exists without label ${MANAGED_BY_LABEL}=${MANAGED_BY}; not overwriting it`);
      return 'not-ours';
    }
    if (live.metadata?.annotations?.[DIGEST_ANNOTATION] === digest && live.data?.[EXCLUSIONS_FILE] !== undefined && live.data?.[EVIDENCE_FILE] !== undefined) return 'unchanged';
    try {
      await this.o.client.request('PUT', `${path}/${RECOMMENDATIONS_CONFIGMAP}`, { ...body, metadata: { ...body.metadata, resourceVersion: live.metadata?.resourceVersion } });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409 && attempt < 3) return this.write(namespace, desired, attempt + 1); // changed under us
      throw err;
    }
    this.o.metrics.recommendationsWrite('update');
    this.o.logger.info({ namespace, configmap: RECOMMENDATIONS_CONFIGMAP }, 'recommendations ConfigMap updated (not applied; review it)');
    return 'updated';
  }
}
