// `sidewall explain`: evaluate one request offline and show why it was (or was not) blocked.
// Exit codes: 0 explained (whatever the verdict), 2 bad usage, unreadable/malformed request or rules.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_RULES_FILE } from '../config/paths.js';
import type { EngineMode } from '../engine/api.js';
import { isCrsDirectory, readRulesEntry } from '../engine/crs-layout.js';
import { Waf } from '../engine/waf.js';
import { parseDirectivesFromString } from '../seclang/reader.js';
import { pinnedTxFor } from '../settings/effective.js';
import { requestFromCurl, type CurlOption } from './curl-request.js';
import { ExplainInputError, parseRawRequest, type ParsedRequest, type RequestDefaults } from './raw-request.js';
import { renderJson, renderText, type Explanation } from './render.js';

export const EXPLAIN_USAGE = `Usage:
  sidewall explain [options] FILE|-              a raw HTTP/1.x request (file, or - for stdin)
  sidewall explain [options] [curl flags] URL    the request curl would send

Shows each rule that matched: phase, matched variable and data, transformations, operator,
anomaly score contributions and the disruptive action; then the verdict.

Ruleset (default: the embedded rules/main.conf):
  --rules PATH              SecLang entry file, or a CRS directory
  --crs DIR                 a CRS directory (crs-setup.conf(.example), plugins/, rules/)
  --exclusions FILE         SecLang appended after the rules (like a namespace's exclusions.conf)
  --mode MODE               block | detect | off (overrides SecRuleEngine)
  --paranoia-level N        1..4 (pins tx.blocking_paranoia_level / tx.paranoia_level)
  --anomaly-threshold N     inbound anomaly score threshold (pins tx.inbound_anomaly_score_threshold)
Output:
  --json                    one JSON document (request, verdict, full trace)
  --all                     also show rules that matched without logging or scoring
Request:
  --client-ip IP            REMOTE_ADDR (default 192.0.2.10)
  --request-id ID           UNIQUE_ID
curl flags: -X/--request M, -H/--header 'N: v', -d/--data D|@file, --data-raw D,
  --data-binary D|@file, --data-urlencode D, -G/--get, -A/--user-agent UA, -b/--cookie C,
  -e/--referer R, -u/--user U:P

Exit codes: 0 explained (any verdict), 2 bad usage, request or rules.
`;

const CURL_FLAGS: Record<string, CurlOption['name']> = {
  request: 'request',
  header: 'header',
  data: 'data',
  'data-ascii': 'data',
  'data-raw': 'data-raw',
  'data-binary': 'data-binary',
  'data-urlencode': 'data-urlencode',
  'user-agent': 'user-agent',
  cookie: 'cookie',
  referer: 'referer',
  user: 'user',
  get: 'get',
};

class UsageError extends Error {}

