// The init container's iptables script: its rule list, and — where the machine allows (root,
// iptables, `ip netns`) — the real script run in a fresh network namespace: the rules iptables
// reports back, re-running it, and real connections from a second namespace over a veth pair
// (redirected to Envoy's port unless excluded; the pod's own connections never redirected).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { INBOUND_CHAIN, PREROUTING_JUMP, inboundChainRules, inboundScript } from '../src/k8s/iptables.js';

const OPTIONS = { envoyInboundPort: 15006, excludePorts: [9002, 15021, 15000, 9002] };

describe('iptables inbound redirection: rule list', () => {
  test('RETURN for Envoy\'s port and each excluded port (sorted, once), then REDIRECT to Envoy', () => {
    assert.deepEqual(inboundChainRules(OPTIONS), [
      '-A SIDEWALL_INBOUND -p tcp -m tcp --dport 9002 -j RETURN',
      '-A SIDEWALL_INBOUND -p tcp -m tcp --dport 15000 -j RETURN',
      '-A SIDEWALL_INBOUND -p tcp -m tcp --dport 15006 -j RETURN',
      '-A SIDEWALL_INBOUND -p tcp -m tcp --dport 15021 -j RETURN',
      '-A SIDEWALL_INBOUND -p tcp -j REDIRECT --to-ports 15006',
    ]);
    const script = inboundScript(OPTIONS);
    assert.match(script, /^set -eu\n/);
    assert.match(script, /iptables -t nat -C PREROUTING -p tcp -j SIDEWALL_INBOUND 2>\/dev\/null \|\| iptables -t nat -A PREROUTING -p tcp -j SIDEWALL_INBOUND/);
    assert.doesNotMatch(script, /OUTPUT/, 'outbound traffic is never touched');
  });
});

function netnsUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (spawnSync('iptables', ['--version']).status !== 0) return 'iptables is not installed (apt-get install iptables)';
  const probe = `swk1-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return '`ip netns add` is not permitted here';
  const ok = spawnSync('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-S']).status === 0;
  spawnSync('ip', ['netns', 'del', probe]);
  return ok ? false : 'iptables cannot use the nat table in a network namespace here';
}

const skip = netnsUnavailable();

describe('iptables inbound redirection in a network namespace', { skip }, () => {
  const pod = `swk1-pod-${process.pid}`;
  const client = `swk1-cli-${process.pid}`;
  const children: ChildProcess[] = [];
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
  const inNs = (ns: string, cmd: string, ...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: 'pipe', timeout: 10_000 });

  after(() => {
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', pod]);
    spawnSync('ip', ['netns', 'del', client]);
  });

  test('the script installs exactly the rule list, and is re-runnable', () => {
    ip('netns', 'add', pod);
    ip('netns', 'add', client);
    // A veth pair between the two namespaces (TEST-NET-1 addresses, only inside our namespaces).
    ip('link', 'add', `swk1a${process.pid % 10000}`, 'type', 'veth', 'peer', 'name', `swk1b${process.pid % 10000}`);
    ip('link', 'set', `swk1a${process.pid % 10000}`, 'netns', pod);
    ip('link', 'set', `swk1b${process.pid % 10000}`, 'netns', client);
    inNs(pod, 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', `swk1a${process.pid % 10000}`);
    inNs(client, 'ip', 'addr', 'add', '192.0.2.1/24', 'dev', `swk1b${process.pid % 10000}`);
    for (const [ns, dev] of [[pod, `swk1a${process.pid % 10000}`], [client, `swk1b${process.pid % 10000}`]] as const) {
      inNs(ns, 'ip', 'link', 'set', dev, 'up');
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    }

    const script = inboundScript(OPTIONS);
    const printed = inNs(pod, 'sh', '-c', script);
    const expected = [`-N ${INBOUND_CHAIN}`, ...inboundChainRules(OPTIONS)];
    assert.deepEqual(printed.trim().split('\n'), expected, 'the script prints the chain it installed');
    inNs(pod, 'sh', '-c', script); // an init container may run twice
    assert.deepEqual(inNs(pod, 'iptables', '-t', 'nat', '-S', INBOUND_CHAIN).trim().split('\n'), expected);
    const prerouting = inNs(pod, 'iptables', '-t', 'nat', '-S', 'PREROUTING').trim().split('\n');
    assert.deepEqual(prerouting.filter((l) => l.startsWith('-A')), [PREROUTING_JUMP], 'one jump from PREROUTING');
    assert.deepEqual(inNs(pod, 'iptables', '-t', 'nat', '-S', 'OUTPUT').trim().split('\n'), ['-P OUTPUT ACCEPT']);
  });

  test('connections: app port → Envoy\'s port; excluded port → itself; the pod\'s own connections → not redirected', async () => {
    // In the pod namespace: listeners that answer with their own port number.
    const serverJs = `
      const net = require('node:net');
      let up = 0;
      for (const port of [15006, 9002, 8080]) {
        net.createServer((s) => s.end(String(port))).listen(port, '0.0.0.0', () => { if (++up === 3) console.log('listening'); });
      }
      setTimeout(() => process.exit(0), 20000);`;
    const server = spawn('ip', ['netns', 'exec', pod, process.execPath, '-e', serverJs], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('servers did not start')), 10_000);
      server.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
    const clientJs = (ports: number[]) => `
      const net = require('node:net');
      Promise.all(${JSON.stringify(ports)}.map((port) => new Promise((resolve) => {
        const s = net.connect(port, '192.0.2.2');
        let got = '';
        s.setTimeout(5000, () => { s.destroy(); resolve('timeout'); });
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve(got));
        s.on('error', (e) => resolve(e.code));
      }))).then((r) => console.log(JSON.stringify(r)));`;
    const fromOutside = JSON.parse(inNs(client, process.execPath, '-e', clientJs([8080, 9002, 15006])));
    assert.deepEqual(fromOutside, ['15006', '9002', '15006'], 'app port redirected to Envoy, admin port excluded');
    const fromInside = JSON.parse(inNs(pod, process.execPath, '-e', clientJs([8080, 9002])));
    assert.deepEqual(fromInside, ['8080', '9002'], 'locally generated traffic (Envoy → app) is not redirected');
  });
});
