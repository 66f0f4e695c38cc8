// CRS 3.3 regression tests: the legacy ftw YAML format and the bytes the (Python) ftw client sends.
//
// Format: `meta: {enabled, ...}`, `tests: [{test_title: "920230-1", enabled?, stages: [{stage:
// {input, output}}]}]`; output uses `log_contains` / `no_log_contains` (regexes over the
// ModSecurity log such as `id "920230"`), `status`, `response_contains`, `expect_error`.
//
// Request bytes (ftw ruleset.py Input + http.py build_request):
// - defaults GET, "/", HTTP/1.1; request line "METHOD URI VERSION\r\n"; headers in the order
//   written, "Name: value\r\n"; nothing else is added (no Host, no Connection);
// - `data` given as a list is joined with "\r\n";
// - unless stop_magic, with non-empty data: `Content-Type: application/x-www-form-urlencoded`
//   when no header is spelled exactly "Content-Type"; if that header is exactly the form type and
//   the data holds no %HH escape, it is re-encoded as urlencode(parse_qsl(data)) (pairs without
//   '=' or with an empty value dropped, quote_plus; kept as-is when nothing is left);
//   `Content-Length: len(data)` when no header is spelled exactly "Content-Length".
import { parseDocument } from 'yaml';
import { loadCorpusWith, type FtwInput, type FtwOutput, type FtwStage, type LoadedCorpus } from './ftw-corpus.js';
import { UnsupportedInputError, type BuiltRequest, type HeaderLine } from './ftw-request.js';

type Plain = string | null | Plain[] | { [k: string]: Plain };

function rec(v: Plain | undefined): Record<string, Plain> | null {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : null;
}

function str(v: Plain | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new Error(`expected a scalar, got ${JSON.stringify(v).slice(0, 60)}`);
}

function bool(v: Plain | undefined): boolean | undefined {
  const s = str(v)?.trim().toLowerCase();
  if (s === undefined) return undefined;
  return s === 'true' || s === 'yes' || s === 'on';
}

function int(v: Plain | undefined, what: string): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  if (!Number.isInteger(n)) throw new Error(`${what}: not an integer: ${JSON.stringify(s)}`);
  return n;
}

const INPUT_KEYS = new Set([
  'dest_addr', 'port', 'protocol', 'method', 'uri', 'version', 'headers', 'data', 'encoded_request', 'raw_request',
  'stop_magic', 'save_cookie',
]);
const OUTPUT_KEYS = new Set(['status', 'response_contains', 'log_contains', 'no_log_contains', 'expect_error']);

function parseInput(raw: Record<string, Plain>): FtwInput {
  const input: FtwInput = {};
  const unknown = Object.keys(raw).filter((k) => !INPUT_KEYS.has(k));
  if (unknown.length > 0) input.unknownKeys = unknown;
  for (const k of ['dest_addr', 'protocol', 'method', 'uri', 'version', 'encoded_request', 'raw_request'] as const) {
    const v = str(raw[k]);
    if (v !== undefined) input[k] = v;
  }
  const port = int(raw['port'], 'port');
  if (port !== undefined) input.port = port;
  const headers = rec(raw['headers']);
  if (headers) {
    // Written order is kept (ftw iterates the YAML mapping); ordered_headers carries it.
    input.ordered_headers = Object.entries(headers).map(([name, value]) => ({ name, value: str(value) ?? '' }));
  }
  const data = raw['data'];
  if (Array.isArray(data)) input.data = data.map((d) => str(d) ?? '').join('\r\n');
  else if (data !== undefined && data !== null) input.data = str(data)!;
  const stop = bool(raw['stop_magic']);
  if (stop !== undefined) input.stop_magic = stop;
  const save = bool(raw['save_cookie']);
  if (save !== undefined) input.save_cookie = save;
  return input;
}

function parseOutput(raw: Record<string, Plain>): FtwOutput {
  const out: FtwOutput = {};
  const unknown = Object.keys(raw).filter((k) => !OUTPUT_KEYS.has(k));
  if (unknown.length > 0) out.unknownKeys = unknown;
  const status = raw['status'];
  if (Array.isArray(status)) out.status = status.map((s) => int(s, 'status')!);
  else if (status !== undefined && status !== null) out.status = int(status, 'status')!;
  for (const k of ['response_contains', 'log_contains', 'no_log_contains'] as const) {
    const v = str(raw[k]);
    if (v !== undefined) out[k] = v;
  }
  const eb = bool(raw['expect_error']);
  if (eb !== undefined) out.expect_error = eb;
  return out;
}

/** Rule id and test number from a title such as "920230-1" (else from the file name). */
function titleIds(title: string, file: string, position: number): { ruleId: number; testId: number } {
  const m = /^(\d{6})-(\d+)$/.exec(title.trim());
  if (m) return { ruleId: Number(m[1]), testId: Number(m[2]) };
  const f = /(\d{6})/.exec(file);
  if (!f) throw new Error(`test "${title}": no rule id in the title or the file name`);
  return { ruleId: Number(f[1]), testId: position + 1 };
}

