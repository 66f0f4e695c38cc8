// `sidewall recommend [options] PATH...`: reads security events (receiver NDJSON, spool
// directories, log files), proposes exclusions for recurring false positives and writes an
// exclusions.conf (stdout or --out). Exit codes: 0 ok, 1 cannot write / internal error, 2 usage or
// unreadable input.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readRulesEntry } from '../engine/crs-layout.js';
import type { Directive } from '../seclang/ast.js';
import { DEFAULT_RECOMMEND, readEvents, recommend, type RecommendOptions } from './index.js';
import { durationMs } from './duration.js';

export const RECOMMEND_USAGE = `Usage: sidewall recommend [options] PATH...

Reads security events from PATHs (files or directories: the NDJSON of \`sidewall events receive
--out\`, webhook spool directories, log files with one JSON line per event) and writes the
narrowest SecLang exclusions for recurring detections that look like false positives, each with
its evidence. Apply the result as staged exclusions first (sidewall.io/staged-exclusions).

Options:
  --since T            only events at or after T: RFC 3339 time, or a duration back from now (7d, 24h, 30m)
  --until T            only events before T (same forms; default now)
  --namespace NS       only events of destination namespace NS (needed when events span several)
  --min-requests N     distinct requests a detection needs (default ${DEFAULT_RECOMMEND.minRequests})
  --min-sources N      distinct sources a detection needs (default ${DEFAULT_RECOMMEND.minSources})
  --max-score N        highest 90th percentile anomaly score (default ${DEFAULT_RECOMMEND.maxScore})
  --max-blocked F      highest share of blocked requests, 0..1 (default ${DEFAULT_RECOMMEND.maxBlockedShare})
  --max-cooccur F      highest share of requests with other attack rules, 0..1 (default ${DEFAULT_RECOMMEND.maxCooccurShare})
  --exclude-staged     ignore events of staged policies
  --first-id N         id of the first generated rule (default 10000)
  --rules PATH         also check that the exclusions compile after this ruleset (entry file or CRS dir)
  --out FILE           write exclusions.conf to FILE (default stdout)
  --report FILE        write every group with its evidence and decision as JSON
`;

/** RFC 3339 time or a duration back from `nowMs`; throws naming the flag. */
export function parseTimeFlag(flag: string, text: string, nowMs: number): number {
  const d = durationMs(text);
  if (d !== null) return nowMs - d;
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(t)) throw new UsageError(`${flag}: expected an RFC 3339 time or a duration like 7d, 24h, 30m (got ${JSON.stringify(text)})`);
  return t;
}

class UsageError extends Error {}

function numberFlag(flag: string, text: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag}: must be ${integer ? 'an integer' : 'a number'} ${min}..${max} (got ${JSON.stringify(text)})`);
  }
  return n;
}

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  now?: () => number;
}

const defaultIo: CommandIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

export function recommendCommand(args: string[], io: CommandIo = defaultIo): number {
  try {
    return run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sidewall recommend: ${err.message}\n`);
      return 2;
    }
    io.stderr(`sidewall recommend: ${(err as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}

function run(args: string[], io: CommandIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        namespace: { type: 'string' },
        'min-requests': { type: 'string' },
        'min-sources': { type: 'string' },
        'max-score': { type: 'string' },
        'max-blocked': { type: 'string' },
        'max-cooccur': { type: 'string' },
        'exclude-staged': { type: 'boolean' },
        'first-id': { type: 'string' },
        rules: { type: 'string' },
        out: { type: 'string' },
        report: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (try: sidewall recommend --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(RECOMMEND_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one PATH of events (try: sidewall recommend --help)');
  const now = (io.now ?? Date.now)();
  const options: RecommendOptions = {
    sinceMs: values.since === undefined ? null : parseTimeFlag('--since', values.since, now),
    untilMs: values.until === undefined ? null : parseTimeFlag('--until', values.until, now),
    namespace: values.namespace ?? null,
    minRequests: numberFlag('--min-requests', values['min-requests'], DEFAULT_RECOMMEND.minRequests, 1, 1e9, true),
    minSources: numberFlag('--min-sources', values['min-sources'], DEFAULT_RECOMMEND.minSources, 1, 1e9, true),
    maxScore: numberFlag('--max-score', values['max-score'], DEFAULT_RECOMMEND.maxScore, 0, 1e9, false),
    maxBlockedShare: numberFlag('--max-blocked', values['max-blocked'], DEFAULT_RECOMMEND.maxBlockedShare, 0, 1, false),
    maxCooccurShare: numberFlag('--max-cooccur', values['max-cooccur'], DEFAULT_RECOMMEND.maxCooccurShare, 0, 1, false),
    includeStaged: values['exclude-staged'] !== true,
  };
  const firstId = numberFlag('--first-id', values['first-id'], 10000, 1, 2 ** 31 - 1, true);

  const read = readEvents(positionals);
  for (const p of read.problems) io.stderr(`sidewall recommend: ${p.where}: ${p.problem}\n`);
  if (read.files === 0) throw new UsageError(`no readable event files under ${positionals.join(', ')}`);

  let base: Directive[] | null = null;
  if (values.rules !== undefined) {
    try {
      base = readRulesEntry(values.rules, () => undefined);
    } catch (err) {
      throw new UsageError(`--rules: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const window = {
    since: options.sinceMs === null ? null : new Date(options.sinceMs).toISOString(),
    until: options.untilMs === null ? null : new Date(options.untilMs).toISOString(),
  };
  const result = recommend(read.events, options, { firstId, generatedAt: new Date(now), window }, { file: values.out ?? 'exclusions.conf', base });
  const namespaces = [...new Set(result.rendered.rules.map((r) => r.group.namespace))];
  if (options.namespace === null && namespaces.length > 1) {
    throw new UsageError(`events span namespaces ${namespaces.join(', ')}; an exclusions.conf is per namespace: give --namespace`);
  }
  if (values.out !== undefined) writeFileSync(values.out, result.rendered.text);
  else io.stdout(result.rendered.text);
  if (values.report !== undefined) {
    writeFileSync(values.report, JSON.stringify({ window, events: result.analysis.events, considered: result.analysis.considered, groups: result.analysis.groups }, null, 2) + '\n');
  }
  const recommended = result.analysis.groups.filter((g) => g.recommended).length;
  io.stderr(
    `sidewall recommend: ${read.events.length} events from ${read.files} files (${read.skipped} other lines, ${read.problems.length} problems), ` +
      `${result.analysis.considered} in the window, ${result.analysis.groups.length} groups, ${recommended} recommended, ${result.rendered.rules.length} exclusions written\n`,
  );
  return 0;
}
