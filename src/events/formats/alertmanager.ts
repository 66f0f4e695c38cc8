// Alertmanager v2 (POST /api/v2/alerts) body: one alert per security event, labelled for grouping
// by namespace, workload, rule id and severity. endsAt = startsAt + ALERT_DURATION_MS so an alert
// resolves by itself when the detections stop (Alertmanager's own resolve_timeout otherwise).
import type { SecurityEvent } from '../schema.js';

export const ALERT_DURATION_MS = 5 * 60_000;

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** The alert for one event; `source` becomes generatorURL when it is an http(s) URL. */
export function alertFor(e: SecurityEvent, source: string): AlertmanagerAlert {
  const top = e.rules.find((r) => r.disruptive) ?? e.rules[0];
  const labels: Record<string, string> = {
    alertname: 'SidewallSecurityEvent',
    verdict: e.verdict,
    severity: e.severity ?? 'unknown',
    rule_id: top ? String(top.id) : '0',
  };
  if (e.destination.namespace) labels.namespace = e.destination.namespace;
  const workload = e.destination.service ?? e.destination.pod;
  if (workload) labels.workload = workload;
  const start = Date.parse(e.time);
  const generator = /^https?:\/\//.test(source) ? source : `http://sidewall.invalid/events/${encodeURIComponent(e.id)}`;
  return {
    labels,
    annotations: {
      summary: `${e.verdict} ${e.request.method} ${e.request.host}${e.request.path}`.slice(0, 512),
      description: e.rules.map((r) => `${r.id} ${r.msg} (${r.matched_var})`).join('; ').slice(0, 2048),
      rule_ids: e.rules.map((r) => r.id).join(','),
      anomaly_score: String(e.anomaly_score),
      request_id: e.request_id,
      event_id: e.id,
      count: String(e.count),
    },
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + ALERT_DURATION_MS).toISOString(),
    generatorURL: generator,
  };
}

export function alertmanagerBody(jsons: readonly string[], source: string): string {
  return JSON.stringify(jsons.map((j) => alertFor(JSON.parse(j) as SecurityEvent, source)));
}
