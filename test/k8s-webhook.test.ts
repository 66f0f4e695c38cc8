// The admission webhook over real HTTPS (certificates from src/k8s/x509.ts, the client trusts
// only the generated CA): AdmissionReview v1 cases with the JSONPatch applied and the resulting
// pod checked, and `sidewall inject` producing exactly the same pod spec.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parse, parseAllDocuments } from 'yaml';
import { resolveNamespacePolicy, type NamespacePolicy } from '../src/k8s/annotations.js';
import { defaultInjectorConfig } from '../src/k8s/injector-config.js';
import { injectManifests } from '../src/k8s/inject-command.js';
import { applyJsonPatch, type JsonPatchOp } from '../src/k8s/json-patch.js';
import type { Container, Pod } from '../src/k8s/pod-types.js';
import { startWebhookServer, type WebhookServerHandle } from '../src/k8s/webhook-server.js';
import { generateTls, serviceDnsNames, type TlsMaterial } from '../src/k8s/webhook-tls.js';

const NAMESPACES: Record<string, Record<string, string>> = {
  shop: { 'sidewall.io/waf': 'enabled' },
  strict: { 'sidewall.io/waf': 'enabled', 'sidewall.io/mode': 'block', 'sidewall.io/max-request-bytes': '65536', 'sidewall.io/allow-partial-message': 'false', 'sidewall.io/events-webhook': 'hook' },
  plain: {},
};

function policyOf(ns: string): NamespacePolicy {
  if (!(ns in NAMESPACES)) throw new Error(`namespaces "${ns}" not found`);
  return resolveNamespacePolicy(NAMESPACES[ns], null).policy;
}

function samplePod(annotations?: Record<string, string>, extra: Partial<Pod['spec']> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-', labels: { app: 'web' }, ...(annotations ? { annotations } : {}) },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx',
          ports: [{ containerPort: 8080, name: 'http' }, { containerPort: 9090 }, { containerPort: 5353, protocol: 'UDP' }],
          livenessProbe: { httpGet: { path: 'healthz', port: 'http' }, periodSeconds: 3 },
          readinessProbe: { httpGet: { path: '/ready?full=1', port: 9090, scheme: 'HTTPS', httpHeaders: [{ name: 'x-probe', value: '1' }] } },
          startupProbe: { tcpSocket: { port: 8080 } },
        },
      ],
      ...extra,
    },
  };
}

function review(pod: unknown, namespace: string, uid = 'uid-1', operation = 'CREATE'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace, operation, object: pod },
  };
}

interface ReviewAnswer {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] };
}

