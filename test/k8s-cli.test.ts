// The real `sidewall controller` process against a local Kubernetes API (self-signed webhook TLS:
// Secret created, caBundle patched, HTTPS webhook trusted through that CA; settings ConfigMaps;
// metrics; SIGTERM), and `sidewall inject` / `controller` usage errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { FakeKubeApi } from './helpers/k8s-fake-api.js';
import { CLI_PATH, cleanupDir, freePort, makeTempDir, runCli, writeFiles } from './helpers/server-process.js';
import { REPO_ROOT } from '../bench/lib/shared.js';

function startController(args: string[]) {
  const child = spawn(process.execPath, [CLI_PATH, 'controller', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitLog = (re: RegExp, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        const line = stdout.split('\n').find((l) => re.test(l));
        if (line) return resolve(line);
        if (Date.now() - t0 > timeoutMs) return reject(new Error(`log ${re} not seen; stdout:\n${stdout}\nstderr:\n${stderr}`));
        setTimeout(tick, 25);
      };
      tick();
    });
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { child, waitLog, stop, stderr: () => stderr };
}

/** GET over a fresh connection (fetch's keep-alive pool would hold the test process ~4 s). */
function httpGet(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).once('error', reject);
  });
}

function postReview(port: number, ca: string, body: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, servername: 'sidewall-controller.sidewall-system.svc', path: '/mutate', method: 'POST', ca, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve(JSON.parse(text)));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('sidewall controller (real process, local Kubernetes API)', () => {
  const api = new FakeKubeApi();
  before(async () => {
    await api.start();
    api.setNamespace('shop', { 'sidewall.io/waf': 'enabled', 'sidewall.io/mode': 'block' });
    api.webhookConfigs.set('sidewall', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'sidewall' },
      webhooks: [{ name: 'inject.sidewall.io', clientConfig: { service: { name: 'sidewall-controller', namespace: 'sidewall-system', path: '/mutate' } } }],
    });
  });
  after(() => api.stop());

  test('issues TLS, patches caBundle, injects over HTTPS, renders settings, exits 0 on SIGTERM; a restart reuses the Secret', async () => {
    const admin = await freePort();
    const args = ['--kube-api', api.url, '--kube-token', api.token, '--namespace', 'sidewall-system', '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${admin}`, '--resync', '0.5'];
    const ctl = startController(args);
    try {
      const ready = JSON.parse(await ctl.waitLog(/sidewall controller ready/));
      const port = Number(String(ready.webhook).split(':').pop());
      const secret = api.secrets.get('sidewall-system/sidewall-webhook-tls');
      assert.ok(secret, 'TLS Secret created');
      assert.equal(secret.type, 'kubernetes.io/tls');
      const ca = Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8');
      assert.equal(api.webhookConfigs.get('sidewall')!.webhooks[0].clientConfig.caBundle, secret.data['ca.crt'], 'caBundle = the CA');

      const answer = await postReview(port, ca, {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'abc', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', operation: 'CREATE', object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8080 }] }] } } },
      });
      assert.equal(answer.response.uid, 'abc');
      assert.equal(answer.response.allowed, true);
      assert.equal(answer.response.patchType, 'JSONPatch');

      await api.waitFor(() => api.configmaps.has('shop/sidewall-settings'), 'settings ConfigMap');
      assert.match(api.configmaps.get('shop/sidewall-settings')!.data['settings.yaml'], /mode: block/);
      const readyz = await httpGet(`http://127.0.0.1:${admin}/readyz`);
      assert.equal(readyz.status, 200);
      const metrics = (await httpGet(`http://127.0.0.1:${admin}/metrics`)).text;
      assert.match(metrics, /sidewall_controller_admission_reviews_total\{result="injected"\} 1/);
      assert.match(metrics, /sidewall_controller_namespaces_enabled 1/);
      // Resync (every 0.5 s here) repairs a deleted settings ConfigMap.
      api.configmaps.delete('shop/sidewall-settings');
      await api.waitFor(() => api.configmaps.has('shop/sidewall-settings'), 'settings ConfigMap recreated by resync');
    } finally {
      assert.equal(await ctl.stop(), 0, ctl.stderr());
    }

    const writesBefore = api.requests.filter((r) => /^(POST|PUT) \/api\/v1\/namespaces\/sidewall-system\/secrets/.test(r)).length;
    const again = startController(args);
    try {
      await again.waitLog(/sidewall controller ready/);
      const writesAfter = api.requests.filter((r) => /^(POST|PUT) \/api\/v1\/namespaces\/sidewall-system\/secrets/.test(r)).length;
      assert.equal(writesAfter, writesBefore, 'existing certificate reused');
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  test('a wrong token fails start-up with exit 1 and one stderr line naming the API error', async () => {
    const ctl = startController(['--kube-api', api.url, '--kube-token', 'wrong', '--namespace', 'sidewall-system', '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${await freePort()}`]);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      new Promise((r) => ctl.child.once('exit', r)),
      new Promise((r) => (timer = setTimeout(() => r('timeout'), 10_000))),
    ]);
    clearTimeout(timer);
    await ctl.stop();
    assert.equal(code, 1);
    assert.match(ctl.stderr(), /^sidewall: controller: kube api: GET .*401 Unauthorized/);
  });
});

describe('CLI usage errors and inject from stdin / file', () => {
  const dir = makeTempDir('sidewall-k8s-cli-');
  after(() => cleanupDir(dir));

  test('controller: bad flags → exit 2, one line naming the flag', async () => {
    for (const [args, re] of [
      [['--tls', 'bogus', '--kube-api', 'http://x:1'], /--tls: must be one of self-signed, files/],
      [['--tls', 'files', '--kube-api', 'http://x:1'], /needs --tls-cert-file and --tls-key-file/],
      [['--kube-api', 'ftp://x'], /--kube-api: must be an http/],
      [['--resync', 'soon', '--kube-api', 'http://x:1'], /--resync/],
      [['--envoy-image', '', '--kube-api', 'http://x:1'], /--envoy-image/],
      [['--bogus'], /controller: Unknown option '--bogus'/],
    ] as const) {
      const r = await runCli(['controller', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
    }
    const help = await runCli(['controller', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--kube-api URL/);
  });

  test('inject: -f required, missing file, bad YAML with its line, bad flag → exit 2', async () => {
    const files = writeFiles(dir, { 'bad.yaml': 'kind: Pod\nspec:\n  containers: [\n' });
    for (const [args, re] of [
      [[], /-f FILE \(or - for stdin\) is required/],
      [['-f', `${dir}/missing.yaml`], /missing\.yaml: cannot read: file not found/],
      [['-f', files['bad.yaml']!], /bad\.yaml:\d+: invalid YAML/],
      [['-f', files['bad.yaml']!, '--max-request-bytes', 'lots'], /--max-request-bytes: must be an integer/],
      [['-f', files['bad.yaml']!, '--namespace-annotations', 'waf'], /--namespace-annotations: expected key=value/],
    ] as const) {
      const r = await runCli(['inject', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
    }
  });

  test('inject -f - reads stdin and writes the injected manifests to stdout', async () => {
    const input = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx\n';
    const child = spawn(process.execPath, [CLI_PATH, 'inject', '-f', '-', '--namespace-annotations', 'waf=enabled,mode=bloc', '--envoy-image', 'envoy:test'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(input);
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, stderr);
    assert.match(stdout, /name: sidewall-envoy\n\s+image: envoy:test/);
    assert.match(stdout, /sidewall.io\/status: injected/);
    assert.match(stderr, /sidewall\.io\/mode: must be one of block, detect \(got "bloc"\)/, 'invalid namespace annotation reported');
  });
});
