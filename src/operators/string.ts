// String comparison operators (ModSecurity v3 semantics). Their argument may hold macros
// (e.g. `!@within %{tx.allowed_methods}`), expanded per evaluation; static arguments are used as is.
import type { Operator, OperatorFactory, OperatorInit } from './types.js';

type StringTest = (param: string, input: string) => boolean;

function stringOperator(init: OperatorInit, fn: StringTest): Operator {
  if (init.expand === null) {
    const param = init.arg;
    return { evaluate: (_tx, input) => fn(param, input) };
  }
  const expand = init.expand;
  return { evaluate: (tx, input) => fn(expand(tx), input) };
}

const factory =
  (fn: StringTest): OperatorFactory =>
  (init) =>
    stringOperator(init, fn);

/** Exact equality. */
export const streqFactory = factory((param, input) => input === param);

/** The argument occurs in the input. */
export const containsFactory = factory((param, input) => input.includes(param));

/** The input starts with the argument. */
export const beginsWithFactory = factory((param, input) => input.startsWith(param));

/** The input ends with the argument. */
export const endsWithFactory = factory((param, input) => input.endsWith(param));

/** v3's @strmatch is a plain substring search (v2 used Boyer-Moore-Horspool, same result). */
export const strmatchFactory = factory((param, input) => input.includes(param));

/**
 * The input occurs in the argument (a substring test, not a token list: "ET" is within
 * "GET POST"). An empty input is within anything.
 */
export const withinFactory = factory((param, input) => input.length === 0 || param.includes(input));

/** Word characters for @containsWord are ASCII letters only (ModSecurity v3's acceptableChar). */
function isBoundary(input: string, pos: number): boolean {
  if (pos < 0 || pos >= input.length) return false;
  const c = input.charCodeAt(pos);
  return !((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a));
}

/**
 * The argument occurs in the input as a whole word: delimited by the start/end of the input or by
 * a non-letter. Port of ContainsWord::evaluate, including its handling of the input edges.
 */
function containsWord(param: string, input: string): boolean {
  if (param.length === 0) return true;
  if (input.length === 0) return false;
  if (input === param) return true;
  const len = param.length;
  for (let pos = input.indexOf(param); pos >= 0; pos = input.indexOf(param, pos + 1)) {
    if (pos === 0 && isBoundary(input, len)) return true;
    if (pos + len === input.length && isBoundary(input, pos - 1)) return true;
    if (isBoundary(input, pos - 1) && isBoundary(input, pos + len)) return true;
  }
  return false;
}

export const containsWordFactory = factory(containsWord);
