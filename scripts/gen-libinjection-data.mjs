#!/usr/bin/env node
// Generates src/libinjection/data.ts from libinjection's own data files:
//   <shared>/libinjection/src/sqlparse_data.json  (charmap + keyword table)
//   <shared>/libinjection/src/fingerprints.txt    (SQLi fingerprint list)
//   <shared>/libinjection/COPYING                 (BSD licence, copied into the header)
//   <shared>/libinjection/VERSION                 (provenance, copied into the header)
// <shared> is $SIDEWALL_SHARED or ../shared beside the repository (as test/helpers/shared.ts).
// Usage: node scripts/gen-libinjection-data.mjs [--check]
//   --check: exit 1 if the committed data.ts differs from what would be generated.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(process.env.SIDEWALL_SHARED ?? join(REPO_ROOT, '..', 'shared'));
const LIB = join(SHARED, 'libinjection');
const OUT = join(REPO_ROOT, 'src', 'libinjection', 'data.ts');
const EXPECTED_FINGERPRINTS = 8367;

function fail(msg) {
  console.error('gen-libinjection-data: ' + msg);
  process.exit(1);
}

for (const f of ['src/sqlparse_data.json', 'src/fingerprints.txt', 'COPYING']) {
  if (!existsSync(join(LIB, f))) fail(`missing ${join(LIB, f)}`);
}

const json = JSON.parse(readFileSync(join(LIB, 'src', 'sqlparse_data.json'), 'utf8'));
const licence = readFileSync(join(LIB, 'COPYING'), 'utf8').replace(/\s+$/, '');
const version = existsSync(join(LIB, 'VERSION'))
  ? readFileSync(join(LIB, 'VERSION'), 'utf8').split('\n').filter((l) => /^(repository|ref|commit|commit_date):/.test(l))
  : [];

// ---- charmap: 256 entries of CHAR_* class names --------------------------------------------
const charmap = json.charmap;
if (!Array.isArray(charmap) || charmap.length !== 256) fail('charmap must have 256 entries');
const classNames = [...new Set(charmap)].sort();
if (classNames.length > 58) fail('too many char classes');
const charmapStr = charmap.map((n) => String.fromCharCode(48 + classNames.indexOf(n))).join('');

// ---- keywords: word -> one-char type ------------------------------------------------------
const keywords = Object.entries(json.keywords);
let maxWordLen = 0;
for (const [w, t] of keywords) {
  if (typeof t !== 'string' || t.length !== 1) fail(`bad type for keyword ${w}`);
  if (w.length === 0 || !/^[\x20-\x7e]+$/.test(w)) fail(`keyword not printable ASCII: ${JSON.stringify(w)}`);
  if (w !== w.toUpperCase()) fail(`keyword not upper case: ${w}`);
  maxWordLen = Math.max(maxWordLen, w.length);
}
keywords.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
// one entry per word: WORD followed by its type char; entries separated by '\n'
const kwEntries = keywords.map(([w, t]) => w + t);

// ---- fingerprints --------------------------------------------------------------------------
const fpText = readFileSync(join(LIB, 'src', 'fingerprints.txt'), 'latin1');
const fingerprints = fpText.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
if (fingerprints.length !== EXPECTED_FINGERPRINTS) {
  fail(`expected ${EXPECTED_FINGERPRINTS} fingerprints in fingerprints.txt, found ${fingerprints.length}`);
}
for (const fp of fingerprints) {
  if (fp.length > 5 || !/^[^\s]+$/.test(fp)) fail(`bad fingerprint ${JSON.stringify(fp)}`);
}
if (Array.isArray(json.fingerprints)) {
  const a = [...json.fingerprints].sort().join('\n');
  const b = [...fingerprints].sort().join('\n');
  if (a !== b) fail('fingerprints.txt and sqlparse_data.json "fingerprints" differ');
}

// ---- emit -----------------------------------------------------------------------------------
function chunked(items, sep, width) {
  const lines = [];
  let cur = '';
  for (const it of items) {
    const next = cur.length === 0 ? it : cur + sep + it;
    if (next.length > width && cur.length > 0) {
      lines.push(cur + sep);
      cur = it;
    } else {
      cur = next;
    }
  }
  if (cur.length > 0) lines.push(cur);
  return lines.map((l) => '  ' + JSON.stringify(l)).join(' +\n');
}

const out = `// GENERATED FILE - DO NOT EDIT. Regenerate with: node scripts/gen-libinjection-data.mjs
//
// Data tables of libinjection (SQLi keyword table, character classes, SQLi fingerprints),
// taken from libinjection's src/sqlparse_data.json and src/fingerprints.txt.
${version.map((l) => '// ' + l).join('\n')}
//
// libinjection licence (applies to the data below):
//
${licence.split('\n').map((l) => ('// ' + l).trimEnd()).join('\n')}

/** Names of the tokenizer character classes (libinjection's CHAR_* names), indexed by class id. */
export const CHAR_CLASS_NAMES: readonly string[] = ${JSON.stringify(classNames)};

${classNames.map((n, i) => `export const ${n} = ${i};`).join('\n')}

/** Character class per byte: CHAR_CLASS_NAMES index encoded as '0' + id. */
const CHARMAP_STR =
${chunked(charmapStr.match(/.{1,64}/g), '', 80)};

/** Character class id for each byte value 0..255. */
export const CHARMAP: Uint8Array = new Uint8Array(256);
for (let i = 0; i < 256; i++) CHARMAP[i] = CHARMAP_STR.charCodeAt(i) - 48;

/** Longest keyword (in bytes); longer words are never looked up. */
export const MAX_KEYWORD_LEN = ${maxWordLen};

/** Keyword table: entries separated by '\\n', each the upper-case word followed by its type char. */
const KEYWORDS_STR =
${chunked(kwEntries, '\n', 90)};

/** Upper-case word -> token type (char code), e.g. 'SELECT' -> 'E'. ${keywords.length} entries. */
export const KEYWORDS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (const e of KEYWORDS_STR.split('\\n')) m.set(e.slice(0, -1), e.charCodeAt(e.length - 1));
  return m;
})();

/** SQLi fingerprints, as listed in fingerprints.txt, separated by ' '. */
const FINGERPRINTS_STR =
${chunked(fingerprints, ' ', 90)};

/** The ${fingerprints.length} SQLi fingerprints exactly as listed by libinjection. */
export const FINGERPRINTS: readonly string[] = FINGERPRINTS_STR.split(' ');

/**
 * Fingerprints upper-cased (ASCII a-z only) for lookup: libinjection compares fingerprints
 * case-insensitively ('0' + upper(fingerprint) in its keyword table).
 */
export const FINGERPRINT_SET: ReadonlySet<string> = new Set(FINGERPRINTS.map((f) => f.toUpperCase()));
`;

if (process.argv.includes('--check')) {
  const cur = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
  if (cur !== out) fail(`${OUT} is out of date; run node scripts/gen-libinjection-data.mjs`);
  console.log('data.ts is up to date');
} else {
  writeFileSync(OUT, out);
  console.log(`wrote ${OUT}: ${keywords.length} keywords, ${fingerprints.length} fingerprints, ${classNames.length} char classes`);
}
