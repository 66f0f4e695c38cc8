// TLS for the admission webhook, one of two ways:
// - self-signed: the controller keeps a CA + serving certificate in a Secret of its namespace
//   (created on first start, re-issued when missing, expiring within 30 days or for other DNS
//   names; replicas share it) and patches the MutatingWebhookConfiguration's caBundle;
// - files: a certificate mounted from elsewhere (cert-manager), re-read when it changes.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { KubeApiError, seg, type KubeClient } from './kube-client.js';
import { createCertificateAuthority, createServingCertificate } from './x509.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM of the CA that signed `cert` (self-signed mode). */
  ca?: string;
}

export const RENEW_BEFORE_DAYS = 30;
const CA_DAYS = 3650;
const SERVING_DAYS = 365;
const CA_NAME = 'sidewall-webhook-ca';

/** The DNS names a Service is reached by from the API server. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export function generateTls(dnsNames: string[], now = new Date()): TlsMaterial {
  const ca = createCertificateAuthority({ commonName: CA_NAME, days: CA_DAYS }, now);
  const serving = createServingCertificate(ca, { commonName: dnsNames[0]!, dnsNames, days: SERVING_DAYS, caCommonName: CA_NAME }, now);
  return { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem };
}

/** Whether stored material can still be used: parses, chains to its CA, covers the names, not expiring. */
export function usableTls(m: TlsMaterial, dnsNames: string[], now = new Date()): boolean {
  try {
    const cert = new X509Certificate(m.cert);
    if (m.ca === undefined) return false;
    const ca = new X509Certificate(m.ca);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (!dnsNames.every((d) => cert.checkHost(d) === d)) return false;
    return new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_DAYS * 86400_000;
  } catch {
    return false;
  }
}

interface SecretLike {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

function fromSecret(s: SecretLike | null): TlsMaterial | null {
  const d = s?.data;
  if (!d?.['tls.crt'] || !d['tls.key'] || !d['ca.crt']) return null;
  const b = (v: string) => Buffer.from(v, 'base64').toString('utf8');
  return { cert: b(d['tls.crt']), key: b(d['tls.key']), ca: b(d['ca.crt']) };
}

function secretBody(name: string, namespace: string, m: TlsMaterial, resourceVersion?: string): unknown {
  const b = (v: string) => Buffer.from(v, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'sidewall' }, ...(resourceVersion ? { resourceVersion } : {}) },
    data: { 'tls.crt': b(m.cert), 'tls.key': b(m.key), 'ca.crt': b(m.ca!) },
  };
}

export interface SelfSignedOptions {
  client: KubeClient;
  namespace: string;
  secretName: string;
  service: string;
  webhookConfiguration: string;
  logger: Logger;
}

/** Reads or creates the webhook's certificate Secret, then points the webhook's caBundle at its CA. */
export async function ensureSelfSignedTls(o: SelfSignedOptions): Promise<TlsMaterial> {
  const names = serviceDnsNames(o.service, o.namespace);
  const path = `/api/v1/namespaces/${seg(o.namespace)}/secrets`;
  let material: TlsMaterial | null = null;
  for (let attempt = 0; attempt < 3 && material === null; attempt++) {
    const existing = await o.client.getOrNull<SecretLike>(`${path}/${seg(o.secretName)}`);
    const stored = fromSecret(existing);
    if (stored && usableTls(stored, names)) {
      material = stored;
      break;
    }
    const fresh = generateTls(names);
    try {
      if (existing === null) await o.client.request('POST', path, secretBody(o.secretName, o.namespace, fresh));
      else await o.client.request('PUT', `${path}/${seg(o.secretName)}`, secretBody(o.secretName, o.namespace, fresh, existing.metadata?.resourceVersion));
      o.logger.info({ secret: `${o.namespace}/${o.secretName}`, dns_names: names }, 'webhook certificate issued');
      material = fresh;
    } catch (err) {
      // Another replica wrote it first: use theirs.
      if (err instanceof KubeApiError && err.status === 409) continue;
      throw err;
    }
  }
  if (material === null) throw new Error(`cannot settle the webhook certificate Secret ${o.namespace}/${o.secretName}`);
  await patchCaBundle(o.client, o.webhookConfiguration, material.ca!, o.logger);
  return material;
}

interface WebhookConfigLike {
  webhooks?: Array<{ name?: string; clientConfig?: { caBundle?: string } }>;
}

/** Sets caBundle on every webhook of the configuration (JSON patch guarded by each webhook's name). */
export async function patchCaBundle(client: KubeClient, configName: string, caPem: string, logger: Logger): Promise<void> {
  const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${seg(configName)}`;
  const cfg = await client.get<WebhookConfigLike>(path);
  const bundle = Buffer.from(caPem, 'utf8').toString('base64');
  const ops: unknown[] = [];
  (cfg.webhooks ?? []).forEach((w, i) => {
    if (w.clientConfig?.caBundle === bundle) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name });
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle });
  });
  if (ops.length === 0) return;
  await client.request('PATCH', path, ops, 'application/json-patch+json');
  logger.info({ webhook_configuration: configName }, 'webhook caBundle updated');
}

/** Reads a certificate + key pair from files (cert-manager mounts them from a Secret). */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  try {
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } catch (err) {
    throw new Error(`webhook TLS: cannot read ${(err as NodeJS.ErrnoException).path ?? certFile}: ${(err as Error).message}`);
  }
}
