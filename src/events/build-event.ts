// Detection (references captured on the hot path) → SecurityEvent (redacted, formatted).
// Runs off the Check path, in the pipeline's drain.
import { randomUUID } from 'node:crypto';
import type { PeerInfo } from '../server/check-mapper.js';
import { byteText, redactMatchedData, redactPath } from './redact.js';
import { EVENT_SCHEMA, severityName, type Detection, type EventPeer, type EventRule, type RuleMatch, type SecurityEvent } from './schema.js';

export const MATCHED_DATA_MAX = 200;
const TEXT_MAX = 1024;
const PATH_MAX = 2048;
const SPIFFE = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)/;
const PARANOIA_TAG = /^paranoia-level\/(\d+)$/;

function peer(info: PeerInfo, workload: { namespace?: string; pod?: string; service?: string }): EventPeer {
  const out: EventPeer = { ip: info.address, port: info.port };
  let namespace = workload.namespace;
  if (info.principal) {
    out.principal = info.principal;
    const m = SPIFFE.exec(info.principal);
    if (m) {
      namespace ??= m[1];
      out.service_account = m[2];
    }
  }
  if (namespace) out.namespace = namespace;
  if (workload.pod) out.pod = workload.pod;
  const service = workload.service || info.service;
  if (service) out.service = service;
  return out;
}

function rule(m: RuleMatch): EventRule {
  const out: EventRule = {
    id: m.id,
    msg: byteText(m.msg, TEXT_MAX),
    tags: m.tags.length > 0 ? m.tags.map((t) => byteText(t, TEXT_MAX)) : [],
    matched_var: byteText(m.matchedVar, TEXT_MAX),
    matched_data: redactMatchedData(m.matchedVar, m.matchedData, MATCHED_DATA_MAX),
    disruptive: m.disruptive,
  };
  const severity = severityName(m.severity);
  if (severity) out.severity = severity;
  for (const t of m.tags) {
    const p = PARANOIA_TAG.exec(t);
    if (p) {
      out.paranoia_level = Number(p[1]);
      break;
    }
  }
  return out;
}

/**
 * The event for one detection. The protected workload (destination) is named by Envoy's
 * context_extensions (namespace, pod, service), the calling one (source) by its peer
 * principal (SPIFFE ns/sa) and optional source_namespace / source_pod / source_service
 * extensions.
 */
export function buildEvent(d: Detection): SecurityEvent {
  const v = d.verdict;
  const ext = d.context.contextExtensions;
  let minSeverity = 99;
  const rules: EventRule[] = new Array(v.matches.length);
  for (let i = 0; i < v.matches.length; i++) {
    const m = v.matches[i]!;
    rules[i] = rule(m);
    if (m.severity !== null && m.severity < minSeverity) minSeverity = m.severity;
  }
  const blocked = v.action === 'deny';
  const event: SecurityEvent = {
    schema: EVENT_SCHEMA,
    id: randomUUID(),
    time: new Date(d.timeMs).toISOString(),
    request_id: d.context.requestId,
    verdict: blocked ? 'blocked' : 'detected',
    mode: v.mode,
    anomaly_score: v.anomalyScore,
    count: 1,
    source: peer(d.context.source, { namespace: ext.source_namespace, pod: ext.source_pod, service: ext.source_service }),
    destination: peer(d.context.destination, { namespace: ext.namespace, pod: ext.pod, service: ext.service }),
    request: {
      method: byteText(d.method, 32),
      host: d.context.host.length > TEXT_MAX ? d.context.host.slice(0, TEXT_MAX) : d.context.host,
      path: byteText(redactPath(d.uri), PATH_MAX),
      protocol: byteText(d.protocol, 32),
    },
    rules,
  };
  if (d.staged !== undefined) {
    event.staged = true;
    event.staged_policy = d.staged.policy;
    event.enforced_action = d.staged.enforced;
    if (d.staged.disagreement !== null) event.disagreement = d.staged.disagreement;
    // The staged policy's "blocked" is hypothetical: no status was sent to the client by it.
  }
  if (blocked && d.staged === undefined) event.status = v.status >= 200 && v.status <= 599 ? v.status : 403;
  const severity = severityName(minSeverity === 99 ? null : minSeverity);
  if (severity) event.severity = severity;
  return event;
}
