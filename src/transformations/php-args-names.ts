// t:phpArgsNames (ModSecurity v3): rewrites an argument name the way PHP's
// php_register_variable_ex() does: leading spaces dropped, ' ' and '.' become '_' outside brackets,
// a '[' without a matching ']' becomes '_', and "[...]" array parts are kept up to the last
// well-formed one. Names starting with '[' or '=' become empty.
// Like the C code, ']' is searched for only up to the first NUL byte (strchr()).

function findCloseBracket(value: string, from: number): number {
  const p = value.indexOf(']', from);
  if (p < 0) return -1;
  const nul = value.indexOf('\0', from);
  return nul >= 0 && nul < p ? -1 : p;
}

export function phpArgsNames(value: string): string {
  const size = value.length;
  if (size === 0) return value;
  const first = value.charCodeAt(0);
  if (first === 0x5b /* [ */ || first === 0x3d /* = */) return '';
  let i = 0;
  while (i < size && value.charCodeAt(i) === 0x20) i++;
  let ret = '';
  let isArray = false;
  let openBracket = false;
  for (; i < size; i++) {
    const c = value[i]!;
    if (c === '[' && !openBracket) {
      if (findCloseBracket(value, i) >= 0) {
        isArray = true;
        break;
      }
      ret += '_';
      openBracket = true;
    } else if (!openBracket && (c === ' ' || c === '.')) {
      ret += '_';
    } else {
      ret += c;
    }
  }
  if (isArray) {
    for (;;) {
      const close = findCloseBracket(value, i);
      if (close < 0) return ret;
      const arrayEnd = close + 1;
      if (arrayEnd - i === 3 && value[i + 1] === ' ') {
        ret += '[';
        i += 2;
      }
      ret += value.slice(i, arrayEnd);
      i = arrayEnd;
      if (i >= size || value[i] !== '[') return ret;
    }
  }
  return ret === value ? value : ret;
}
