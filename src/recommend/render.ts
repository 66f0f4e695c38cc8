// Recommended groups → exclusions.conf: one SecRule per group, the narrowest exclusion that removes
// exactly that detection: the rule's matched variable, only on that path (template):
//
//   SecRule REQUEST_FILENAME "@streq /search" \
//     "id:10001,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:q"
//
// Paths with {id} segments match with an anchored regex (^/users/[^/]+/orders$). Each rule is
// preceded by comments giving the evidence and why it looks like a false positive. The ctl runs in
// phase 1, so it affects the rule when the rule runs later (phase 2, as CRS's ARGS/body rules do).
import type { GroupDecision } from './recommend.js';

export interface RenderOptions {
  /** Id of the first generated rule; ids in `usedIds` are skipped. */
  firstId: number;
  usedIds?: ReadonlySet<number>;
  generatedAt: Date;
  window: { since: string | null; until: string | null };
  eventsRead: number;
  eventsConsidered: number;
}

export interface RenderedRule {
  id: number;
  group: GroupDecision;
  text: string;
}

export interface Rendered {
  text: string;
  rules: RenderedRule[];
  /** Recommended groups no safe exclusion could be written for, and why. */
  unexpressible: Array<{ group: GroupDecision; reason: string }>;
}

/** Variable names whose key we can write in a ctl target without quoting rules getting in the way. */
const SAFE_VARIABLE = /^[A-Z_]+(?::[A-Za-z0-9_.\-[\]@$]+)?$/;
const REGEX_META = /[.*+?^${}()|[\]\\]/g;

function decodeSegment(s: string): string | null {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** The REQUEST_FILENAME condition for a path template, or a reason why there is none. */
export function pathCondition(template: string): { op: string } | { reason: string } {
  if (!template.startsWith('/')) return { reason: `path ${JSON.stringify(template)} is not an origin-form path` };
  const segments = template.split('/');
  const decoded: string[] = [];
  for (const s of segments) {
    if (s === '{id}') {
      decoded.push(s);
      continue;
    }
    const d = decodeSegment(s);
    if (d === null) return { reason: `path ${JSON.stringify(template)} has invalid percent-encoding` };
    decoded.push(d);
  }
  // REQUEST_FILENAME is decoded; characters that cannot sit in a quoted operator argument are refused.
  if (decoded.some((s) => /["\\\x00-\x1f\x7f\s]/.test(s) || s.includes('/'))) {
    return { reason: `path ${JSON.stringify(template)} holds characters an exclusion cannot match safely` };
  }
  if (!decoded.includes('{id}')) return { op: `@streq ${decoded.join('/')}` };
  const rx = decoded.map((s) => (s === '{id}' ? '[^/]+' : s.replace(REGEX_META, '\\$&'))).join('/');
  return { op: `@rx ^${rx}$` };
}

function commentText(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  // A backslash ending a line would continue the comment over the rule below it.
  const t = s.replace(/[\x00-\x1f\x7f]/g, ' ').replace(/\\/g, '%5C');
  return t.length > max ? t.slice(0, max) + '…' : t;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/** The exclusions.conf text for `groups` (only the recommended ones are written). */
export function renderExclusions(groups: readonly GroupDecision[], options: RenderOptions): Rendered {
  const rules: RenderedRule[] = [];
  const unexpressible: Rendered['unexpressible'] = [];
  let nextId = options.firstId;
  const used = options.usedIds ?? new Set<number>();
  const takeId = (): number => {
    while (used.has(nextId)) nextId++;
    return nextId++;
  };
  for (const g of groups) {
    if (!g.recommended) continue;
    if (!SAFE_VARIABLE.test(g.variable)) {
      unexpressible.push({ group: g, reason: `variable ${JSON.stringify(g.variable)} cannot be written as a ctl target safely` });
      continue;
    }
    const cond = pathCondition(g.pathTemplate);
    if ('reason' in cond) {
      unexpressible.push({ group: g, reason: cond.reason });
      continue;
    }
    const id = takeId();
    const lines = [
      `# ${g.ruleId} ${commentText(g.msg)} — ${g.variable} on ${commentText(g.pathTemplate)}${g.namespace ? ` (namespace ${g.namespace})` : ''}`,
      `#   evidence: ${g.detections} detections in ${g.requests} requests from ${g.sources} sources, ${g.firstTime} .. ${g.lastTime}`,
      `#   why: looks like a false positive: ${g.reasons.join('; ')}; blocked ${pct(g.blockedShare)}, with other attack rules ${pct(g.cooccurShare)}`,
    ];
    if (g.samples.length > 0) lines.push(`#   matched: ${g.samples.map((s) => JSON.stringify(commentText(s, 60))).join(', ')}`);
    lines.push(`SecRule REQUEST_FILENAME "${cond.op}" "id:${id},phase:1,pass,nolog,ctl:ruleRemoveTargetById=${g.ruleId};${g.variable}"`);
    rules.push({ id, group: g, text: lines.join('\n') + '\n' });
  }
  const header = [
    `# Sidewall exclusion recommendations, generated ${options.generatedAt.toISOString()} by sidewall recommend.`,
    `# Window: ${options.window.since ?? 'start'} .. ${options.window.until ?? 'now'}; ${options.eventsRead} events read, ${options.eventsConsidered} in the window.`,
    `# ${rules.length} exclusion(s). Nothing here is applied automatically. Apply as STAGED first`,
    `# (ConfigMap named by sidewall.io/staged-exclusions, together with the exclusions already in force),`,
    `# watch sidewall_staged_disagreements_total and the staged events, then promote (sidewall.io/exclusions).`,
  ];
  for (const u of unexpressible) {
    header.push(`# not written: ${u.group.ruleId} ${commentText(u.group.variable)} on ${commentText(u.group.pathTemplate)}: ${u.reason}`);
  }
  const text = header.join('\n') + '\n' + rules.map((r) => '\n' + r.text).join('');
  return { text, rules, unexpressible };
}
