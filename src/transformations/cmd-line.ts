// t:cmdLine (ModSecurity v3 CmdLine): normalises Windows/Unix command lines against evasion:
// deletes  " ' \ ^ , turns runs of  space , ; \t \r \n  into one space, drops a space before
// '/' or '(', and lower-cases ASCII letters.
import { bufToString, outBuffer } from './bytes.js';

export function cmdLine(input: string): string {
  const n = input.length;
  const out = outBuffer(n);
  let d = 0;
  let space = false;
  let changed = false;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    switch (c) {
      case 0x22: // "
      case 0x27: // '
      case 0x5c: // \
      case 0x5e: // ^
        changed = true;
        break;
      case 0x20:
      case 0x2c: // ,
      case 0x3b: // ;
      case 0x09:
      case 0x0d:
      case 0x0a:
        if (!space) {
          if (c !== 0x20) changed = true;
          out[d++] = 0x20;
          space = true;
        } else {
          changed = true;
        }
        break;
      case 0x2f: // /
      case 0x28: // (
        if (space) {
          d--;
          changed = true;
        }
        space = false;
        out[d++] = c;
        break;
      default:
        if (c >= 0x41 && c <= 0x5a) {
          out[d++] = c | 0x20;
          changed = true;
        } else {
          out[d++] = c;
        }
        space = false;
    }
  }
  return changed ? bufToString(out, d) : input;
}
