// Compiles the engine one set of effective settings needs: the base ruleset's directives (read
// once, shared) + the namespace's exclusion rules appended after them (CRS "after" position, so
// SecRuleRemove*/SecRuleUpdateTarget*/ctl work on base rules), with the mode and the pinned
// paranoia level / anomaly threshold applied. `waf: disabled` needs no compile at all.
import type { HttpRequest, Verdict } from '../engine/api.js';
import { Waf, type SlicedCompileStats } from '../engine/waf.js';
import { parseDirectivesFromString } from '../seclang/reader.js';
import type { Directive } from '../seclang/ast.js';
import { pinnedTxFor, type EffectiveSettings } from '../settings/effective.js';
import type { WafLike } from './check-service.js';

/** Answers every check with allow, without evaluating anything (settings waf: disabled). */
export class DisabledEngine implements WafLike {
  readonly mode = 'off' as const;
  readonly ruleCount = 0;

  evaluate(request: HttpRequest): Verdict {
    return {
      action: 'allow',
      mode: 'off',
      status: 200,
      redirectUrl: null,
      interruptingRuleId: 0,
      ruleIds: [],
      matches: [],
      anomalyScore: 0,
      requestId: request.id,
      requestBodyError: null,
      bodyPartial: request.bodyPartial,
    };
  }
}

export interface BuildOptions {
  regexFallbackRuleIds?: ReadonlySet<number>;
  acceleration?: boolean;
  onWarning?: (message: string) => void;
  /** Compile in slices of this many ms, yielding between them (live reloads); 0 = in one go. */
  sliceMs: number;
  /** Filled with the longest synchronous stretch when sliced. */
  stats?: SlicedCompileStats;
}

/** Compiles the engine for `settings`. Throws SecLangError naming file:line (exclusions.conf included). */
export async function buildEngine(base: readonly Directive[], settings: EffectiveSettings, options: BuildOptions): Promise<WafLike> {
  if (settings.waf === 'disabled') return new DisabledEngine();
  let directives = base as Directive[];
  if (settings.exclusions !== null) {
    directives = base.concat(parseDirectivesFromString(settings.exclusions.text, settings.exclusions.file));
  }
  const loadOptions = {
    ...(settings.mode !== null ? { mode: settings.mode } : {}),
    pinnedTx: pinnedTxFor(settings),
    regexFallbackRuleIds: options.regexFallbackRuleIds,
    acceleration: options.acceleration,
    onWarning: options.onWarning,
  };
  if (options.sliceMs <= 0) return Waf.fromDirectives(directives, loadOptions);
  return Waf.compileSliced(directives, loadOptions, options.sliceMs, options.stats);
}
