// SecLang reader: configuration text → logical directives (name + unquoted arguments + location).
//
// Follows how ModSecurity configuration files are read (Apache httpd's config reader for v2, the
// libmodsecurity scanner for v3), which the OWASP CRS is written against:
//
// * Files are byte strings (read as latin1: one char per byte), CRLF or LF line ends, a UTF-8 BOM
//   at the start of a file is skipped.
// * A physical line ending in a backslash continues on the next line: the backslash and the line
//   break are removed and the next line is appended as written (its leading whitespace is kept),
//   exactly like httpd's ap_cfg_getline. A comment line ending in a backslash therefore continues
//   the comment (the CRS relies on this for commented-out multi-line rules).
// * The joined line is trimmed; it is a comment when its first character is '#', and only then —
//   a '#' later in a line is ordinary text.
// * Arguments are separated by whitespace. An argument that starts with a double or single quote
//   runs to the matching unescaped quote; inside it `\<quote>` is the quote itself and every other
//   backslash sequence (`\\`, `\d`, `\x5c`, `\'` inside double quotes...) is kept exactly as written
//   (libmodsecurity/Coraza behaviour; httpd would also fold `\\` into `\`, the CRS avoids `\\`).
//   A quote inside an unquoted argument is an ordinary character. An unterminated quote is an error.
// * `Include` / `IncludeOptional` are resolved here (they never appear in the output): the path is
//   relative to the directory of the including file; wildcards (`*`, `?`, `[...]`) may appear in any
//   path component and expand in byte (strcmp) order; a directory includes every file below it.
//   A missing file or a wildcard that matches nothing is an error for Include and ignored for
//   IncludeOptional. Include cycles are an error.
import { readFileSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { SecLangError, type Directive, type SourceLocation } from './ast.js';

/** Reads `entryFile` (and everything it includes) into a flat list of directives. */
export function readDirectives(entryFile: string): Directive[] {
  const file = resolve(entryFile);
  const text = readConfigFile(file, null, 'cannot read configuration file');
  const out: Directive[] = [];
  const ctx: ReadContext = { out, stack: [{ file, real: realPathOf(file) }] };
  parseText(text, file, ctx);
  return out;
}

/**
 * Parses configuration text that did not come from a file. `virtualFile` names it in locations and
 * error messages; relative Include paths are resolved against its directory.
 */
export function parseDirectivesFromString(text: string, virtualFile: string): Directive[] {
  const out: Directive[] = [];
  const ctx: ReadContext = { out, stack: [{ file: virtualFile, real: null }] };
  parseText(text, virtualFile, ctx);
  return out;
}

// ---------------------------------------------------------------------------------------------

interface StackEntry {
  file: string; // as shown in locations
  real: string | null; // realpath, for cycle detection (null for a virtual file)
}

interface ReadContext {
  out: Directive[];
  stack: StackEntry[];
}

const MAX_INCLUDE_DEPTH = 100;

function parseText(text: string, file: string, ctx: ReadContext): void {
  forEachLogicalLine(text, (line, lineNo) => {
    const loc: SourceLocation = { file, line: lineNo };
    const args = splitArguments(line, loc);
    if (args.length === 0) return;
    const name = args[0]!;
    const rest = args.slice(1);
    const lname = name.toLowerCase();
    if (lname === 'include' || lname === 'includeoptional') {
      handleInclude(name, rest, loc, lname === 'includeoptional', ctx);
      return;
    }
    ctx.out.push({ name, args: rest.map(detached), loc });
  });
}

/**
 * `s` as a string of its own. V8 makes a substring of 13 chars or more a view into its parent, so
 * an argument sliced from a one-line directive would keep the whole file's text alive as long as
 * the compiled rule keeps the argument (CRS: ~0.7 MB of rule files held for the process's life).
 * Concatenation then slicing copies just `s` (the flattened parent is the one-char-longer copy).
 */
function detached(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

/** Apache's isspace() set for config text. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

/**
 * Joins continued lines and calls `fn` for every non-blank, non-comment logical line (trimmed),
 * with the number of its first physical line.
 */
function forEachLogicalLine(text: string, fn: (line: string, lineNo: number) => void): void {
  let pos = 0;
  const len = text.length;
  if (text.startsWith('\xef\xbb\xbf')) pos = 3; // UTF-8 BOM read as latin1
  else if (text.charCodeAt(0) === 0xfeff) pos = 1; // BOM in a string already decoded
  let lineNo = 0;
  let buf = '';
  let bufStart = 0; // line number of the first physical line in buf, 0 = buf empty
  while (pos < len) {
    let end = text.indexOf('\n', pos);
    const next = end === -1 ? len : end + 1;
    if (end === -1) end = len;
    let stop = end;
    if (stop > pos && text.charCodeAt(stop - 1) === 0x0d) stop--; // CRLF
    lineNo++;
    if (bufStart === 0) bufStart = lineNo;
    if (stop > pos && text.charCodeAt(stop - 1) === 0x5c /* \ */) {
      buf += text.slice(pos, stop - 1);
      pos = next;
      continue;
    }
    buf += text.slice(pos, stop);
    emitLogical(buf, bufStart, fn);
    buf = '';
    bufStart = 0;
    pos = next;
  }
  // A continuation on the last line of the file just ends the directive (as httpd does).
  if (bufStart !== 0) emitLogical(buf, bufStart, fn);
}

function emitLogical(raw: string, lineNo: number, fn: (line: string, lineNo: number) => void): void {
  let s = 0;
  let e = raw.length;
  while (s < e && isSpace(raw.charCodeAt(s))) s++;
  while (e > s && isSpace(raw.charCodeAt(e - 1))) e--;
  if (s === e) return;
  if (raw.charCodeAt(s) === 0x23 /* # */) return;
  fn(s === 0 && e === raw.length ? raw : raw.slice(s, e), lineNo);
}

/**
 * Splits one logical line into arguments (the directive name is the first one). Exported for the
 * tests and for tools that want ModSecurity's word splitting on a single line.
 */
export function splitArguments(line: string, loc: SourceLocation): string[] {
  const args: string[] = [];
  const len = line.length;
  let i = 0;
  for (;;) {
    while (i < len && isSpace(line.charCodeAt(i))) i++;
    if (i >= len) break;
    const c = line.charCodeAt(i);
    if (c === 0x22 /* " */ || c === 0x27 /* ' */) {
      const quote = line[i]!;
      const start = i + 1;
      let j = start;
      let hasEscape = false;
      while (j < len) {
        const d = line.charCodeAt(j);
        if (d === c) break;
        if (d === 0x5c && j + 1 < len) {
          const n = line.charCodeAt(j + 1);
          if (n === c) {
            hasEscape = true;
            j += 2;
            continue;
          }
          if (n === 0x5c) {
            j += 2; // `\\` is a pair (so `"a\\"` ends after it) but stays as written
            continue;
          }
        }
        j++;
      }
      if (j >= len) {
        const what = args.length === 0 ? 'directive name' : `argument ${args.length}`;
        throw new SecLangError(
          `unterminated quoted argument (${what} starts with ${quote} but has no closing ${quote}): ${preview(line.slice(i))}`,
          loc,
        );
      }
      const raw = line.slice(start, j);
      args.push(hasEscape ? raw.split('\\' + quote).join(quote) : raw);
      i = j + 1;
    } else {
      let j = i + 1;
      while (j < len && !isSpace(line.charCodeAt(j))) j++;
      args.push(line.slice(i, j));
      i = j;
    }
  }
  return args;
}

function preview(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

// ---------------------------------------------------------------------------------------------
// Include

function handleInclude(
  name: string,
  args: string[],
  loc: SourceLocation,
  optional: boolean,
  ctx: ReadContext,
): void {
  if (args.length !== 1) {
    throw new SecLangError(`${name}: expected exactly one path argument, got ${args.length}`, loc);
  }
  if (args[0] === '') throw new SecLangError(`${name}: empty path`, loc);
  const arg = args[0]!;
  const baseDir = dirname(resolve(loc.file));
  const target = isAbsolute(arg) ? resolve(arg) : resolve(baseDir, arg);
  let files: string[];
  if (hasGlobMeta(arg)) {
    // Only the components written in the argument are patterns (the including file's directory may
    // itself contain '[' or '*').
    files = expandGlob(isAbsolute(arg) ? sep : baseDir, arg, name, loc);
    if (files.length === 0) {
      if (optional) return;
      throw new SecLangError(`${name}: no file matches wildcard: ${target}`, loc);
    }
  } else {
    const st = statOrNull(target);
    if (st === null) {
      if (optional) return;
      throw new SecLangError(`${name}: file not found: ${target}`, loc);
    }
    files = st.isDirectory() ? filesBelow(target, name, loc) : [target];
  }
  for (const f of files) includeFile(f, name, loc, ctx);
}

function includeFile(file: string, name: string, loc: SourceLocation, ctx: ReadContext): void {
  const real = realPathOf(file);
  const cycleAt = ctx.stack.findIndex((e) => e.real !== null && e.real === real);
  if (cycleAt !== -1) {
    const chain = [...ctx.stack.slice(cycleAt).map((e) => e.file), file].join(' -> ');
    throw new SecLangError(`${name}: include cycle: ${chain}`, loc);
  }
  if (ctx.stack.length >= MAX_INCLUDE_DEPTH) {
    throw new SecLangError(`${name}: includes nested more than ${MAX_INCLUDE_DEPTH} levels deep: ${file}`, loc);
  }
  const text = readConfigFile(file, loc, `${name}: cannot read`);
  ctx.stack.push({ file, real });
  try {
    parseText(text, file, ctx);
  } finally {
    ctx.stack.pop();
  }
}

function readConfigFile(file: string, loc: SourceLocation | null, what: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new SecLangError(`${what}: file not found: ${file}`, loc);
    if (err.code === 'EISDIR') throw new SecLangError(`${what}: is a directory: ${file}`, loc);
    throw new SecLangError(`${what}: ${file}: ${err.code ?? err.message}`, loc);
  }
}

function realPathOf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

function readDirSorted(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.sort(byteOrder);
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every regular file below `dir` (recursively), in sorted order, as httpd's Include of a directory. */
function filesBelow(dir: string, name: string, loc: SourceLocation, depth = 0): string[] {
  if (depth > 32) throw new SecLangError(`${name}: directory tree too deep: ${dir}`, loc);
  const out: string[] = [];
  for (const entry of readDirSorted(dir)) {
    const p = join(dir, entry);
    const st = statOrNull(p);
    if (st === null) continue;
    if (st.isDirectory()) out.push(...filesBelow(p, name, loc, depth + 1));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

function hasGlobMeta(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** Expands the wildcard path `pattern` (relative to `base`, or absolute) component by component. */
function expandGlob(base: string, pattern: string, name: string, loc: SourceLocation): string[] {
  const parts = pattern.split('/').filter((p) => p !== '' && p !== '.');
  let current: string[] = [base];
  for (const part of parts) {
    const next: string[] = [];
    if (!hasGlobMeta(part)) {
      for (const b of current) next.push(join(b, part));
    } else {
      const matcher = compileGlob(part, name, loc);
      for (const b of current) {
        const st = statOrNull(b);
        if (st === null || !st.isDirectory()) continue;
        for (const entry of readDirSorted(b)) {
          if (matcher(entry)) next.push(join(b, entry));
        }
      }
    }
    current = next;
    if (current.length === 0) return [];
  }
  const files: string[] = [];
  for (const p of current) {
    const st = statOrNull(p);
    if (st === null) continue;
    if (st.isDirectory()) files.push(...filesBelow(p, name, loc));
    else if (st.isFile()) files.push(p);
  }
  return files;
}

type GlobToken =
  | { kind: 'char'; ch: string }
  | { kind: 'any' } // ?
  | { kind: 'star' } // *
  | { kind: 'class'; negated: boolean; ranges: Array<[string, string]> };

/**
 * fnmatch()-style matcher for one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`/`[^x]`,
 * backslash escapes. Like httpd (APR_FNM_PERIOD), a leading '.' must be matched explicitly.
 * Matching is iterative with single-star backtracking: linear-ish, no regex involved.
 */
export function compileGlob(pattern: string, name = 'Include', loc: SourceLocation | null = null): (s: string) => boolean {
  const toks: GlobToken[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      toks.push({ kind: 'char', ch: pattern[++i]! });
    } else if (c === '*') {
      if (toks.length === 0 || toks[toks.length - 1]!.kind !== 'star') toks.push({ kind: 'star' });
    } else if (c === '?') {
      toks.push({ kind: 'any' });
    } else if (c === '[') {
      let j = i + 1;
      let negated = false;
      if (pattern[j] === '!' || pattern[j] === '^') {
        negated = true;
        j++;
      }
      const ranges: Array<[string, string]> = [];
      let first = true;
      while (j < pattern.length && (pattern[j] !== ']' || first)) {
        first = false;
        let lo = pattern[j]!;
        if (lo === '\\' && j + 1 < pattern.length) lo = pattern[++j]!;
        if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
          let hi = pattern[j + 2]!;
          j += 2;
          if (hi === '\\' && j + 1 < pattern.length) hi = pattern[++j]!;
          ranges.push([lo, hi]);
        } else {
          ranges.push([lo, lo]);
        }
        j++;
      }
      if (j >= pattern.length) {
        throw new SecLangError(`${name}: unterminated '[' in wildcard pattern: ${pattern}`, loc);
      }
      toks.push({ kind: 'class', negated, ranges });
      i = j;
    } else {
      toks.push({ kind: 'char', ch: c });
    }
  }
  const explicitDot = toks.length > 0 && toks[0]!.kind === 'char' && (toks[0] as { ch: string }).ch === '.';
  const one = (t: GlobToken, ch: string): boolean => {
    switch (t.kind) {
      case 'char':
        return t.ch === ch;
      case 'any':
        return true;
      case 'class': {
        let hit = false;
        for (const [lo, hi] of t.ranges) {
          if (ch >= lo && ch <= hi) {
            hit = true;
            break;
          }
        }
        return hit !== t.negated;
      }
      default:
        return false;
    }
  };
  return (s: string): boolean => {
    if (s.startsWith('.') && !explicitDot) return false;
    let ti = 0;
    let si = 0;
    let starT = -1;
    let starS = 0;
    while (si < s.length) {
      const t = toks[ti];
      if (t !== undefined && t.kind === 'star') {
        starT = ti++;
        starS = si;
      } else if (t !== undefined && one(t, s[si]!)) {
        ti++;
        si++;
      } else if (starT !== -1) {
        ti = starT + 1;
        si = ++starS;
      } else {
        return false;
      }
    }
    while (ti < toks.length && toks[ti]!.kind === 'star') ti++;
    return ti === toks.length;
  };
}
