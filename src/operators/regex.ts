// Regex compilation shared by @rx, @verifyCC and regex selectors (ARGS:/^foo/).
//
// ModSecurity compiles with PCRE (dot matches newline). We compile once, at load time, with RE2
// (linear time, no catastrophic backtracking) and hand it the value as a latin1 byte string: RE2
// sees code points 0..255, so `\xe9` in a pattern matches the raw byte 0xE9 and `.` matches one
// byte. Not multi-line: ^ and $ anchor at the start/end of the whole value only (ModSecurity v2 /
// libmodsecurity built with --enable-regex-dollar-endonly); callers may ask for multi-line.
//
// A few PCRE escapes mean something else (or nothing) in RE2; they are rewritten first so the
// semantics stay PCRE's: \s also matches \v (PCRE2 / PCRE >= 8.34), \h, \v (vertical space class),
// \e, \Z, one-digit \xH. Constructs RE2 cannot express (lookaround, backreferences, possessive
// quantifiers, atomic groups) are rejected with an error naming them, unless the rule id is in the
// fallback allow-list: then V8's RegExp (backtracking!) is used and a note is emitted.
import RE2 from 're2';

export interface RegexOptions {
  /** Rule id, for messages. */
  ruleId?: number;
  /** Allow the V8 RegExp fallback when RE2 rejects the pattern. */
  fallbackAllowed?: boolean;
  /** ^ and $ also match at line breaks (PCRE_MULTILINE; ModSecurity's @verifyCC uses it). */
  multiline?: boolean;
  /** Case-insensitive matching (ASCII letters; RE2 also folds latin1 letters). */
  caseInsensitive?: boolean;
  /** Receives the load-time warning when the V8 fallback is used (default: the note handler). */
  onFallback?: RegexNoteHandler;
}

/** A compiled pattern. All offsets and strings are in the byte-string (latin1) domain. */
export interface CompiledRegex {
  /** The pattern as given. */
  readonly source: string;
  /** 're2', or 'v8' when the fallback was used. */
  readonly engine: 're2' | 'v8';
  /** Number of capture groups in the pattern (group 0 excluded). */
  readonly groupCount: number;
  /** Cheapest check: does the pattern match anywhere? */
  test(input: string): boolean;
  /** Groups of the leftmost match (index 0 = whole match; undefined = group did not take part), or null. */
  exec(input: string): Array<string | undefined> | null;
  /** Leftmost match starting at or after `from` (^, \b... still see the whole input). */
  execFrom(input: string, from: number): { index: number; groups: Array<string | undefined> } | null;
}

/** Receives a message when a pattern falls back to V8 (default: process.emitWarning). */
export type RegexNoteHandler = (message: string) => void;

let noteHandler: RegexNoteHandler = (message) => process.emitWarning(message, { code: 'SIDEWALL_REGEX_FALLBACK' });

export function setRegexNoteHandler(handler: RegexNoteHandler): void {
  noteHandler = handler;
}

/** Thrown when a pattern cannot be compiled; the message names the offending construct. */
export class RegexCompileError extends Error {
  override readonly name = 'RegexCompileError';
}

// ---------------------------------------------------------------------------------------------
// PCRE -> RE2 / V8 pattern rewriting.
// ---------------------------------------------------------------------------------------------

type Target = 're2' | 'v8';

