// envoy.service.auth.v3.Authorization/Check: map → waf.evaluate → CheckResponse.
//
// allow / detect: status OK + ok_response {}.
// deny:           status PERMISSION_DENIED + denied_response (HTTP status from the verdict,
//                 configured body and content-type).
// evaluation error: fail_open=false → deny with HTTP 503; fail_open=true → allow.
// overload (admission.ts): a call shed or expired before evaluation, or an evaluation stopped by
//                 its budget (deadline, max_check_ms), is answered like an evaluation error, with
//                 waf_overload = shed | expired | budget in the metadata instead of waf_error.
// malformed CheckRequest: gRPC INVALID_ARGUMENT (Envoy then applies its failure_mode_allow).
// Every answer carries dynamic_metadata (namespace envoy.filters.http.ext_authz):
//   waf_action, waf_mode, waf_rule_ids, waf_anomaly_score, waf_request_id.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EngineMode, HttpRequest, RuleMatch, Verdict } from '../engine/api.js';
import type { DenyResponseConfig } from '../config/config.js';
import type { EventSink } from '../events/pipeline.js';
import { CheckRequestError, mapCheckRequest, type CheckContext, type CheckRequestMsg, type MappedCheck } from './check-mapper.js';
import type { DecodedCheck } from './check-decoder.js';
import { RateLimitedLog } from './rate-limited-log.js';
import type { Metrics } from './metrics.js';
import type { EngineSource } from './engine-provider.js';
import { RpcCode } from './proto.js';
import type { Budget, CheckBudget } from '../engine/budget.js';
import { AdmissionQueue, DEFAULT_ADMISSION, type AdmissionConfig, type PendingCall, type RefuseReason } from './admission.js';
import { LogThrottle } from './log-throttle.js';

/** What the check service needs from the engine (Waf implements it). */
export interface WafLike {
  /** With a budget, may stop early and report it in Verdict.budgetStop. */
  evaluate(request: HttpRequest, budget?: Budget | null): Verdict;
  readonly mode: EngineMode;
  readonly ruleCount: number;
}

export interface CheckServiceOptions {
  waf: WafLike;
  failOpen: boolean;
  denyResponse: DenyResponseConfig;
  logger: Logger;
  metrics: Metrics;
  /** Picks the engine per check (live reload, per-namespace settings); default: always `waf`. */
  engines?: EngineSource;
  /** Security events (src/events); null/absent = none. */
  events?: EventSink | null;
  /** The events pipeline writes each event as a log line: no separate detection line then. */
  eventsLogged?: boolean;
  /** Queueing, deadlines, shedding and max_check_ms (admission.ts); default DEFAULT_ADMISSION. */
  admission?: AdmissionConfig;
  /**
   * Told every evaluated check and its verdict (staged policies, shadow.ts). Must be O(1) and
   * defer any work: it runs before the answer is handed to gRPC.
   */
  afterCheck?: AfterCheck | null;
}

export type AfterCheck = (context: CheckContext, request: HttpRequest, verdict: Verdict) => void;

/** A received Check call waiting in the admission queue. */
interface QueuedCheck {
  /** Exactly one of message (proto-loader handler) and decoded (check-decoder deserializer) is set. */
  message: CheckRequestMsg | null;
  decoded: DecodedCheck | null;
  callback: grpc.sendUnaryData<CheckResponseObj>;
}

// ---- response shapes (proto-loader / protobufjs fromObject input) ----
// google.protobuf.Struct comes from protobufjs' bundled definition, whose field names are
// camelCase (numberValue, stringValue, listValue) even with keepCase.

export interface StructValue {
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  listValue?: { values: StructValue[] };
  structValue?: { fields: Record<string, StructValue> };
}

export interface HeaderValueOptionObj {
  header: { key: string; value: string };
  append_action: 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';
}

export interface CheckResponseObj {
  status: { code: number; message: string };
  ok_response?: Record<string, never>;
  denied_response?: {
    status: { code: number };
    headers: HeaderValueOptionObj[];
    body: string;
  };
  dynamic_metadata: { fields: Record<string, StructValue> };
}

export type CheckOutcome = { response: CheckResponseObj; error?: undefined } | { error: grpc.ServiceError | grpc.StatusObject; response?: undefined };

