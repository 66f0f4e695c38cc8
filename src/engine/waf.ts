// STUB — being written by the engine owner. Public API is stable; do not edit.
import type { EngineMode, HttpRequest, Verdict } from './api.js';

export interface WafLoadOptions {
  /** Overrides SecRuleEngine from the rules (CLI --mode). */
  mode?: EngineMode;
  /** Rule ids whose regex may fall back to V8 RegExp when RE2 rejects it. */
  regexFallbackRuleIds?: ReadonlySet<number>;
  /** Called for non-fatal load warnings (unsupported log-only directives, fallbacks). */
  onWarning?: (message: string) => void;
}

export class Waf {
  readonly ruleCount: number = 0;
  readonly mode: EngineMode = 'detect';
  /** Loads a SecLang entry file (Includes resolved relative to it). Throws SecLangError naming file:line. */
  static fromFile(path: string, options: WafLoadOptions = {}): Waf {
    void path; void options;
    throw new Error('not implemented yet');
  }
  /** Loads SecLang text; `virtualPath` names it in errors and anchors relative Includes. */
  static fromString(text: string, virtualPath: string, options: WafLoadOptions = {}): Waf {
    void text; void virtualPath; void options;
    throw new Error('not implemented yet');
  }
  /** Runs phases 1, 2 (and request-only phase 5 rules) for one request. Synchronous, never async. */
  evaluate(request: HttpRequest): Verdict {
    void request;
    throw new Error('not implemented yet');
  }
}
