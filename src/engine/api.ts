// Public contract of the rule engine, as used by the ext_authz server, tests and benchmarks.
import type { BudgetStop } from './budget.js';

export type EngineMode = 'block' | 'detect' | 'off'; // SecRuleEngine On | DetectionOnly | Off

/** One HTTP request as the engine sees it. Strings are byte strings (latin1: one char per byte). */
export interface HttpRequest {
  /** Unique id (Envoy's x-request-id when present); becomes UNIQUE_ID. */
  id: string;
  method: string;
  /** Raw request target as sent: path plus raw query string, never decoded. */
  uri: string;
  /** e.g. "HTTP/1.1", "HTTP/2". */
  protocol: string;
  /** Header names in their original case when known, lower-case otherwise; repeated names allowed. */
  headers: Array<[string, string]>;
  /** Request body bytes, or null when none was sent. */
  body: Buffer | null;
  /** True when the body was truncated before it reached us (Envoy partial body). */
  bodyPartial: boolean;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
}

/** What one matched, logged rule reports. */
export interface RuleMatch {
  id: number;
  phase: number;
  msg: string;
  logdata: string;
  severity: number | null; // 0 (EMERGENCY) .. 7 (DEBUG), null when unset
  tags: string[];
  /** Name of the variable that matched the (last) operator, e.g. "ARGS:q". */
  matchedVar: string;
  /** The (transformed) value that matched, truncated. */
  matchedData: string;
  disruptive: boolean;
  file: string;
  line: number;
}

export interface Verdict {
  /** allow; deny (blocked); detect (a disruptive rule fired but the engine is in DetectionOnly). */
  action: 'allow' | 'deny' | 'detect';
  mode: EngineMode;
  /** HTTP status to answer with when action is deny (status: action, default 403). */
  status: number;
  /** For redirect actions. */
  redirectUrl: string | null;
  /** Id of the rule that interrupted (or would have in detect mode), 0 if none. */
  interruptingRuleId: number;
  /** Ids of every rule that matched and is logged, in evaluation order, each once. */
  ruleIds: number[];
  matches: RuleMatch[];
  /** TX:blocking_inbound_anomaly_score when CRS-style scoring is in use, else 0. */
  anomalyScore: number;
  requestId: string;
  /** Body processing outcome (REQBODY_ERROR) and whether the body was partial. */
  requestBodyError: string | null;
  bodyPartial: boolean;
  /**
   * Set when evaluation stopped early because its time budget ran out (Waf.evaluate's budget):
   * the verdict is then incomplete and the caller applies its fail-open/closed policy.
   */
  budgetStop?: BudgetStop | null;
}
