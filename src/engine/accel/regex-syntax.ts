// A parser for the RE2 syntax CRS patterns use, into a small syntax tree for literal analysis
// (required-literals.ts). It only has to be right about what it accepts: anything it does not
// know for certain (Unicode classes, octal escapes, unknown group kinds) throws UnsupportedSyntax,
// and the caller then derives no condition for that pattern ("always maybe").
//
// Character sets are kept over the byte range 0..255 (what byte-string values can hold); a set
// that may also match a code point above 255 is marked `wide`.

export type Node =
  | { kind: 'empty' } // matches "" (also anchors and \b: zero-width, so "" is what they contribute)
  // One character; fold = (?i) applies. `single`: the one byte of a set built from a literal
  // character (its `chars` array is shared between nodes: never mutate a node's chars).
  | { kind: 'set'; chars: Uint8Array; wide: boolean; fold: boolean; single?: number }
  | { kind: 'any' } // . or anything we do not model as a set
  | { kind: 'concat'; items: Node[] }
  | { kind: 'alt'; items: Node[] }
  | { kind: 'repeat'; item: Node; min: number; max: number }; // max = Infinity for * + {n,}

export class UnsupportedSyntax extends Error {}

const EMPTY: Node = { kind: 'empty' };
const ANY: Node = { kind: 'any' };

function charset(codes: Iterable<number>): Uint8Array {
  const s = new Uint8Array(256);
  for (const c of codes) s[c] = 1;
  return s;
}

/** Per byte, the set holding just that byte (shared by every literal character node). */
const SINGLE_CHARS: Array<Uint8Array | undefined> = new Array(256);

/** Per byte, its literal-character node without and with (?i): shared, like every node, never changed. */
const SINGLE_EXACT: Array<Node | undefined> = new Array(256);
const SINGLE_FOLDED: Array<Node | undefined> = new Array(256);

function singleChars(code: number): Uint8Array {
  return (SINGLE_CHARS[code] ??= charset([code]));
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let c = a; c <= b; c++) out.push(c);
  return out;
}

const DIGIT = range(0x30, 0x39);
const WORD = [...DIGIT, ...range(0x41, 0x5a), ...range(0x61, 0x7a), 0x5f];
const SPACE = [0x09, 0x0a, 0x0c, 0x0d, 0x20]; // RE2 \s (the translation already widened PCRE's \s)
const POSIX: Readonly<Record<string, number[]>> = {
  alnum: [...DIGIT, ...range(0x41, 0x5a), ...range(0x61, 0x7a)],
  alpha: [...range(0x41, 0x5a), ...range(0x61, 0x7a)],
  ascii: range(0, 0x7f),
  blank: [0x09, 0x20],
  cntrl: [...range(0, 0x1f), 0x7f],
  digit: DIGIT,
  graph: range(0x21, 0x7e),
  lower: range(0x61, 0x7a),
  print: range(0x20, 0x7e),
  punct: [...range(0x21, 0x2f), ...range(0x3a, 0x40), ...range(0x5b, 0x60), ...range(0x7b, 0x7e)],
  space: [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20],
  upper: range(0x41, 0x5a),
  word: WORD,
  xdigit: [...DIGIT, ...range(0x41, 0x46), ...range(0x61, 0x66)],
};
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { n: 0x0a, r: 0x0d, t: 0x09, f: 0x0c, v: 0x0b, a: 0x07 };
const PERL_CLASSES: Readonly<Record<string, number[]>> = { d: DIGIT, w: WORD, s: SPACE };

interface Flags {
  i: boolean;
}

/** Parses an RE2 pattern (as handed to RE2 with flags 's'). Throws UnsupportedSyntax on doubt. */
export function parseRegex(pattern: string): Node {
  const p = new Parser(pattern);
  const node = p.alternation({ i: false });
  if (p.pos !== pattern.length) throw new UnsupportedSyntax(`unexpected ')' at ${p.pos}`);
  return node;
}

class Parser {
  pos = 0;
  constructor(private readonly src: string) {}

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  // (Patterns reach us only after RE2 compiled them, so syntax RE2 rejects, such as a** , cannot occur.)

