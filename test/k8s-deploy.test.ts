// deploy/: every kustomization entry exists and parses; the webhook never blocks pods and skips
// system namespaces; RBAC is least privilege; the controller's args are accepted by its own flag
// parser; the example namespace's annotations are valid; the Envoy bootstrap template is what the
// injector renders (regenerate with SIDEWALL_UPDATE_GOLDEN=1).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { resolveNamespacePolicy } from '../src/k8s/annotations.js';
import { parseControllerArgs } from '../src/k8s/controller.js';
import { bootstrapYaml, buildBootstrap, type BootstrapOptions } from '../src/k8s/envoy-bootstrap.js';
import { defaultInjectorConfig, SOCKET_PATH } from '../src/k8s/injector-config.js';
import { REPO_ROOT } from '../bench/lib/shared.js';

const DEPLOY = join(REPO_ROOT, 'deploy');

function docs(file: string): any[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors[0]?.message}`);
    return d.toJS();
  });
}

function kustomizeResources(dir: string): any[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  const out: any[] = [];
  for (const r of k.resources as string[]) {
    const p = join(dir, r);
    if (existsSync(join(p, 'kustomization.yaml'))) out.push(...kustomizeResources(p));
    else out.push(...docs(p));
  }
  for (const patch of (k.patches ?? []) as Array<{ path: string }>) assert.ok(existsSync(join(dir, patch.path)), patch.path);
  return out;
}

const all = kustomizeResources(DEPLOY);
const find = (kind: string, name: string) => all.find((o) => o.kind === kind && o.metadata.name === name);

describe('deploy/ manifests', () => {
  test('namespace, controller Deployment + Service, webhook, RBAC are all there', () => {
    for (const [kind, name] of [
      ['Namespace', 'sidewall-system'],
      ['Deployment', 'sidewall-controller'],
      ['Service', 'sidewall-controller'],
      ['MutatingWebhookConfiguration', 'sidewall'],
      ['ServiceAccount', 'sidewall-controller'],
      ['ClusterRole', 'sidewall-controller'],
      ['ClusterRoleBinding', 'sidewall-controller'],
      ['Role', 'sidewall-controller-tls'],
      ['RoleBinding', 'sidewall-controller-tls'],
    ]) {
      assert.ok(find(kind!, name!), `${kind}/${name}`);
    }
  });

  test('webhook: Pod CREATE only, failurePolicy Ignore, skips kube-system and the controller namespace', () => {
    const w = find('MutatingWebhookConfiguration', 'sidewall').webhooks[0];
    assert.equal(w.failurePolicy, 'Ignore');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.equal(w.sideEffects, 'None');
    assert.deepEqual(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.equal(w.clientConfig.service.path, '/mutate');
    const excluded = w.namespaceSelector.matchExpressions.find((e: any) => e.key === 'kubernetes.io/metadata.name');
    assert.equal(excluded.operator, 'NotIn');
    assert.ok(excluded.values.includes('kube-system') && excluded.values.includes('sidewall-system'));
    const svc = find('Service', 'sidewall-controller');
    assert.equal(w.clientConfig.service.name, svc.metadata.name);
    assert.equal(w.clientConfig.service.port, svc.spec.ports.find((p: any) => p.name === 'webhook').port);
  });

  test('RBAC: no wildcards; secrets only in the controller namespace; webhook patch limited by name', () => {
    const cr = find('ClusterRole', 'sidewall-controller');
    for (const rule of [...cr.rules, ...find('Role', 'sidewall-controller-tls').rules]) {
      assert.ok(!rule.verbs.includes('*') && !rule.resources.includes('*') && !(rule.apiGroups ?? []).includes('*'), JSON.stringify(rule));
      assert.ok(!rule.verbs.includes('delete') && !rule.verbs.includes('deletecollection'), JSON.stringify(rule));
    }
    const resources = cr.rules.flatMap((r: any) => r.resources);
    assert.deepEqual(resources.sort(), ['configmaps', 'events', 'mutatingwebhookconfigurations', 'namespaces']);
    assert.ok(!resources.includes('secrets') && !resources.includes('pods'));
    const cm = cr.rules.find((r: any) => r.resources.includes('configmaps'));
    assert.ok(!cm.verbs.includes('list') && !cm.verbs.includes('watch'));
    const hook = cr.rules.find((r: any) => r.resources.includes('mutatingwebhookconfigurations'));
    assert.deepEqual(hook.resourceNames, ['sidewall']);
    const role = find('Role', 'sidewall-controller-tls');
    assert.equal(role.metadata.namespace, 'sidewall-system');
  });

  test('controller Deployment: its args parse; hardened; probes on the admin port', () => {
    const d = find('Deployment', 'sidewall-controller');
    const c = d.spec.template.spec.containers[0];
    assert.equal(c.args[0], 'controller');
    const opts = parseControllerArgs([...c.args.slice(1), '--kube-api', 'http://127.0.0.1:1', '--namespace', 'sidewall-system']);
    assert.notEqual(opts, 'help');
    if (opts !== 'help') {
      assert.equal(opts.tls.mode, 'self-signed');
      assert.equal(opts.listen, '0.0.0.0:8443');
    }
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(d.spec.template.spec.serviceAccountName, find('ServiceAccount', 'sidewall-controller').metadata.name);
  });

  test('cert-manager overlay: Certificate for the Service names, CA injection annotation, --tls files args parse', () => {
    const dir = join(DEPLOY, 'cert-manager');
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
    assert.deepEqual(k.resources, ['../', 'certificate.yaml']);
    const cert = docs(join(dir, 'certificate.yaml')).find((o) => o.kind === 'Certificate');
    assert.ok(cert.spec.dnsNames.includes('sidewall-controller.sidewall-system.svc'));
    const hook = docs(join(dir, 'webhook-patch.yaml'))[0];
    assert.equal(hook.metadata.annotations['cert-manager.io/inject-ca-from'], `sidewall-system/${cert.metadata.name}`);
    const patch = docs(join(dir, 'controller-patch.yaml'))[0];
    const c = patch.spec.template.spec.containers[0];
    const opts = parseControllerArgs([...c.args.slice(1), '--kube-api', 'http://127.0.0.1:1']);
    assert.ok(opts !== 'help' && opts.tls.mode === 'files');
    assert.equal(patch.spec.template.spec.volumes[0].secret.secretName, cert.spec.secretName);
  });

  test('example namespace: annotations are all valid and enable the WAF with exclusions', () => {
    const [ns, cm] = docs(join(DEPLOY, 'examples', 'shop-namespace.yaml'));
    const { policy, problems } = resolveNamespacePolicy(ns.metadata.annotations, null);
    assert.deepEqual(problems, []);
    assert.equal(policy.settings.waf, 'enabled');
    assert.equal(policy.settings.exclusions, cm.metadata.name);
    assert.match(cm.data['exclusions.conf'], /SecRule/);
  });

  test('the Envoy bootstrap template is what the injector renders', () => {
    const c = defaultInjectorConfig();
    const options: BootstrapOptions = {
      inboundPort: c.envoyInboundPort,
      probePort: c.envoyProbePort,
      adminPort: c.envoyAdminPort,
      socketPath: SOCKET_PATH,
      appPorts: [8080],
      probeRoutes: [{ path: '/sidewall-probe/app/readyz', targetPort: 8080, targetPath: '/healthz', https: false }],
      failureModeAllow: true,
      maxRequestBytes: c.maxRequestBytes,
      allowPartialMessage: c.allowPartialMessage,
      checkTimeoutMs: c.checkTimeoutMs,
    };
    const header =
      '# Envoy bootstrap as `sidewall inject` / the webhook render it (here for an app with one port, 8080,\n' +
      '# and one readiness probe GET /healthz). The injector renders one per pod and passes it inline\n' +
      '# (envoy --config-yaml): app ports, probe routes, failure_mode_allow and body limits vary.\n';
    const expected = header + bootstrapYaml(options);
    const file = join(DEPLOY, 'envoy-bootstrap.yaml');
    if (process.env.SIDEWALL_UPDATE_GOLDEN === '1') writeFileSync(file, expected);
    assert.equal(readFileSync(file, 'utf8'), expected, 'deploy/envoy-bootstrap.yaml is stale: rerun with SIDEWALL_UPDATE_GOLDEN=1');
    assert.deepEqual(parse(expected), buildBootstrap(options));
    assert.ok(existsSync(join(dirname(file), 'Dockerfile')));
  });
});
