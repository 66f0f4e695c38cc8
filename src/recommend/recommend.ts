// The exclusion recommender: groups detections by (namespace, rule, path template, variable) and
// decides, per group, whether it looks like a false positive worth a narrow exclusion.
//
// A group is recommended when all of these hold (each threshold configurable):
//   - recurring: at least minRequests distinct requests, from at least minSources distinct sources
//     (one noisy client is not a false positive of the rule, it is a client to look at);
//   - low scores: the 90th percentile anomaly score of its requests is at most maxScore (the rule
//     fires alone, or nearly; attacks pile up scores across rules);
//   - detect mode: at most maxBlockedShare of its requests were blocked (detections from
//     detect-mode namespaces and staged policies are what is safe to learn from);
//   - no co-occurring attack rules: at most maxCooccurShare of its requests also matched another
//     detection rule on a different variable (rules on the same variable are the same false
//     positive seen by several rules, each gets its own group).
// Anomaly evaluation rules (matched on TX:, CRS 949xxx/959xxx/980xxx) are never grouped or counted
// as co-occurring: they follow from the others.
import { pathTemplate } from '../events/path-template.js';
import type { SecurityEvent } from '../events/schema.js';

export interface RecommendOptions {
  /** Only events at or after / before this time (ms since epoch); null = unbounded. */
  sinceMs: number | null;
  untilMs: number | null;
  /** Only this destination namespace; null = all (grouped per namespace). */
  namespace: string | null;
  minRequests: number;
  minSources: number;
  maxScore: number;
  maxBlockedShare: number;
  maxCooccurShare: number;
  /** Include events of staged policies (shadow verdicts), default true. */
  includeStaged: boolean;
}

export const DEFAULT_RECOMMEND: Readonly<RecommendOptions> = Object.freeze({
  sinceMs: null,
  untilMs: null,
  namespace: null,
  minRequests: 20,
  minSources: 5,
  maxScore: 8,
  maxBlockedShare: 0.1,
  maxCooccurShare: 0.05,
  includeStaged: true,
});

export interface GroupEvidence {
  namespace: string;
  ruleId: number;
  msg: string;
  pathTemplate: string;
  variable: string;
  /** Detections (aggregated events count as their count). */
  detections: number;
  requests: number;
  sources: number;
  firstTime: string;
  lastTime: string;
  /** 90th percentile anomaly score over the group's requests. */
  scoreP90: number;
  blockedShare: number;
  cooccurShare: number;
  /** Other detection rules seen on the same requests (up to 10, most frequent first). */
  cooccurringRules: number[];
  /** Up to 3 distinct matched values (already redacted by the event pipeline). */
  samples: string[];
}

export interface GroupDecision extends GroupEvidence {
  recommended: boolean;
  /** Why (recommended) or why not. */
  reasons: string[];
}

export interface Analysis {
  events: number;
  /** Events inside the window (and namespace). */
  considered: number;
  groups: GroupDecision[];
}

const EVALUATION_RULE_RANGES: Array<[number, number]> = [
  [949000, 949999],
  [959000, 959999],
  [980000, 980999],
];

/** Rules that evaluate scores rather than detect anything. */
export function isEvaluationRule(id: number, matchedVar: string): boolean {
  if (matchedVar.startsWith('TX:') || matchedVar === 'TX') return true;
  return EVALUATION_RULE_RANGES.some(([lo, hi]) => id >= lo && id <= hi);
}

interface Acc {
  namespace: string;
  ruleId: number;
  msg: string;
  template: string;
  variable: string;
  detections: number;
  /** Per request: the worst it saw; weight = requests it stands for (aggregated events). */
  requests: Map<string, { score: number; blocked: boolean; cooccur: boolean; weight: number }>;
  sources: Set<string>;
  first: string;
  last: string;
  cooccurring: Map<number, number>;
  samples: Set<string>;
}

function eventTimeMs(e: SecurityEvent): number {
  return Date.parse(e.time);
}

/** Weighted 90th percentile of the requests' scores. */
function p90(reqs: Array<{ score: number; weight: number }>): number {
  const total = reqs.reduce((n, r) => n + r.weight, 0);
  if (total === 0) return 0;
  const sorted = [...reqs].sort((a, b) => a.score - b.score);
  const rank = Math.ceil(total * 0.9);
  let seen = 0;
  for (const r of sorted) {
    seen += r.weight;
    if (seen >= rank) return r.score;
  }
  return sorted[sorted.length - 1]!.score;
}

function sourceOf(e: SecurityEvent): string {
  return e.source.principal ?? e.source.ip;
}

