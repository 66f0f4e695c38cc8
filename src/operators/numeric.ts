// Numeric comparisons. ModSecurity v3 parses both sides as C integers: @eq with std::stoi() (0 when
// unparsable or outside int), @ge/@gt/@le/@lt with atoll() (0 when unparsable, saturating at the
// int64 bounds). Leading whitespace and sign are accepted, trailing garbage is ignored ("5x" = 5).
import type { Operator, OperatorFactory, OperatorInit } from './types.js';
import { atoll, stoiOrZero } from './util.js';

type Num = number | bigint;
type Compare = (input: Num, param: Num) => boolean;

function numericOperator(init: OperatorInit, parse: (s: string) => Num, cmp: Compare): Operator {
  if (init.expand === null) {
    const param = parse(init.arg); // parsed once
    return { evaluate: (_tx, input) => cmp(parse(input), param) };
  }
  const expand = init.expand;
  return { evaluate: (tx, input) => cmp(parse(input), parse(expand(tx))) };
}

const factory =
  (parse: (s: string) => Num, cmp: Compare): OperatorFactory =>
  (init) =>
    numericOperator(init, parse, cmp);

// number/bigint mixes compare correctly with the relational operators (stoi results are numbers).
export const eqFactory = factory(stoiOrZero, (a, b) => a === b);
export const geFactory = factory(atoll, (a, b) => a >= b);
export const gtFactory = factory(atoll, (a, b) => a > b);
export const leFactory = factory(atoll, (a, b) => a <= b);
export const ltFactory = factory(atoll, (a, b) => a < b);
