// The explanation as text for a person, or as one JSON document for a program.
import type { HttpRequest, Verdict } from '../engine/api.js';
import type { EvaluationTrace, TraceRule, TraceValue } from '../engine/trace.js';
import { SEVERITY_NAMES } from '../events/schema.js';

export interface Explanation {
  request: HttpRequest;
  notes: string[];
  ruleset: { source: string; mode: string; rules: number; paranoiaLevel: number | null; anomalyThreshold: number | null };
  verdict: Verdict;
  trace: EvaluationTrace;
}

const PHASE_NAMES: Record<number, string> = { 1: 'request headers', 2: 'request body', 5: 'logging' };
const ARG_MAX = 120;

/** Byte string -> printable text: control and non-ASCII bytes as \xNN, quoted. */
export function quote(text: string, max = 300): string {
  let out = '';
  const n = Math.min(text.length, max);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c >= 0x20 && c < 0x7f) out += text[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return '"' + out + '"' + (text.length > max ? `...(${text.length} bytes)` : '');
}

function value(v: TraceValue): string {
  return quote(v.text) + (v.length > v.text.length ? ` ...(${v.length} bytes)` : '');
}

/** Rules shown without --all: the logged ones, those that changed a score, and the interrupting one. */
export function isNotable(r: TraceRule): boolean {
  return (r.matched && (r.logged || r.interrupts)) || r.scores.length > 0;
}

function ruleBlock(r: TraceRule, verdict: Verdict): string[] {
  const lines: string[] = [];
  const sev = r.severity !== null ? ` [${SEVERITY_NAMES[r.severity] ?? r.severity}]` : '';
  const pl = r.tags.find((t) => t.startsWith('paranoia-level/'));
  const status = r.matched ? '' : ' (chain did not complete)';
  lines.push(`  rule ${r.id}${sev}${pl ? ` ${pl}` : ''}${status}${r.msg ? `  ${r.msg}` : ''}`);
  lines.push(`    at ${r.file}:${r.line}${r.chainLength > 1 ? `  (chain of ${r.chainLength})` : ''}`);
  for (const m of r.operatorMatches) {
    const link = r.chainLength > 1 ? `[${m.link}] ` : '';
    lines.push(`    ${link}${m.variable} = ${value(m.value)}`);
    if (m.transformations.length > 0) {
      const changed = m.transformed.text !== m.value.text || m.transformed.length !== m.value.length;
      lines.push(`      t:${m.transformations.join(',t:')} -> ${changed ? value(m.transformed) : '(unchanged)'}`);
    }
    const arg = m.argument.length > ARG_MAX ? m.argument.slice(0, ARG_MAX) + `...(${m.argument.length} chars)` : m.argument;
    lines.push(`      matched ${m.operator} ${arg}`);
  }
  if (r.logdata) lines.push(`    logdata ${quote(r.logdata)}`);
  for (const s of r.scores) lines.push(`    score ${s.variable} ${s.delta >= 0 ? '+' : ''}${s.delta}`);
  if (r.matched) {
    const isInterrupting = r.interrupts && r.id === verdict.interruptingRuleId;
    const when = isInterrupting ? (verdict.action === 'deny' ? ` -> interrupted (status ${verdict.status})` : ' -> would interrupt (DetectionOnly)') : '';
    lines.push(`    action ${r.disruptive ?? 'pass'}${when}${r.skipAfter ? `, skip to ${r.skipAfter}` : ''}`);
  }
  return lines;
}

export function renderText(e: Explanation, all: boolean): string {
  const out: string[] = [];
  const req = e.request;
  const body = req.body === null ? 'no body' : `${req.body.length}-byte body`;
  out.push(`Request   ${req.method} ${quote(req.uri, 200).slice(1, -1)} ${req.protocol}  (${req.headers.length} headers, ${body})`);
  for (const n of e.notes) out.push(`  note: ${n}`);
  const settings = [`mode ${e.ruleset.mode}`, `${e.ruleset.rules} rules`];
  if (e.ruleset.paranoiaLevel !== null) settings.push(`paranoia level ${e.ruleset.paranoiaLevel}`);
  if (e.ruleset.anomalyThreshold !== null) settings.push(`anomaly threshold ${e.ruleset.anomalyThreshold}`);
  out.push(`Rules     ${e.ruleset.source} (${settings.join(', ')})`);
  if (e.trace.bodyProcessor !== null) out.push(`Body      ${e.trace.bodyProcessor}${e.trace.bodyError ? ` — error: ${e.trace.bodyError}` : ''}`);
  const shown = e.trace.rules.filter((r) => all || isNotable(r));
  for (const phase of e.trace.phases) {
    const rules = shown.filter((r) => r.phase === phase);
    if (rules.length === 0) continue;
    out.push('', `Phase ${phase} (${PHASE_NAMES[phase] ?? 'phase ' + phase})`);
    for (const r of rules) out.push(...ruleBlock(r, e.verdict));
  }
  const hidden = e.trace.rules.length - shown.length;
  const v = e.verdict;
  out.push('');
  const action = v.action === 'deny' ? `DENY (status ${v.status})` : v.action === 'detect' ? `DETECT (would deny with ${v.status}; DetectionOnly)` : 'ALLOW';
  out.push(`Verdict   ${action}${v.interruptingRuleId ? ` by rule ${v.interruptingRuleId}` : ''}, anomaly score ${v.anomalyScore}`);
  out.push(`Matched   ${v.ruleIds.length > 0 ? v.ruleIds.join(', ') : 'no logged rule'}`);
  if (v.requestBodyError) out.push(`Body error ${v.requestBodyError}`);
  if (hidden > 0 && !all) out.push(`(${hidden} bookkeeping rules that matched without logging or scoring are hidden; --all shows them)`);
  return out.join('\n') + '\n';
}

/** JSON document: the request (body as latin1 text and its length), the ruleset, the verdict and the trace. */
export function renderJson(e: Explanation): string {
  const r = e.request;
  const doc = {
    request: {
      method: r.method,
      uri: r.uri,
      protocol: r.protocol,
      headers: r.headers,
      body: r.body === null ? null : r.body.toString('latin1'),
      body_bytes: r.body?.length ?? 0,
    },
    notes: e.notes,
    ruleset: e.ruleset,
    verdict: e.verdict,
    trace: e.trace,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
