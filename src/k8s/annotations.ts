// The `sidewall.io/*` annotation model: parsing, validation and the namespace → pod override.
//
// Namespaces carry the settings; the same keys on a pod override its namespace. An invalid value
// never takes effect: the namespace keeps its previous valid value for that key (or the default),
// and the problem is reported (the caller turns problems into an Event, a log line and a metric).
import type { SettingsMode, SettingsValues, WafSwitch } from '../settings/values.js';

export const ANNOTATION_PREFIX = 'sidewall.io/';

/** WAF settings keys (rendered into the namespace's sidewall-settings ConfigMap). */
export const A_WAF = 'sidewall.io/waf';
export const A_MODE = 'sidewall.io/mode';
export const A_PARANOIA = 'sidewall.io/paranoia-level';
export const A_ANOMALY = 'sidewall.io/anomaly-threshold';
export const A_EXCLUSIONS = 'sidewall.io/exclusions';
export const A_EVENTS_WEBHOOK = 'sidewall.io/events-webhook';
/** Staged policy keys (src/settings/staged.ts): evaluated in shadow, never enforced. */
export const A_STAGED_MODE = 'sidewall.io/staged-mode';
export const A_STAGED_PARANOIA = 'sidewall.io/staged-paranoia-level';
export const A_STAGED_ANOMALY = 'sidewall.io/staged-anomaly-threshold';
export const A_STAGED_EXCLUSIONS = 'sidewall.io/staged-exclusions';
export const A_STAGED_SAMPLE_RATE = 'sidewall.io/staged-sample-rate';
/** Injection policy keys (baked into the pod at injection time). */
export const A_INJECT = 'sidewall.io/inject';
export const A_FAIL_OPEN = 'sidewall.io/fail-open';
export const A_MAX_REQUEST_BYTES = 'sidewall.io/max-request-bytes';
export const A_ALLOW_PARTIAL = 'sidewall.io/allow-partial-message';
export const A_EXCLUDE_INBOUND_PORTS = 'sidewall.io/exclude-inbound-ports';
/** Set by the injector on the pods it changed. */
export const A_STATUS = 'sidewall.io/status';

export const KNOWN_ANNOTATIONS = [
  A_WAF,
  A_MODE,
  A_PARANOIA,
  A_ANOMALY,
  A_EXCLUSIONS,
  A_EVENTS_WEBHOOK,
  A_STAGED_MODE,
  A_STAGED_PARANOIA,
  A_STAGED_ANOMALY,
  A_STAGED_EXCLUSIONS,
  A_STAGED_SAMPLE_RATE,
  A_INJECT,
  A_FAIL_OPEN,
  A_MAX_REQUEST_BYTES,
  A_ALLOW_PARTIAL,
  A_EXCLUDE_INBOUND_PORTS,
  A_STATUS,
] as const;

export type WafState = WafSwitch;
export type WafMode = SettingsMode;

/** The effective WAF settings of a namespace (what settings.yaml says). */
export interface WafSettings {
  waf: WafState;
  mode: WafMode;
  paranoiaLevel: number;
  /** undefined = the ruleset's own default. */
  anomalyThreshold?: number;
  /** Name of the exclusions ConfigMap in the namespace. */
  exclusions?: string;
  /** Name of the events webhook Secret in the namespace. */
  eventsWebhook?: string;
  /** The staged policy; absent = nothing staged. */
  staged?: StagedSettings;
}

/** Staged keys (each absent = same as enforced); rendered as staged_* in settings.yaml. */
export interface StagedSettings {
  mode?: WafMode;
  paranoiaLevel?: number;
  anomalyThreshold?: number;
  /** Name of the ConfigMap holding the staged exclusions (replacing `exclusions` when staged). */
  exclusions?: string;
  sampleRate?: number;
}

/** Injection-time policy (Envoy filter settings, redirection). undefined = controller default. */
export interface InjectionPolicy {
  failOpen?: boolean;
  maxRequestBytes?: number;
  allowPartialMessage?: boolean;
  excludeInboundPorts?: number[];
}

export interface NamespacePolicy {
  settings: WafSettings;
  injection: InjectionPolicy;
}

export const DEFAULT_SETTINGS: Readonly<WafSettings> = Object.freeze({ waf: 'disabled', mode: 'detect', paranoiaLevel: 1 });

/** One rejected annotation value. */
export interface AnnotationProblem {
  key: string;
  value: string;
  problem: string;
}

