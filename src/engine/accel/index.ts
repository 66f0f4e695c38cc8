// Load-time acceleration of a rule set: prefilters that let a rule skip its operator for values it
// cannot match. Pure optimisation: with `enabled` false every rule runs its operator on every value,
// which is the reference the differential tests compare against. Also remembers regex key-selector
// answers per key.
import type { KeyMatcher, Rule } from '../rule.js';
import { buildLiteralPrefilters, type LiteralPrefilterStats } from './literal-prefilter.js';
import { buildRegexSets } from './regex-set.js';
import { HOT_CACHE_SLOT, ruleLinks } from './prefilter-group.js';
import { memoizeKeyMatchers } from './key-memo.js';
import { buildRulePrechecks, UnionSlots } from './rule-precheck.js';

export interface AccelerationStats {
  enabled: boolean;
  /** Static RE2 @rx, @pm and required-literal (@detectXSS) links that could be prefiltered at all. */
  candidates: number;
  literal: LiteralPrefilterStats;
  /** RE2.Set groups for the candidates without literals. */
  regexSets: { groups: number; rules: number };
  /** Links skipped as a whole when no value of any target can match (rule-precheck.ts). */
  prechecked: number;
}

export function buildAcceleration(heads: Iterable<Rule>, enabled: boolean): AccelerationStats {
  const links = [...ruleLinks(heads)]; // walked twice below: an iterator argument would be spent after the first pass
  const candidates: Rule[] = [];
  for (const r of links) {
    r.prefilter = null;
    r.precheck = null;
    if (r.operator.prefilterPattern !== undefined || r.operator.prefilterPhrases !== undefined || r.operator.prefilterRequired !== undefined) candidates.push(r);
  }
  const stats: AccelerationStats = {
    enabled,
    candidates: candidates.length,
    literal: { groups: 0, rules: 0, literals: 0, plainRules: 0, phraseRules: 0 },
    regexSets: { groups: 0, rules: 0 },
    prechecked: 0,
  };
  if (!enabled) return stats;
  const wrapped = new Map<KeyMatcher, KeyMatcher>();
  for (const r of links) memoizeKeyMatchers(r, wrapped);
  const { rest, stats: literal } = buildLiteralPrefilters(candidates, 0);
  stats.literal = literal;
  stats.regexSets = buildRegexSets(rest, literal.groups, HOT_CACHE_SLOT + 1); // the literal groups hold the hot slot
  stats.prechecked = buildRulePrechecks(links, new UnionSlots());
  return stats;
}
