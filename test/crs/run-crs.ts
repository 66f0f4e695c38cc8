// OWASP CRS v4 regression runner for Sidewall.
//
// Reads the go-ftw YAML corpus of ../shared/crs/tests/regression/tests, turns each stage into
// the HTTP request go-ftw sends, then into the CheckRequest Envoy's ext_authz filter would send
// (or "not applicable" when Envoy would reject it / it needs a response / nothing observable),
// runs them all against the real server process (node dist/src/cli.js serve, --mode detect, the
// generated CRS entry conf) and compares waf_rule_ids with expect_ids / no_expect_ids.
//
//   node dist/test/crs/run-crs.js [--filter RE] [--threshold PCT] [--concurrency N]
//        [--rules-dir DIR] [--verbose] [--header-encoding raw|map] [--deadline-ms N]
//        [--envoy-reject-http10] [--envoy-allow-custom-methods] [--no-reports]
//
// Writes test-results/crs-failures.json and test-results/crs-failures.txt.
// Exit: 0 ok (or threshold met), 1 below --threshold, 2 setup error.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isEntryModule } from '../../bench/lib/entry.js';
import { parseArgs } from 'node:util';
import { REPO_ROOT, sharedPath } from '../../bench/lib/shared.js';
import { DEFAULT_CHECK_OPTIONS, type HeaderEncoding } from '../../bench/lib/check-request.js';
import { planStage, requestSummary, type ApplicablePlan, type StagePlan } from './convert.js';
import { writeCrs3EntryConf, writeEntryConf } from '../../bench/lib/crs-config.js';
import { DEFAULT_ENVOY_OPTIONS, type EnvoyOptions } from '../../bench/lib/envoy-http1.js';
import { evaluateExpectation, loadOverrides } from './expectations.js';
import { loadCorpus, ruleGroup } from './ftw-corpus.js';
import { loadLegacyCorpus } from './ftw-legacy.js';
import { CheckClient, type CheckResult } from '../../bench/lib/grpc-check.js';
import { startServer, type RunningServer } from '../../bench/lib/server-process.js';

export type Suite = 'v4' | 'crs3';

/** Rules of CRS 3.3.4 whose regexes RE2 rejects (lookaround, possessive quantifiers): the 3.3.4
 * suite runs with the per-rule V8 fallback enabled for exactly these. */
export const CRS3_REGEX_FALLBACK_RULE_IDS = [920120, 920600, 942130, 942260, 953120];
export const DEBIAN_CRS3_RULES_DIR = '/usr/share/modsecurity-crs/rules';
export const DEBIAN_CRS3_SETUP = '/etc/modsecurity/crs/crs-setup.conf';

export interface RunCrsOptions {
  /** 'v4' (default): CRS v4 go-ftw corpus; 'crs3': CRS 3.3.4 legacy ftw corpus with Debian's rules. */
  suite?: Suite;
  /** CRS directory (default: sharedPath('crs'), i.e. ../shared/crs or $SIDEWALL_SHARED/crs). */
  crsDir?: string;
  /** go-ftw tests root (default <crsDir>/tests/regression/tests). */
  testsDir?: string;
  /** Rules directory included by the entry conf (default <crsDir>/rules; crs3: Debian's). */
  rulesDir?: string;
  /** crs3: the crs-setup.conf to include (default Debian's /etc/modsecurity/crs/crs-setup.conf). */
  crsSetup?: string;
  /** Rule ids allowed the V8 regex fallback (default: none for v4, CRS3_REGEX_FALLBACK_RULE_IDS for crs3). */
  regexFallbackRuleIds?: number[];
  /** Regex tested against "RULEID-TESTID" (e.g. "^920", "^942100-3$"). */
  filter?: string | RegExp;
  concurrency?: number;
  /** Per-call gRPC deadline. */
  deadlineMs?: number;
  /** Pass-rate threshold in percent (Summary.thresholdMet). */
  threshold?: number | null;
  verbose?: boolean;
  /** Overrides file (default test/crs/overrides.yaml; crs3: test/crs/overrides-crs3.yaml). */
  overridesFile?: string;
  envoy?: Partial<EnvoyOptions>;
  headerEncoding?: HeaderEncoding;
  /** Use a server that is already running at this gRPC target instead of starting one. */
  serverTarget?: string;
  /** Write test-results/crs-failures.{json,txt} (default true). */
  writeReports?: boolean;
  /** Output directory for reports (default <repo>/test-results). */
  outDir?: string;
  /** Progress / result lines (default: console.log). */
  log?: (line: string) => void;
  /** v4: load Sidewall's detection layer as CRS directory mode does (reports: crs-layer-failures). */
  sidewallLayer?: boolean;
}

