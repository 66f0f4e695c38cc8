// Comment transformations, ModSecurity v3 semantics including its quirks (kept on purpose so rules
// behave exactly as under libmodsecurity):
//  - removeComments: drops /* */ and <!-- --> comments; "--" or "#" outside a comment truncates the
//    rest of the value; after a closing "*/" or "-->" the next byte is copied unconditionally (past
//    the end this is the C string terminator, hence "/* x */" -> "\0"); an unterminated comment
//    becomes a single space.
//  - removeCommentsChar: deletes the comment markers themselves (/* */ <!-- --> -- #), keeps text.
//  - replaceComments: each /* ... */ (or unterminated /* ...) becomes one space.
import { bufToString, copyPrefix, outBuffer } from './bytes.js';

/** charCodeAt with the C string terminator (0) past the end. */
function at(s: string, i: number): number {
  return i < s.length ? s.charCodeAt(i) : 0;
}

function needsRemoveComments(input: string): boolean {
  return input.includes('/*') || input.includes('<!--') || input.includes('--') || input.includes('#');
}

export function removeComments(input: string): string {
  if (!needsRemoveComments(input)) return input;
  const n = input.length;
  const out = outBuffer(n + 1);
  let i = 0;
  let j = 0;
  let inComment = false;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (!inComment) {
      if (c === 0x2f && i + 1 < n && input.charCodeAt(i + 1) === 0x2a) {
        inComment = true;
        i += 2;
      } else if (c === 0x3c && i + 3 < n && input.startsWith('!--', i + 1)) {
        inComment = true;
        i += 4;
      } else if ((c === 0x2d && i + 1 < n && input.charCodeAt(i + 1) === 0x2d) || c === 0x23) {
        break; // SQL/shell line comment: the rest of the value is dropped
      } else {
        out[j++] = c;
        i++;
      }
    } else if (c === 0x2a && i + 1 < n && input.charCodeAt(i + 1) === 0x2f) {
      inComment = false;
      i += 2;
      out[j++] = at(input, i++);
    } else if (c === 0x2d && i + 2 < n && input.charCodeAt(i + 1) === 0x2d && input.charCodeAt(i + 2) === 0x3e) {
      inComment = false;
      i += 3;
      out[j++] = at(input, i++);
    } else {
      i++;
    }
  }
  if (inComment) out[j++] = 0x20;
  return bufToString(out, j);
}

export function removeCommentsChar(input: string): string {
  if (!needsRemoveComments(input) && !input.includes('*/') && !input.includes('-->')) return input;
  const n = input.length;
  const out = outBuffer(n);
  let d = 0;
  let s = 0;
  while (s < n) {
    const c = input.charCodeAt(s);
    const c1 = s + 1 < n ? input.charCodeAt(s + 1) : -1;
    if (c === 0x2f && c1 === 0x2a) s += 2; // /*
    else if (c === 0x2a && c1 === 0x2f) s += 2; // */
    else if (c === 0x3c && c1 === 0x21 && s + 3 < n && input.charCodeAt(s + 2) === 0x2d && input.charCodeAt(s + 3) === 0x2d) s += 4; // <!--
    else if (c === 0x2d && c1 === 0x2d && s + 2 < n && input.charCodeAt(s + 2) === 0x3e) s += 3; // -->
    else if (c === 0x2d && c1 === 0x2d) s += 2; // --
    else if (c === 0x23) s += 1; // #
    else out[d++] = input.charCodeAt(s++);
  }
  return bufToString(out, d);
}

export function replaceComments(input: string): string {
  const first = input.indexOf('/*');
  if (first < 0) return input;
  const n = input.length;
  const out = outBuffer(n);
  let j = copyPrefix(input, out, first);
  let i = first;
  let inComment = false;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (!inComment) {
      if (c === 0x2f && i + 1 < n && input.charCodeAt(i + 1) === 0x2a) {
        inComment = true;
        i += 2;
      } else {
        out[j++] = c;
        i++;
      }
    } else if (c === 0x2a && i + 1 < n && input.charCodeAt(i + 1) === 0x2f) {
      inComment = false;
      i += 2;
      out[j++] = 0x20;
    } else {
      i++;
    }
  }
  if (inComment) out[j++] = 0x20;
  return bufToString(out, j);
}
