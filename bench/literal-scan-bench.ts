// The literal prefilter's scan in isolation: LiteralIndex.answer over the distinct strings one CRS v4
// evaluation of a bench:peers request asks it about (recorded by wrapping the index's answer during
// one Waf.evaluate), CPU µs per request. With --reference DIST (another build's dist/, e.g. main's) both
// builds' indexes are timed in this process, rounds alternating, and the ratio this/reference of
// the best rounds is reported.
//
//   node dist/bench/literal-scan-bench.js [--requests a,b] [--rounds N] [--duration S] [--reference DIST] [--crs DIR] [--out FILE]
//
// Writes test-results/literal-scan-bench.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { HttpRequest } from '../src/engine/api.js';
import { REPO_ROOT, sharedPath } from './lib/shared.js';
import { runIfEntry } from './lib/entry.js';
import { writeRulesConf } from './peers/peer-config.js';
import { benchRequests, envoyCheckRequest } from './peers/requests.js';
import { loadProtos } from '../src/server/proto.js';
import { decodeCheckRequest, protoLoaderMetadataDecoder } from '../src/server/check-decoder.js';

const THIS_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Answering {
  answer(value: string): Uint32Array | null;
}

/** One build's literal index and the strings each request made it scan. */
interface Build {
  name: string;
  dist: string;
  index: Answering;
  strings: Map<string, string[]>;
}

async function loadBuild(name: string, dist: string, conf: string, requests: Map<string, HttpRequest>): Promise<Build> {
  const url = (p: string): string => pathToFileURL(join(dist, p)).href;
  const { Waf } = (await import(url('src/engine/waf.js'))) as typeof import('../src/engine/waf.js');
  const { LiteralIndex } = (await import(url('src/engine/accel/literal-prefilter.js'))) as typeof import('../src/engine/accel/literal-prefilter.js');
  const waf = Waf.fromFile(conf, { onWarning: () => {} });
  const proto = LiteralIndex.prototype as unknown as Answering;
  const original = proto.answer;
  let index: Answering | null = null;
  let recording: string[] = [];
  proto.answer = function (this: Answering, value: string) {
    index = this;
    recording.push(value);
    return original.call(this, value);
  };
  const strings = new Map<string, string[]>();
  try {
    for (const [req, http] of requests) {
      recording = [];
      waf.evaluate(http);
      strings.set(req, recording);
    }
  } finally {
    proto.answer = original;
  }
  if (index === null) throw new Error(`${name} (${dist}): no literal index answered during evaluation`);
  return { name, dist, index, strings };
}

/**
 * CPU µs per request (process CPU time: the machine is shared, wall time would count waiting):
 * all of its strings answered, repeated for about `seconds` of CPU.
 */
function timeOnce(index: Answering, strings: readonly string[], seconds: number): number {
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let reps = 0;
  const t0 = cpu();
  const end = t0 + seconds * 1e6;
  let now = t0;
  while (now < end) {
    for (let k = 0; k < 50; k++) for (const s of strings) index.answer(s);
    reps += 50;
    now = cpu();
  }
  return (now - t0) / reps;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      requests: { type: 'string', default: 'benign-get,sqli-get,json-10k' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '0.5' },
      reference: { type: 'string' },
      crs: { type: 'string', default: sharedPath('crs') },
      out: { type: 'string', default: join(REPO_ROOT, 'test-results', 'literal-scan-bench.json') },
    },
  });
  const rounds = Math.max(1, Math.min(50, Number(values.rounds)));
  const seconds = Math.max(0.05, Math.min(10, Number(values.duration)));
  const names = values.requests.split(',');
  const all = benchRequests();
  const check = loadProtos().authorization.Check;
  const requests = new Map<string, HttpRequest>();
  for (const n of names) {
    const r = all.find((x) => x.name === n);
    if (r === undefined) throw new Error(`unknown request '${n}' (known: ${all.map((x) => x.name).join(', ')})`);
    const bytes = check.requestSerialize(envoyCheckRequest(r) as never);
    requests.set(n, decodeCheckRequest(bytes, protoLoaderMetadataDecoder((b) => check.requestDeserialize(b) as never)).request);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sidewall-literal-scan-'));
  let builds: Build[];
  try {
    const conf = writeRulesConf(dir, 'sidewall', values.crs);
    builds = [await loadBuild('this', THIS_DIST, conf, requests)];
    if (values.reference !== undefined) builds.push(await loadBuild('reference', resolve(values.reference), conf, requests));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const result: Record<string, unknown> = { loadavg: loadavg(), rounds, seconds, builds: builds.map((b) => ({ name: b.name, dist: b.dist })), requests: {} };
  for (const n of names) {
    const best = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      // Alternate which build goes first, so drift in machine load hits both alike.
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const b of order) {
        const us = timeOnce(b.index, b.strings.get(n)!, seconds);
        best.set(b.name, Math.min(best.get(b.name) ?? Infinity, us));
      }
    }
    const strings = builds[0]!.strings.get(n)!;
    const entry: Record<string, unknown> = { strings: strings.length, chars: strings.reduce((a, s) => a + s.length, 0) };
    for (const b of builds) entry[`${b.name}Us`] = Number(best.get(b.name)!.toFixed(2));
    if (builds.length > 1) {
      const ref = builds[1]!.strings.get(n)!;
      entry.sameStrings = ref.length === strings.length && ref.every((s, i) => s === strings[i]);
      entry.ratio = Number((best.get('this')! / best.get('reference')!).toFixed(3));
    }
    (result.requests as Record<string, unknown>)[n] = entry;
    console.log(`${n}: ${JSON.stringify(entry)}`);
  }
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2));
  console.log(`wrote ${values.out}`);
  return 0;
}

runIfEntry(import.meta.url, 'literal-scan-bench', main);