export interface StageFailure {
  name: string;
  ruleId: number;
  testId: number;
  stage: number;
  group: string;
  file: string;
  desc: string;
  expected: { expect_ids: number[]; no_expect_ids: number[]; any_of: Array<Array<number | '*'>>; no_rules: boolean; unchecked: string[] };
  got: number[];
  missing: number[];
  unexpected: number[];
  messages: string[];
  action: string;
  anomalyScore: number | null;
  error: string | null;
  envoyAlterations: string[];
  /** The same stage without Envoy's rewrites (request as the client sent it), when run. */
  withoutEnvoyRewrites: 'pass' | 'fail' | null;
  override: string | null;
  request: Record<string, unknown>;
}

export interface Summary {
  suite: Suite;
  title: string;
  corpus: { root: string; files: number; stages: number; selected: number; problems: Array<{ file: string; problem: string }> };
  rulesDir: string;
  applicable: number;
  passed: number;
  failed: number;
  /** Failed stages whose request Envoy altered (header removed, version normalised...). */
  failedWithEnvoyAlterations: number;
  errors: number;
  notApplicable: number;
  notApplicableByReason: Record<string, number>;
  /** passed / applicable × 100 (0 when nothing applicable). */
  passRate: number;
  threshold: number | null;
  thresholdMet: boolean;
  failuresByGroup: Array<{ group: string; count: number }>;
  failures: StageFailure[];
  notApplicableStages: Array<{ name: string; reason: string; detail: string }>;
  uncheckedAssertions: Array<{ name: string; unchecked: string[] }>;
  durationMs: number;
  envoy: EnvoyOptions;
  headerEncoding: HeaderEncoding;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
}

function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'details' in err) return `${(err as { code?: number }).code ?? ''} ${(err as { details: string }).details}`.trim();
  return err instanceof Error ? err.message : String(err);
}