function isHexChar(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

/** Escapes a literal for use inside a V8 pattern (used for \Q...\E, which V8 lacks). */
function escapeLiteral(s: string, inClass: boolean): string {
  return s.replace(inClass ? /[\\\]^-]/g : /[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Escapes whose PCRE meaning must be spelled out (same text works in RE2 and V8). */
const CLASS_ESCAPES: Readonly<Record<string, { outside: string; inside?: string }>> = {
  s: { outside: '[\\t-\\r ]', inside: '\\t-\\r ' }, // PCRE \s includes \v (0x0B); RE2's does not
  S: { outside: '[^\\t-\\r ]' },
  h: { outside: '[\\t \\xa0]', inside: '\\t \\xa0' }, // horizontal space
  H: { outside: '[^\\t \\xa0]' },
  v: { outside: '[\\n-\\r\\x85]', inside: '\\n-\\r\\x85' }, // PCRE \v is vertical space, not VT
  V: { outside: '[^\\n-\\r\\x85]' },
  e: { outside: '\\x1b', inside: '\\x1b' },
};

/**
 * Rewrites PCRE-only syntax for the target engine. The scan tracks character classes and \Q...\E
 * so escapes are only rewritten where they are escapes.
 */
export function translatePattern(pattern: string, target: Target): string {
  if (pattern === lastTranslation.pattern && target === lastTranslation.target) return lastTranslation.source;
  const source = translate(pattern, target).source;
  lastTranslation = { pattern, target, source };
  return source;
}

/** @rx asks for the RE2 translation of a pattern right after compileRegex made it: kept for that. */
let lastTranslation: { pattern: string; target: Target; source: string } = { pattern: '', target: 're2', source: '' };

/**
 * Calls `visit(i)` for each '(' and ')' of `src` from `from` on that is syntax (not escaped, not
 * inside a character class); stops early when `visit` returns true.
 */
function scanParens(src: string, from: number, visit: (i: number) => boolean): void {
  let inClass = false;
  for (let i = from; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (src[i + 1] === '^') i++;
      if (src[i + 1] === ']') i++;
    } else if ((c === '(' || c === ')') && visit(i)) {
      return;
    }
  }
}

/** Capturing groups opened in `src` (a translated pattern), i.e. the JS number of the last one. */
function countCapturingGroups(src: string): number {
  let count = 0;
  scanParens(src, 0, (i) => {
    if (src[i] === '(' && (src[i + 1] !== '?' || (src[i + 2] === '<' && src[i + 3] !== '=' && src[i + 3] !== '!'))) count++;
    return false;
  });
  return count;
}

/**
 * The translation proper. For V8, possessive quantifiers (X*+, X++, X?+, X{n,m}+), which V8
 * lacks, become the atomic-group idiom (?=(X*))\N: the lookahead matches greedily once and the
 * backreference consumes exactly that, with no backtracking into it. The added groups are listed in
 * `syntheticGroups` so captures can be reported with the pattern's own numbering.
 */
function translate(pattern: string, target: Target): { source: string; syntheticGroups: number[] } {
  let out = '';
  let i = 0;
  let inClass = false;
  let classStart = false; // just after '[' or '[^': a ']' here is a literal
  let atomStart = -1; // position in `out` where the last complete atom starts (-1: none)
  const groupStarts: number[] = [];
  const synthetic: number[] = [];
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i]!;
    if (!inClass && target === 'v8' && atomStart >= 0 && isQuantifierAt(pattern, i)) {
      const q = quantifierLength(pattern, i);
      if (pattern[i + q] === '+') {
        // Possessive: group number of the wrapper = capturing groups before the atom + 1.
        const atom = out.slice(atomStart);
        const wrapper = countCapturingGroups(out.slice(0, atomStart)) + 1;
        for (let k = 0; k < synthetic.length; k++) if (synthetic[k]! >= wrapper) synthetic[k]!++;
        synthetic.push(wrapper);
        out = out.slice(0, atomStart) + `(?=(${atom}${pattern.slice(i, i + q)}))\\${wrapper}`;
        i += q + 1;
        atomStart = -1;
        continue;
      }
      out += pattern.slice(i, i + q);
      i += q;
      continue;
    }
    if (!inClass) {
      if (c === '(') {
        groupStarts.push(out.length);
        atomStart = -1;
      }
      else if (c === ')') atomStart = groupStarts.pop() ?? -1;
      else if (c === '|') atomStart = -1;
      else if (c !== '^' && c !== '$') atomStart = out.length;
      else atomStart = -1;
    }
    if (c === '\\' && i + 1 < n) {
      const e = pattern[i + 1]!;
      classStart = false;
      if (e === 'Q') {
        // \Q...\E literal run: RE2 understands it, V8 needs it escaped.
        const end = pattern.indexOf('\\E', i + 2);
        const lit = pattern.slice(i + 2, end < 0 ? n : end);
        // (Always closed with \E, so the pattern can be embedded in a larger one.)
        out += target === 'v8' ? escapeLiteral(lit, inClass) : `\\Q${lit}\\E`;
        i = end < 0 ? n : end + 2;
        continue;
      }
      const special = CLASS_ESCAPES[e];
      if (special !== undefined && (!inClass || special.inside !== undefined)) {
        out += inClass ? special.inside : special.outside;
        i += 2;
        continue;
      }
      if (e === 'x' && pattern[i + 2] !== '{') {
        // PCRE: \x takes up to two hex digits (\x5 = \x05, bare \x = NUL); RE2 wants exactly two.
        let digits = '';
        if (isHexChar(pattern[i + 2])) digits += pattern[i + 2];
        if (digits.length === 1 && isHexChar(pattern[i + 3])) digits += pattern[i + 3];
        out += '\\x' + digits.padStart(2, '0');
        i += 2 + digits.length;
        continue;
      }
      if (e === 'x' && target === 'v8') {
        // \x{HH} -> \xHH (no 'u' flag in V8, and values above 0xFF cannot occur in byte strings)
        const end = pattern.indexOf('}', i + 3);
        const v = end < 0 ? NaN : parseInt(pattern.slice(i + 3, end), 16);
        if (!Number.isNaN(v) && v <= 0xff) {
          out += '\\x' + v.toString(16).padStart(2, '0');
          i = end + 1;
          continue;
        }
      }
      if (!inClass && e === 'Z') {
        // End of subject or before a final newline (RE2 has no lookahead: the newline is consumed).
        out += target === 'v8' ? '(?=\\n?(?![\\s\\S]))' : '(?:\\n?\\z)';
        i += 2;
        continue;
      }
      if (target === 'v8' && !inClass && (e === 'A' || e === 'z')) {
        // Subject bounds whatever the 'm' flag: nothing before / nothing after.
        out += e === 'A' ? '(?<![\\s\\S])' : '(?![\\s\\S])';
        i += 2;
        continue;
      }
      out += c + e;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        // POSIX class [:alpha:] inside a bracket expression
        const end = pattern.indexOf(':]', i + 2);
        if (end > 0) {
          out += pattern.slice(i, end + 2);
          i = end + 2;
          classStart = false;
          continue;
        }
      }
      if (c === ']' && !classStart) inClass = false;
      classStart = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      classStart = true;
      continue;
    }
    if (target === 'v8' && c === '(' && pattern.startsWith('(?P<', i)) {
      out += '(?<'; // named group, Python spelling
      i += 4;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, syntheticGroups: synthetic.sort((a, b) => a - b) };
}

