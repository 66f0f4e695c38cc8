// Shared pieces of our hand-written YAML validation (config file, settings.yaml, events section):
// one way to name a wrong value and one way to report a YAML syntax error.
import { parseDocument } from 'yaml';

/** How a wrong value is named in an error ("nothing", "\"abc\"", "number 5", "a list", "a mapping"). */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

/**
 * Parses YAML text (duplicate keys are errors, aliases bounded) into plain JS. A syntax error is
 * reported through `fail('', "invalid YAML at line L, column C: ...")`, which must throw.
 */
export function parseYamlText(text: string, fail: (key: string, problem: string) => never): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const where = err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    const msg = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    fail('', `invalid YAML${where}: ${msg}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}