  /** alternation := concat ('|' concat)*; stops before ')' or at the end. */
  alternation(flags: Flags): Node {
    const items: Node[] = [];
    // Flag groups such as (?i) change the flags for the rest of the enclosing group, across '|'.
    const f: Flags = { ...flags };
    for (;;) {
      items.push(this.concat(f));
      if (this.peek() !== '|') break;
      this.pos++;
    }
    return items.length === 1 ? items[0]! : { kind: 'alt', items };
  }

  private concat(flags: Flags): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length) {
      const c = this.peek()!;
      if (c === '|' || c === ')') break;
      const atom = this.atom(flags);
      if (atom === null) continue; // a flag setting (?i): no atom
      items.push(this.quantified(atom));
    }
    if (items.length === 0) return EMPTY;
    return items.length === 1 ? items[0]! : { kind: 'concat', items };
  }

  private quantified(atom: Node): Node {
    let node = atom;
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === '*') [min, max] = [0, Infinity];
      else if (c === '+') [min, max] = [1, Infinity];
      else if (c === '?') [min, max] = [0, 1];
      else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos, this.pos + 24));
        if (m === null) return node; // RE2: a '{' that starts no repetition is a literal
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        this.pos += m[0].length - 1;
      } else return node;
      this.pos++;
      if (this.peek() === '?') this.pos++; // non-greedy: same language
      node = { kind: 'repeat', item: node, min, max };
    }
  }

  /** One atom, or null for a flag-setting group that only changes `flags`. */
  private atom(flags: Flags): Node | null {
    const c = this.src[this.pos]!;
    switch (c) {
      case '(':
        return this.group(flags);
      case '[':
        return this.bracket(flags);
      case '.':
        this.pos++;
        return ANY;
      case '^':
      case '$':
        this.pos++;
        return EMPTY;
      case '\\':
        return this.escape(flags);
      case '*':
      case '+':
      case '?':
        throw new UnsupportedSyntax(`missing argument to repetition operator at ${this.pos}`);
      default: {
        const code = c.charCodeAt(0);
        this.pos++;
        return this.single(code, flags);
      }
    }
  }

  private single(code: number, flags: Flags): Node {
    if (code > 0xff) return { kind: 'set', chars: new Uint8Array(256), wide: true, fold: flags.i };
    const cache = flags.i ? SINGLE_FOLDED : SINGLE_EXACT;
    return (cache[code] ??= { kind: 'set', chars: singleChars(code), wide: false, fold: flags.i, single: code });
  }

  private group(flags: Flags): Node | null {
    this.pos++; // '('
    let inner: Flags = flags;
    if (this.peek() === '?') {
      const rest = this.src.slice(this.pos + 1, this.pos + 1 + 64);
      const named = /^(?:P?<[A-Za-z0-9_]+>)/.exec(rest);
      if (rest.startsWith(':')) {
        this.pos += 2;
      } else if (named !== null) {
        this.pos += 1 + named[0].length;
      } else {
        const m = /^(-?[imsU]+(?:-[imsU]*)?|[imsU]*-[imsU]+)([:)])/.exec(rest);
        if (m === null) throw new UnsupportedSyntax(`unknown group '(?${rest.slice(0, 3)}' at ${this.pos}`);
        const next: Flags = { ...flags };
        let on = true;
        for (const f of m[1]!) {
          if (f === '-') on = false;
          else if (f === 'i') next.i = on;
        }
        this.pos += 1 + m[0].length;
        if (m[2] === ')') {
          flags.i = next.i; // (?i): applies to the rest of the enclosing group
          return null;
        }
        inner = next;
      }
    }
    const node = this.alternation(inner);
    if (this.peek() !== ')') throw new UnsupportedSyntax('missing )');
    this.pos++;
    return node;
  }

  private escape(flags: Flags): Node {
    const e = this.src[this.pos + 1];
    if (e === undefined) throw new UnsupportedSyntax('trailing backslash');
    if (e === 'Q') {
      const end = this.src.indexOf('\\E', this.pos + 2);
      const lit = this.src.slice(this.pos + 2, end < 0 ? this.src.length : end);
      this.pos = end < 0 ? this.src.length : end + 2;
      return lit.length === 0 ? EMPTY : { kind: 'concat', items: [...lit].map((ch) => this.single(ch.charCodeAt(0), flags)) };
    }
    if (e === 'b' || e === 'B' || e === 'A' || e === 'z') {
      this.pos += 2;
      return EMPTY;
    }
    const code = this.escapeChar(false);
    if (typeof code === 'number') return this.single(code, flags);
    return { kind: 'set', chars: code.chars, wide: code.wide, fold: flags.i };
  }

  /**
   * The escape at `pos` as one character code, or as a set (\d \W ...). Shared by atoms and
   * bracket expressions; advances past it.
   */
  private escapeChar(inClass: boolean): number | { chars: Uint8Array; wide: boolean } {
    const e = this.src[this.pos + 1]!;
    const lower = e.toLowerCase();
    if (PERL_CLASSES[lower] !== undefined && (e === lower || e === e.toUpperCase())) {
      this.pos += 2;
      const chars = charset(PERL_CLASSES[lower]!);
      if (e === lower) return { chars, wide: false };
      for (let c = 0; c < 256; c++) chars[c] = chars[c] ? 0 : 1;
      return { chars, wide: true };
    }
    if (e === 'x') {
      if (this.src[this.pos + 2] === '{') {
        const end = this.src.indexOf('}', this.pos + 3);
        const hex = end < 0 ? '' : this.src.slice(this.pos + 3, end);
        if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new UnsupportedSyntax('bad \\x{...}');
        this.pos = end + 1;
        return parseInt(hex, 16);
      }
      const hex = this.src.slice(this.pos + 2, this.pos + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new UnsupportedSyntax('bad \\x escape');
      this.pos += 4;
      return parseInt(hex, 16);
    }
    if (SIMPLE_ESCAPES[e] !== undefined) {
      this.pos += 2;
      return SIMPLE_ESCAPES[e]!;
    }
    if (!/[A-Za-z0-9]/.test(e) && e.charCodeAt(0) < 0x80) {
      this.pos += 2;
      return e.charCodeAt(0); // escaped punctuation is itself
    }
    // \p{..}, \pN, \C, octal/back-references, \z inside a class ...: not modelled.
    throw new UnsupportedSyntax(`escape \\${e}${inClass ? ' in a class' : ''}`);
  }

  private bracket(flags: Flags): Node {
    this.pos++; // '['
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const chars = new Uint8Array(256);
    let wide = false;
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new UnsupportedSyntax('missing ]');
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[' && this.peek(1) === ':') {
        const end = this.src.indexOf(':]', this.pos + 2);
        let name = end < 0 ? '' : this.src.slice(this.pos + 2, end);
        const neg = name.startsWith('^');
        if (neg) name = name.slice(1);
        const members = POSIX[name];
        if (members === undefined) throw new UnsupportedSyntax(`unknown class [:${name}:]`);
        const set = charset(members);
        for (let k = 0; k < 256; k++) if (set[k] !== (neg ? 1 : 0)) chars[k] = 1;
        if (neg) wide = true;
        this.pos = end + 2;
        continue;
      }
      const lo = this.classChar();
      if (typeof lo !== 'number') {
        for (let k = 0; k < 256; k++) if (lo.chars[k]) chars[k] = 1;
        if (lo.wide) wide = true;
        continue;
      }
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos++;
        const hi = this.classChar();
        if (typeof hi !== 'number' || hi < lo) throw new UnsupportedSyntax('bad class range');
        for (let k = lo; k <= Math.min(hi, 255); k++) chars[k] = 1;
        if (hi > 255) wide = true;
        continue;
      }
      if (lo > 255) wide = true;
      else chars[lo] = 1;
    }
    if (negated) {
      for (let k = 0; k < 256; k++) chars[k] = chars[k] ? 0 : 1;
      wide = true; // a negated class also matches every code point above 255
    }
    return { kind: 'set', chars, wide, fold: flags.i };
  }

  private classChar(): number | { chars: Uint8Array; wide: boolean } {
    const c = this.src[this.pos]!;
    if (c === '\\') return this.escapeChar(true);
    this.pos++;
    return c.charCodeAt(0);
  }
}
