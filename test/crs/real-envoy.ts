// CRS regression through the real Envoy binary: each CRS v4 (go-ftw) or 3.3.4 (ftw) stage's
// request bytes go over TCP to a real Envoy listener (ext_authz → Sidewall in detect mode →
// upstream app); the verdict Sidewall gave is read from Envoy's access log (dynamic metadata:
// waf_action, waf_rule_ids), correlated by the client's source port. What real Envoy rejects, or
// never hands to ext_authz, decides "not applicable" here — not the model (bench/lib/envoy-http1.ts).
//
// The model runs side by side: the same stage's CheckRequest as the model builds it goes straight
// to the same Sidewall over gRPC, and every place where model and real Envoy disagree is listed:
// one rejects and the other forwards, both reject with different statuses, or both forward and
// the verdict (pass/fail) or the rule ids differ.
//
//   node dist/test/crs/real-envoy.js [--suite v4|crs3] [--filter RE] [--sample N] [--concurrency N]
//        [--answer-timeout-ms N] [--threshold PCT] [--no-reports]
//
// Writes test-results/crs-real-envoy[-crs3].{json,txt}. Exit 0 ok, 1 below --threshold, 2 setup error.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isEntryModule } from '../../bench/lib/entry.js';
import { parseArgs } from 'node:util';
import { buildCheckRequest, DEFAULT_CHECK_OPTIONS, type CheckRequestObject } from '../../bench/lib/check-request.js';
import { writeCrs3EntryConf, writeEntryConf } from '../../bench/lib/crs-config.js';
import { DEFAULT_ENVOY_OPTIONS } from '../../bench/lib/envoy-http1.js';
import { CheckClient } from '../../bench/lib/grpc-check.js';
import { startServer, type RunningServer } from '../../bench/lib/server-process.js';
import { REPO_ROOT, sharedPath } from '../../bench/lib/shared.js';
import { launchEnvoy, type EnvoyProcess, type LogLine } from '../helpers/envoy.js';
import { testBootstrap } from '../helpers/envoy-config.js';
import { freePort } from '../helpers/server-process.js';
import { startUpstreamApp, type UpstreamApp } from '../helpers/upstream-app.js';
import { planStage, type StagePlan } from './convert.js';
import { buildExpectation, evaluateExpectation, hasCheckableAssertion, loadOverrides, type Expectation } from './expectations.js';
import { loadCorpus, type FtwStage } from './ftw-corpus.js';
import { loadLegacyCorpus } from './ftw-legacy.js';
import { CRS3_REGEX_FALLBACK_RULE_IDS, DEBIAN_CRS3_RULES_DIR, DEBIAN_CRS3_SETUP, type Suite } from './run-crs.js';

export interface RealEnvoyOptions {
  suite?: Suite;
  filter?: string | RegExp;
  /** Every Nth selected stage only (1 = all). */
  sample?: number;
  concurrency?: number;
  /** How long to wait for Envoy's answer before counting the stage as "Envoy waits". */
  answerTimeoutMs?: number;
  threshold?: number | null;
  writeReports?: boolean;
  outDir?: string;
  log?: (line: string) => void;
}

/** What the real Envoy did with the bytes. */
export type RealOutcome =
  | { kind: 'checked'; status: number; ruleIds: number[]; action: string }
  | { kind: 'rejected'; status: number; details: string }
  | { kind: 'no-answer'; details: string };

/** What the model says, and (when it forwards) the verdict of its CheckRequest sent directly. */
export type ModelOutcome =
  | { kind: 'forwarded'; ruleIds: number[] | null; error: string | null }
  | { kind: 'rejected'; status: number; reason: string }
  | { kind: 'waits'; reason: string }
  | { kind: 'not-sent'; reason: string };

export interface Disagreement {
  name: string;
  kind: 'model-rejects-envoy-forwards' | 'model-forwards-envoy-rejects' | 'reject-status' | 'verdict' | 'rule-ids';
  model: string;
  envoy: string;
}

export interface RealEnvoySummary {
  suite: Suite;
  envoyVersion: string;
  selected: number;
  sent: number;
  applicable: number;
  passed: number;
  failed: number;
  passRate: number;
  notApplicableByReason: Record<string, number>;
  failures: Array<{ name: string; file: string; expected: Expectation; got: number[]; messages: string[]; model: ModelOutcome }>;
  disagreements: Disagreement[];
  disagreementsByKind: Record<string, number>;
  notApplicable: Array<{ name: string; reason: string; detail: string }>;
  envoyStats: Record<string, number>;
  durationMs: number;
  threshold: number | null;
  thresholdMet: boolean;
}

