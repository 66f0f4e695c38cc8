// t:normalizePath / t:normalizePathWin (ModSecurity v3 NormalisePath::normalize_path_inplace):
// collapses "//", removes "./" self references and resolves "../" back references without going
// above the root; relative paths keep leading "../" they cannot resolve. The Windows variant first
// turns backslashes into slashes. A trailing slash is kept only if the input had one.
import { toBuffer } from './bytes.js';

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** Port of the C state machine on a byte array; `src` and `dst` are indexes into `buf`. */
function normalize(buf: Buffer, win: boolean): number {
  const len = buf.length;
  const end = len - 1;
  let src = 0;
  let dst = 0;
  let hitRoot = false;
  let done = false;
  const relative = !(buf[0] === SLASH || (win && buf[0] === BACKSLASH));
  const trailing = buf[end] === SLASH || (win && buf[end] === BACKSLASH);

  while (!done && src <= end && dst <= end) {
    if (win) {
      if (buf[src] === BACKSLASH) buf[src] = SLASH;
      if (src < end && buf[src + 1] === BACKSLASH) buf[src + 1] = SLASH;
    }
    let skipCopy = false;
    let normalizeSegment = true;
    if (src === end) done = true;
    else if (buf[src + 1] !== SLASH) normalizeSegment = false; // not the end of a path segment

    if (normalizeSegment) {
      if (src !== end && buf[src] === SLASH) {
        // Empty segment: the copy below collapses repeated slashes.
      } else if (buf[src] === DOT) {
        if (dst > 0 && buf[dst - 1] === DOT) {
          // Back reference "..".
          if (relative && (hitRoot || dst - 2 <= 0)) {
            hitRoot = true; // nothing to remove: keep the ".." as is
          } else {
            dst -= 3;
            while (dst > 0 && buf[dst] !== SLASH) dst--;
            if (dst <= 0) {
              hitRoot = true;
              dst = 0;
              // Keep the root slash of an absolute path ending on a back reference.
              if (!relative && src === end) dst++;
            }
            if (done) skipCopy = true;
            else src++;
          }
        } else if (dst === 0) {
          // Relative self reference at the start: ignored.
          if (done) skipCopy = true;
          else src++;
        } else if (buf[dst - 1] === SLASH) {
          // Self reference "/./": ignored.
          if (done) skipCopy = true;
          else {
            dst--;
            src++;
          }
        }
      } else if (dst > 0) {
        hitRoot = false; // a regular segment
      }
    }

    if (skipCopy) continue;
    if (buf[src] === SLASH) {
      // Skip to the last of several slashes.
      while (src < end && (buf[src + 1] === SLASH || (win && buf[src + 1] === BACKSLASH))) src++;
      // A relative path never starts with a slash: move over it.
      if (relative && dst === 0) {
        src++;
        continue;
      }
    }
    buf[dst++] = buf[src++]!;
  }
  if (!trailing && dst > 0 && buf[dst - 1] === SLASH) dst--;
  return dst;
}

/**
 * Inputs already normal: without '.' and "//", or without any '/' and not ending in '.' (a dot
 * only matters next to a separator, or as the last segment); neither with '\' for Windows.
 */
function alreadyNormal(input: string, win: boolean): boolean {
  if (win && input.includes('\\')) return false;
  if (!input.includes('/')) return input.charCodeAt(input.length - 1) !== DOT;
  return !input.includes('.') && !input.includes('//');
}

export function normalizePath(input: string): string {
  if (input.length === 0 || alreadyNormal(input, false)) return input;
  const buf = toBuffer(input);
  return buf.toString('latin1', 0, normalize(buf, false));
}

export function normalizePathWin(input: string): string {
  if (input.length === 0 || alreadyNormal(input, true)) return input;
  const buf = toBuffer(input);
  return buf.toString('latin1', 0, normalize(buf, true));
}

/** The full algorithm without the fast path (exported for tests that cross-check the fast path). */
export function normalizePathBytes(input: string, win: boolean): string {
  if (input.length === 0) return input;
  const buf = toBuffer(input);
  return buf.toString('latin1', 0, normalize(buf, win));
}
