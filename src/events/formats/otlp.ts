// OTLP/HTTP logs, JSON encoding (POST /v1/logs to an OpenTelemetry Collector): one LogRecord per
// security event, grouped into one ResourceLogs per protected workload (k8s.namespace.name,
// k8s.pod.name, service.name resource attributes). ModSecurity severities map onto OTLP's
// SeverityNumber ranges (ERROR 17-20, FATAL 21-24, WARN 13-16, INFO 9-12, DEBUG 5-8).
import { EVENT_SCHEMA, type SecurityEvent, type SeverityName } from '../schema.js';

const SEVERITY_NUMBER: Record<SeverityName, number> = {
  emergency: 21, alert: 19, critical: 18, error: 17, warning: 13, notice: 10, info: 9, debug: 5,
};

type AnyValue = { stringValue: string } | { intValue: string } | { arrayValue: { values: AnyValue[] } };
interface KeyValue { key: string; value: AnyValue }

const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(v)) } });

function nanos(iso: string): string {
  return (BigInt(Date.parse(iso)) * 1_000_000n).toString();
}

export function logRecordFor(e: SecurityEvent): Record<string, unknown> {
  const attributes: KeyValue[] = [
    str('event.name', 'sidewall.security_event'),
    str('sidewall.event.id', e.id),
    str('sidewall.verdict', e.verdict),
    str('sidewall.mode', e.mode),
    int('sidewall.anomaly_score', e.anomaly_score),
    int('sidewall.count', e.count),
    { key: 'sidewall.rule_ids', value: { arrayValue: { values: e.rules.map((r) => ({ intValue: String(r.id) })) } } },
    str('http.request.method', e.request.method),
    str('url.path', e.request.path),
    str('server.address', e.request.host),
    str('client.address', e.source.ip),
    int('client.port', e.source.port),
    str('http.request.header.x-request-id', e.request_id),
  ];
  if (e.status !== undefined) attributes.push(int('http.response.status_code', e.status));
  if (e.source.namespace) attributes.push(str('sidewall.source.namespace', e.source.namespace));
  const record: Record<string, unknown> = {
    timeUnixNano: nanos(e.time),
    observedTimeUnixNano: (BigInt(Date.now()) * 1_000_000n).toString(),
    body: { stringValue: JSON.stringify(e) },
    attributes,
  };
  if (e.severity) {
    record.severityNumber = SEVERITY_NUMBER[e.severity];
    record.severityText = e.severity.toUpperCase();
  }
  return record;
}

export function otlpLogsBody(jsons: readonly string[]): string {
  const groups = new Map<string, { attrs: KeyValue[]; records: Array<Record<string, unknown>> }>();
  for (const j of jsons) {
    const e = JSON.parse(j) as SecurityEvent;
    const d = e.destination;
    const key = JSON.stringify([d.namespace, d.pod, d.service]);
    let g = groups.get(key);
    if (g === undefined) {
      const attrs: KeyValue[] = [str('service.name', d.service ?? 'sidewall'), str('telemetry.sdk.name', 'sidewall')];
      if (d.namespace) attrs.push(str('k8s.namespace.name', d.namespace));
      if (d.pod) attrs.push(str('k8s.pod.name', d.pod));
      g = { attrs, records: [] };
      groups.set(key, g);
    }
    g.records.push(logRecordFor(e));
  }
  return JSON.stringify({
    resourceLogs: [...groups.values()].map((g) => ({
      resource: { attributes: g.attrs },
      scopeLogs: [{ scope: { name: 'sidewall', version: EVENT_SCHEMA }, logRecords: g.records }],
    })),
  });
}