// Prebuilt constant parts of every response.
const STATUS_OK = Object.freeze({ code: RpcCode.OK, message: '' });
const STATUS_DENIED = Object.freeze({ code: RpcCode.PERMISSION_DENIED, message: 'request blocked by sidewall' });
const STATUS_DENIED_ERROR = Object.freeze({ code: RpcCode.PERMISSION_DENIED, message: 'sidewall could not evaluate the request' });
const STATUS_DENIED_OVERLOAD = Object.freeze({ code: RpcCode.PERMISSION_DENIED, message: 'sidewall is overloaded' });
const OK_RESPONSE: Record<string, never> = Object.freeze({}) as Record<string, never>;
const ACTION_VALUES = {
  allow: Object.freeze({ stringValue: 'allow' }),
  deny: Object.freeze({ stringValue: 'deny' }),
  detect: Object.freeze({ stringValue: 'detect' }),
} as const;
const MODE_VALUES = {
  block: Object.freeze({ stringValue: 'block' }),
  detect: Object.freeze({ stringValue: 'detect' }),
  off: Object.freeze({ stringValue: 'off' }),
} as const;
const EMPTY_RULE_IDS = Object.freeze({ listValue: Object.freeze({ values: Object.freeze([]) as unknown as StructValue[] }) });
const ZERO_SCORE = Object.freeze({ numberValue: 0 });
const TRUE_VALUE = Object.freeze({ boolValue: true });
const OVERLOAD_VALUES = {
  shed: Object.freeze({ stringValue: 'shed' }),
  expired: Object.freeze({ stringValue: 'expired' }),
  budget: Object.freeze({ stringValue: 'budget' }),
} as const;
type OverloadKind = keyof typeof OVERLOAD_VALUES;

const REQUEST_ID_PLACEHOLDER = '{{request_id}}';
/** Characters kept when a request id is substituted into a custom deny body. */
const UNSAFE_ID_CHARS = /[^A-Za-z0-9._:\-]/g;
/** Matched variables whose values never reach the logs. */
const SECRET_VARIABLE = /cookie|authorization|api[-_]?key/i;
const LOG_VALUE_MAX = 200;
const LOG_PATH_MAX = 256;

function validHttpStatus(status: number, fallback: number): number {
  return Number.isInteger(status) && status >= 200 && status <= 599 ? status : fallback;
}

/** Byte string (latin1) → readable UTF-8 text, truncated; for log lines only. */
function logText(s: string, max: number): string {
  const t = s.length > max ? s.slice(0, max) : s;
  const text = /[^\x00-\x7f]/.test(t) ? Buffer.from(t, 'latin1').toString('utf8') : t;
  return s.length > max ? text + '…' : text;
}

export class CheckService {
  private readonly waf: WafLike;
  private readonly engines: EngineSource | null;
  private readonly failOpen: boolean;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly denyHeaders: HeaderValueOptionObj[];
  private readonly bodyParts: string[] | null; // custom template split at {{request_id}}, null = default JSON
  private readonly contentType: string;
  private readonly events: EventSink | null;
  private readonly eventsLogged: boolean;
  private readonly invalidLog: RateLimitedLog;
  readonly admission: AdmissionQueue<QueuedCheck>;
  private readonly throttle = new LogThrottle();
  private readonly afterCheck: AfterCheck | null;

  constructor(options: CheckServiceOptions) {
    this.invalidLog = new RateLimitedLog(options.logger, 'invalid_request', 'malformed CheckRequest');
    this.events = options.events ?? null;
    this.afterCheck = options.afterCheck ?? null;
    this.eventsLogged = this.events !== null && (options.eventsLogged ?? false);
    this.waf = options.waf;
    this.engines = options.engines ?? null;
    this.failOpen = options.failOpen;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.contentType = options.denyResponse.contentType;
    this.denyHeaders = Object.freeze([
      Object.freeze({
        header: Object.freeze({ key: 'content-type', value: this.contentType }),
        append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' as const,
      }),
    ]) as HeaderValueOptionObj[];
    this.bodyParts = options.denyResponse.body === null ? null : options.denyResponse.body.split(REQUEST_ID_PLACEHOLDER);
    this.admission = new AdmissionQueue<QueuedCheck>(
      options.admission ?? DEFAULT_ADMISSION,
      { run: this.runQueued, refuse: this.refuseQueued },
      this.metrics.overload,
    );
  }