/** True when a quantifier (*, +, ?, {n}, {n,}, {n,m}) starts at pattern[i]. */
function isQuantifierAt(pattern: string, i: number): boolean {
  const c = pattern[i];
  return c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(?:,\d*)?\}/.test(pattern.slice(i, i + 24)));
}

function quantifierLength(pattern: string, i: number): number {
  if (pattern[i] !== '{') return 1;
  return pattern.indexOf('}', i) - i + 1;
}

/** Human name of the construct behind an RE2 syntax error, when we know it. */
function describeRe2Error(message: string): string {
  const table: Array<[RegExp, string]> = [
    [/\(\?=/, 'lookahead (?=...)'],
    [/\(\?!/, 'negative lookahead (?!...)'],
    [/\(\?<=/, 'lookbehind (?<=...)'],
    [/\(\?<!/, 'negative lookbehind (?<!...)'],
    [/\(\?>/, 'atomic group (?>...)'],
    [/\(\?\(/, 'conditional group (?(...)...)'],
    [/\(\?[R0-9+-]/, 'recursion / subroutine call'],
    [/\(\?x/, 'extended mode (?x)'],
    [/invalid escape sequence: \\[1-9]/, 'backreference'],
    [/invalid escape sequence: \\[gk]/, 'backreference'],
    [/bad repetition operator: .*\+/, 'possessive quantifier'],
    [/invalid escape sequence: \\[A-Za-z]/, 'PCRE-only escape'],
  ];
  for (const [re, name] of table) if (re.test(message)) return name;
  return 'syntax RE2 does not support';
}

// ---------------------------------------------------------------------------------------------
// Engines.
// ---------------------------------------------------------------------------------------------

function groupsOf(m: RegExpExecArray, synthetic: readonly number[]): Array<string | undefined> {
  if (synthetic.length === 0) return Array.from(m);
  const out: Array<string | undefined> = [];
  for (let g = 0; g < m.length; g++) if (!synthetic.includes(g)) out.push(m[g]);
  return out;
}

const NO_SYNTHETIC: readonly number[] = Object.freeze([]);

interface EngineRegex {
  lastIndex: number;
  test(s: string): boolean;
  exec(s: string): RegExpExecArray | null;
}

/**
 * Patterns RE2 compiled in this process, per flags: compiling the same rules again (a reload, one
 * engine per namespace's settings) need not build every validation program again (~100 ms for
 * CRS v4). The strings are the ones the compiled regexes hold anyway; bounded.
 */
const re2AcceptedByFlags = new Map<string, Set<string>>();
const MAX_REMEMBERED_PATTERNS = 20_000;
let rememberedPatterns = 0;

function re2Accepted(translated: string, flags: string): boolean {
  return re2AcceptedByFlags.get(flags)?.has(translated) === true;
}

function rememberRe2Accepted(translated: string, flags: string): void {
  if (rememberedPatterns >= MAX_REMEMBERED_PATTERNS) {
    re2AcceptedByFlags.clear();
    rememberedPatterns = 0;
  }
  let set = re2AcceptedByFlags.get(flags);
  if (set === undefined) re2AcceptedByFlags.set(flags, (set = new Set()));
  set.add(translated);
  rememberedPatterns++;
}

/**
 * One class for both engines: they share the RegExp interface. The group count and the global
 * (lastIndex-driven) instance are only built when first needed, to keep load time and memory low.
 * So is the RE2 program itself: the pattern is compiled at load (so a bad one fails there, naming
 * its rule; once per process, see re2AcceptedByFlags) and that program dropped; it is compiled
 * again at its first use. With the literal prefilter most CRS regexes never run on benign traffic,
 * and their programs are then never held (`sidewall serve` with CRS v4 idles ~15 MB smaller).
 */
class EngineBackedRegex implements CompiledRegex {
  private re: EngineRegex | null;
  private reGlobal: EngineRegex | undefined;
  private groups = -1;

  constructor(
    readonly source: string,
    readonly engine: 're2' | 'v8',
    private readonly translated: string,
    private readonly flags: string,
    /** Groups added by the translation (possessive emulation), hidden from callers. */
    private readonly synthetic: readonly number[] = NO_SYNTHETIC,
  ) {
    if (engine === 're2') {
      if (!re2Accepted(translated, flags)) {
        this.make(translated, flags); // throws when RE2 rejects it
        rememberRe2Accepted(translated, flags);
      }
      this.re = null;
    } else {
      this.re = this.make(translated, flags);
    }
  }

  private compiled(): EngineRegex {
    return (this.re ??= this.make(this.translated, this.flags));
  }

  private make(src: string, flags: string): EngineRegex {
    return this.engine === 're2' ? new RE2(src, flags) : new RegExp(src, flags);
  }

  get groupCount(): number {
    if (this.groups < 0) {
      // An alternation with the empty string always matches "" and reports every group.
      const m = this.make(`(?:${this.translated})|`, this.flags).exec('');
      this.groups = m === null ? 0 : m.length - 1 - this.synthetic.length;
    }
    return this.groups;
  }

  test(input: string): boolean {
    return this.compiled().test(input);
  }

  exec(input: string): Array<string | undefined> | null {
    const m = this.compiled().exec(input);
    return m === null ? null : groupsOf(m, this.synthetic);
  }

  execFrom(input: string, from: number): { index: number; groups: Array<string | undefined> } | null {
    this.reGlobal ??= this.make(this.translated, this.flags + 'g');
    this.reGlobal.lastIndex = from;
    const m = this.reGlobal.exec(input);
    return m === null ? null : { index: m.index, groups: groupsOf(m, this.synthetic) };
  }
}

/**
 * Leading PCRE option setting such as (?i) or (?is), or an option group (?i:...) spanning the
 * whole pattern (CRS's usual spelling), which V8 (Node 20) does not accept inline: hoisted to flags.
 */
function splitLeadingFlags(pattern: string): { flags: string; rest: string } {
  const m = /^\(\?([imsx]+)\)/.exec(pattern);
  if (m !== null) return { flags: m[1]!, rest: pattern.slice(m[0].length) };
  const g = /^\(\?([imsx]+):/.exec(pattern);
  if (g !== null && closingParen(pattern, 0) === pattern.length - 1) {
    return { flags: g[1]!, rest: pattern.slice(g[0].length, -1) };
  }
  return { flags: '', rest: pattern };
}

/** Index of the ')' closing the group opened at `open`, -1 when unbalanced. */
function closingParen(pattern: string, open: number): number {
  let depth = 0;
  let close = -1;
  scanParens(pattern, open, (i) => {
    depth += pattern[i] === '(' ? 1 : -1;
    if (depth === 0) close = i;
    return depth === 0;
  });
  return close;
}

function ruleLabel(ruleId: number | undefined): string {
  return ruleId ? `rule ${ruleId}: ` : '';
}

/**
 * Compiles a SecLang regex once (load time). Throws RegexCompileError naming the construct when
 * neither RE2 nor (if allowed) the V8 fallback accept it.
 */
export function compileRegex(pattern: string, options: RegexOptions = {}): CompiledRegex {
  let flags = 's';
  if (options.multiline) flags += 'm';
  if (options.caseInsensitive) flags += 'i';
  let re2Message: string;
  try {
    return new EngineBackedRegex(pattern, 're2', translatePattern(pattern, 're2'), flags);
  } catch (e) {
    re2Message = (e as Error).message;
  }
  const construct = describeRe2Error(re2Message);
  const shown = pattern.length > 120 ? pattern.slice(0, 117) + '...' : pattern;
  if (!options.fallbackAllowed) {
    throw new RegexCompileError(
      `${ruleLabel(options.ruleId)}RE2 cannot compile the pattern /${shown}/: ${construct} is not supported ` +
        `(${re2Message}); rewrite it, or allow the V8 fallback for this rule id`,
    );
  }
  const lead = splitLeadingFlags(pattern);
  let v8Flags = flags;
  for (const f of lead.flags) if (f !== 'x' && !v8Flags.includes(f)) v8Flags += f;
  try {
    const v8 = translate(lead.rest, 'v8');
    const re = new EngineBackedRegex(pattern, 'v8', v8.source, v8Flags, v8.syntheticGroups);
    (options.onFallback ?? noteHandler)(
      `${ruleLabel(options.ruleId)}pattern /${shown}/ uses ${construct}, which RE2 rejects (${re2Message}); ` +
        'using the V8 RegExp fallback as configured (regex_fallback_rule_ids). V8 backtracks: a crafted input ' +
        'can make this rule take exponential time (ReDoS risk) — rewrite the pattern for RE2 when you can',
    );
    return re;
  } catch (e) {
    throw new RegexCompileError(
      `${ruleLabel(options.ruleId)}pattern /${shown}/ rejected by RE2 (${construct}: ${re2Message}) ` +
        `and by the V8 fallback (${(e as Error).message})`,
    );
  }
}