export function describeProblem(p: AnnotationProblem): string {
  return `${p.key}: ${p.problem} (got ${JSON.stringify(p.value)})`;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function oneOf<T extends string>(allowed: readonly T[]): (text: string) => Parsed<T> {
  return (text) =>
    (allowed as readonly string[]).includes(text)
      ? { ok: true, value: text as T }
      : { ok: false, problem: `must be one of ${allowed.join(', ')}` };
}

function integer(min: number, max: number): (text: string) => Parsed<number> {
  return (text) => {
    if (!/^[0-9]{1,10}$/.test(text)) return { ok: false, problem: `must be an integer ${min}..${max}` };
    const n = Number(text);
    return n >= min && n <= max ? { ok: true, value: n } : { ok: false, problem: `must be an integer ${min}..${max}` };
  };
}

function boolean(text: string): Parsed<boolean> {
  if (text === 'true') return { ok: true, value: true };
  if (text === 'false') return { ok: true, value: false };
  return { ok: false, problem: 'must be true or false' };
}

// RFC 1123 DNS subdomain, as Kubernetes requires of ConfigMap and Secret names.
function objectName(text: string): Parsed<string> {
  return text.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, problem: 'must be the name of an object in the namespace (lower-case RFC 1123 subdomain)' };
}

function sampleRate(text: string): Parsed<number> {
  const n = /^(?:0|1)?(?:\.[0-9]{1,9})?$|^1$/.test(text) && text !== '' && text !== '.' ? Number(text) : NaN;
  return n > 0 && n <= 1 ? { ok: true, value: n } : { ok: false, problem: 'must be a number greater than 0 and at most 1 (e.g. 0.1)' };
}

function portList(text: string): Parsed<number[]> {
  const ports: number[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const parsed = integer(1, 65535)(p);
    if (!parsed.ok) return { ok: false, problem: 'must be a comma-separated list of ports 1..65535' };
    if (!ports.includes(parsed.value)) ports.push(parsed.value);
  }
  return { ok: true, value: ports.sort((a, b) => a - b) };
}

const parseWaf = oneOf<WafState>(['enabled', 'disabled']);
const parseMode = oneOf<WafMode>(['block', 'detect']);
const parseParanoia = integer(1, 4);
const parseAnomaly = integer(1, 10000);
const parseMaxBytes = integer(1, 64 * 1024 * 1024);

/** Collects values and problems while reading one annotation map. */
class Reader {
  readonly problems: AnnotationProblem[] = [];
  constructor(private readonly annotations: Record<string, string>) {}

  read<T>(key: string, parse: (text: string) => Parsed<T>): T | undefined {
    const raw = this.annotations[key];
    if (raw === undefined) return undefined;
    const parsed = parse(raw.trim());
    if (parsed.ok) return parsed.value;
    this.problems.push({ key, value: raw, problem: parsed.problem });
    return undefined;
  }

  /** Unknown sidewall.io/ keys are reported too: a typo must not silently do nothing. */
  checkUnknown(): void {
    for (const key of Object.keys(this.annotations)) {
      if (key.startsWith(ANNOTATION_PREFIX) && !(KNOWN_ANNOTATIONS as readonly string[]).includes(key)) {
        this.problems.push({ key, value: this.annotations[key]!, problem: 'unknown sidewall.io annotation' });
      }
    }
  }
}

/** What one annotation map sets, validated; absent or invalid keys are undefined. */
export interface AnnotationValues {
  waf?: WafState;
  mode?: WafMode;
  paranoiaLevel?: number;
  anomalyThreshold?: number;
  exclusions?: string;
  eventsWebhook?: string;
  staged: StagedSettings;
  inject?: boolean;
  injection: InjectionPolicy;
  problems: AnnotationProblem[];
}