  /** The grpc-js unary handler for proto-loader decoded requests: hands the call to admission. */
  readonly handler: grpc.handleUnaryCall<CheckRequestMsg, CheckResponseObj> = (call, callback) => {
    this.admission.admit({ message: call.request, decoded: null, callback }, call);
  };

  /** The handler for requests decoded by check-decoder.ts' deserializer (what the server uses). */
  readonly decodedHandler: grpc.handleUnaryCall<DecodedCheck, CheckResponseObj> = (call, callback) => {
    this.admission.admit({ message: null, decoded: call.request, callback }, call);
  };

  private readonly runQueued = (p: PendingCall<QueuedCheck>, budget: CheckBudget | null): void => {
    const item = p.item;
    let outcome: CheckOutcome;
    if (item.decoded === null) outcome = this.check(item.message!, budget);
    else if (item.decoded.error !== null) outcome = this.invalidRequest(item.decoded.error);
    else outcome = this.checkMapped(item.decoded.mapped, performance.now(), budget);
    if (outcome.error) item.callback(outcome.error);
    else item.callback(null, outcome.response);
  };

  private readonly refuseQueued = (p: PendingCall<QueuedCheck>, reason: RefuseReason): void => {
    let outcome: CheckOutcome;
    try {
      const item = p.item;
      const requestId = item.decoded !== null ? (item.decoded.mapped?.context.requestId ?? '') : (item.message?.attributes?.request?.http?.id ?? '');
      const kind: OverloadKind = reason === 'expired' ? 'expired' : 'shed';
      const held = this.throttle.take(kind);
      if (held >= 0) {
        this.logger.warn(
          { event: 'overload', kind, reason, request_id: requestId, queue_depth: this.admission.depth, fail_open: this.failOpen, suppressed: held },
          reason === 'expired' ? 'check expired before evaluation (deadline passed)' : 'check shed: server overloaded',
        );
      }
      this.metrics.check(this.failOpen ? 'allow' : 'deny');
      outcome = this.policyAnswer(requestId, this.waf.mode, kind);
    } catch (err) {
      outcome = this.evaluationFailure('internal', err, null, null, performance.now());
    }
    if (outcome.error) p.item.callback(outcome.error);
    else p.item.callback(null, outcome.response);
  };

  /** Answers one CheckRequest decoded by proto-loader, within `budget` when given. Never throws. */
  check(message: CheckRequestMsg, budget: CheckBudget | null = null): CheckOutcome {
    const started = performance.now();
    let mapped: MappedCheck;
    try {
      mapped = mapCheckRequest(message);
    } catch (err) {
      if (err instanceof CheckRequestError) return this.invalidRequest(err);
      return this.evaluationFailure('internal', err, null, null, started);
    }
    return this.checkMapped(mapped, started, budget);
  }

  /** A CheckRequest that cannot be evaluated: INVALID_ARGUMENT, counted, logged (rate-limited). */
  private invalidRequest(err: CheckRequestError): CheckOutcome {
    this.metrics.error('invalid_request');
    this.invalidLog.warn(err.message);
    return { error: { code: grpc.status.INVALID_ARGUMENT, details: err.message, metadata: new grpc.Metadata() } };
  }

