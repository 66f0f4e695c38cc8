// @pm (phrases in the argument) and @pmFromFile / @pmf (phrases in data files): case-insensitive
// substring match of any phrase, with one Aho-Corasick automaton per operator built at load time.
// With `capture`, TX:0 is the phrase found.
import { AhoCorasick } from './aho-corasick.js';
import type { Operator, OperatorFactory, OperatorInit, OperatorTx } from './types.js';
import { dataFileNames, isCSpace, preparedOperator, readDataFile } from './util.js';

function evaluatePm(ac: AhoCorasick, tx: OperatorTx, input: string): boolean {
  const i = ac.search(input);
  if (i < 0) return false;
  if (tx.captureEnabled) tx.setCapture(0, ac.phrases[i]!);
  return true;
}

/**
 * The @pm argument, processed as documented for ModSecurity's parse_pm_content(): surrounding
 * spaces/tabs and one pair of enclosing double quotes are removed, |HH HH| spans are hex bytes,
 * and \: \; \\ \" are escapes. (An unsupported escape makes ModSecurity fall back to the raw
 * argument; so do we.) The result is split on whitespace into phrases.
 */
export function pmPhrases(arg: string): string[] {
  let content = arg.replace(/^[ \t]+/, '');
  if (content.length >= 2 && content.startsWith('"') && content.endsWith('"')) content = content.slice(1, -1);
  const processed = processPmContent(content);
  return splitPhrases(processed ?? arg);
}

function processPmContent(content: string): string | null {
  if (content.length === 0) return null;
  if (!/[|\\]/.test(content)) return content;
  let out = '';
  let bin = false;
  let esc = false;
  let hex = '';
  for (const ch of content) {
    if (ch === '|' && !esc) {
      bin = !bin;
      hex = '';
    } else if (bin) {
      if (/[0-9a-fA-F]/.test(ch)) {
        hex += ch;
        if (hex.length === 2) {
          out += String.fromCharCode(parseInt(hex, 16));
          hex = '';
        }
      }
      // other characters (spaces) between hex bytes are ignored
    } else if (esc) {
      if (!':;\\"'.includes(ch)) return null; // unsupported escape sequence
      out += ch;
      esc = false;
    } else if (ch === '\\') {
      esc = true;
    } else {
      out += ch;
    }
  }
  return out;
}

/** istream >> std::string: tokens separated by C isspace(). */
function splitPhrases(s: string): string[] {
  const phrases: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i === s.length || isCSpace(s.charCodeAt(i));
    if (space && start >= 0) {
      phrases.push(s.slice(start, i));
      start = -1;
    } else if (!space && start < 0) {
      start = i;
    }
  }
  return phrases;
}

// The engine does not expand macros for @pm (ModSecurity does not either); supported anyway.
export const pmFactory: OperatorFactory = (init): Operator => {
  if (init.expand !== null) return preparedOperator(init, (arg) => new AhoCorasick(pmPhrases(arg)), evaluatePm);
  const ac = new AhoCorasick(pmPhrases(init.arg));
  return { evaluate: (tx, input) => evaluatePm(ac, tx, input), prefilterPhrases: ac.phrases };
};

/**
 * Phrases of a data file: one per line, verbatim (inner and trailing spaces included). Empty lines,
 * whitespace-only lines and comment lines (first non-blank character '#') are skipped; a CRLF line
 * ending loses its CR.
 */
export function dataFilePhrases(text: string): string[] {
  const phrases: string[] = [];
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const trimmed = line.replace(/^[\t\n\v\f\r ]+/, '');
    if (trimmed.length === 0 || trimmed.startsWith('#')) continue;
    phrases.push(line);
  }
  return phrases;
}

/** All phrases of the data files named by the argument (relative to the rule file's directory). */
export function loadPhraseFiles(init: OperatorInit): string[] {
  const phrases: string[] = [];
  for (const name of dataFileNames(init.arg)) phrases.push(...dataFilePhrases(readDataFile(init.baseDir, name)));
  return phrases;
}

export const pmFromFileFactory: OperatorFactory = (init): Operator => {
  const ac = new AhoCorasick(loadPhraseFiles(init));
  return { evaluate: (tx, input) => evaluatePm(ac, tx, input), prefilterPhrases: ac.phrases };
};
