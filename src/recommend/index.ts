// The recommender as one call (CLI and controller): events → analysis → exclusions.conf, checked
// to parse with our SecLang reader (and, given base directives, to compile with them).
import { Waf } from '../engine/waf.js';
import type { Directive } from '../seclang/ast.js';
import { parseDirectivesFromString } from '../seclang/reader.js';
import type { SecurityEvent } from '../events/schema.js';
import { analyse, type Analysis, type RecommendOptions } from './recommend.js';
import { renderExclusions, type Rendered, type RenderOptions } from './render.js';

export interface Recommendation {
  analysis: Analysis;
  rendered: Rendered;
}

/**
 * Recommends exclusions. Throws (SecLangError naming `file`) if the generated text does not parse
 * or, with `base`, does not compile after the base ruleset — a bug of ours, never shipped silently.
 */
export function recommend(
  events: readonly SecurityEvent[],
  options: RecommendOptions,
  render: Omit<RenderOptions, 'eventsRead' | 'eventsConsidered'>,
  check: { file: string; base?: readonly Directive[] | null } = { file: 'exclusions.conf' },
): Recommendation {
  const analysis = analyse(events, options);
  const rendered = renderExclusions(analysis.groups, { ...render, eventsRead: analysis.events, eventsConsidered: analysis.considered });
  const directives = parseDirectivesFromString(rendered.text, check.file);
  if (check.base) Waf.fromDirectives([...check.base, ...directives], {});
  return { analysis, rendered };
}

export { analyse, DEFAULT_RECOMMEND, type Analysis, type GroupDecision, type RecommendOptions } from './recommend.js';
export { readEvents, type ReadCache, type ReadResult } from './read-events.js';