export function readAnnotations(annotations: Record<string, string> | undefined | null): AnnotationValues {
  const r = new Reader(annotations ?? {});
  const injection: InjectionPolicy = {};
  const failOpen = r.read(A_FAIL_OPEN, boolean);
  if (failOpen !== undefined) injection.failOpen = failOpen;
  const maxBytes = r.read(A_MAX_REQUEST_BYTES, parseMaxBytes);
  if (maxBytes !== undefined) injection.maxRequestBytes = maxBytes;
  const partial = r.read(A_ALLOW_PARTIAL, boolean);
  if (partial !== undefined) injection.allowPartialMessage = partial;
  const ports = r.read(A_EXCLUDE_INBOUND_PORTS, portList);
  if (ports !== undefined) injection.excludeInboundPorts = ports;
  const staged: StagedSettings = {};
  const stagedMode = r.read(A_STAGED_MODE, parseMode);
  if (stagedMode !== undefined) staged.mode = stagedMode;
  const stagedParanoia = r.read(A_STAGED_PARANOIA, parseParanoia);
  if (stagedParanoia !== undefined) staged.paranoiaLevel = stagedParanoia;
  const stagedAnomaly = r.read(A_STAGED_ANOMALY, parseAnomaly);
  if (stagedAnomaly !== undefined) staged.anomalyThreshold = stagedAnomaly;
  const stagedExclusions = r.read(A_STAGED_EXCLUSIONS, objectName);
  if (stagedExclusions !== undefined) staged.exclusions = stagedExclusions;
  const stagedRate = r.read(A_STAGED_SAMPLE_RATE, sampleRate);
  if (stagedRate !== undefined) staged.sampleRate = stagedRate;
  const values: AnnotationValues = {
    waf: r.read(A_WAF, parseWaf),
    mode: r.read(A_MODE, parseMode),
    paranoiaLevel: r.read(A_PARANOIA, parseParanoia),
    anomalyThreshold: r.read(A_ANOMALY, parseAnomaly),
    exclusions: r.read(A_EXCLUSIONS, objectName),
    eventsWebhook: r.read(A_EVENTS_WEBHOOK, objectName),
    staged,
    inject: r.read(A_INJECT, boolean),
    injection,
    problems: r.problems,
  };
  r.checkUnknown();
  return values;
}

/**
 * A namespace's effective policy from its annotations. A key with an invalid value keeps its
 * value from `previous` (the last valid policy), else the default; an absent key takes the default
 * (removing an annotation is a valid change).
 */
export function resolveNamespacePolicy(
  annotations: Record<string, string> | undefined | null,
  previous: NamespacePolicy | null,
): { policy: NamespacePolicy; problems: AnnotationProblem[] } {
  const a = annotations ?? {};
  const v = readAnnotations(a);
  const invalid = new Set(v.problems.map((p) => p.key));
  const prev = previous?.settings;
  const pick = <T>(key: string, value: T | undefined, prevValue: T | undefined, dflt: T | undefined): T | undefined =>
    value !== undefined ? value : invalid.has(key) ? (prevValue ?? dflt) : dflt;
  const settings: WafSettings = {
    waf: pick(A_WAF, v.waf, prev?.waf, DEFAULT_SETTINGS.waf)!,
    mode: pick(A_MODE, v.mode, prev?.mode, DEFAULT_SETTINGS.mode)!,
    paranoiaLevel: pick(A_PARANOIA, v.paranoiaLevel, prev?.paranoiaLevel, DEFAULT_SETTINGS.paranoiaLevel)!,
  };
  const anomaly = pick(A_ANOMALY, v.anomalyThreshold, prev?.anomalyThreshold, undefined);
  if (anomaly !== undefined) settings.anomalyThreshold = anomaly;
  const exclusions = pick(A_EXCLUSIONS, v.exclusions, prev?.exclusions, undefined);
  if (exclusions !== undefined) settings.exclusions = exclusions;
  const webhook = pick(A_EVENTS_WEBHOOK, v.eventsWebhook, prev?.eventsWebhook, undefined);
  if (webhook !== undefined) settings.eventsWebhook = webhook;

  const ps = prev?.staged ?? {};
  const staged: StagedSettings = {};
  const stMode = pick(A_STAGED_MODE, v.staged.mode, ps.mode, undefined);
  if (stMode !== undefined) staged.mode = stMode;
  const stParanoia = pick(A_STAGED_PARANOIA, v.staged.paranoiaLevel, ps.paranoiaLevel, undefined);
  if (stParanoia !== undefined) staged.paranoiaLevel = stParanoia;
  const stAnomaly = pick(A_STAGED_ANOMALY, v.staged.anomalyThreshold, ps.anomalyThreshold, undefined);
  if (stAnomaly !== undefined) staged.anomalyThreshold = stAnomaly;
  const stExclusions = pick(A_STAGED_EXCLUSIONS, v.staged.exclusions, ps.exclusions, undefined);
  if (stExclusions !== undefined) staged.exclusions = stExclusions;
  const stRate = pick(A_STAGED_SAMPLE_RATE, v.staged.sampleRate, ps.sampleRate, undefined);
  if (stRate !== undefined) staged.sampleRate = stRate;
  if (Object.keys(staged).length > 0) settings.staged = staged;

  const pi = previous?.injection ?? {};
  const injection: InjectionPolicy = {};
  const failOpen = pick(A_FAIL_OPEN, v.injection.failOpen, pi.failOpen, undefined);
  if (failOpen !== undefined) injection.failOpen = failOpen;
  const maxBytes = pick(A_MAX_REQUEST_BYTES, v.injection.maxRequestBytes, pi.maxRequestBytes, undefined);
  if (maxBytes !== undefined) injection.maxRequestBytes = maxBytes;
  const partial = pick(A_ALLOW_PARTIAL, v.injection.allowPartialMessage, pi.allowPartialMessage, undefined);
  if (partial !== undefined) injection.allowPartialMessage = partial;
  const ports = pick(A_EXCLUDE_INBOUND_PORTS, v.injection.excludeInboundPorts, pi.excludeInboundPorts, undefined);
  if (ports !== undefined) injection.excludeInboundPorts = ports;
  return { policy: { settings, injection }, problems: v.problems };
}

