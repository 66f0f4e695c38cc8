// Evaluation trace (Waf.evaluateTraced): what it records for chains, transformations, multiMatch,
// counts, setvar scores and disruptive actions; and a differential run over CRS v4 regression
// stages showing that a traced evaluation gives exactly the verdict of an untraced one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpRequest } from '../src/engine/api.js';
import { Waf } from '../src/engine/waf.js';
import { mapCheckRequest, type CheckRequestMsg } from '../src/server/check-mapper.js';
import { planStage, type ApplicablePlan } from './crs/convert.js';
import { DEFAULT_CHECK_OPTIONS } from '../bench/lib/check-request.js';
import { entryConfText } from '../bench/lib/crs-config.js';
import { DEFAULT_ENVOY_OPTIONS } from '../bench/lib/envoy-http1.js';
import { authorizationServiceDefinition } from '../bench/lib/grpc-check.js';
import { loadOverrides } from './crs/expectations.js';
import { loadCorpus } from './crs/ftw-corpus.js';
import { requestWithValue } from './helpers/differential.js';
import { REPO_ROOT, sharedPath } from '../bench/lib/shared.js';

function request(uri: string, headers: Array<[string, string]> = [], body: string | null = null): HttpRequest {
  return {
    id: 'trace-1',
    method: body === null ? 'GET' : 'POST',
    uri,
    protocol: 'HTTP/1.1',
    headers: [['Host', 'shop.example.com'], ...headers],
    body: body === null ? null : Buffer.from(body, 'latin1'),
    bodyPartial: false,
    clientIp: '10.1.2.3',
    clientPort: 40000,
    serverIp: '10.0.0.2',
    serverPort: 8080,
  };
}

const RULES = `
SecRuleEngine On
SecRequestBodyAccess On
SecDefaultAction "phase:1,log,pass"
SecDefaultAction "phase:2,log,pass"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.inbound_anomaly_score_pl1=0,setvar:tx.critical_anomaly_score=5"
SecRule ARGS "@rx <script" "id:10,phase:1,block,msg:'XSS in %{MATCHED_VAR_NAME}',severity:CRITICAL,t:urlDecodeUni,t:lowercase,setvar:tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}"
SecRule REQUEST_METHOD "@streq POST" "id:20,phase:2,pass,log,msg:'chained',chain"
  SecRule ARGS_POST:user "@contains admin" "t:lowercase,chain"
    SecRule &ARGS_POST "!@eq 0" "setvar:tx.inbound_anomaly_score_pl1=+3"
SecRule REQUEST_HEADERS:X-Test "@rx ^abc$" "id:30,phase:1,pass,log,multiMatch,t:lowercase,t:trim"
SecRule REQUEST_HEADERS:X-Never "@rx x" "id:40,phase:1,pass,log"
SecRule TX:inbound_anomaly_score_pl1 "@ge 5" "id:90,phase:2,deny,status:403,msg:'score %{tx.inbound_anomaly_score_pl1}'"
`;

test('trace: transformations, chains, counts, multiMatch, scores and the interrupting rule', () => {
  const waf = Waf.fromString(RULES, join(REPO_ROOT, 'trace-rules.conf'));
  const req = request(
    '/p?q=%3CSCRIPT%3Ealert(1)',
    [['X-Test', '  ABC  '], ['Content-Type', 'application/x-www-form-urlencoded']],
    'user=Admin&x=1',
  );
  const { verdict, trace } = waf.evaluateTraced(req);
  assert.deepEqual(verdict, waf.evaluate(req));
  assert.equal(verdict.action, 'deny');
  assert.equal(verdict.interruptingRuleId, 90);
  assert.deepEqual(trace.phases, [1, 2, 5]);
  assert.equal(trace.bodyProcessor, 'URLENCODED');
  assert.deepEqual(trace.rules.map((r) => r.id), [1, 10, 30, 20, 90]);

  const xss = trace.rules.find((r) => r.id === 10)!;
  assert.equal(xss.matched, true);
  assert.equal(xss.logged, true);
  assert.equal(xss.msg, 'XSS in ARGS:q');
  assert.equal(xss.severity, 2);
  assert.equal(xss.disruptive, 'pass'); // block → SecDefaultAction pass
  assert.equal(xss.operatorMatches.length, 1);
  const m = xss.operatorMatches[0]!;
  assert.equal(m.variable, 'ARGS:q');
  assert.equal(m.value.text, '<SCRIPT>alert(1)');
  assert.deepEqual(m.transformations, ['urldecodeuni', 'lowercase']);
  assert.equal(m.transformed.text, '<script>alert(1)');
  assert.equal(m.operator, '@rx');
  assert.equal(m.argument, '<script');
  assert.deepEqual(xss.scores, [{ variable: 'TX.inbound_anomaly_score_pl1', delta: 5 }]);
  assert.deepEqual(xss.setvars, [{ variable: 'TX.inbound_anomaly_score_pl1', before: '0', after: '5' }]);

  const chain = trace.rules.find((r) => r.id === 20)!;
  assert.equal(chain.chainLength, 3);
  assert.equal(chain.matched, true);
  assert.deepEqual(
    chain.operatorMatches.map((o) => [o.link, o.variable, o.operator, o.transformed.text]),
    [
      [0, 'REQUEST_METHOD', '@streq', 'POST'],
      [1, 'ARGS_POST:user', '@contains', 'admin'],
      [2, '&ARGS_POST', '!@eq', '2'],
    ],
  );
  assert.deepEqual(chain.scores, [{ variable: 'TX.inbound_anomaly_score_pl1', delta: 3 }]);

  // multiMatch: the value matched after lowercase,trim — the trace names exactly those two.
  const mm = trace.rules.find((r) => r.id === 30)!;
  assert.deepEqual(mm.operatorMatches.map((o) => o.transformations), [['lowercase', 'trim']]);
  assert.equal(mm.operatorMatches[0]!.value.text, '  ABC  ');

  const deny = trace.rules.find((r) => r.id === 90)!;
  assert.equal(deny.disruptive, 'deny');
  assert.equal(deny.interrupts, true);
  assert.equal(deny.msg, 'score 8');
  assert.equal(trace.anomalyScores['inbound_anomaly_score_pl1'], '8');
  assert.equal(trace.rules.find((r) => r.id === 40), undefined, 'a rule that matched nothing is not in the trace');
});