  /** Answers one mapped CheckRequest, within `budget` when given. Never throws. */
  checkMapped(mapped: MappedCheck, started: number, budget: CheckBudget | null = null): CheckOutcome {
    let context: CheckContext | null = null;
    try {
      context = mapped.context;
      const request = mapped.request;
      if (request.bodyPartial) this.metrics.partialBody();

      // Read once: a reload swapping engines meanwhile does not affect this check.
      const waf = this.engines === null ? this.waf : this.engines.engineFor(context);
      let verdict: Verdict;
      try {
        verdict = waf.evaluate(request, budget);
      } catch (err) {
        return this.evaluationFailure('evaluation', err, context, request, started, waf);
      }
      if (verdict.budgetStop) return this.budgetExceeded(verdict, budget, context, request, started, waf);

      const response = this.respond(verdict, context.requestId);
      const ruleIds = verdict.ruleIds;
      for (let i = 0; i < ruleIds.length; i++) this.metrics.ruleHit(ruleIds[i]!);
      this.metrics.check(verdict.action);
      // With the events log sink on, the security event is the detection's log line (no double
      // lines); a denial without a matched rule (e.g. body too large) produces no event.
      if (verdict.matches.length > 0 ? !this.eventsLogged : verdict.action !== 'allow') this.logDetection(verdict, context, request);
      // Security event: references only; the pipeline builds and delivers it off this path.
      if (this.events !== null && verdict.matches.length > 0) {
        this.events.enqueue({ timeMs: Date.now(), verdict, context, method: request.method, uri: request.uri, protocol: request.protocol });
      }
      if (this.afterCheck !== null) this.afterCheck(context, request, verdict);
      this.metrics.observeDuration((performance.now() - started) / 1000);
      return { response };
    } catch (err) {
      // A bug on our side (mapping or response building): treat it like an evaluation error.
      return this.evaluationFailure('internal', err, context, null, started);
    }
  }