/** What `--pod-settings` carries (the contract with the Sidewall container, src/settings). */
export type PodSettingsOverride = SettingsValues;

/** A pod's effective policy: its own valid annotations over its namespace's policy. */
export interface PodPolicy {
  settings: WafSettings;
  injection: InjectionPolicy;
  /** Only what the pod's own annotations set (passed as --pod-settings). */
  podSettings: PodSettingsOverride;
  /** sidewall.io/inject=false on the pod. */
  optedOut: boolean;
  problems: AnnotationProblem[];
}

export function resolvePodPolicy(podAnnotations: Record<string, string> | undefined | null, ns: NamespacePolicy): PodPolicy {
  const v = readAnnotations(podAnnotations);
  const problems = [...v.problems];
  const settings: WafSettings = { ...ns.settings };
  const podSettings: PodSettingsOverride = {};
  if (v.waf !== undefined) settings.waf = podSettings.waf = v.waf;
  if (v.mode !== undefined) settings.mode = podSettings.mode = v.mode;
  if (v.paranoiaLevel !== undefined) settings.paranoiaLevel = podSettings.paranoiaLevel = v.paranoiaLevel;
  if (v.anomalyThreshold !== undefined) settings.anomalyThreshold = podSettings.anomalyThreshold = v.anomalyThreshold;
  if (v.eventsWebhook !== undefined) settings.eventsWebhook = v.eventsWebhook;
  // Staged keys on a pod go to --pod-settings like the enforced ones (staged exclusions excepted).
  const st = v.staged;
  if (st.mode !== undefined || st.paranoiaLevel !== undefined || st.anomalyThreshold !== undefined || st.sampleRate !== undefined) {
    const merged: StagedSettings = { ...(settings.staged ?? {}) };
    if (st.mode !== undefined) merged.mode = podSettings.stagedMode = st.mode;
    if (st.paranoiaLevel !== undefined) merged.paranoiaLevel = podSettings.stagedParanoiaLevel = st.paranoiaLevel;
    if (st.anomalyThreshold !== undefined) merged.anomalyThreshold = podSettings.stagedAnomalyThreshold = st.anomalyThreshold;
    if (st.sampleRate !== undefined) merged.sampleRate = podSettings.stagedSampleRate = st.sampleRate;
    settings.staged = merged;
  }
  if (st.exclusions !== undefined) {
    problems.push({ key: A_STAGED_EXCLUSIONS, value: st.exclusions, problem: 'is a namespace annotation only (ignored on a pod)' });
  }
  // Exclusion rules are rendered per namespace into the settings ConfigMap; a pod cannot bring its own.
  if (v.exclusions !== undefined) {
    problems.push({ key: A_EXCLUSIONS, value: v.exclusions, problem: 'is a namespace annotation only (ignored on a pod)' });
  }
  return {
    settings,
    injection: { ...ns.injection, ...v.injection },
    podSettings,
    optedOut: v.inject === false,
    problems,
  };
}

/** Parses `k=v,k2=v2` (the --namespace-annotations flag). Throws with the offending item named. */
export function parseKeyValueList(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`${flag}: expected key=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}
