// Small transformations: t:none (identity; the engine treats it as "reset the pipeline") and
// t:length (decimal byte count).

export function none(input: string): string {
  return input;
}

export function length(input: string): string {
  return String(input.length);
}