test('trace: a chain whose later link fails is recorded as not matched, with its per-match setvar', () => {
  const waf = Waf.fromString(
    `SecRuleEngine DetectionOnly
SecRule ARGS:a "@rx ." "id:5,phase:1,pass,log,setvar:tx.seen=1,chain"
  SecRule ARGS:b "@rx never" ""`,
    join(REPO_ROOT, 'trace-chain.conf'),
  );
  const { verdict, trace } = waf.evaluateTraced(request('/?a=1&b=2'));
  assert.equal(verdict.action, 'allow');
  assert.equal(trace.rules.length, 1);
  const r = trace.rules[0]!;
  assert.equal(r.matched, false);
  assert.equal(r.disruptive, null);
  assert.deepEqual(r.operatorMatches.map((o) => o.variable), ['ARGS:a']);
  assert.deepEqual(r.setvars, [{ variable: 'TX.seen', before: null, after: '1' }]);
});

test('trace: the embedded default rules explain a SQL injection block', () => {
  const waf = Waf.fromFile(join(REPO_ROOT, 'rules', 'main.conf'), { mode: 'block' });
  const req = request("/search?q=1'%20OR%201=1--", [['User-Agent', 'curl/8.0']]);
  const { verdict, trace } = waf.evaluateTraced(req);
  assert.deepEqual(verdict, waf.evaluate(req));
  assert.equal(verdict.action, 'deny');
  const logged = trace.rules.filter((r) => r.logged);
  assert.deepEqual(logged.map((r) => r.id), verdict.ruleIds);
  const total = trace.rules.flatMap((r) => r.scores).filter((s) => /_pl\d$/.test(s.variable)).reduce((a, s) => a + s.delta, 0);
  assert.equal(total, verdict.anomalyScore, 'per-rule contributions add up to the anomaly score');
});

function crsStageRequests(step: number): HttpRequest[] {
  const corpus = loadCorpus(sharedPath('crs', 'tests', 'regression', 'tests'));
  const overrides = loadOverrides(join(REPO_ROOT, 'test', 'crs', 'overrides.yaml'));
  const check = authorizationServiceDefinition()['Check']!;
  const out: HttpRequest[] = [];
  corpus.stages.forEach((s, i) => {
    if (i % step !== 0) return;
    const plan = planStage(s, overrides, { envoy: DEFAULT_ENVOY_OPTIONS, check: DEFAULT_CHECK_OPTIONS }, String(i + 1));
    if (!plan.applicable) return;
    const cr = (plan as ApplicablePlan).checkRequest;
    out.push(mapCheckRequest(check.requestDeserialize(check.requestSerialize(cr)) as CheckRequestMsg).request);
  });
  return out;
}

test('trace differential: CRS v4 regression stages (every 4th) give identical verdicts traced and untraced', { timeout: 600_000 }, (t) => {
  if (!existsSync(sharedPath('crs', 'tests', 'regression', 'tests'))) {
    if (process.env.CI === 'true') assert.fail(`CRS corpus missing under ${sharedPath('crs')}`);
    t.skip(`CRS corpus not found under ${sharedPath('crs')} (set SIDEWALL_SHARED)`);
    return;
  }
  const waf = Waf.fromString(entryConfText({ crsDir: sharedPath('crs'), testSetup: true }), join(REPO_ROOT, 'trace-crs.conf'), {
    mode: 'detect',
    onWarning: () => {},
  });
  const requests = crsStageRequests(4);
  requests.push(requestWithValue("1' UNION SELECT password FROM users--"), requestWithValue('<img src=x onerror=alert(1)>'));
  assert.ok(requests.length > 1000, `stages sampled (${requests.length})`);
  const diffs: string[] = [];
  let matchedRules = 0;
  for (const r of requests) {
    const plain = waf.evaluate(r);
    const { verdict, trace } = waf.evaluateTraced(r);
    try {
      assert.deepStrictEqual(verdict, plain);
    } catch (e) {
      diffs.push(`${r.method} ${r.uri.slice(0, 100)}: ${(e as Error).message.slice(0, 300)}`);
    }
    // Every logged match of the verdict is a logged, matched rule of the trace, in order.
    const traced = trace.rules.filter((x) => x.matched && x.logged).map((x) => x.id);
    if (JSON.stringify([...new Set(traced)]) !== JSON.stringify(verdict.ruleIds)) diffs.push(`${r.uri.slice(0, 100)}: trace rules ${traced} vs verdict ${verdict.ruleIds}`);
    matchedRules += traced.length;
  }
  assert.deepEqual(diffs.slice(0, 5), [], `${diffs.length} of ${requests.length} requests differ`);
  assert.ok(matchedRules > requests.length, 'the sample exercises detections');
  t.diagnostic(`${requests.length} requests identical traced and untraced; ${matchedRules} logged rule matches traced`);
});