function readInput(spec: string): Buffer {
  if (spec === '-') return readFileSync(0);
  try {
    if (statSync(spec).isDirectory()) throw new ExplainInputError(`${spec}: is a directory, expected a file holding a raw HTTP request`);
    return readFileSync(spec);
  } catch (err) {
    if (err instanceof ExplainInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ExplainInputError(`${spec}: cannot read the request: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
}

function intFlag(text: string | undefined, flag: string, min: number, max: number): number | null {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag}: must be an integer ${min}..${max} (got ${JSON.stringify(text)})`);
  return Number(text);
}

export interface ExplainIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO: ExplainIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

/** Runs the command; returns the exit code. */
export function explainCommand(args: string[], io: ExplainIo = PROCESS_IO): number {
  try {
    return run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sidewall explain: ${err.message} (try: sidewall explain --help)\n`);
      return 2;
    }
    if (err instanceof ExplainInputError) {
      io.stderr(`sidewall explain: request: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

function run(args: string[], io: ExplainIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: {
        rules: { type: 'string' },
        crs: { type: 'string' },
        exclusions: { type: 'string' },
        mode: { type: 'string' },
        'paranoia-level': { type: 'string' },
        'anomaly-threshold': { type: 'string' },
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        'client-ip': { type: 'string' },
        'request-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        request: { type: 'string', short: 'X' },
        header: { type: 'string', short: 'H', multiple: true },
        data: { type: 'string', short: 'd', multiple: true },
        'data-ascii': { type: 'string', multiple: true },
        'data-raw': { type: 'string', multiple: true },
        'data-binary': { type: 'string', multiple: true },
        'data-urlencode': { type: 'string', multiple: true },
        get: { type: 'boolean', short: 'G' },
        'user-agent': { type: 'string', short: 'A' },
        cookie: { type: 'string', short: 'b' },
        referer: { type: 'string', short: 'e' },
        user: { type: 'string', short: 'u' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) {
    io.stdout(EXPLAIN_USAGE);
    return 0;
  }
  const curl: CurlOption[] = [];
  for (const t of tokens ?? []) {
    if (t.kind !== 'option') continue;
    const name = CURL_FLAGS[t.name];
    if (name !== undefined) curl.push({ name, value: t.value ?? '' });
  }
  if (positionals.length > 1) throw new UsageError(`one request at a time (got ${positionals.length}: ${positionals.join(' ')})`);
  const input = positionals[0];
  if (input === undefined) throw new UsageError('give a request: a file, - for stdin, or curl flags and a URL');
  const defaults: RequestDefaults = { clientIp: values['client-ip'], id: values['request-id'] };

  // Rules first: a bad ruleset is reported even when the request is fine.
  const mode = values.mode;
  if (mode !== undefined && mode !== 'block' && mode !== 'detect' && mode !== 'off') throw new UsageError(`--mode: must be block, detect or off (got ${JSON.stringify(mode)})`);
  const paranoiaLevel = intFlag(values['paranoia-level'], '--paranoia-level', 1, 4);
  const anomalyThreshold = intFlag(values['anomaly-threshold'], '--anomaly-threshold', 1, 1_000_000);
  if (values.rules !== undefined && values.crs !== undefined) throw new UsageError('give --rules or --crs, not both');
  const source = values.crs ?? values.rules ?? DEFAULT_RULES_FILE;
  const warnings: string[] = [];
  let waf: Waf;
  try {
    if (!existsSync(source)) throw new Error(`${source}: file not found`);
    if (values.crs !== undefined && !isCrsDirectory(source)) throw new Error(`${source}: not a CRS directory (needs rules/ and crs-setup.conf or crs-setup.conf.example)`);
    let directives = readRulesEntry(source, (w) => warnings.push(w));
    if (values.exclusions !== undefined) {
      let text: string;
      try {
        text = readFileSync(values.exclusions, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(`${values.exclusions}: cannot read: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
      }
      directives = directives.concat(parseDirectivesFromString(text, values.exclusions));
    }
    waf = Waf.fromDirectives(directives, {
      ...(mode !== undefined ? { mode: mode as EngineMode } : {}),
      pinnedTx: pinnedTxFor({ waf: 'enabled', mode: null, paranoiaLevel, anomalyThreshold, exclusions: null }),
      onWarning: (w) => warnings.push(w),
    });
  } catch (err) {
    io.stderr(`sidewall explain: rules: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }

  let parsedRequest: ParsedRequest;
  if (/^https?:\/\//i.test(input)) parsedRequest = requestFromCurl(input, curl, defaults);
  else {
    if (curl.length > 0) throw new UsageError(`curl flags (${curl.map((c) => c.name).join(', ')}) need a URL, not a request file`);
    parsedRequest = parseRawRequest(readInput(input), input === '-' ? 'stdin' : input, defaults);
  }

  const { verdict, trace } = waf.evaluateTraced(parsedRequest.request);
  const explanation: Explanation = {
    request: parsedRequest.request,
    notes: parsedRequest.notes,
    ruleset: { source, mode: waf.mode, rules: waf.ruleCount, paranoiaLevel, anomalyThreshold },
    verdict,
    trace,
  };
  io.stdout(values.json ? renderJson(explanation) : renderText(explanation, values.all === true));
  return 0;
}
