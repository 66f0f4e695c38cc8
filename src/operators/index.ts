// Registry of SecLang operators (@name). Names are canonical lower-case, without '@'.
import type { OperatorFactory } from './types.js';
import { ipMatchFactory, ipMatchFromFileFactory } from './ip-match.js';
import { detectSQLiFactory, detectXSSFactory } from './libinjection.js';
import { eqFactory, geFactory, gtFactory, leFactory, ltFactory } from './numeric.js';
import { pmFactory, pmFromFileFactory } from './pm.js';
import { rxFactory } from './rx.js';
import {
  beginsWithFactory,
  containsFactory,
  containsWordFactory,
  endsWithFactory,
  streqFactory,
  strmatchFactory,
  withinFactory,
} from './string.js';
import { validateByteRangeFactory, validateUrlEncodingFactory, validateUtf8EncodingFactory } from './validate.js';
import { verifyCCFactory } from './verify-cc.js';

export type { Operator, OperatorCompileOptions, OperatorFactory, OperatorInit, OperatorTx } from './types.js';

const registry = new Map<string, OperatorFactory>();

/** Registers a factory under `name` (stored lower-case); a later registration replaces an earlier one. */
export function registerOperator(name: string, factory: OperatorFactory): void {
  registry.set(name.toLowerCase(), factory);
}

/** The factory for an operator name (lower-case canonical, no '@'), or undefined when unknown. */
export function getOperatorFactory(name: string): OperatorFactory | undefined {
  return registry.get(name.toLowerCase());
}

/** Registered operator names (lower-case). */
export function operatorNames(): string[] {
  return [...registry.keys()];
}

const unconditionalMatchFactory: OperatorFactory = () => ({ evaluate: () => true });
const noMatchFactory: OperatorFactory = () => ({ evaluate: () => false });
// No GeoIP database is supported (SecGeoLookupDb is accepted and ignored): like ModSecurity
// without a database, the lookup fails, so the operator never matches and GEO stays empty.
const geoLookupFactory: OperatorFactory = noMatchFactory;
// DNS blocklist lookups would put a network round trip on every check: not done, never matches
// (CRS only uses it when an http:BL key is configured).
const rblFactory: OperatorFactory = noMatchFactory;

const builtins: Array<[string, OperatorFactory]> = [
  ['rx', rxFactory],
  ['pm', pmFactory],
  ['pmf', pmFromFileFactory],
  ['pmfromfile', pmFromFileFactory],
  ['streq', streqFactory],
  ['contains', containsFactory],
  ['containsword', containsWordFactory],
  ['beginswith', beginsWithFactory],
  ['endswith', endsWithFactory],
  ['within', withinFactory],
  ['strmatch', strmatchFactory],
  ['eq', eqFactory],
  ['ge', geFactory],
  ['gt', gtFactory],
  ['le', leFactory],
  ['lt', ltFactory],
  ['ipmatch', ipMatchFactory],
  ['ipmatchf', ipMatchFromFileFactory],
  ['ipmatchfromfile', ipMatchFromFileFactory],
  ['validatebyterange', validateByteRangeFactory],
  ['validateurlencoding', validateUrlEncodingFactory],
  ['validateutf8encoding', validateUtf8EncodingFactory],
  ['unconditionalmatch', unconditionalMatchFactory],
  ['nomatch', noMatchFactory],
  ['geolookup', geoLookupFactory],
  ['rbl', rblFactory],
  ['detectsqli', detectSQLiFactory],
  ['detectxss', detectXSSFactory],
  ['verifycc', verifyCCFactory],
];
for (const [name, factory] of builtins) registerOperator(name, factory);