/** Groups the events and decides per group. */
export function analyse(events: readonly SecurityEvent[], options: RecommendOptions = DEFAULT_RECOMMEND): Analysis {
  const groups = new Map<string, Acc>();
  let considered = 0;
  for (const e of events) {
    const t = eventTimeMs(e);
    if (!Number.isFinite(t)) continue;
    if (options.sinceMs !== null && t < options.sinceMs) continue;
    if (options.untilMs !== null && t >= options.untilMs) continue;
    if (!options.includeStaged && e.staged === true) continue;
    const namespace = e.destination?.namespace ?? '';
    if (options.namespace !== null && namespace !== options.namespace) continue;
    considered++;
    const template = pathTemplate(e.request.path);
    const detection = e.rules.filter((r) => !isEvaluationRule(r.id, r.matched_var));
    // A request is one request however many events (staged + enforced, aggregates) report it.
    const requestKey = e.request_id !== '' ? e.request_id : e.id;
    const count = Math.max(1, e.count ?? 1);
    for (const r of detection) {
      const key = `${namespace}\0${r.id}\0${template}\0${r.matched_var}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = {
          namespace,
          ruleId: r.id,
          msg: r.msg,
          template,
          variable: r.matched_var,
          detections: 0,
          requests: new Map(),
          sources: new Set(),
          first: e.first_time ?? e.time,
          last: e.time,
          cooccurring: new Map(),
          samples: new Set(),
        };
        groups.set(key, g);
      }
      g.detections += count;
      g.sources.add(sourceOf(e));
      if ((e.first_time ?? e.time) < g.first) g.first = e.first_time ?? e.time;
      if (e.time > g.last) g.last = e.time;
      if (g.samples.size < 3 && r.matched_data !== '') g.samples.add(r.matched_data);
      let cooccur = false;
      for (const o of detection) {
        if (o.matched_var === r.matched_var) continue;
        cooccur = true;
        g.cooccurring.set(o.id, (g.cooccurring.get(o.id) ?? 0) + 1);
      }
      const prev = g.requests.get(requestKey);
      const blocked = e.verdict === 'blocked' && e.staged !== true;
      g.requests.set(requestKey, {
        score: Math.max(prev?.score ?? 0, e.anomaly_score),
        blocked: (prev?.blocked ?? false) || blocked,
        cooccur: (prev?.cooccur ?? false) || cooccur,
        // An aggregate stands for `count` requests of the same shape.
        weight: Math.max(prev?.weight ?? 0, count),
      });
    }
  }
  const decisions = [...groups.values()].map((g) => decide(g, options));
  decisions.sort((a, b) => Number(b.recommended) - Number(a.recommended) || b.requests - a.requests || a.ruleId - b.ruleId);
  return { events: events.length, considered, groups: decisions };
}

function decide(g: Acc, o: RecommendOptions): GroupDecision {
  const reqs = [...g.requests.values()];
  const weigh = (pred: (r: (typeof reqs)[number]) => boolean) => reqs.reduce((sum, r) => sum + (pred(r) ? r.weight : 0), 0);
  const n = weigh(() => true);
  const scoreP90 = p90(reqs);
  const blockedShare = n === 0 ? 0 : weigh((r) => r.blocked) / n;
  const cooccurShare = n === 0 ? 0 : weigh((r) => r.cooccur) / n;
  const evidence: GroupEvidence = {
    namespace: g.namespace,
    ruleId: g.ruleId,
    msg: g.msg,
    pathTemplate: g.template,
    variable: g.variable,
    detections: g.detections,
    requests: n,
    sources: g.sources.size,
    firstTime: g.first,
    lastTime: g.last,
    scoreP90,
    blockedShare,
    cooccurShare,
    cooccurringRules: [...g.cooccurring.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 10).map(([id]) => id),
    samples: [...g.samples],
  };
  const against: string[] = [];
  if (n < o.minRequests) against.push(`only ${n} requests (< ${o.minRequests})`);
  if (g.sources.size < o.minSources) against.push(`only ${g.sources.size} sources (< ${o.minSources})`);
  if (scoreP90 > o.maxScore) against.push(`anomaly score p90 ${scoreP90} (> ${o.maxScore})`);
  if (blockedShare > o.maxBlockedShare) against.push(`${pct(blockedShare)} of requests blocked (> ${pct(o.maxBlockedShare)})`);
  if (cooccurShare > o.maxCooccurShare) {
    against.push(`${pct(cooccurShare)} of requests also matched other attack rules (${evidence.cooccurringRules.join(', ')})`);
  }
  if (against.length > 0) return { ...evidence, recommended: false, reasons: against };
  return {
    ...evidence,
    recommended: true,
    reasons: [
      `${n} requests from ${g.sources.size} sources`,
      `anomaly score p90 ${scoreP90}`,
      `${pct(1 - blockedShare)} detect-only`,
      cooccurShare === 0 ? 'no other attack rules on the same requests' : `other attack rules on only ${pct(cooccurShare)} of requests`,
    ],
  };
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}
