// One go-ftw stage → (go-ftw HTTP bytes) → (what Envoy does) → CheckRequest + expectation,
// or "not applicable" with a reason.
import { buildFtwRequest, UnsupportedInputError, type BuiltRequest } from './ftw-request.js';
import { DEFAULT_ENVOY_OPTIONS, envoyProcess, type EnvoyOptions, type EnvoyOutcome, type EnvoyRequest } from '../../bench/lib/envoy-http1.js';
import { buildCheckRequest, DEFAULT_CHECK_OPTIONS, type CheckRequestObject, type CheckRequestOptions } from '../../bench/lib/check-request.js';
import {
  buildExpectation, findOverride, hasCheckableAssertion, isResponseRuleId, mentionedIds,
  type Expectation, type OverrideEntry, type OverridesFile,
} from './expectations.js';
import { stageName, type FtwStage } from './ftw-corpus.js';
import { buildLegacyFtwRequest } from './ftw-legacy.js';

export interface ConvertOptions {
  envoy: EnvoyOptions;
  check: CheckRequestOptions;
}

export const DEFAULT_CONVERT_OPTIONS: Readonly<ConvertOptions> = Object.freeze({
  envoy: DEFAULT_ENVOY_OPTIONS,
  check: DEFAULT_CHECK_OPTIONS,
});

export interface StagePlanBase {
  stage: FtwStage;
  name: string;
  override: OverrideEntry | null;
  built: BuiltRequest | null;
  envoy: EnvoyOutcome | null;
}

export interface ApplicablePlan extends StagePlanBase {
  applicable: true;
  request: EnvoyRequest;
  alterations: string[];
  /** Kinds of Envoy rewrites of the client's request (envoy-http1.ts `rewrites`). */
  rewrites: string[];
  checkRequest: CheckRequestObject;
  /** When Envoy rewrote the request: the CheckRequest of the request as the client sent it
   * (the counterfactual that tells whether the rewrite decides the stage). */
  preservedCheckRequest: CheckRequestObject | null;
  expectation: Expectation;
}

export interface NotApplicablePlan extends StagePlanBase {
  applicable: false;
  /** Short category, e.g. "envoy-rejects:invalid_method", "response-phase". */
  reason: string;
  detail: string;
}

export type StagePlan = ApplicablePlan | NotApplicablePlan;

/** Converts one stage. Never throws for bad test input (→ not applicable). */
export function planStage(stage: FtwStage, overrides: OverridesFile | null, options: ConvertOptions = DEFAULT_CONVERT_OPTIONS, streamId = '1'): StagePlan {
  const name = stageName(stage);
  const override = overrides ? findOverride(overrides, stage) : null;
  const base: StagePlanBase = { stage, name, override, built: null, envoy: null };
  const na = (reason: string, detail: string): NotApplicablePlan => ({ ...base, applicable: false, reason, detail });

  if (override?.ignore) return na('override', override.reason);
  const output = override?.output ?? stage.output;

  if (isResponseRuleId(stage.ruleId) || stage.group.startsWith('RESPONSE-')) {
    return na('response-phase', `rule ${stage.ruleId} inspects the response; ext_authz only sees requests`);
  }
  if (stage.input.response !== undefined) return na('response-phase', 'stage needs a backend response (albedo)');
  if (output.expect_error) return na('expects-transport-error', 'the test expects the connection to fail (expect_error: true)');

  const expectation = buildExpectation(output);
  const responseIds = mentionedIds(expectation).filter(isResponseRuleId);
  if (expectation.expectIds.some(isResponseRuleId) || expectation.anyOf.some((alt) => alt.some((id) => id !== '*' && isResponseRuleId(id)))) {
    return na('response-phase', `expects response-phase rule(s) ${responseIds.join(', ')}`);
  }

  let built: BuiltRequest;
  try {
    built = stage.client === 'ftw' ? buildLegacyFtwRequest(stage.input) : buildFtwRequest(stage.input);
  } catch (err) {
    if (err instanceof UnsupportedInputError) return na('unsupported-input', err.message);
    throw err;
  }
  base.built = built;

  const outcome = envoyProcess(built.raw, options.envoy);
  base.envoy = outcome;
  if (outcome.kind === 'rejected') return na(`envoy-rejects:${outcome.reason}`, `Envoy answers ${outcome.status} before ext_authz: ${outcome.detail}`);
  if (outcome.kind === 'incomplete') return na(`envoy-waits:${outcome.reason}`, `request never reaches ext_authz: ${outcome.detail}`);

  if (!hasCheckableAssertion(expectation)) {
    const what = expectation.unchecked.length > 0 ? expectation.unchecked.join('; ') : 'no assertions';
    return na('not-observable', `nothing observable through rule ids (${what})`);
  }

  const checkRequest = buildCheckRequest(outcome.request, { ...options.check, streamId });
  let preservedCheckRequest: CheckRequestObject | null = null;
  if (outcome.rewrites.length > 0) {
    const preserved = envoyProcess(built.raw, { ...options.envoy, preserveClientRequest: true });
    if (preserved.kind === 'forwarded') preservedCheckRequest = buildCheckRequest(preserved.request, { ...options.check, streamId });
  }
  return {
    ...base,
    applicable: true,
    request: outcome.request,
    alterations: outcome.alterations,
    rewrites: outcome.rewrites,
    checkRequest,
    preservedCheckRequest,
    expectation,
  };
}

/** A compact, readable description of the request sent (for failure reports). */
export function requestSummary(plan: StagePlan): Record<string, unknown> {
  const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) + `…(+${s.length - n})` : s);
  const text = (b: Buffer) => clip(b.toString('latin1').replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`), 300);
  const out: Record<string, unknown> = {};
  if (plan.built) {
    const raw = plan.built.raw;
    const headEnd = raw.indexOf('\r\n\r\n');
    out['ftw_request_head'] = text(headEnd >= 0 ? raw.subarray(0, headEnd) : raw).slice(0, 1200);
    out['ftw_request_bytes'] = raw.length;
  }
  if (plan.applicable) {
    const r = plan.request;
    out['check'] = {
      method: r.method,
      path: clip(r.path, 300),
      protocol: r.protocol,
      authority: r.authority,
      headers: r.headers.filter(([k]) => !k.startsWith(':')).map(([k, v]) => `${k}: ${text(v)}`),
      body_bytes: r.body?.length ?? 0,
      body: r.body ? text(r.body) : null,
    };
    if (plan.alterations.length > 0) out['envoy_alterations'] = plan.alterations;
  }
  return out;
}