export async function runCrs(options: RunCrsOptions = {}): Promise<Summary> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const suite: Suite = options.suite ?? 'v4';
  const crs3 = suite === 'crs3';
  const title = crs3 ? 'CRS 3.3.4 regression (Debian rules)' : 'CRS v4 regression';
  const crsDir = resolve(options.crsDir ?? sharedPath(crs3 ? 'crs-3.3.4-tests' : 'crs'));
  const testsDir = resolve(options.testsDir ?? join(crsDir, 'tests', 'regression', 'tests'));
  const rulesDir = resolve(options.rulesDir ?? (crs3 ? DEBIAN_CRS3_RULES_DIR : join(crsDir, 'rules')));
  const overridesPath = options.overridesFile ?? join(REPO_ROOT, 'test', 'crs', crs3 ? 'overrides-crs3.yaml' : 'overrides.yaml');
  const fallbackIds = options.regexFallbackRuleIds ?? (crs3 ? CRS3_REGEX_FALLBACK_RULE_IDS : []);
  const reportBase = crs3 ? 'crs3-failures' : options.sidewallLayer === true ? 'crs-layer-failures' : 'crs-failures';
  const envoy: EnvoyOptions = { ...DEFAULT_ENVOY_OPTIONS, ...options.envoy };
  const headerEncoding = options.headerEncoding ?? 'raw';
  const concurrency = options.concurrency ?? 16;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const threshold = options.threshold ?? null;
  const filter = options.filter === undefined ? null : options.filter instanceof RegExp ? options.filter : new RegExp(options.filter);

  const corpus = crs3 ? loadLegacyCorpus(testsDir) : loadCorpus(testsDir);
  const overrides = loadOverrides(overridesPath);
  const selected = corpus.stages.filter((s) => filter === null || filter.test(`${s.ruleId}-${s.testId}`));
  const plans: StagePlan[] = selected.map((s, i) =>
    planStage(s, overrides, { envoy, check: { ...DEFAULT_CHECK_OPTIONS, headerEncoding } }, String(i + 1)),
  );
  const applicable = plans.filter((p): p is ApplicablePlan => p.applicable);
  log(`CRS corpus ${testsDir}: ${corpus.files} files, ${corpus.stages.length} stages; selected ${selected.length}, applicable ${applicable.length}`);
  for (const p of corpus.problems) log(`  note: ${p.file}: ${p.problem}`);

  type Outcome = { result: CheckResult | null; error: string | null };
  const results = new Map<ApplicablePlan, Outcome>();
  const preservedResults = new Map<ApplicablePlan, Outcome>();
  let server: RunningServer | null = null;
  let workDir: string | null = null;
  let client: CheckClient | null = null;
  try {
    if (applicable.length > 0) {
      let target = options.serverTarget;
      if (target === undefined) {
        workDir = mkdtempSync(join(tmpdir(), 'sidewall-crs-'));
        const entry = crs3
          ? writeCrs3EntryConf(workDir, { rulesDir, crsSetup: options.crsSetup ?? DEBIAN_CRS3_SETUP })
          : writeEntryConf(workDir, { crsDir, rulesDir, testSetup: true, sidewallLayer: options.sidewallLayer === true });
        const extraArgs: string[] = [];
        if (fallbackIds.length > 0) {
          const configFile = join(workDir, 'sidewall.yaml');
          writeFileSync(configFile, `regex_fallback_rule_ids: [${fallbackIds.join(', ')}]\n`);
          extraArgs.push('--config', configFile);
        }
        const t0 = Date.now();
        server = await startServer({ rulesFile: entry, mode: 'detect', workDir, logLevel: 'error', extraArgs });
        log(`server ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (pid ${server.pid}, ${server.target})`);
        target = server.target;
      }
      client = new CheckClient(target);
      await client.waitForReady(30_000);
      let done = 0;
      const progressEvery = Math.max(250, Math.ceil(applicable.length / 10));
      const call = async (request: ApplicablePlan['checkRequest']): Promise<Outcome> => {
        try {
          return { result: await client!.check(request, deadlineMs), error: null };
        } catch (err) {
          return { result: null, error: errorText(err) };
        }
      };
      await pool(applicable, concurrency, async (plan) => {
        results.set(plan, await call(plan.checkRequest));
        if (plan.preservedCheckRequest !== null) preservedResults.set(plan, await call(plan.preservedCheckRequest));
        done++;
        if (options.verbose || done % progressEvery === 0) {
          if (!options.verbose) log(`  ${done}/${applicable.length} stages checked`);
        }
      });
    }
  } finally {
    client?.close();
    if (server) {
      const code = await server.stop();
      if (code !== 0 && code !== null) log(`note: server exited with code ${code}`);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }

  // ---- evaluate ----
  const failures: StageFailure[] = [];
  let passed = 0;
  let errors = 0;
  const uncheckedAssertions: Summary['uncheckedAssertions'] = [];
  // A stage whose result Envoy's rewrite decides (it passes with the request as the client sent
  // it and fails as Envoy forwards it, or the reverse) is not applicable: ext_authz never sees
  // what the test is about.
  const rewritten: Array<{ name: string; reason: string; detail: string }> = [];
  const judged: ApplicablePlan[] = [];
  for (const plan of applicable) {
    const r = results.get(plan)!;
    const p = preservedResults.get(plan);
    if (p && r.error === null && p.error === null) {
      const asForwarded = evaluateExpectation(plan.expectation, r.result!.ruleIds).pass;
      const asSent = evaluateExpectation(plan.expectation, p.result!.ruleIds).pass;
      if (asForwarded !== asSent) {
        rewritten.push({
          name: plan.name,
          reason: `envoy-rewrites:${plan.rewrites.map((k) => k.replace(/:.*/, '')).filter((k, i, a) => a.indexOf(k) === i).join('+')}`,
          detail: `${asSent ? 'passes' : 'fails'} as the client sent it, ${asForwarded ? 'passes' : 'fails'} as Envoy forwards it: ${plan.alterations.join('; ')}`,
        });
        continue;
      }
    }
    judged.push(plan);
  }
  for (const plan of judged) {
    const r = results.get(plan)!;
    if (plan.expectation.unchecked.length > 0) uncheckedAssertions.push({ name: plan.name, unchecked: plan.expectation.unchecked });
    const got = r.result?.ruleIds ?? [];
    const verdict = r.error === null ? evaluateExpectation(plan.expectation, got) : null;
    if (verdict?.pass) {
      passed++;
      if (options.verbose) log(`PASS ${plan.name}`);
      continue;
    }
    if (r.error !== null) errors++;
    const e = plan.expectation;
    const failure: StageFailure = {
      name: plan.name,
      ruleId: plan.stage.ruleId,
      testId: plan.stage.testId,
      stage: plan.stage.stageIndex + 1,
      group: ruleGroup(plan.stage.ruleId),
      file: plan.stage.file,
      desc: plan.stage.desc.trim(),
      expected: { expect_ids: e.expectIds, no_expect_ids: e.noExpectIds, any_of: e.anyOf, no_rules: e.noRules, unchecked: e.unchecked },
      got,
      missing: verdict?.missing ?? [],
      unexpected: verdict?.unexpected ?? [],
      messages: verdict?.messages ?? [`call failed: ${r.error}`],
      action: r.result?.action ?? '',
      anomalyScore: r.result?.anomalyScore ?? null,
      error: r.error,
      envoyAlterations: plan.alterations,
      withoutEnvoyRewrites: preservedResults.has(plan)
        ? evaluateExpectation(plan.expectation, preservedResults.get(plan)!.result?.ruleIds ?? []).pass ? 'pass' : 'fail'
        : null,
      override: plan.override?.reason ?? null,
      request: requestSummary(plan),
    };
    failures.push(failure);
    if (options.verbose) log(`FAIL ${plan.name}: ${failure.messages.join('; ')}`);
  }

  const notApplicableStages = [
    ...plans.flatMap((p) => (p.applicable ? [] : [{ name: p.name, reason: p.reason, detail: p.detail }])),
    ...rewritten,
  ];
  const naByReason: Record<string, number> = {};
  for (const p of notApplicableStages) naByReason[p.reason] = (naByReason[p.reason] ?? 0) + 1;
  const byGroup = new Map<string, number>();
  for (const f of failures) byGroup.set(f.group, (byGroup.get(f.group) ?? 0) + 1);
  const failuresByGroup = [...byGroup.entries()].map(([group, count]) => ({ group, count })).sort((a, b) => b.count - a.count || a.group.localeCompare(b.group));
  const passRate = judged.length === 0 ? 0 : (passed / judged.length) * 100;

  const summary: Summary = {
    suite,
    title,
    corpus: { root: testsDir, files: corpus.files, stages: corpus.stages.length, selected: selected.length, problems: corpus.problems },
    rulesDir,
    applicable: judged.length,
    passed,
    failed: failures.length,
    failedWithEnvoyAlterations: failures.filter((f) => f.envoyAlterations.length > 0).length,
    errors,
    notApplicable: notApplicableStages.length,
    notApplicableByReason: Object.fromEntries(Object.entries(naByReason).sort((a, b) => b[1] - a[1])),
    passRate,
    threshold,
    thresholdMet: threshold === null || passRate >= threshold,
    failuresByGroup,
    failures,
    notApplicableStages,
    uncheckedAssertions,
    durationMs: Date.now() - started,
    envoy,
    headerEncoding,
  };

  printSummary(summary, log);
  if (options.writeReports ?? true) {
    const outDir = options.outDir ?? join(REPO_ROOT, 'test-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, `${reportBase}.json`), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(join(outDir, `${reportBase}.txt`), failuresText(summary));
    log(`reports: ${join(outDir, `${reportBase}.json`)}, ${join(outDir, `${reportBase}.txt`)}`);
  }
  return summary;
}

export function printSummary(s: Summary, log: (line: string) => void): void {
  log('');
  log(`${s.title} (${s.corpus.selected} stages, ${(s.durationMs / 1000).toFixed(1)}s)`);
  log(`  pass rate: ${s.passRate.toFixed(2)}%  (${s.passed} passed / ${s.applicable} applicable)`);
  log(`  passed ${s.passed}, failed ${s.failed} (${s.errors} call errors, ${s.failedWithEnvoyAlterations} with Envoy alterations), not applicable ${s.notApplicable}`);
  if (s.notApplicable > 0) {
    log('  not applicable by reason:');
    for (const [reason, n] of Object.entries(s.notApplicableByReason)) log(`    ${String(n).padStart(5)}  ${reason}`);
  }
  if (s.failuresByGroup.length > 0) {
    log('  failures by rule group:');
    for (const g of s.failuresByGroup) log(`    ${String(g.count).padStart(5)}  ${g.group}`);
  }
  if (s.threshold !== null) log(`  threshold ${s.threshold}%: ${s.thresholdMet ? 'met' : 'NOT met'}`);
  log(`${s.passed} passed, ${s.failed} failed, ${s.notApplicable} skipped`);
}

export function failuresText(s: Summary): string {
  const lines: string[] = [];
  lines.push(`${s.title} failures — pass rate ${s.passRate.toFixed(2)}% (${s.passed}/${s.applicable} applicable; ${s.notApplicable} not applicable)`);
  lines.push(`rules: ${s.rulesDir}; header encoding: ${s.headerEncoding}`);
  lines.push('');
  for (const g of s.failuresByGroup) {
    lines.push(`=== ${g.group} (${g.count} failures) ===`);
    for (const f of s.failures.filter((x) => x.group === g.group)) {
      lines.push(`- ${f.name}  [${f.file}]${f.desc ? '  ' + f.desc.split('\n')[0]!.slice(0, 100) : ''}`);
      lines.push(`    ${f.messages.join('; ')}`);
      lines.push(`    expected: expect_ids=[${f.expected.expect_ids.join(',')}] no_expect_ids=[${f.expected.no_expect_ids.join(',')}]` +
        (f.expected.any_of.length ? ` any_of=${JSON.stringify(f.expected.any_of)}` : '') + (f.expected.no_rules ? ' no_rules' : ''));
      lines.push(`    got: [${f.got.join(',')}] action=${f.action || '-'} score=${f.anomalyScore ?? '-'}`);
      const check = f.request['check'] as { method: string; path: string; protocol: string; body_bytes: number } | undefined;
      if (check) lines.push(`    request: ${check.method} ${check.path} ${check.protocol}, body ${check.body_bytes} bytes`);
      if (f.envoyAlterations.length > 0) lines.push(`    envoy: ${f.envoyAlterations.join('; ')}`);
      if (f.withoutEnvoyRewrites !== null) lines.push(`    without Envoy's rewrites: ${f.withoutEnvoyRewrites}`);
      if (f.override) lines.push(`    override: ${f.override}`);
    }
    lines.push('');
  }
  lines.push('=== not applicable ===');
  for (const [reason, n] of Object.entries(s.notApplicableByReason)) {
    lines.push(`${reason} (${n}): ${s.notApplicableStages.filter((x) => x.reason === reason).map((x) => x.name).join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

// ---- CLI ----

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        suite: { type: 'string' },
        'crs-setup': { type: 'string' },
        'rules-dir': { type: 'string' },
        'crs-dir': { type: 'string' },
        filter: { type: 'string' },
        threshold: { type: 'string' },
        concurrency: { type: 'string' },
        'deadline-ms': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        'header-encoding': { type: 'string' },
        'envoy-reject-http10': { type: 'boolean' },
        'envoy-allow-custom-methods': { type: 'boolean' },
        'no-reports': { type: 'boolean' },
        'server-target': { type: 'string' },
        'sidewall-layer': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`run-crs: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (values.help) {
    console.log('usage: node dist/test/crs/run-crs.js [--suite v4|crs3] [--crs-setup FILE] [--filter RE] [--threshold PCT] [--concurrency N] [--rules-dir DIR]\n' +
      '       [--crs-dir DIR] [--deadline-ms N] [--verbose] [--header-encoding raw|map] [--envoy-reject-http10]\n' +
      '       [--envoy-allow-custom-methods] [--server-target unix:/path|host:port] [--no-reports] [--sidewall-layer]');
    return 0;
  }
  const num = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${what}: not a number: ${v}`);
    return n;
  };
  const he = values['header-encoding'];
  if (he !== undefined && he !== 'raw' && he !== 'map') {
    console.error('run-crs: --header-encoding must be raw or map');
    return 2;
  }
  const suite = values.suite ?? 'v4';
  if (suite !== 'v4' && suite !== 'crs3') {
    console.error('run-crs: --suite must be v4 or crs3');
    return 2;
  }
  const options: RunCrsOptions = {
    suite,
    ...(values['crs-setup'] !== undefined ? { crsSetup: values['crs-setup'] } : {}),
    ...(values['rules-dir'] !== undefined ? { rulesDir: values['rules-dir'] } : {}),
    ...(values['crs-dir'] !== undefined ? { crsDir: values['crs-dir'] } : {}),
    ...(values.filter !== undefined ? { filter: values.filter } : {}),
    threshold: num(values.threshold, '--threshold') ?? null,
    concurrency: num(values.concurrency, '--concurrency') ?? 16,
    deadlineMs: num(values['deadline-ms'], '--deadline-ms') ?? 10_000,
    verbose: values.verbose ?? false,
    headerEncoding: (he as HeaderEncoding | undefined) ?? 'raw',
    envoy: {
      ...(values['envoy-reject-http10'] ? { acceptHttp10: false } : {}),
      ...(values['envoy-allow-custom-methods'] ? { allowCustomMethods: true } : {}),
    },
    writeReports: !values['no-reports'],
    sidewallLayer: values['sidewall-layer'] ?? false,
    ...(values['server-target'] !== undefined ? { serverTarget: values['server-target'] } : {}),
  };
  let summary: Summary;
  try {
    summary = await runCrs(options);
  } catch (err) {
    console.error(`run-crs: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  return summary.thresholdMet ? 0 : 1;
}

// `node --test dist/test/` also runs every file under a test/ directory; the runner is a CLI, and
// the conformance tests call runCrs() themselves.
const underTestRunner = process.env.NODE_TEST_CONTEXT !== undefined;
if (!underTestRunner && isEntryModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 2;
    },
  );
}
