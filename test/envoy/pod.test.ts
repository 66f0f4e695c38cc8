// A pod as the injector makes it, without Kubernetes: the webhook's own code (injectPod → JSON
// patch) turns a plain app pod into the injected one; its containers then run as a kubelet would
// run them, in a network namespace shared by all of them: the init container's iptables script,
// the app (a tiny HTTP server), Envoy with the exact command line of the sidewall-envoy container
// (the bootstrap inline) and `sidewall serve` with the exact args of the sidewall container,
// the socket and settings volumes bind-mounted where the containers expect them. Traffic comes
// from a second namespace over a veth pair, as from another node.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { A_EXCLUDE_INBOUND_PORTS, resolveNamespacePolicy } from '../../src/k8s/annotations.js';
import { injectPod } from '../../src/k8s/injector.js';
import { SETTINGS_DIR, SOCKET_DIR, defaultInjectorConfig, type InjectorConfig } from '../../src/k8s/injector-config.js';
import { INBOUND_CHAIN, inboundChainRules } from '../../src/k8s/iptables.js';
import { applyJsonPatch } from '../../src/k8s/json-patch.js';
import type { Container, Pod } from '../../src/k8s/pod-types.js';
import { ENVOY_CONTAINER, INIT_CONTAINER, SIDEWALL_CONTAINER } from '../../src/k8s/sidecar.js';
import { SETTINGS_FILE, renderSettingsYaml } from '../../src/k8s/settings-render.js';
import { findEnvoy } from '../helpers/envoy.js';
import { PodNetwork, type PodProcess } from '../helpers/netns-pod.js';
import { envoyMissing, netnsMissing, skipUnless } from '../helpers/requirements.js';
import { CLI_PATH } from '../helpers/server-process.js';

const skip = skipUnless(envoyMissing(), netnsMissing());
const SQLI = "1' OR '1'='1' UNION SELECT password FROM users--";
const APP_PORT = 8080; // declared, inspected
const EXCLUDED_PORT = 8081; // declared, excluded by the pod's annotation
const UNDECLARED_PORT = 9090; // not declared: redirected to Envoy, passed through without HTTP

const NAMESPACE = 'shop';
const APP_POD: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'shop-1', namespace: NAMESPACE, annotations: { [A_EXCLUDE_INBOUND_PORTS]: String(EXCLUDED_PORT) } },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'shop:1',
        ports: [
          { name: 'http', containerPort: APP_PORT },
          { name: 'metrics', containerPort: EXCLUDED_PORT },
        ],
        readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: '/livez', port: APP_PORT } },
      },
    ],
  },
};

