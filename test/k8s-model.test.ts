// The annotation model, the rendered settings format (the contract with the Sidewall container),
// JSON Patch, and the webhook certificates (verified by Node's X509Certificate and a TLS handshake).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { parseKeyValueList, resolveNamespacePolicy, resolvePodPolicy } from '../src/k8s/annotations.js';
import { formatPodSettings } from '../src/settings/pod-settings.js';
import { applyJsonPatch } from '../src/k8s/json-patch.js';
import { inClusterConfig } from '../src/k8s/kube-client.js';
import { exclusionsFromConfigMap, parseRenderedSettings, renderSettingsConfigMap, renderSettingsYaml } from '../src/k8s/settings-render.js';
import { generateTls, serviceDnsNames, usableTls } from '../src/k8s/webhook-tls.js';
import { createCertificateAuthority, createServingCertificate } from '../src/k8s/x509.js';

describe('annotations', () => {
  test('defaults: disabled, detect, paranoia 1, no threshold', () => {
    const { policy, problems } = resolveNamespacePolicy({}, null);
    assert.deepEqual(policy, { settings: { waf: 'disabled', mode: 'detect', paranoiaLevel: 1 }, injection: {} });
    assert.deepEqual(problems, []);
  });

  test('every key parsed; invalid values keep the previous valid value; removed keys return to defaults', () => {
    const first = resolveNamespacePolicy(
      {
        'sidewall.io/waf': 'enabled',
        'sidewall.io/mode': 'block',
        'sidewall.io/paranoia-level': '4',
        'sidewall.io/anomaly-threshold': '12',
        'sidewall.io/exclusions': 'shop-exclusions',
        'sidewall.io/events-webhook': 'hook',
        'sidewall.io/fail-open': 'true',
        'sidewall.io/max-request-bytes': '4096',
        'sidewall.io/allow-partial-message': 'false',
        'sidewall.io/exclude-inbound-ports': '9000, 8000,9000',
      },
      null,
    );
    assert.deepEqual(first.problems, []);
    assert.deepEqual(first.policy, {
      settings: { waf: 'enabled', mode: 'block', paranoiaLevel: 4, anomalyThreshold: 12, exclusions: 'shop-exclusions', eventsWebhook: 'hook' },
      injection: { failOpen: true, maxRequestBytes: 4096, allowPartialMessage: false, excludeInboundPorts: [8000, 9000] },
    });
    const second = resolveNamespacePolicy(
      { 'sidewall.io/waf': 'on', 'sidewall.io/mode': 'Block', 'sidewall.io/paranoia-level': '0', 'sidewall.io/anomaly-threshold': '-1', 'sidewall.io/exclusions': 'Bad_Name', 'sidewall.io/exclude-inbound-ports': '70000', 'sidewall.io/wafmode': 'x' },
      first.policy,
    );
    assert.deepEqual(
      second.problems.map((p) => p.key).sort(),
      ['sidewall.io/anomaly-threshold', 'sidewall.io/exclude-inbound-ports', 'sidewall.io/exclusions', 'sidewall.io/mode', 'sidewall.io/paranoia-level', 'sidewall.io/waf', 'sidewall.io/wafmode'],
    );
    assert.equal(second.policy.settings.waf, 'enabled');
    assert.equal(second.policy.settings.mode, 'block');
    assert.equal(second.policy.settings.paranoiaLevel, 4);
    assert.equal(second.policy.settings.anomalyThreshold, 12);
    assert.equal(second.policy.settings.exclusions, 'shop-exclusions');
    assert.deepEqual(second.policy.injection.excludeInboundPorts, [8000, 9000]);
    assert.equal(second.policy.settings.eventsWebhook, undefined, 'a removed annotation is a valid change');
    assert.equal(second.policy.injection.failOpen, undefined);
  });

  test('pod overrides: only valid pod keys, listed for --pod-settings; exclusions are namespace-only', () => {
    const ns = resolveNamespacePolicy({ 'sidewall.io/waf': 'enabled', 'sidewall.io/paranoia-level': '2' }, null).policy;
    const pod = resolvePodPolicy({ 'sidewall.io/mode': 'block', 'sidewall.io/anomaly-threshold': '9', 'sidewall.io/paranoia-level': 'x', 'sidewall.io/exclusions': 'mine' }, ns);
    assert.deepEqual(pod.podSettings, { mode: 'block', anomalyThreshold: 9 });
    assert.equal(formatPodSettings(pod.podSettings), 'mode=block,anomaly_threshold=9');
    assert.equal(pod.settings.paranoiaLevel, 2);
    assert.deepEqual(pod.problems.map((p) => p.key), ['sidewall.io/paranoia-level', 'sidewall.io/exclusions']);
    assert.equal(resolvePodPolicy({ 'sidewall.io/inject': 'false' }, ns).optedOut, true);
    assert.equal(formatPodSettings({}), '');
  });

  test('--namespace-annotations list parsing names the bad item', () => {
    assert.deepEqual(parseKeyValueList('a=1, b = two ,', '--x'), { a: '1', b: 'two' });
    assert.throws(() => parseKeyValueList('a=1,oops', '--x'), /--x: expected key=value, got "oops"/);
  });
});

