// Keeps each namespace's effective policy (last valid values per annotation) and its rendered
// `sidewall-settings` ConfigMap in step with the namespace's annotations and exclusions ConfigMap.
//
// - enabled namespace: ConfigMap created, or updated only when its data changed;
// - disabled namespace that has one of our ConfigMaps: rewritten with `waf: disabled`, so running
//   sidecars stop evaluating without a restart (deleting it would leave them on stale files);
// - invalid annotation values: Warning Event on the namespace + log + metric, once per distinct
//   problem; the previous valid value stays (also across controller restarts: it is read back
//   from the ConfigMap we wrote).
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import {
  DEFAULT_SETTINGS,
  describeProblem,
  resolveNamespacePolicy,
  type AnnotationProblem,
  type NamespacePolicy,
} from './annotations.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { KubeApiError, seg, type KubeClient } from './kube-client.js';
import type { NamespaceObject } from './namespace-watcher.js';
import {
  EXCLUSIONS_FILE,
  STAGED_EXCLUSIONS_FILE,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SETTINGS_CONFIGMAP,
  SETTINGS_FILE,
  exclusionsFromConfigMap,
  parseRenderedSettings,
  renderSettingsConfigMap,
  sameData,
  type ConfigMapLike,
} from './settings-render.js';

export const EVENT_COMPONENT = 'sidewall-controller';

interface NamespaceState {
  policy: NamespacePolicy;
  uid?: string;
  /** Problems already reported (one Event per distinct problem). */
  reported: Set<string>;
  /** Data of the ConfigMap as last written or seen, null = none of ours exists. */
  written: Record<string, string> | null;
}

export interface SettingsControllerOptions {
  client: KubeClient;
  logger: Logger;
  metrics: ControllerMetrics;
}

export class SettingsController {
  private readonly state = new Map<string, NamespaceState>();
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics;

  constructor(options: SettingsControllerOptions) {
    this.client = options.client;
    this.log = options.logger;
    this.metrics = options.metrics;
  }

  /** The last valid policy of a namespace; null when it was never seen. */
  policy(namespace: string): NamespacePolicy | null {
    return this.state.get(namespace)?.policy ?? null;
  }

  /** Handles the complete set after a (re-)list. */
  async sync(namespaces: NamespaceObject[]): Promise<void> {
    const names = new Set(namespaces.map((n) => n.metadata.name));
    for (const name of [...this.state.keys()]) if (!names.has(name)) this.state.delete(name);
    for (const ns of namespaces) await this.upsert(ns);
    this.updateGauge();
  }

  async remove(ns: NamespaceObject): Promise<void> {
    this.state.delete(ns.metadata.name);
    this.updateGauge();
  }

  async upsert(ns: NamespaceObject): Promise<void> {
    const name = ns.metadata.name;
    if (ns.metadata.deletionTimestamp) return; // terminating: nothing may be created in it
    try {
      let st = this.state.get(name);
      if (!st) {
        // First sight (or controller restart): the ConfigMap we wrote before holds the last valid values.
        const existing = await this.getSettingsConfigMap(name);
        const previous = existing ? previousPolicy(existing) : null;
        st = { policy: previous ?? { settings: { ...DEFAULT_SETTINGS }, injection: {} }, reported: new Set(), written: existing ? ours(existing) : null };
        this.state.set(name, st);
      }
      const { policy, problems } = resolveNamespacePolicy(ns.metadata.annotations, st.policy);
      st.policy = policy;
      if (ns.metadata.uid !== undefined) st.uid = ns.metadata.uid;
      await this.report(name, st, problems);
      await this.render(name, st, false);
    } catch (err) {
      this.metrics.reconcileError();
      this.log.error({ namespace: name, err: (err as Error).message }, 'reconcile failed; retried on the next resync');
    }
    this.updateGauge();
  }

  /**
   * Periodic pass over the namespaces that have (or need) a ConfigMap: re-reads exclusion
   * ConfigMaps (their changes raise no namespace event) and repairs edited or deleted ConfigMaps.
   */
  async resync(): Promise<void> {
    for (const [name, st] of this.state) {
      if (st.policy.settings.waf !== 'enabled' && st.written === null) continue;
      try {
        await this.render(name, st, true);
      } catch (err) {
        this.metrics.reconcileError();
        this.log.error({ namespace: name, err: (err as Error).message }, 'resync failed');
      }
    }
  }

  private updateGauge(): void {
    let n = 0;
    for (const st of this.state.values()) if (st.policy.settings.waf === 'enabled') n++;
    this.metrics.setEnabledNamespaces(n);
  }

  private getSettingsConfigMap(namespace: string): Promise<ConfigMapLike | null> {
    return this.client.getOrNull<ConfigMapLike>(`/api/v1/namespaces/${seg(namespace)}/configmaps/${SETTINGS_CONFIGMAP}`);
  }

