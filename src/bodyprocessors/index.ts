// Request body processors by name (REQBODY_PROCESSOR / ctl:requestBodyProcessor).
import type { Transaction } from '../engine/transaction.js';
import { parseUrlEncoded } from './urlencoded.js';
import { processJson } from './json.js';
import { processMultipart } from './multipart.js';
import { processXml } from './xml.js';

/** Parses `body` (byte string) into the transaction's variables; returns an error message or null. */
export type BodyProcessor = (tx: Transaction, body: string) => string | null;

const processors = new Map<string, BodyProcessor>();

export function registerBodyProcessor(name: string, p: BodyProcessor): void {
  processors.set(name.toUpperCase(), p);
}

export function getBodyProcessor(name: string): BodyProcessor | undefined {
  return processors.get(name.toUpperCase());
}

registerBodyProcessor('URLENCODED', (tx, body) => {
  const parsed = parseUrlEncoded(body, tx.ruleset.argumentSeparator);
  for (const [k, v] of parsed.pairs) tx.addArgument('POST', k, v);
  if (parsed.invalid) tx.setScalar('URLENCODED_ERROR', '1');
  return null;
});

registerBodyProcessor('JSON', processJson);
registerBodyProcessor('XML', processXml);
registerBodyProcessor('MULTIPART', processMultipart);