describe('rendered settings (contract format)', () => {
  test('settings.yaml: keys in order, optional keys omitted, parses back', () => {
    const full = renderSettingsYaml('shop', { waf: 'enabled', mode: 'detect', paranoiaLevel: 1, anomalyThreshold: 5, eventsWebhook: 'shop-hook' }, true);
    assert.equal(
      full,
      'version: 1\nnamespace: shop\nwaf: enabled\nmode: detect\nparanoia_level: 1\nanomaly_threshold: 5\nexclusions: true\nevents_webhook_secret: shop-hook\n',
    );
    const minimal = renderSettingsYaml('shop', { waf: 'disabled', mode: 'block', paranoiaLevel: 3 }, false);
    assert.equal(minimal, 'version: 1\nnamespace: shop\nwaf: disabled\nmode: block\nparanoia_level: 3\nexclusions: false\n');
    assert.deepEqual(parse(full), {
      version: 1,
      namespace: 'shop',
      waf: 'enabled',
      mode: 'detect',
      paranoia_level: 1,
      anomaly_threshold: 5,
      exclusions: true,
      events_webhook_secret: 'shop-hook',
    });
    // Names YAML would read as something else are quoted, so they still parse as strings.
    assert.deepEqual(parse(renderSettingsYaml('123', { waf: 'enabled', mode: 'detect', paranoiaLevel: 1, eventsWebhook: 'true' }, false)).namespace, '123');
    assert.equal(parse(renderSettingsYaml('123', { waf: 'enabled', mode: 'detect', paranoiaLevel: 1, eventsWebhook: 'true' }, false)).events_webhook_secret, 'true');
    assert.deepEqual(parseRenderedSettings(full), { waf: 'enabled', mode: 'detect', paranoiaLevel: 1, anomalyThreshold: 5, eventsWebhook: 'shop-hook' });
    assert.equal(parseRenderedSettings('version: 2\n'), null);
  });

  test('ConfigMap object: name, label, both data keys', () => {
    const cm = renderSettingsConfigMap('shop', { waf: 'enabled', mode: 'block', paranoiaLevel: 2 }, 'SecRuleRemoveById 1\n');
    assert.deepEqual(cm.metadata, { name: 'sidewall-settings', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'sidewall' } });
    assert.deepEqual(Object.keys(cm.data!), ['settings.yaml', 'exclusions.conf']);
    assert.match(cm.data!['settings.yaml']!, /exclusions: true/);
  });

  test('exclusions: exclusions.conf key wins, else *.conf in key order, else empty', () => {
    assert.equal(exclusionsFromConfigMap({ data: { 'exclusions.conf': 'A\n', 'a.conf': 'B\n' } }), 'A\n');
    assert.equal(exclusionsFromConfigMap({ data: { 'z.conf': 'Z', 'a.conf': 'A\n', 'readme.md': 'no' } }), 'A\nZ\n');
    assert.equal(exclusionsFromConfigMap({ data: {} }), '');
    assert.equal(exclusionsFromConfigMap(null), '');
  });
});