  /** Writes the ConfigMap when its data would change. `verify` = read the live object first. */
  private async render(name: string, st: NamespaceState, verify: boolean): Promise<void> {
    const s = st.policy.settings;
    if (s.waf !== 'enabled' && st.written === null && !verify) return; // disabled and never ours: nothing to do
    const exclusions = await this.exclusions(name, st, s.exclusions, 'sidewall.io/exclusions', EXCLUSIONS_FILE);
    const staged = await this.exclusions(name, st, s.staged?.exclusions, 'sidewall.io/staged-exclusions', STAGED_EXCLUSIONS_FILE);
    const desired = renderSettingsConfigMap(name, s, exclusions, staged);
    if (!verify && st.written !== null && sameData(st.written, desired.data!)) return;

    const live = await this.getSettingsConfigMap(name);
    if (live === null) {
      if (s.waf !== 'enabled') {
        st.written = null;
        return;
      }
      try {
        await this.client.request('POST', `/api/v1/namespaces/${seg(name)}/configmaps`, desired);
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409) return this.render(name, st, true); // raced: re-read
        throw err;
      }
      st.written = desired.data!;
      this.metrics.settingsWrite('create');
      this.log.info({ namespace: name, waf: s.waf, mode: s.mode }, 'settings ConfigMap created');
      return;
    }
    if (live.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
      st.written = null;
      await this.report(name, st, [
        { key: SETTINGS_CONFIGMAP, value: SETTINGS_CONFIGMAP, problem: `ConfigMap exists without label ${MANAGED_BY_LABEL}=${MANAGED_BY}; not overwriting it` },
      ]);
      return;
    }
    if (sameData(live.data, desired.data!)) {
      st.written = desired.data!;
      return;
    }
    const body = { ...desired, metadata: { ...desired.metadata, resourceVersion: live.metadata?.resourceVersion } };
    try {
      await this.client.request('PUT', `/api/v1/namespaces/${seg(name)}/configmaps/${SETTINGS_CONFIGMAP}`, body);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409) return this.render(name, st, true); // changed under us: retry on fresh data
      throw err;
    }
    st.written = desired.data!;
    this.metrics.settingsWrite('update');
    this.log.info({ namespace: name, waf: s.waf, mode: s.mode }, 'settings ConfigMap updated');
  }

  /** The namespace's exclusion rules; a missing ConfigMap keeps the rules rendered before. */
  private async exclusions(name: string, st: NamespaceState, cmName: string | undefined, key: string, file: string): Promise<string> {
    if (cmName === undefined) return '';
    const cm = await this.client.getOrNull<ConfigMapLike>(`/api/v1/namespaces/${seg(name)}/configmaps/${seg(cmName)}`);
    if (cm === null) {
      await this.report(name, st, [
        { key, value: cmName, problem: 'ConfigMap not found; the exclusion rules rendered before stay in force' },
      ]);
      return st.written?.[file] ?? '';
    }
    return exclusionsFromConfigMap(cm);
  }

  private async report(namespace: string, st: NamespaceState, problems: AnnotationProblem[]): Promise<void> {
    const current = new Set<string>();
    for (const p of problems) {
      const text = describeProblem(p);
      current.add(text);
      if (st.reported.has(text)) continue;
      this.metrics.invalidAnnotation(p.key);
      this.log.warn({ namespace, annotation: p.key, value: p.value, problem: p.problem }, 'invalid sidewall annotation; previous valid setting stays');
      await this.event(namespace, st.uid, text);
    }
    // Only this pass's problems are remembered, so fixing and re-breaking a value reports again.
    st.reported = current;
  }

  private async event(namespace: string, uid: string | undefined, message: string): Promise<void> {
    const now = new Date().toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'sidewall-', namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Namespace', name: namespace, ...(uid ? { uid } : {}) },
      reason: 'InvalidAnnotation',
      message,
      type: 'Warning',
      source: { component: EVENT_COMPONENT },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: hostname(),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.request('POST', `/api/v1/namespaces/${seg(namespace)}/events`, event);
    } catch (err) {
      // An Event is best effort: the log line and the metric were already recorded.
      this.log.warn({ namespace, err: (err as Error).message }, 'cannot create event');
    }
  }
}

/** Our ConfigMap's data, or null when the object is not ours. */
function ours(cm: ConfigMapLike): Record<string, string> | null {
  return cm.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY ? { ...(cm.data ?? {}) } : null;
}

function previousPolicy(cm: ConfigMapLike): NamespacePolicy | null {
  if (ours(cm) === null) return null;
  const text = cm.data?.[SETTINGS_FILE];
  const settings = text === undefined ? null : parseRenderedSettings(text);
  return settings ? { settings, injection: {} } : null;
}
