// Jira "create issue" (POST /rest/api/2/issue) body: one issue per delivered batch, so a burst of
// detections opens one ticket, not hundreds (batch.max_events: 1 gives one issue per event).
//   {"fields": {"project": {"key"}, "issuetype": {"name"}, "summary", "description", "labels"}}
// The description is Jira wiki markup (API v2); request data is attacker-controlled, so every
// value is escaped and shown as monospace text, never as markup. Limits from Jira's documentation:
// summary <= 255 characters on one line, description <= 32,767, labels without spaces <= 255.
import type { SecurityEvent } from '../schema.js';

export interface JiraOptions {
  /** Project key, e.g. SEC. */
  projectKey: string;
  /** Issue type name, e.g. Task or Bug. */
  issueType: string;
  /** Extra labels on every issue. */
  labels: string[];
}

export const JIRA_LIMITS = { summary: 255, description: 32_767, label: 255, events: 50 };
export const JIRA_DEFAULT_ISSUE_TYPE = 'Task';

export interface JiraIssueBody {
  fields: {
    project: { key: string };
    issuetype: { name: string };
    summary: string;
    description: string;
    labels: string[];
  };
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** Monospace wiki text with every markup character escaped; one line. */
function mono(text: string): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ');
  const escaped = flat.replace(/[\\{}[\]|*_+^~!#\-?]/g, (c) => '\\' + c);
  return escaped === '' ? '(empty)' : '{{' + escaped + '}}';
}

/** Plain wiki text (rule messages): markup characters escaped, one line. */
function plain(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[\\{}[\]|*_+^~!#\-?]/g, (c) => '\\' + c);
}

/** Jira labels cannot contain spaces. */
export function jiraLabel(text: string): string {
  return cut(text.replace(/\s+/g, '_'), JIRA_LIMITS.label);
}

function workload(e: SecurityEvent): string {
  const d = e.destination;
  return [d.namespace, d.pod ?? d.service].filter(Boolean).join('/') || d.ip;
}

function eventSection(e: SecurityEvent, n: number): string {
  const d = e.destination;
  const rows: Array<[string, string]> = [
    ['Verdict', `${e.verdict}${e.staged ? ' (staged policy, not enforced)' : ''}, mode ${e.mode}${e.status !== undefined ? `, status ${e.status}` : ''}`],
    ['Rule ids', e.rules.map((r) => r.id).join(', ') || '(none)'],
    ['Anomaly score', String(e.anomaly_score) + (e.severity ? ` (${e.severity})` : '')],
    ['Request id', e.request_id],
    ['Request', `${e.request.method} ${e.request.host}${e.request.path} ${e.request.protocol}`],
    ['Namespace', d.namespace ?? '(unknown)'],
    ['Pod', d.pod ?? '(unknown)'],
    ['Service', d.service ?? '(unknown)'],
    ['Source', `${e.source.ip}${e.source.namespace ? ` (${e.source.namespace}${e.source.service_account ? '/' + e.source.service_account : ''})` : ''}`],
    ['Time', e.count > 1 && e.first_time ? `${e.first_time} .. ${e.time} (${e.count} detections)` : e.time],
    ['Event id', e.id],
  ];
  const lines = [`h3. ${n}. ${e.verdict === 'blocked' ? 'Blocked' : 'Detected'} ${mono(e.request.method + ' ' + e.request.path)} on ${mono(workload(e))}`, ''];
  for (const [k, v] of rows) lines.push(`||${k}|${mono(v)}|`);
  if (e.rules.length > 0) {
    lines.push('', '||Rule||Message||Matched variable||Matched data||');
    for (const r of e.rules) lines.push(`|${r.id}|${plain(r.msg) || ' '}|${mono(r.matched_var)}|${mono(r.matched_data)}|`);
  }
  return lines.join('\n');
}

function summaryOf(events: readonly SecurityEvent[]): string {
  if (events.length === 1) {
    const e = events[0]!;
    const ids = e.rules.map((r) => r.id).join(',');
    return `Sidewall ${e.staged ? 'staged ' : ''}${e.verdict}: ${e.request.method} ${e.request.path} on ${workload(e)} (rules ${ids})`;
  }
  const blocked = events.filter((e) => e.verdict === 'blocked').length;
  const where = [...new Set(events.map(workload))];
  return `Sidewall: ${events.length} security events (${blocked} blocked) on ${where.slice(0, 5).join(', ')}${where.length > 5 ? ', …' : ''}`;
}

function labelsOf(events: readonly SecurityEvent[], extra: readonly string[]): string[] {
  const set = new Set<string>(['sidewall', ...extra.map(jiraLabel)]);
  for (const e of events) {
    set.add(`sidewall-${e.verdict}`);
    if (e.staged) set.add('sidewall-staged');
    if (e.destination.namespace) set.add(jiraLabel(`namespace-${e.destination.namespace}`));
    for (const r of e.rules) set.add(`rule-${r.id}`);
  }
  return [...set];
}

export function jiraIssue(events: readonly SecurityEvent[], options: JiraOptions): JiraIssueBody {
  const shown = events.slice(0, JIRA_LIMITS.events);
  const parts = [
    `Sidewall reported ${events.length} security event${events.length === 1 ? '' : 's'}. Rule ids, request ids and workloads are listed below; the events themselves are in the Sidewall event log (search by event id).`,
    ...shown.map((e, i) => eventSection(e, i + 1)),
  ];
  if (events.length > shown.length) parts.push(`…and ${events.length - shown.length} more events (ids: ${events.slice(shown.length).map((e) => e.id).join(', ')})`);
  return {
    fields: {
      project: { key: options.projectKey },
      issuetype: { name: options.issueType },
      summary: cut(summaryOf(events).replace(/[\r\n\t]+/g, ' '), JIRA_LIMITS.summary),
      description: cut(parts.join('\n\n'), JIRA_LIMITS.description),
      labels: labelsOf(events, options.labels),
    },
  };
}

export function jiraBody(jsons: readonly string[], options: JiraOptions): string {
  return JSON.stringify(jiraIssue(jsons.map((j) => JSON.parse(j) as SecurityEvent), options));
}
