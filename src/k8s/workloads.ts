// Where the pod template lives in each workload kind `sidewall inject` understands.
import type { ObjectMeta, PodSpec } from './pod-types.js';

export interface PodTemplateHolder {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

const TEMPLATE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ReplicationController'];
export const WORKLOAD_KINDS = ['Pod', ...TEMPLATE_KINDS, 'CronJob'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The object holding `metadata` + `spec` of the pod(s) a manifest creates — the Pod itself, the
 * workload's spec.template, or a CronJob's spec.jobTemplate.spec.template — or null for other kinds
 * (and for workloads without a template, which are left for the API server to reject).
 */
export function podTemplateOf(manifest: unknown): PodTemplateHolder | null {
  if (!isObject(manifest) || typeof manifest.kind !== 'string') return null;
  const spec = manifest.spec;
  if (!isObject(spec)) return null;
  if (manifest.kind === 'Pod') return manifest as unknown as PodTemplateHolder;
  let template: unknown = null;
  if (TEMPLATE_KINDS.includes(manifest.kind)) template = spec.template;
  else if (manifest.kind === 'CronJob' && isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec)) template = spec.jobTemplate.spec.template;
  return isObject(template) && isObject(template.spec) ? (template as unknown as PodTemplateHolder) : null;
}

/** `Deployment/shop/web` — for messages. */
export function describeManifest(manifest: unknown, index: number): string {
  if (!isObject(manifest)) return `document ${index + 1}`;
  const md = isObject(manifest.metadata) ? manifest.metadata : {};
  const name = typeof md.name === 'string' ? md.name : typeof md.generateName === 'string' ? `${md.generateName}*` : '?';
  return `${String(manifest.kind ?? 'object')}/${name} (document ${index + 1})`;
}