  private respond(verdict: Verdict, requestId: string): CheckResponseObj {
    const fields: Record<string, StructValue> = {
      waf_action: ACTION_VALUES[verdict.action] ?? { stringValue: String(verdict.action) },
      waf_mode: MODE_VALUES[verdict.mode] ?? { stringValue: String(verdict.mode) },
      waf_rule_ids: EMPTY_RULE_IDS,
      waf_anomaly_score: verdict.anomalyScore ? { numberValue: verdict.anomalyScore } : ZERO_SCORE,
      waf_request_id: { stringValue: requestId },
    };
    const ids = verdict.ruleIds;
    if (ids.length > 0) {
      const values: StructValue[] = new Array(ids.length);
      for (let i = 0; i < ids.length; i++) values[i] = { numberValue: ids[i]! };
      fields.waf_rule_ids = { listValue: { values } };
    }
    const dynamic_metadata = { fields };
    if (verdict.action !== 'deny') return { status: STATUS_OK, ok_response: OK_RESPONSE, dynamic_metadata };

    let headers = this.denyHeaders;
    let status = validHttpStatus(verdict.status, 403);
    if (verdict.redirectUrl) {
      if (status < 300 || status > 399) status = 302;
      headers = [...headers, { header: { key: 'location', value: verdict.redirectUrl }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
    }
    return {
      status: STATUS_DENIED,
      denied_response: { status: { code: status }, headers, body: this.denyBody(requestId) },
      dynamic_metadata,
    };
  }

  /** The configured deny body for one request. */
  denyBody(requestId: string): string {
    const parts = this.bodyParts;
    if (parts === null) return '{"error":"request blocked","request_id":' + JSON.stringify(requestId) + '}';
    if (parts.length === 1) return parts[0]!;
    return parts.join(requestId.replace(UNSAFE_ID_CHARS, ''));
  }

  private evaluationFailure(
    kind: 'evaluation' | 'internal',
    err: unknown,
    context: CheckContext | null,
    request: HttpRequest | null,
    started: number,
    waf: WafLike = this.waf,
  ): CheckOutcome {
    const requestId = context?.requestId ?? '';
    this.metrics.error(kind);
    const action = this.failOpen ? 'allow' : 'deny';
    this.metrics.check(action);
    this.logger.error(
      {
        event: 'evaluation_error',
        kind,
        request_id: requestId,
        action,
        fail_open: this.failOpen,
        method: request ? logText(request.method, 32) : undefined,
        path: request ? this.logPath(request.uri) : undefined,
        err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
      },
      this.failOpen ? 'evaluation failed, allowing (fail_open)' : 'evaluation failed, denying with 503',
    );
    this.metrics.observeDuration((performance.now() - started) / 1000);
    return this.policyAnswer(requestId, waf.mode, null);
  }

  /** An evaluation its budget stopped: answered per policy, counted by reason and rule, logged (throttled). */
  private budgetExceeded(
    verdict: Verdict,
    budget: CheckBudget | null,
    context: CheckContext,
    request: HttpRequest,
    started: number,
    waf: WafLike,
  ): CheckOutcome {
    const stop = verdict.budgetStop!;
    const reason = budget?.reason ?? 'max_check_ms';
    this.metrics.overload.budgetExceeded(reason, stop.ruleId);
    const action = this.failOpen ? 'allow' : 'deny';
    this.metrics.check(action);
    const held = this.throttle.take('budget');
    if (held >= 0) {
      this.logger.warn(
        {
          event: 'budget_exceeded',
          reason,
          rule_id: stop.ruleId,
          phase: stop.phase,
          elapsed_ms: budget === null ? undefined : Math.round(budget.elapsedMs() * 10) / 10,
          request_id: context.requestId,
          action,
          fail_open: this.failOpen,
          method: logText(request.method, 32),
          path: this.logPath(request.uri),
          suppressed: held,
        },
        `evaluation stopped at rule ${stop.ruleId} (phase ${stop.phase}): ${reason === 'deadline' ? 'deadline passed' : 'max_check_ms exceeded'}`,
      );
    }
    this.metrics.observeDuration((performance.now() - started) / 1000);
    return this.policyAnswer(context.requestId, waf.mode, 'budget');
  }

  /**
   * The fail-open/closed answer for a check that was not (completely) evaluated: allow, or deny
   * with HTTP 503. `overload` null = an evaluation error (waf_error), else why (waf_overload).
   */
  private policyAnswer(requestId: string, mode: EngineMode, overload: OverloadKind | null): CheckOutcome {
    const action = this.failOpen ? 'allow' : 'deny';
    const fields: Record<string, StructValue> = {
      waf_action: ACTION_VALUES[action],
      waf_mode: MODE_VALUES[mode] ?? { stringValue: String(mode) },
      waf_rule_ids: EMPTY_RULE_IDS,
      waf_anomaly_score: ZERO_SCORE,
      waf_request_id: { stringValue: requestId },
    };
    if (overload === null) fields.waf_error = TRUE_VALUE;
    else fields.waf_overload = OVERLOAD_VALUES[overload];
    const dynamic_metadata = { fields };
    if (this.failOpen) return { response: { status: STATUS_OK, ok_response: OK_RESPONSE, dynamic_metadata } };
    return {
      response: {
        status: overload === null ? STATUS_DENIED_ERROR : STATUS_DENIED_OVERLOAD,
        denied_response: { status: { code: 503 }, headers: this.denyHeaders, body: this.denyBody(requestId) },
        dynamic_metadata,
      },
    };
  }

  private logPath(uri: string): string {
    const q = uri.indexOf('?');
    return logText(q === -1 ? uri : uri.slice(0, q), LOG_PATH_MAX);
  }

  private logDetection(verdict: Verdict, context: CheckContext, request: HttpRequest): void {
    const matches = verdict.matches.map(logMatch);
    const line = {
      event: 'detection',
      request_id: context.requestId,
      action: verdict.action,
      mode: verdict.mode,
      status: verdict.action === 'deny' ? validHttpStatus(verdict.status, 403) : undefined,
      interrupting_rule_id: verdict.interruptingRuleId || undefined,
      rule_ids: verdict.ruleIds,
      anomaly_score: verdict.anomalyScore,
      method: logText(request.method, 32),
      path: this.logPath(request.uri),
      host: logText(context.host, LOG_PATH_MAX),
      client_ip: context.source.address,
      body_partial: request.bodyPartial || undefined,
      body_error: verdict.requestBodyError ?? undefined,
      matches,
    };
    if (verdict.action === 'deny') this.logger.warn(line, 'request blocked');
    else this.logger.info(line, verdict.action === 'detect' ? 'request would be blocked (detect mode)' : 'rules matched');
  }
}

function logMatch(m: RuleMatch) {
  const secret = SECRET_VARIABLE.test(m.matchedVar);
  return {
    id: m.id,
    msg: logText(m.msg, LOG_VALUE_MAX),
    severity: m.severity ?? undefined,
    matched_var: logText(m.matchedVar, LOG_VALUE_MAX),
    matched_data: secret ? '[redacted]' : logText(m.matchedData, LOG_VALUE_MAX),
    data: m.logdata ? (secret ? '[redacted]' : logText(m.logdata, LOG_VALUE_MAX)) : undefined,
  };
}