interface Work {
  stage: FtwStage;
  name: string;
  plan: StagePlan;
  expectation: Expectation;
  raw: Buffer;
  modelCheck: CheckRequestObject | null;
  preservedCheck: CheckRequestObject | null;
}

// Model reasons decided before any bytes exist: not request-side, or not sendable as specified.
const NOT_SENT = /^(override|response-phase|expects-transport-error|unsupported-input)$/;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

interface RawAnswer {
  /** The client's own loopback address: unique per stage, so the access log line is its own. */
  localAddress: string;
  status: number | null;
  error: string | null;
}

/** Sends the bytes on a fresh connection; resolves with the first final response's status (1xx skipped). */
function sendRaw(port: number, raw: Buffer, timeoutMs: number, localAddress: string): Promise<RawAnswer> {
  return new Promise((resolvePromise) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (status: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolvePromise({ localAddress, status, error });
    };
    const timer = setTimeout(() => done(null, `no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('connect', () => sock.write(raw));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const m = /^HTTP\/\d\.\d (\d{3})/.exec(buf.subarray(0, end).toString('latin1'));
        if (!m) return done(null, `unparsable answer: ${JSON.stringify(buf.subarray(0, 80).toString('latin1'))}`);
        const status = Number(m[1]);
        if (status >= 200) return done(status, null);
        buf = buf.subarray(end + 4); // 100 Continue: Envoy answers it itself, the final answer follows
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => done(null, e.code ?? e.message));
    sock.on('close', () => done(null, 'connection closed without an answer'));
  });
}

/** Envoy's access log line of the request from `address` (logged when the stream ends). */
async function accessLogFor(envoy: EnvoyProcess, address: string, waitMs: number): Promise<LogLine | null> {
  try {
    return await envoy.waitForAccessLog((l) => l['client'] === address, waitMs);
  } catch {
    return null;
  }
}

function realOutcome(answer: RawAnswer, line: LogLine | null): RealOutcome {
  const action = line && typeof line['waf_action'] === 'string' ? (line['waf_action'] as string) : '';
  if (action !== '') {
    const ids = Array.isArray(line!['waf_rule_ids']) ? (line!['waf_rule_ids'] as unknown[]).map(Number) : [];
    return { kind: 'checked', status: answer.status ?? Number(line!['status']), ruleIds: ids, action };
  }
  const details = line ? String(line['details'] ?? '') : '';
  if (answer.status !== null) return { kind: 'rejected', status: answer.status, details: details || `status ${answer.status}` };
  return { kind: 'no-answer', details: `${answer.error ?? ''}${details ? ` (${details})` : ''}` };
}

function modelOf(plan: StagePlan): ModelOutcome {
  if (plan.applicable) return { kind: 'forwarded', ruleIds: null, error: null };
  if (plan.envoy?.kind === 'rejected') return { kind: 'rejected', status: plan.envoy.status, reason: plan.reason };
  if (plan.envoy?.kind === 'incomplete') return { kind: 'waits', reason: plan.reason };
  if (plan.envoy?.kind === 'forwarded') return { kind: 'forwarded', ruleIds: null, error: null };
  return { kind: 'not-sent', reason: plan.reason };
}

const fmtIds = (ids: readonly number[]) => `[${[...ids].sort((a, b) => a - b).join(',')}]`;

export async function runCrsRealEnvoy(o: RealEnvoyOptions = {}): Promise<RealEnvoySummary> {
  const started = Date.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const suite: Suite = o.suite ?? 'v4';
  const crs3 = suite === 'crs3';
  const crsDir = resolve(sharedPath(crs3 ? 'crs-3.3.4-tests' : 'crs'));
  const testsDir = join(crsDir, 'tests', 'regression', 'tests');
  const rulesDir = crs3 ? DEBIAN_CRS3_RULES_DIR : join(crsDir, 'rules');
  const overrides = loadOverrides(join(REPO_ROOT, 'test', 'crs', crs3 ? 'overrides-crs3.yaml' : 'overrides.yaml'));
  const filter = o.filter === undefined ? null : o.filter instanceof RegExp ? o.filter : new RegExp(o.filter);
  const sample = Math.max(1, Math.floor(o.sample ?? 1));
  const answerTimeoutMs = o.answerTimeoutMs ?? 1500;
  const threshold = o.threshold ?? null;

  const corpus = crs3 ? loadLegacyCorpus(testsDir) : loadCorpus(testsDir);
  const selected = corpus.stages.filter((s) => filter === null || filter.test(`${s.ruleId}-${s.testId}`)).filter((_, i) => i % sample === 0);
  const notApplicable: RealEnvoySummary['notApplicable'] = [];
  const work: Work[] = [];
  for (const [i, stage] of selected.entries()) {
    // The model's plan, with Envoy as this run configures it (accept_http_10, encode_raw_headers).
    const plan = planStage(stage, overrides, { envoy: DEFAULT_ENVOY_OPTIONS, check: DEFAULT_CHECK_OPTIONS }, String(i + 1));
    if (!plan.applicable && NOT_SENT.test(plan.reason)) {
      notApplicable.push({ name: plan.name, reason: plan.reason, detail: plan.detail });
      continue;
    }
    const override = plan.override;
    const expectation = buildExpectation(override?.output ?? stage.output);
    const modelCheck = plan.applicable ? plan.checkRequest : plan.envoy?.kind === 'forwarded' ? buildCheckRequest(plan.envoy.request, { ...DEFAULT_CHECK_OPTIONS, streamId: String(i + 1) }) : null;
    work.push({ stage, name: plan.name, plan, expectation, raw: plan.built!.raw, modelCheck, preservedCheck: plan.applicable ? plan.preservedCheckRequest : null });
  }
  log(`${crs3 ? 'CRS 3.3.4' : 'CRS v4'} through real Envoy: ${corpus.stages.length} stages, selected ${selected.length}${sample > 1 ? ` (every ${sample}th)` : ''}, ${work.length} sent to Envoy`);

  let server: RunningServer | null = null;
  let envoy: EnvoyProcess | null = null;
  let app: UpstreamApp | null = null;
  let client: CheckClient | null = null;
  const workDir = mkdtempSync(join(tmpdir(), 'sidewall-crs-envoy-'));
  const real = new Map<Work, RealOutcome>();
  const model = new Map<Work, ModelOutcome>();
  const preserved = new Map<Work, number[] | null>();
  const envoyStats: Record<string, number> = {};
  let envoyVersion = 'unknown';
  try {
    const entry = crs3
      ? writeCrs3EntryConf(workDir, { rulesDir, crsSetup: DEBIAN_CRS3_SETUP })
      : writeEntryConf(workDir, { crsDir, rulesDir, testSetup: true });
    const extraArgs: string[] = [];
    if (crs3) {
      writeFileSync(join(workDir, 'sidewall.yaml'), `regex_fallback_rule_ids: [${CRS3_REGEX_FALLBACK_RULE_IDS.join(', ')}]\n`);
      extraArgs.push('--config', join(workDir, 'sidewall.yaml'));
    }
    [server, app] = await Promise.all([
      startServer({ rulesFile: entry, mode: 'detect', workDir, logLevel: 'error', extraArgs }),
      startUpstreamApp(),
    ]);
    const listenerPort = await freePort();
    const adminPort = await freePort();
    envoy = await launchEnvoy({
      adminPort,
      // The model's configuration: accept_http_10 on, encode_raw_headers (its default header
      // encoding), with_request_body 1 MiB, partial, pack_as_bytes — the README's filter otherwise.
      bootstrap: testBootstrap({
        listenerPort,
        adminPort,
        upstreamPort: app.port,
        sidewall: { socketPath: server.target.slice('unix:'.length) },
        acceptHttp10: true,
        encodeRawHeaders: true,
        timeoutMs: 10_000,
        accessLogFields: { details: '%RESPONSE_CODE_DETAILS%' },
      }),
    });
    envoyVersion = (await (await fetch(`${envoy.adminUrl}/server_info`)).json() as { version?: string }).version?.split('/')[1] ?? 'unknown';
    client = new CheckClient(server.target);
    await client.waitForReady(30_000);
    let done = 0;
    let next = 0;
    await pool(work, o.concurrency ?? 8, async (w) => {
      // 127.1.0.1, 127.1.0.2, …: every stage connects from its own loopback address.
      const n = 0x010001 + next++;
      const address = `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      let answer = await sendRaw(listenerPort, w.raw, answerTimeoutMs, address);
      // No answer: Envoy waits for bytes that never come — or the machine is slow. One retry with
      // a long timeout (from the next address) tells them apart, so load never reads as "waits".
      if (answer.status === null) {
        const retry = `127.${((n >> 16) & 255) | 128}.${(n >> 8) & 255}.${n & 255}`;
        answer = await sendRaw(listenerPort, w.raw, Math.max(answerTimeoutMs * 5, 10_000), retry);
      }
      // The line is written when the stream ends (flushed every 50 ms); a slow machine may take longer.
      const line = await accessLogFor(envoy!, answer.localAddress, answer.status === null ? 1000 : 15_000);
      real.set(w, realOutcome(answer, line));
      const m = modelOf(w.plan);
      if (m.kind === 'forwarded' && w.modelCheck) {
        try {
          m.ruleIds = (await client!.check(w.modelCheck, 10_000)).ruleIds;
        } catch (err) {
          m.error = err instanceof Error ? err.message : String(err);
        }
      }
      model.set(w, m);
      if (w.preservedCheck) {
        try {
          preserved.set(w, (await client!.check(w.preservedCheck, 10_000)).ruleIds);
        } catch {
          preserved.set(w, null);
        }
      }
      if (++done % 500 === 0) log(`  ${done}/${work.length}`);
    });
    for (const s of ['http.ingress.ext_authz.ok', 'http.ingress.ext_authz.error', 'http.ingress.ext_authz.denied', 'http.ingress.downstream_rq_total', 'http.ingress.downstream_rq_4xx', 'http.ingress.downstream_rq_5xx']) {
      envoyStats[s] = await envoy.stat(s);
    }
  } finally {
    client?.close();
    await envoy?.stop();
    await server?.stop();
    await app?.close();
    rmSync(workDir, { recursive: true, force: true });
  }

  // ---- judge by real Envoy; compare with the model ----
  let passed = 0;
  const failures: RealEnvoySummary['failures'] = [];
  const disagreements: Disagreement[] = [];
  for (const w of work) {
    const r = real.get(w)!;
    const m = model.get(w)!;
    const modelText = m.kind === 'forwarded' ? `forwards${m.ruleIds ? ` → ${fmtIds(m.ruleIds)}` : ''}` : m.kind === 'rejected' ? `rejects ${m.status} (${m.reason})` : `${m.kind} (${m.reason})`;
    const envoyText = r.kind === 'checked' ? `forwards → ${fmtIds(r.ruleIds)}` : r.kind === 'rejected' ? `rejects ${r.status} (${r.details})` : `no answer (${r.details})`;
    const disagree = (kind: Disagreement['kind']) => disagreements.push({ name: w.name, kind, model: modelText, envoy: envoyText });
    if (r.kind !== 'checked') {
      if (m.kind === 'forwarded') disagree('model-forwards-envoy-rejects');
      else if (m.kind === 'rejected' && r.kind === 'rejected' && m.status !== r.status) disagree('reject-status');
      notApplicable.push({
        name: w.name,
        reason: r.kind === 'rejected' ? `envoy-rejects:${r.status}:${r.details}` : 'envoy-no-answer',
        detail: envoyText,
      });
      continue;
    }
    if (m.kind !== 'forwarded') disagree('model-rejects-envoy-forwards');
    else if (m.ruleIds !== null && fmtIds(m.ruleIds) !== fmtIds(r.ruleIds)) {
      const pm = evaluateExpectation(w.expectation, m.ruleIds).pass;
      const pr = evaluateExpectation(w.expectation, r.ruleIds).pass;
      disagree(pm !== pr && hasCheckableAssertion(w.expectation) ? 'verdict' : 'rule-ids');
    }
    if (!hasCheckableAssertion(w.expectation)) {
      notApplicable.push({ name: w.name, reason: 'not-observable', detail: 'nothing observable through rule ids' });
      continue;
    }
    const verdict = evaluateExpectation(w.expectation, r.ruleIds);
    // As run-crs: when Envoy rewrote the client's request (Referer, hop-by-hop headers, version…)
    // and the request as sent is judged the other way, the rewrite decides: not applicable.
    const asSent = preserved.get(w);
    if (asSent !== undefined && asSent !== null && evaluateExpectation(w.expectation, asSent).pass !== verdict.pass && w.plan.applicable) {
      notApplicable.push({ name: w.name, reason: `envoy-rewrites:${[...new Set(w.plan.rewrites.map((k) => k.replace(/:.*/, '')))].join('+')}`, detail: w.plan.alterations.join('; ') });
      continue;
    }
    if (verdict.pass) passed++;
    else failures.push({ name: w.name, file: w.stage.file, expected: w.expectation, got: r.ruleIds, messages: verdict.messages, model: m });
  }
  const naByReason: Record<string, number> = {};
  for (const n of notApplicable) naByReason[n.reason] = (naByReason[n.reason] ?? 0) + 1;
  const byKind: Record<string, number> = {};
  for (const d of disagreements) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  const applicable = passed + failures.length;
  const passRate = applicable === 0 ? 0 : (passed / applicable) * 100;
  const summary: RealEnvoySummary = {
    suite,
    envoyVersion,
    selected: selected.length,
    sent: work.length,
    applicable,
    passed,
    failed: failures.length,
    passRate,
    notApplicableByReason: Object.fromEntries(Object.entries(naByReason).sort((a, b) => b[1] - a[1])),
    failures,
    disagreements,
    disagreementsByKind: byKind,
    notApplicable,
    envoyStats,
    durationMs: Date.now() - started,
    threshold,
    thresholdMet: threshold === null || passRate >= threshold,
  };
  printSummary(summary, log);
  if (o.writeReports ?? true) {
    const outDir = o.outDir ?? join(REPO_ROOT, 'test-results');
    mkdirSync(outDir, { recursive: true });
    const base = join(outDir, crs3 ? 'crs-real-envoy-crs3' : 'crs-real-envoy');
    writeFileSync(`${base}.json`, JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(`${base}.txt`, reportText(summary));
    log(`reports: ${base}.json, ${base}.txt`);
  }
  return summary;
}

function printSummary(s: RealEnvoySummary, log: (l: string) => void): void {
  log('');
  log(`${s.suite === 'crs3' ? 'CRS 3.3.4' : 'CRS v4'} through real Envoy ${s.envoyVersion} (${s.selected} stages, ${(s.durationMs / 1000).toFixed(1)}s)`);
  log(`  pass rate: ${s.passRate.toFixed(2)}%  (${s.passed} passed / ${s.applicable} applicable — handed to ext_authz by real Envoy)`);
  log(`  not applicable by reason:`);
  for (const [reason, n] of Object.entries(s.notApplicableByReason)) log(`    ${String(n).padStart(5)}  ${reason}`);
  log(`  model vs real Envoy: ${s.disagreements.length} disagreements${Object.keys(s.disagreementsByKind).length ? ' — ' + Object.entries(s.disagreementsByKind).map(([k, n]) => `${k} ${n}`).join(', ') : ''}`);
  for (const d of s.disagreements.slice(0, 40)) log(`    ${d.name} [${d.kind}] model: ${d.model}; envoy: ${d.envoy}`);
  for (const f of s.failures.slice(0, 40)) log(`  FAIL ${f.name}: ${f.messages.join('; ')} (got ${fmtIds(f.got)})`);
  log(`  envoy stats: ${Object.entries(s.envoyStats).map(([k, v]) => `${k.replace('http.ingress.', '')}=${v}`).join(' ')}`);
  if (s.threshold !== null) log(`  threshold ${s.threshold}%: ${s.thresholdMet ? 'met' : 'NOT met'}`);
  log(`${s.passed} passed, ${s.failed} failed, ${s.notApplicable.length} not applicable, ${s.disagreements.length} model disagreements`);
}

function reportText(s: RealEnvoySummary): string {
  const lines = [`${s.suite} through real Envoy ${s.envoyVersion}: ${s.passRate.toFixed(2)}% (${s.passed}/${s.applicable}); ${s.disagreements.length} model disagreements`, ''];
  lines.push('=== failures ===');
  for (const f of s.failures) lines.push(`- ${f.name} [${f.file}] ${f.messages.join('; ')} got ${fmtIds(f.got)}; model: ${JSON.stringify(f.model)}`);
  lines.push('', '=== model vs real Envoy ===');
  for (const d of s.disagreements) lines.push(`- ${d.name} [${d.kind}] model: ${d.model}; envoy: ${d.envoy}`);
  lines.push('', '=== not applicable ===');
  for (const [reason, n] of Object.entries(s.notApplicableByReason)) {
    lines.push(`${reason} (${n}): ${s.notApplicable.filter((x) => x.reason === reason).map((x) => x.name).join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      suite: { type: 'string' },
      filter: { type: 'string' },
      sample: { type: 'string' },
      concurrency: { type: 'string' },
      'answer-timeout-ms': { type: 'string' },
      threshold: { type: 'string' },
      'no-reports': { type: 'boolean' },
    },
  });
  const suite = values.suite ?? 'v4';
  if (suite !== 'v4' && suite !== 'crs3') throw new Error('--suite must be v4 or crs3');
  const num = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`--${flag}: not a number: ${v}`);
    return Number(v);
  };
  const s = await runCrsRealEnvoy({
    suite,
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
    sample: num(values.sample, 'sample') ?? 1,
    concurrency: num(values.concurrency, 'concurrency') ?? 8,
    answerTimeoutMs: num(values['answer-timeout-ms'], 'answer-timeout-ms') ?? 1500,
    threshold: num(values.threshold, 'threshold') ?? null,
    writeReports: !values['no-reports'],
  });
  return s.thresholdMet ? 0 : 1;
}

if (process.env.NODE_TEST_CONTEXT === undefined && isEntryModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`real-envoy: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 2;
    },
  );
}