describe('admission webhook over HTTPS', () => {
  let tls: TlsMaterial;
  let server: WebhookServerHandle;
  const config = defaultInjectorConfig();

  before(async () => {
    tls = generateTls(['localhost', ...serviceDnsNames('sidewall-controller', 'sidewall-system')]);
    server = await startWebhookServer('127.0.0.1:0', tls, { config, policyFor: async (ns) => policyOf(ns), logger: pino({ level: 'silent' }) });
  });
  after(() => server.close());

  function post(body: string | Buffer, path = '/mutate'): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', servername: 'localhost', port: server.port, path, method: 'POST', ca: tls.ca, headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.once('error', reject);
      req.end(body);
    });
  }

  async function admit(body: unknown): Promise<ReviewAnswer> {
    const r = await post(typeof body === 'string' ? body : JSON.stringify(body));
    assert.equal(r.status, 200, r.text);
    const answer = JSON.parse(r.text) as ReviewAnswer;
    assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
    assert.equal(answer.kind, 'AdmissionReview');
    assert.equal(answer.response.allowed, true, 'never a rejected pod');
    return answer;
  }

  function patched(pod: Pod, answer: ReviewAnswer): Pod {
    assert.equal(answer.response.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(answer.response.patch!, 'base64').toString('utf8')) as JsonPatchOp[];
    return applyJsonPatch(pod, ops);
  }

  const byName = (pod: Pod, name: string): Container => pod.spec.containers.find((c) => c.name === name)!;
  const bootstrapOf = (pod: Pod): any => {
    const args = byName(pod, 'sidewall-envoy').args as string[];
    return parse(args[args.indexOf('--config-yaml') + 1]!);
  };
  const extAuthzOf = (b: any): any => b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config;

  test('the client only connects when it trusts the generated CA; the certificate covers the service names', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', servername: 'localhost', port: server.port, path: '/healthz', method: 'GET' }, resolve);
        req.once('error', reject);
        req.end();
      }),
      /self-signed|unable to verify|unable to get local issuer/,
    );
    const r = await post('', '/healthz');
    assert.equal(r.status, 200);
  });

  test('annotated namespace: pod injected; resulting pod has the sidecars, volumes, rewritten probes', async () => {
    const pod = samplePod();
    const answer = await admit(review(pod, 'shop'));
    assert.equal(answer.response.uid, 'uid-1');
    const out = patched(pod, answer);
    assert.equal(out.metadata!.annotations!['sidewall.io/status'], 'injected');
    assert.deepEqual(out.spec.containers.map((c) => c.name), ['web', 'sidewall-envoy', 'sidewall']);
    assert.deepEqual(out.spec.initContainers!.map((c) => c.name), ['sidewall-init']);
    assert.deepEqual(out.spec.volumes!.map((v) => v.name), ['sidewall-socket', 'sidewall-settings', 'sidewall-tmp']);
    assert.deepEqual(out.spec.volumes![1], { name: 'sidewall-settings', configMap: { name: 'sidewall-settings', optional: true } });

    const sw = byName(out, 'sidewall');
    assert.deepEqual(sw.args, ['serve', '--listen', 'unix:/var/run/sidewall/authz.sock', '--admin', '0.0.0.0:9002', '--settings-dir', '/etc/sidewall/settings']);
    assert.equal(sw.image, config.sidewallImage);
    assert.deepEqual((sw.livenessProbe as any).httpGet, { path: '/healthz', port: 9002, scheme: 'HTTP' });
    assert.deepEqual((sw.readinessProbe as any).httpGet, { path: '/readyz', port: 9002, scheme: 'HTTP' });
    const sc = sw.securityContext as any;
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.runAsNonRoot, true);
    assert.ok(sc.runAsUser > 0);
    assert.ok((sw.resources as any).requests.cpu && (sw.resources as any).limits.memory);
    assert.deepEqual((sw.volumeMounts as any[]).map((m) => m.mountPath), ['/var/run/sidewall', '/etc/sidewall/settings', '/tmp']);

    // App probes: HTTP ones go to Envoy's probe port (no WAF), original path kept in the bootstrap route.
    const web = byName(out, 'web');
    assert.deepEqual(web.livenessProbe, { httpGet: { path: '/sidewall-probe/web/livez', port: 15021, scheme: 'HTTP' }, periodSeconds: 3 });
    assert.deepEqual(web.readinessProbe!.httpGet, { path: '/sidewall-probe/web/readyz', port: 15021, scheme: 'HTTP', httpHeaders: [{ name: 'x-probe', value: '1' }] });
    assert.deepEqual(web.startupProbe, { tcpSocket: { port: 8080 } }, 'tcpSocket probe unchanged');

    const b = bootstrapOf(out);
    const inbound = b.static_resources.listeners[0];
    assert.equal(inbound.address.socket_address.port_value, 15006);
    assert.deepEqual(inbound.filter_chains.map((c: any) => c.filter_chain_match.destination_port), [8080, 9090], 'TCP app ports only');
    const authz = extAuthzOf(b);
    assert.equal(authz.failure_mode_allow, true, 'detect namespace: fail open');
    assert.deepEqual(authz.with_request_body, { max_request_bytes: 1048576, allow_partial_message: true, pack_as_bytes: true });
    assert.equal(authz.grpc_service.timeout, '0.5s');
    const sidewallCluster = b.static_resources.clusters.find((c: any) => c.name === 'sidewall');
    assert.equal(sidewallCluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path, '/var/run/sidewall/authz.sock');
    const log = inbound.filter_chains[0].filters[0].typed_config.access_log[0].typed_config.log_format.json_format;
    for (const k of ['waf_action', 'waf_mode', 'waf_rule_ids', 'waf_anomaly_score', 'waf_request_id']) {
      assert.equal(log[k], `%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${k})%`);
    }
    const probeRoutes = b.static_resources.listeners[1].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    assert.deepEqual(
      probeRoutes.map((r: any) => [r.match.path, r.route.cluster, r.route.prefix_rewrite]),
      [
        ['/ready', 'envoy_admin', '/ready'],
        ['/sidewall-probe/web/livez', 'app_8080', '/healthz'],
        ['/sidewall-probe/web/readyz', 'probe_https_9090', '/ready?full=1'],
      ],
    );
    assert.ok(b.static_resources.clusters.find((c: any) => c.name === 'probe_https_9090').transport_socket);

    const init = out.spec.initContainers![0]!;
    const script = (init.command as string[])[2]!;
    assert.match(script, /-A SIDEWALL_INBOUND -p tcp -j REDIRECT --to-ports 15006/);
    for (const port of [15006, 15021, 15000, 9002]) assert.match(script, new RegExp(`--dport ${port} -j RETURN`));
    assert.deepEqual((init.securityContext as any).capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
  });

  test('namespace policy: block mode fails closed; body limits, partial message and events webhook from annotations', async () => {
    const pod = samplePod({ team: 'a' });
    const out = patched(pod, await admit(review(pod, 'strict')));
    assert.equal(out.metadata!.annotations!.team, 'a');
    const authz = extAuthzOf(bootstrapOf(out));
    assert.equal(authz.failure_mode_allow, false);
    assert.deepEqual(authz.with_request_body, { max_request_bytes: 65536, allow_partial_message: false, pack_as_bytes: true });
    const sw = byName(out, 'sidewall');
    // The webhook comes from the mounted Secret; undelivered events wait in an emptyDir spool that
    // survives restarts of the Sidewall container.
    assert.deepEqual((sw.args as string[]).slice(-4), ['--events-webhook-dir', '/etc/sidewall/webhook', '--events-spool', '/var/lib/sidewall/spool']);
    assert.deepEqual(out.spec.volumes!.slice(-2), [
      { name: 'sidewall-webhook', secret: { secretName: 'hook', optional: true } },
      { name: 'sidewall-spool', emptyDir: { sizeLimit: '256Mi' } },
    ]);
    assert.ok((sw.volumeMounts as Array<{ name: string; mountPath: string }>).some((m) => m.name === 'sidewall-spool' && m.mountPath === '/var/lib/sidewall/spool'));
  });

  test('pod annotations override the namespace: --pod-settings carries only the pod\'s own keys', async () => {
    const pod = samplePod({ 'sidewall.io/mode': 'block', 'sidewall.io/paranoia-level': '2', 'sidewall.io/anomaly-threshold': 'lots', 'sidewall.io/exclude-inbound-ports': '9090' });
    const answer = await admit(review(pod, 'shop'));
    const out = patched(pod, answer);
    const args = byName(out, 'sidewall').args as string[];
    assert.equal(args[args.indexOf('--pod-settings') + 1], 'mode=block,paranoia_level=2');
    assert.ok(answer.response.warnings!.some((w) => /sidewall\.io\/anomaly-threshold.*"lots"/.test(w)), 'invalid pod value reported as a warning');
    const b = bootstrapOf(out);
    assert.equal(extAuthzOf(b).failure_mode_allow, false, 'pod in block mode fails closed');
    assert.deepEqual(b.static_resources.listeners[0].filter_chains.map((c: any) => c.filter_chain_match.destination_port), [8080]);
    assert.match((out.spec.initContainers![0]!.command as string[])[2]!, /--dport 9090 -j RETURN/);
    assert.equal(byName(out, 'web').readinessProbe!.httpGet!.port, 9090, 'probe on an excluded port is left alone');

    // Enabled on the pod in a namespace without annotations: injected with waf=enabled passed along.
    const solo = samplePod({ 'sidewall.io/waf': 'enabled' });
    const soloOut = patched(solo, await admit(review(solo, 'plain')));
    const soloArgs = byName(soloOut, 'sidewall').args as string[];
    assert.equal(soloArgs[soloArgs.indexOf('--pod-settings') + 1], 'waf=enabled');
  });

  test('not injected: namespace not annotated, pod opted out, host network, already injected', async () => {
    const cases: Array<[Pod, string]> = [
      [samplePod(), 'plain'],
      [samplePod({ 'sidewall.io/inject': 'false' }), 'shop'],
      [samplePod({ 'sidewall.io/waf': 'disabled' }), 'shop'],
      [samplePod(undefined, { hostNetwork: true }), 'shop'],
    ];
    for (const [pod, ns] of cases) {
      const answer = await admit(review(pod, ns));
      assert.equal(answer.response.patch, undefined, `${ns} ${JSON.stringify(pod.metadata)} ${pod.spec.hostNetwork}`);
    }
    // Idempotent: a pod that went through injection once is left alone the second time.
    const pod = samplePod();
    const once = patched(pod, await admit(review(pod, 'shop')));
    const again = await admit(review(once, 'shop'));
    assert.equal(again.response.patch, undefined);
    // Also when only the containers are there (annotation stripped).
    delete once.metadata!.annotations!['sidewall.io/status'];
    assert.equal((await admit(review(once, 'shop'))).response.patch, undefined);
  });

  test('a pod using a port reserved for the sidecars is not injected, with a warning', async () => {
    const pod = samplePod();
    pod.spec.containers[0]!.ports!.push({ containerPort: 15006 });
    const answer = await admit(review(pod, 'shop'));
    assert.equal(answer.response.patch, undefined);
    assert.match(answer.response.warnings!.join('\n'), /port 15006 is reserved/);
  });

  test('malformed reviews are allowed with a warning, never rejected', async () => {
    const bad: Array<[string, string, RegExp]> = [
      ['not json at all', '', /not JSON/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), '', /no request/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { kind: 'Pod' } } }), '', /no uid/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u2' } }), 'u2', /expected kind AdmissionReview/],
      [JSON.stringify(review({ spec: { containers: 'nope' } }, 'shop', 'u3')), 'u3', /no containers/],
      [JSON.stringify(review({ metadata: { name: 'x' } }, 'shop', 'u4')), 'u4', /no spec/],
      [JSON.stringify(review(samplePod(), '', 'u5')), 'u5', /no namespace/],
    ];
    for (const [body, uid, why] of bad) {
      const answer = await admit(body);
      assert.equal(answer.response.uid, uid);
      assert.equal(answer.response.patch, undefined);
      assert.match(answer.response.warnings!.join('\n'), why, body);
    }
    // An unknown namespace (API error) is allowed too.
    const unknown = await admit(review(samplePod(), 'ghost', 'u6'));
    assert.match(unknown.response.warnings!.join('\n'), /cannot read namespace ghost/);
    // Not a Pod CREATE: allowed, untouched, no warning.
    const update = await admit(review(samplePod(), 'shop', 'u7', 'UPDATE'));
    assert.equal(update.response.patch, undefined);
    assert.equal(update.response.warnings, undefined);
    const r = await post('{}', '/other');
    assert.equal(r.status, 404);
  });

  test('`sidewall inject` produces exactly the pod spec the webhook does, for every workload kind', async () => {
    const pod = samplePod();
    const fromWebhook = patched(pod, await admit(review(pod, 'strict')));
    const template = { metadata: pod.metadata, spec: pod.spec };
    const manifests = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } },
      { apiVersion: 'v1', kind: 'Pod', ...pod },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template } },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 's' }, spec: { template } },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds' }, spec: { template } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { template } },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } } },
    ];
    const text = '# kept\n' + manifests.map((m) => JSON.stringify(m)).join('\n---\n') + '\n';
    const { output, notes } = injectManifests(text, policyOf('strict'), config, 'test.yaml');
    assert.deepEqual(notes, []);
    const docs = parseAllDocuments(output).map((d) => d.toJS());
    assert.equal(docs.length, manifests.length);
    assert.ok(output.startsWith('# kept\n{"apiVersion":"v1","kind":"ConfigMap"'), 'non-workload document passed through unchanged');
    assert.deepEqual(docs[1].spec, fromWebhook.spec);
    assert.deepEqual(docs[1].metadata, fromWebhook.metadata);
    for (const d of docs.slice(2, 6)) assert.deepEqual(d.spec.template, { metadata: fromWebhook.metadata, spec: fromWebhook.spec }, d.kind);
    assert.deepEqual(docs[6].spec.jobTemplate.spec.template.spec, fromWebhook.spec);
    // Injecting the output again changes nothing.
    const twice = injectManifests(output, policyOf('strict'), config, 'out.yaml');
    assert.deepEqual(parseAllDocuments(twice.output).map((d) => d.toJS()), docs);
    assert.equal(twice.notes.length, 6);
    assert.ok(twice.notes.every((n) => /already injected/.test(n)));
  });
});