describe('JSON patch applier (RFC 6902)', () => {
  test('add/remove/replace/move/copy/test with escaped pointers; failures throw; input untouched', () => {
    const doc = { a: { 'x/y': 1, 'm~n': [1, 2] } };
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/x~1y', value: 2 },
      { op: 'add', path: '/a/m~0n/-', value: 3 },
      { op: 'add', path: '/a/m~0n/0', value: 0 },
      { op: 'replace', path: '/a/m~0n/1', value: 9 },
      { op: 'copy', from: '/a/x~1y', path: '/b' },
      { op: 'move', from: '/b', path: '/c' },
      { op: 'remove', path: '/a/m~0n/3' },
      { op: 'test', path: '/c', value: 2 },
    ]);
    assert.deepEqual(out, { a: { 'x/y': 2, 'm~n': [0, 9, 2] }, c: 2 });
    assert.deepEqual(doc, { a: { 'x/y': 1, 'm~n': [1, 2] } });
    assert.throws(() => applyJsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }]), /path not found/);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'add', path: '/a/m~0n/5', value: 1 }]), /out of range/);
    assert.throws(() => applyJsonPatch(doc, [{ op: 'test', path: '/a/x~1y', value: 5 }]), /test failed/);
  });
});

describe('webhook certificates', () => {
  test('CA and serving certificate verify, chain and cover the service names', () => {
    const ca = createCertificateAuthority({ commonName: 'test-ca', days: 10 });
    const names = serviceDnsNames('sidewall-controller', 'sidewall-system');
    const srv = createServingCertificate(ca, { commonName: names[2]!, dnsNames: names, days: 5, caCommonName: 'test-ca' });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(srv.certPem);
    assert.equal(caCert.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(caCert.verify(caCert.publicKey), 'CA is self-signed');
    assert.ok(cert.verify(caCert.publicKey), 'signed by the CA');
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkHost('sidewall-controller.sidewall-system.svc'), 'sidewall-controller.sidewall-system.svc');
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.match(cert.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/);
    const other = createCertificateAuthority({ commonName: 'other', days: 1 });
    assert.equal(cert.verify(new X509Certificate(other.certPem).publicKey), false);
    const validDays = (Date.parse(cert.validTo) - Date.now()) / 86400_000;
    assert.ok(validDays > 4.9 && validDays < 5.1);
  });

  test('usableTls: fresh material is usable; expiring, foreign-CA or wrong-name material is not', () => {
    const names = ['svc.ns.svc'];
    const m = generateTls(names);
    assert.equal(usableTls(m, names), true);
    assert.equal(usableTls(m, ['other.ns.svc']), false);
    assert.equal(usableTls({ ...m, ca: generateTls(names).ca }, names), false);
    assert.equal(usableTls(m, names, new Date(Date.now() + 340 * 86400_000)), false, 'within 30 days of expiry');
  });

  test('a TLS handshake succeeds for a client trusting only the generated CA', async () => {
    const m = generateTls(['localhost']);
    const server = createServer({ cert: m.cert, key: m.key }, (s) => s.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const got = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: m.ca }, () => {
          let d = '';
          s.on('data', (c) => (d += c));
          s.on('end', () => resolve(d));
        });
        s.once('error', reject);
      });
      assert.equal(got, 'hello');
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, servername: 'localhost' }, () => resolve(s));
          s.once('error', reject);
        }),
        /self-signed|unable to (verify|get local issuer)/,
      );
    } finally {
      server.close();
    }
  });
});

describe('in-cluster Kubernetes config', () => {
  test('reads the service account CA and address; names what is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidewall-sa-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), 'CA');
      writeFileSync(join(dir, 'token'), 'tok\n');
      assert.deepEqual(inClusterConfig(dir, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }), {
        server: 'https://10.96.0.1:443',
        tokenFile: join(dir, 'token'),
        ca: 'CA',
      });
      assert.equal(inClusterConfig(dir, { KUBERNETES_SERVICE_HOST: 'fd00::1' }).server, 'https://[fd00::1]:443');
      assert.throws(() => inClusterConfig(dir, {}), /KUBERNETES_SERVICE_HOST is not set/);
      assert.throws(() => inClusterConfig(join(dir, 'nope'), { KUBERNETES_SERVICE_HOST: 'h' }), /cannot read the service account CA/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
