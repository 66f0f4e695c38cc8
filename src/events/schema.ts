// The security event: what one detection (or an aggregate of identical detections) looks
// like to log collectors and webhook consumers. Versioned; documented in README
// ("Security events"). Additive changes keep the version; renames or removals bump it.
import type { EngineMode, RuleMatch, Verdict } from '../engine/api.js';
import type { CheckContext } from '../server/check-mapper.js';
import type { StagedDescription } from '../settings/staged.js';

export const EVENT_SCHEMA = 'sidewall.security_event/v1';
export const EVENT_SCHEMA_VERSION = 1;
/** CloudEvents `type` of every security event. */
export const CLOUDEVENTS_TYPE = 'io.sidewall.security.v1';

/** Syslog-style severity names, index = ModSecurity severity number (0 most severe). */
export const SEVERITY_NAMES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];

export interface EventPeer {
  ip: string;
  port: number;
  namespace?: string;
  pod?: string;
  service?: string;
  /** Envoy peer principal as sent (e.g. spiffe://cluster.local/ns/shop/sa/web). */
  principal?: string;
  /** Service account from a SPIFFE principal. */
  service_account?: string;
}

export interface EventRule {
  id: number;
  msg: string;
  /** Severity name, absent when the rule sets none. */
  severity?: SeverityName;
  tags: string[];
  /** From the rule's `paranoia-level/N` tag, absent when it has none. */
  paranoia_level?: number;
  matched_var: string;
  /** At most 200 bytes; "[redacted]" for secret-bearing variables. */
  matched_data: string;
  disruptive: boolean;
}

export interface SecurityEvent {
  schema: typeof EVENT_SCHEMA;
  /** UUID; consumers dedup on it (delivery is at-least-once). */
  id: string;
  /** RFC 3339 time of the (last) detection. */
  time: string;
  request_id: string;
  verdict: 'blocked' | 'detected';
  mode: EngineMode;
  /** HTTP status sent to the client when blocked. */
  status?: number;
  anomaly_score: number;
  /** Most severe severity among the matched rules, absent when none sets one. */
  severity?: SeverityName;
  /** Detections this event stands for: 1, or the repeats folded in by aggregation. */
  count: number;
  /** Aggregates only: time of the first folded detection. */
  first_time?: string;
  /** Aggregates only: the window in milliseconds. */
  window_ms?: number;
  source: EventPeer;
  destination: EventPeer;
  request: {
    method: string;
    host: string;
    /** Path and query; values of secret-named parameters are "[redacted]". */
    path: string;
    protocol: string;
  };
  rules: EventRule[];
  /**
   * Present (true) only on events of a staged policy evaluated in shadow: the verdict is what the
   * staged policy would have done; the request was answered by the enforced policy.
   */
  staged?: true;
  /** Staged events: what was staged (mode, paranoia_level, anomaly_threshold, exclusions, sample_rate). */
  staged_policy?: StagedDescription;
  /** Staged events: the enforced policy's action on the same request (allow, deny, detect). */
  enforced_action?: 'allow' | 'deny' | 'detect';
  /** Staged events: would_block / would_allow when the staged policy answers differently. */
  disagreement?: 'would_block' | 'would_allow';
}

/**
 * What the Check hot path hands to the pipeline: references only, no copying or formatting.
 * (The request object itself is not kept: it holds the body.)
 */
export interface Detection {
  /** Date.now() at the verdict. */
  timeMs: number;
  verdict: Verdict;
  context: CheckContext;
  method: string;
  uri: string;
  protocol: string;
  /** Set for a staged policy's shadow verdict (src/server/shadow.ts). */
  staged?: { policy: StagedDescription; enforced: 'allow' | 'deny' | 'detect'; disagreement: 'would_block' | 'would_allow' | null };
}

export function severityName(level: number | null): SeverityName | undefined {
  return level !== null && level >= 0 && level < SEVERITY_NAMES.length ? SEVERITY_NAMES[level] : undefined;
}

/** Severity name → number (0 most severe); -1 when unknown. */
export function severityLevel(name: string): number {
  return (SEVERITY_NAMES as readonly string[]).indexOf(name.toLowerCase());
}

export type { RuleMatch };
