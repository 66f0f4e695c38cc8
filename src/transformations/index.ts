// Registry of SecLang transformations (t:name). Lookup is case-insensitive, like ModSecurity.
import type { Transformation } from './types.js';
import { base64Decode, base64DecodeExt, base64Encode } from './base64.js';
import { lowercase, uppercase } from './case.js';
import { cmdLine } from './cmd-line.js';
import { removeComments, removeCommentsChar, replaceComments } from './comments.js';
import { cssDecode } from './css-decode.js';
import { escapeSeqDecode } from './escape-seq.js';
import { md5, sha1 } from './hash.js';
import { hexDecode, hexEncode, sqlHexDecode } from './hex.js';
import { htmlEntityDecode } from './html-entity.js';
import { jsDecode } from './js-decode.js';
import { length, none } from './misc.js';
import { removeNulls, replaceNulls } from './nulls.js';
import { parityEven7bit, parityOdd7bit, parityZero7bit } from './parity.js';
import { normalizePath, normalizePathWin } from './path.js';
import { phpArgsNames } from './php-args-names.js';
import { urlDecode, urlDecodeUni, urlEncode } from './url.js';
import { utf8toUnicode } from './utf8-to-unicode.js';
import { decodeEmbedded } from './decode-embedded.js';
import { compressWhitespace, removeWhitespace, trim, trimLeft, trimRight } from './whitespace.js';

export type { Transformation } from './types.js';

const registry = new Map<string, Transformation>();
const canonicalNames: string[] = [];

/** Registers `fn` under `name` (case-insensitive); a later registration replaces an earlier one. */
export function registerTransformation(name: string, fn: Transformation): void {
  const key = name.toLowerCase();
  if (!registry.has(key)) canonicalNames.push(name);
  registry.set(key, fn);
}

/** The transformation for a t: name (any case), or undefined when unknown. */
export function getTransformation(name: string): Transformation | undefined {
  return registry.get(name.toLowerCase());
}

/** Registered names, as first registered (SecLang spelling, aliases included). */
export function transformationNames(): string[] {
  return [...canonicalNames];
}

const builtins: Array<[string, Transformation]> = [
  ['none', none],
  ['base64Decode', base64Decode],
  ['base64DecodeExt', base64DecodeExt],
  ['base64Encode', base64Encode],
  ['cmdLine', cmdLine],
  ['cmd_line', cmdLine], // ModSecurity's internal spelling (used by the test vectors)
  ['compressWhitespace', compressWhitespace],
  ['compress_whitespace', compressWhitespace],
  ['cssDecode', cssDecode],
  ['escapeSeqDecode', escapeSeqDecode],
  ['hexDecode', hexDecode],
  ['hexEncode', hexEncode],
  ['htmlEntityDecode', htmlEntityDecode],
  ['jsDecode', jsDecode],
  ['length', length],
  ['lowercase', lowercase],
  ['uppercase', uppercase],
  ['md5', md5],
  ['sha1', sha1],
  ['normalizePath', normalizePath],
  ['normalisePath', normalizePath],
  ['normalizePathWin', normalizePathWin],
  ['normalisePathWin', normalizePathWin],
  ['parityEven7bit', parityEven7bit],
  ['parityOdd7bit', parityOdd7bit],
  ['parityZero7bit', parityZero7bit],
  ['phpArgsNames', phpArgsNames],
  ['removeComments', removeComments],
  ['removeCommentsChar', removeCommentsChar],
  ['replaceComments', replaceComments],
  ['removeNulls', removeNulls],
  ['replaceNulls', replaceNulls],
  ['removeWhitespace', removeWhitespace],
  ['sqlHexDecode', sqlHexDecode],
  ['trim', trim],
  ['trimLeft', trimLeft],
  ['trimRight', trimRight],
  ['urlDecode', urlDecode],
  ['urlDecodeUni', urlDecodeUni],
  ['urlEncode', urlEncode],
  ['utf8toUnicode', utf8toUnicode],
  ['decodeEmbedded', decodeEmbedded], // Sidewall's own (decode-embedded.ts)
];
for (const [name, fn] of builtins) registerTransformation(name, fn);
