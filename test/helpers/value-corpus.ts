// Values for differential and prefilter-soundness tests: attack payloads (PayloadsAllTheThings
// lists), libinjection's SQLi/XSS corpora and the SecLang test vectors' inputs, as byte strings.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '../../bench/lib/shared.js';
import { cString, json2bin } from './seclang-vectors.js';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Non-empty lines of a text file as byte strings. */
function lines(file: string): string[] {
  return readFileSync(file).toString('latin1').split(/\r?\n/).filter((l) => l.length > 0);
}

export interface ValueCorpus {
  /** Source name → its values. */
  sources: Map<string, string[]>;
  /** Every value once, in source order. */
  all: string[];
}

/** Loads the corpora that exist (missing ones are simply absent: callers assert on sizes). */
export function loadValueCorpus(): ValueCorpus {
  const sources = new Map<string, string[]>();
  const payloads = filesUnder(sharedPath('attack-payloads')).filter((f) => !/(LICENSE|README)/.test(f));
  sources.set('attack-payloads', payloads.flatMap(lines));
  const lib = filesUnder(sharedPath('libinjection', 'data')).filter((f) => f.endsWith('.txt'));
  sources.set('libinjection', lib.flatMap(lines));
  const vectors: string[] = [];
  for (const f of filesUnder(sharedPath('secrules-language-tests')).filter((p) => p.endsWith('.json'))) {
    try {
      const cases = JSON.parse(readFileSync(f, 'utf8')) as Array<{ input?: unknown }>;
      for (const c of cases) if (typeof c.input === 'string') vectors.push(json2bin(cString(c.input)));
    } catch {
      // not a vector file
    }
  }
  sources.set('seclang-vectors', vectors);
  const all = [...new Set([...sources.values()].flat())];
  return { sources, all };
}

/** Every `step`-th value, so a bounded run still samples every source. */
export function sample(values: readonly string[], max: number): string[] {
  if (values.length <= max) return [...values];
  const step = values.length / max;
  const out: string[] = [];
  for (let i = 0; i < max; i++) out.push(values[Math.floor(i * step)]!);
  return out;
}
