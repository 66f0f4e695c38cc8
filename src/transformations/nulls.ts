// t:replaceNulls (NUL -> space) and t:removeNulls (NUL dropped).

export function replaceNulls(input: string): string {
  return input.includes('\0') ? input.replaceAll('\0', ' ') : input;
}

export function removeNulls(input: string): string {
  return input.includes('\0') ? input.replaceAll('\0', '') : input;
}