/** Parses one legacy ftw YAML file. Disabled files/tests are returned in `disabled`. */
export function parseLegacyFtwYaml(text: string, file = '<inline>', group = ''): { stages: FtwStage[]; disabled: string[] } {
  const doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
  if (doc.errors.length > 0) throw new Error(`${file}: YAML error: ${doc.errors[0]!.message}`);
  const top = rec(doc.toJS({ maxAliasCount: 1000 }) as Plain);
  if (!top) return { stages: [], disabled: [] };
  const meta = rec(top['meta']);
  const tests = top['tests'];
  if (!Array.isArray(tests)) throw new Error(`${file}: no tests list`);
  const stages: FtwStage[] = [];
  const disabled: string[] = [];
  const fileEnabled = bool(meta?.['enabled']) ?? true;
  tests.forEach((t, position) => {
    const test = rec(t);
    if (!test) throw new Error(`${file}: test #${position + 1} is not a map`);
    const title = str(test['test_title']) ?? '';
    const { ruleId, testId } = titleIds(title, file, position);
    if (!fileEnabled || bool(test['enabled']) === false) {
      disabled.push(`${ruleId}-${testId}`);
      return;
    }
    const rawStages = test['stages'];
    if (!Array.isArray(rawStages)) throw new Error(`${file}: test ${title} has no stages`);
    rawStages.forEach((s, stageIndex) => {
      const wrapper = rec(s);
      const st = rec(wrapper?.['stage']) ?? wrapper;
      if (!st) throw new Error(`${file}: test ${title} stage ${stageIndex + 1} is not a map`);
      stages.push({
        file,
        group,
        ruleId,
        testId,
        stageIndex,
        stageCount: rawStages.length,
        desc: str(test['desc']) ?? title,
        input: parseInput(rec(st['input']) ?? {}),
        output: parseOutput(rec(st['output']) ?? {}),
        client: 'ftw',
      });
    });
  });
  return { stages, disabled };
}

/** Loads every legacy ftw YAML file under `root`. Disabled tests are reported as problems. */
export function loadLegacyCorpus(root: string): LoadedCorpus {
  return loadCorpusWith(root, (text, file, group) => {
    const parsed = parseLegacyFtwYaml(text, file, group);
    return { stages: parsed.stages, notes: parsed.disabled.length > 0 ? [`disabled in the file: ${parsed.disabled.join(' ')}`] : [] };
  });
}

// ---- request bytes ----

/** Python's urllib quote_plus (safe: letters, digits, "_.-~"; space → "+"), over UTF-8 bytes. */
export function pyQuotePlus(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2e || b === 0x2d || b === 0x7e) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** urlencode(parse_qsl(data)) as ftw applies it to form bodies; null when nothing is left. */
export function pyReencodeForm(data: string): string | null {
  const pairs: string[] = [];
  for (const field of data.split(/[&;]/)) {
    const eq = field.indexOf('=');
    if (eq < 0) continue; // keep_blank_values=False drops "name" and "name="
    // unquote is the identity here (the caller only re-encodes data without %HH), but for '+'.
    const unq = (x: string) => x.replace(/\+/g, ' ');
    const name = unq(field.slice(0, eq));
    const value = unq(field.slice(eq + 1));
    if (value === '') continue;
    pairs.push(pyQuotePlus(name) + '=' + pyQuotePlus(value));
  }
  return pairs.length === 0 ? null : pairs.join('&');
}

const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/;

/** The bytes the ftw client sends for one legacy stage. */
export function buildLegacyFtwRequest(input: FtwInput): BuiltRequest {
  if (input.encoded_request) return { kind: 'encoded_request', raw: Buffer.from(input.encoded_request, 'base64') };
  if (input.raw_request) return { kind: 'raw_request', raw: Buffer.from(input.raw_request, 'utf8') };
  if (input.save_cookie) throw new UnsupportedInputError('save_cookie needs a response (Set-Cookie) from a backend');
  const method = input.method ?? 'GET';
  const uri = input.uri ?? '/';
  const version = input.version ?? 'HTTP/1.1';
  const magic = !(input.stop_magic ?? false);
  const headers: HeaderLine[] = (input.ordered_headers ?? []).map((h) => ({ name: h.name, value: h.value }));
  const has = (exact: string) => headers.some((h) => h.name === exact);
  let data = input.data ?? '';
  if (data !== '' && magic) {
    if (!has('Content-Type')) headers.push({ name: 'Content-Type', value: 'application/x-www-form-urlencoded' });
    const ct = headers.find((h) => h.name === 'Content-Type');
    if (ct?.value === 'application/x-www-form-urlencoded' && !PERCENT_ESCAPE.test(data)) {
      data = pyReencodeForm(data) ?? data;
    }
    if (!has('Content-Length')) headers.push({ name: 'Content-Length', value: String(Buffer.byteLength(data, 'utf8')) });
  }
  const head = `${method} ${uri} ${version}\r\n` + headers.map((h) => `${h.name}: ${h.value}\r\n`).join('') + '\r\n';
  const body = Buffer.from(data, 'utf8');
  return { kind: 'fields', raw: Buffer.concat([Buffer.from(head, 'utf8'), body]), method, uri, version, headers, body };
}