// The app: answers every request on its ports with what reached it, and logs it as a JSON line.
const APP_JS = `
const http = require('node:http');
const ports = JSON.parse(process.argv[1]);
let up = 0;
for (const port of ports) {
  http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      const seen = { app: 'upstream', port, method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes, remote: req.socket.remoteAddress };
      console.log(JSON.stringify(seen));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(seen));
    });
  }).listen(port, '0.0.0.0', () => { if (++up === ports.length) console.log(JSON.stringify({ listening: ports })); });
}
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;

function container(pod: Pod, name: string, init = false): Container {
  const c = (init ? pod.spec.initContainers : pod.spec.containers)?.find((x) => x.name === name);
  assert.ok(c, `the injected pod has container ${name}`);
  return c;
}

interface RunningPod {
  net: PodNetwork;
  injected: Pod;
  app: PodProcess;
  envoy: PodProcess;
  sidewall: PodProcess;
  destroy(): Promise<void>;
}

/** Injects APP_POD for a namespace in `mode` and runs its containers as a kubelet would. */
async function startPod(mode: 'block' | 'detect', config: InjectorConfig): Promise<RunningPod> {
  const nsPolicy = resolveNamespacePolicy({ 'sidewall.io/waf': 'enabled', 'sidewall.io/mode': mode }, null).policy;
  const net = new PodNetwork();
  const dirs: string[] = [];
  const destroy = async () => {
    await net.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const result = injectPod(APP_POD, nsPolicy, config);
    assert.ok(result.injected, JSON.stringify(result));
    const injected = applyJsonPatch(APP_POD, result.patch);
    net.setUp();

    // 1. The init container: its command, as the kubelet runs it (root, in the pod's namespace).
    const init = container(injected, INIT_CONTAINER, true);
    const command = init['command'] as string[];
    const printed = net.exec(net.pod, command[0]!, command.slice(1));
    assert.deepEqual(printed.trim().split('\n').slice(1), inboundChainRules({ envoyInboundPort: config.envoyInboundPort, excludePorts: [config.envoyProbePort, config.envoyAdminPort, config.sidewallAdminPort, EXCLUDED_PORT] }));

    // 2. The app.
    const app = net.spawnInPod(process.execPath, ['-e', APP_JS, JSON.stringify([APP_PORT, EXCLUDED_PORT, UNDECLARED_PORT])]);
    await app.waitForLine((l) => 'listening' in l, 10_000);

    // 3. Sidewall with the container's args; volumes: the shared socket dir and the settings
    //    ConfigMap as the controller renders it for the namespace.
    const socketDir = mkdtempSync(join(tmpdir(), 'sidewall-pod-socket-'));
    const settingsDir = mkdtempSync(join(tmpdir(), 'sidewall-pod-settings-'));
    dirs.push(socketDir, settingsDir);
    writeFileSync(join(settingsDir, SETTINGS_FILE), renderSettingsYaml(NAMESPACE, nsPolicy.settings, false));
    const sw = container(injected, SIDEWALL_CONTAINER);
    const sidewall = net.spawnInPod(process.execPath, [CLI_PATH, ...(sw['args'] as string[])], [[socketDir, SOCKET_DIR], [settingsDir, SETTINGS_DIR]]);

    // 4. Envoy with the container's command line; only the flush interval is added, so the access
    //    log lines show up within the test (Envoy's default buffers them for 10 s).
    const ev = container(injected, ENVOY_CONTAINER);
    assert.deepEqual(ev['command'], ['envoy']);
    const envoy = net.spawnInPod(findEnvoy()!.path, [...(ev['args'] as string[]), '--file-flush-interval-msec', '50'], [[socketDir, SOCKET_DIR]]);

    // Ready as the kubelet sees it: Envoy's readiness probe and Sidewall's, from outside the pod.
    const [envoyReady, sidewallReady] = await net.http([
      { host: net.podIp, port: config.envoyProbePort, path: '/ready', untilStatus: 200, waitMs: 20_000 },
      { host: net.podIp, port: config.sidewallAdminPort, path: '/readyz', untilStatus: 200, waitMs: 60_000 },
    ]);
    assert.equal(envoyReady!.status, 200, `Envoy not ready: ${JSON.stringify(envoyReady)}\n${envoy.stderr()}`);
    assert.equal(sidewallReady!.status, 200, `Sidewall not ready: ${JSON.stringify(sidewallReady)}\n${sidewall.stderr()}`);
    return { net, injected, app, envoy, sidewall, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

const eventOf = (rid: string) => (l: Record<string, unknown>) => (l['security_event'] as { request_id?: string } | undefined)?.request_id === rid;

describe('a pod as the injector makes it (network namespaces, real Envoy, real Sidewall)', { skip }, () => {
  const config = defaultInjectorConfig();
  let pod: RunningPod;
  let net: PodNetwork;
  let injected: Pod;
  let app: PodProcess;
  let envoy: PodProcess;
  let sidewall: PodProcess;
  const appUrl = (port: number, path: string) => ({ host: net.podIp, port, path });

  before(async () => {
    pod = await startPod('block', config);
    ({ net, injected, app, envoy, sidewall } = pod);
  });

  after(async () => {
    await pod?.destroy();
  });

  const checks = async () => {
    const res = await net.request(appUrl(config.sidewallAdminPort, '/metrics'));
    const m = /^sidewall_checks_total(?:\{[^}]*\})? (\d+)$/m.exec(res.body);
    return m ? Number(m[1]) : 0;
  };
  const appSaw = (pred: (l: Record<string, unknown>) => boolean) => app.lines.filter((l) => l['app'] === 'upstream' && pred(l));

  it('benign GET and POST to the app port go through Envoy and Sidewall and reach the app (200)', async () => {
    const before = await checks();
    const [get, post] = await net.http([
      { ...appUrl(APP_PORT, '/products?id=42&sort=price'), headers: { 'x-request-id': 'pod-benign-1' } },
      { ...appUrl(APP_PORT, '/orders'), method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"item":"book","qty":2}' },
    ]);
    assert.equal(get!.status, 200, JSON.stringify(get));
    assert.equal(post!.status, 200, JSON.stringify(post));
    const seen = JSON.parse(get!.body) as { port: number; headers: Record<string, string>; remote: string };
    assert.equal(seen.port, APP_PORT);
    assert.equal(seen.headers['x-request-id'], 'pod-benign-1');
    assert.equal(seen.remote, '127.0.0.1', 'Envoy forwards to the app over loopback');
    assert.equal(seen.headers['x-forwarded-for'], net.clientIp, 'Envoy saw the real client address');
    assert.equal(await checks(), before + 2, 'each request was checked by Sidewall');
    const line = await envoy.waitForLine((l) => l['request_id'] === 'pod-benign-1');
    assert.equal(line['waf_action'], 'allow');
    assert.equal(line['port'], APP_PORT, 'original_dst restored the app port');
  });

  it('an attack on the app port is denied (403) and becomes a security event; the app never sees it', async () => {
    const rid = 'pod-attack-1';
    const res = await net.request({ ...appUrl(APP_PORT, `/search?q=${encodeURIComponent(SQLI)}`), headers: { 'x-request-id': rid } });
    assert.equal(res.status, 403, JSON.stringify(res));
    assert.equal(appSaw((l) => String(l['url']).startsWith('/search')).length, 0);
    const event = await sidewall.waitForLine(eventOf(rid));
    const ev = event['security_event'] as { verdict: string; namespace?: string; rules: Array<{ id: number }>; source?: { address?: string } };
    assert.equal(ev.verdict, 'blocked');
    assert.ok(ev.rules.length > 0);
    assert.match(JSON.stringify(ev), new RegExp(net.clientIp.replace(/\./g, '\\.')), 'the event names the real client');
    const line = await envoy.waitForLine((l) => l['request_id'] === rid);
    assert.equal(line['waf_action'], 'deny');
    assert.equal(line['status'], 403);
  });

  it('rewritten probes go through the probe listener to the app, without the WAF', async () => {
    const appC = container(injected, 'app');
    const probes = [appC.readinessProbe!, appC.livenessProbe!];
    const before = await checks();
    for (const [probe, target] of [[probes[0]!, '/healthz'], [probes[1]!, '/livez']] as const) {
      assert.equal(probe.httpGet?.port, config.envoyProbePort, 'the probe was rewritten to the probe listener');
      // An attack-looking query: a WAF on this path would deny it.
      const res = await net.request({ ...appUrl(config.envoyProbePort, `${probe.httpGet!.path}?q=${encodeURIComponent(SQLI)}`) });
      assert.equal(res.status, 200, JSON.stringify(res));
      const seen = JSON.parse(res.body) as { port: number; url: string };
      assert.equal(seen.port, APP_PORT);
      assert.equal(seen.url.split('?')[0], target, 'the probe reaches the original path');
    }
    assert.equal(await checks(), before, 'Sidewall was not asked');
  });

  it('an excluded port bypasses Envoy: the app answers directly', async () => {
    const before = await checks();
    const res = await net.request({ ...appUrl(EXCLUDED_PORT, `/metrics?q=${encodeURIComponent(SQLI)}`), headers: { 'x-request-id': 'pod-excluded-1' } });
    assert.equal(res.status, 200, JSON.stringify(res));
    const seen = JSON.parse(res.body) as { port: number; headers: Record<string, string>; remote: string };
    assert.equal(seen.port, EXCLUDED_PORT);
    assert.equal(seen.remote, net.clientIp, 'the connection came straight from the client');
    assert.equal(seen.headers['x-forwarded-for'], undefined, 'no Envoy in between');
    assert.equal(await checks(), before);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(envoy.lines.find((l) => l['request_id'] === 'pod-excluded-1'), undefined, 'no Envoy access log line');
  });

  it('an undeclared port is redirected to Envoy and passed through as TCP (no HTTP, no WAF)', async () => {
    const before = await checks();
    const res = await net.request({ ...appUrl(UNDECLARED_PORT, `/x?q=${encodeURIComponent(SQLI)}`) });
    assert.equal(res.status, 200, JSON.stringify(res));
    const seen = JSON.parse(res.body) as { port: number; headers: Record<string, string>; remote: string };
    assert.equal(seen.port, UNDECLARED_PORT);
    assert.equal(seen.headers['x-forwarded-for'], undefined, 'bytes passed through, not an HTTP hop');
    assert.notEqual(seen.remote, net.clientIp, 'the connection came from Envoy (redirected)');
    assert.equal(await checks(), before);
    const stats = await net.request({ host: '127.0.0.1', port: config.envoyAdminPort, path: '/stats?filter=tcp.passthrough.downstream_cx_total' }, net.pod);
    assert.match(stats.body, /tcp\.passthrough\.downstream_cx_total: [1-9]/, stats.body);
  });

  it('the iptables chain in the pod is the init container\'s', () => {
    const rules = net.exec(net.pod, 'iptables', ['-t', 'nat', '-S', INBOUND_CHAIN]).trim().split('\n');
    assert.deepEqual(rules.slice(1), inboundChainRules({ envoyInboundPort: config.envoyInboundPort, excludePorts: [config.envoyProbePort, config.envoyAdminPort, config.sidewallAdminPort, EXCLUDED_PORT] }));
  });

  it('Sidewall down (block mode fails closed): the app port answers 403, probes still reach the app', async () => {
    await sidewall.stop();
    const [attackless, probe] = await net.http([
      appUrl(APP_PORT, '/products?id=1'),
      appUrl(config.envoyProbePort, container(injected, 'app').readinessProbe!.httpGet!.path!),
    ]);
    assert.equal(attackless!.status, 403, 'failure_mode_allow false in block mode');
    assert.equal(probe!.status, 200, 'the kubelet\'s probes do not depend on Sidewall');
  });
});

describe('a pod in a detect-mode namespace (fails open, lets attacks through, still reports them)', { skip }, () => {
  const config = defaultInjectorConfig();
  let pod: RunningPod;
  before(async () => {
    pod = await startPod('detect', config);
  });
  after(async () => {
    await pod?.destroy();
  });

  it('an attack reaches the app (200), is a "detected" event and waf_action detect in the access log', async () => {
    const rid = 'pod-detect-1';
    const res = await pod.net.request({ host: pod.net.podIp, port: APP_PORT, path: `/search?q=${encodeURIComponent(SQLI)}`, headers: { 'x-request-id': rid } });
    assert.equal(res.status, 200, JSON.stringify(res));
    const event = await pod.sidewall.waitForLine(eventOf(rid));
    assert.equal((event['security_event'] as { verdict: string }).verdict, 'detected');
    const line = await pod.envoy.waitForLine((l) => l['request_id'] === rid);
    assert.equal(line['waf_action'], 'detect');
  });

  it('Sidewall down: the injector chose failure_mode_allow for detect mode, so traffic still flows', async () => {
    await pod.sidewall.stop();
    const res = await pod.net.request({ host: pod.net.podIp, port: APP_PORT, path: '/products?id=1' });
    assert.equal(res.status, 200, JSON.stringify(res));
  });
});
