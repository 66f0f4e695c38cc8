// AdmissionReview v1 → AdmissionReview v1 response for Pod CREATE.
//
// Never rejects a pod: anything we cannot handle (malformed review, unknown namespace, API error)
// is answered `allowed: true` without a patch and with a warning, so a Sidewall problem can at
// worst leave a pod uninjected — the same as the webhook's failurePolicy: Ignore.
import type { Logger } from 'pino';
import type { NamespacePolicy } from './annotations.js';
import type { AdmissionResult } from './controller-metrics.js';
import type { InjectorConfig } from './injector-config.js';
import { injectPod } from './injector.js';
import type { Pod } from './pod-types.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export interface AdmissionDeps {
  config: InjectorConfig;
  /** The namespace's last valid policy (from the watcher's cache, else read from the API). */
  policyFor(namespace: string): Promise<NamespacePolicy>;
  logger: Logger;
  onResult?(result: AdmissionResult): void;
}

interface AdmissionRequestLike {
  uid?: unknown;
  kind?: { group?: unknown; version?: unknown; kind?: unknown };
  operation?: unknown;
  namespace?: unknown;
  name?: unknown;
  object?: unknown;
}

function answer(uid: string, extra: Partial<AdmissionResponse> = {}): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } };
}

/** Answers one AdmissionReview request body (raw bytes as received). */
export async function reviewAdmission(body: string, deps: AdmissionDeps): Promise<AdmissionReviewResponse> {
  const malformed = (uid: string, why: string): AdmissionReviewResponse => {
    deps.onResult?.('malformed');
    deps.logger.warn({ uid, problem: why }, 'malformed admission review; pod allowed unchanged');
    return answer(uid, { warnings: [`sidewall: malformed AdmissionReview, pod not injected: ${why}`] });
  };
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch {
    return malformed('', 'body is not JSON');
  }
  if (typeof review !== 'object' || review === null) return malformed('', 'body is not an AdmissionReview object');
  const r = review as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  const req = (typeof r.request === 'object' && r.request !== null ? r.request : null) as AdmissionRequestLike | null;
  const uid = typeof req?.uid === 'string' ? req.uid : '';
  if (r.kind !== 'AdmissionReview' || r.apiVersion !== ADMISSION_API_VERSION) {
    return malformed(uid, `expected kind AdmissionReview, apiVersion ${ADMISSION_API_VERSION}`);
  }
  if (req === null) return malformed('', 'no request');
  if (uid === '') return malformed('', 'request has no uid');
  if (req.kind?.kind !== 'Pod' || (req.kind.group ?? '') !== '' || req.operation !== 'CREATE') {
    deps.onResult?.('skipped');
    return answer(uid); // not ours to mutate (the webhook is registered for Pod CREATE only)
  }
  const pod = req.object as Pod | undefined;
  const namespace =
    typeof req.namespace === 'string' && req.namespace !== ''
      ? req.namespace
      : typeof pod?.metadata?.namespace === 'string'
        ? pod.metadata.namespace
        : '';
  if (namespace === '') return malformed(uid, 'no namespace');
  const podName = pod?.metadata?.name ?? pod?.metadata?.generateName ?? '';

  let policy: NamespacePolicy;
  try {
    policy = await deps.policyFor(namespace);
  } catch (err) {
    deps.onResult?.('error');
    deps.logger.error({ namespace, pod: podName, err: (err as Error).message }, 'cannot read namespace policy; pod allowed unchanged');
    return answer(uid, { warnings: [`sidewall: pod not injected: cannot read namespace ${namespace}: ${(err as Error).message}`] });
  }

  const result = injectPod(pod as Pod, policy, deps.config);
  const warnings = result.warnings.length > 0 ? { warnings: result.warnings } : {};
  if (!result.injected) {
    deps.onResult?.(result.reason.startsWith('malformed') ? 'malformed' : 'skipped');
    deps.logger.debug({ namespace, pod: podName, reason: result.reason }, 'pod not injected');
    return answer(uid, warnings);
  }
  deps.onResult?.('injected');
  deps.logger.info({ namespace, pod: podName, mode: result.policy.settings.mode }, 'pod injected');
  return answer(uid, {
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(result.patch)).toString('base64'),
    ...warnings,
  });
}
