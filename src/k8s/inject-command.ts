// `sidewall inject -f FILE|-`: manifests in, the same manifests out with the sidecars injected into
// every pod template, exactly as the webhook would patch the pods (the same patch, applied here).
// Non-workload documents pass through byte for byte; notes go to stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { ANNOTATION_PREFIX, describeProblem, parseKeyValueList, resolveNamespacePolicy, type NamespacePolicy } from './annotations.js';
import { INJECTOR_FLAGS_USAGE, injectorConfigFromFlags, injectorFlagOptions, type InjectorConfig } from './injector-config.js';
import { injectPod } from './injector.js';
import { applyJsonPatch } from './json-patch.js';
import type { Pod } from './pod-types.js';
import { describeManifest, podTemplateOf } from './workloads.js';

export const INJECT_USAGE = `Usage: sidewall inject -f FILE|- [options]

Writes Kubernetes manifests (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
CronJobs; multi-document YAML) with the Sidewall sidecars injected, as the admission webhook would.

Options:
  -f, --filename FILE              manifests to read ("-" = stdin)
  -o, --output FILE                write here instead of stdout
      --namespace-annotations L    the namespace's annotations, k=v,... (keys may omit "sidewall.io/"),
                                   e.g. waf=enabled,mode=block

${INJECTOR_FLAGS_USAGE}`;

export interface InjectOutcome {
  output: string;
  /** One line per note (skips, ignored annotations), for stderr. */
  notes: string[];
}

/** Injects every workload of a multi-document YAML text. Throws on invalid YAML (message names the line). */
export function injectManifests(text: string, ns: NamespacePolicy, config: InjectorConfig, label: string): InjectOutcome {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new Error(`${label}: not a YAML stream`);
  const notes: string[] = [];
  const out: string[] = [];
  // A document's own source text (its comments included, its "---" marker not), so documents we
  // do not change are written back byte for byte.
  const source = (index: number): string => {
    const start = index === 0 ? 0 : docs[index - 1]!.range[2];
    const end = index === docs.length - 1 ? text.length : docs[index]!.range[2];
    return text.slice(start, end).replace(/^---[^\n]*(\n|$)/, '');
  };
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const where = e.linePos ? `:${e.linePos[0].line}` : '';
      throw new Error(`${label}${where}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    const manifest: unknown = doc.toJS({ maxAliasCount: 100 });
    const holder = podTemplateOf(manifest);
    if (holder === null) {
      out.push(source(index));
      return;
    }
    const what = describeManifest(manifest, index);
    const pod: Pod = { ...(holder.metadata !== undefined ? { metadata: holder.metadata } : {}), spec: holder.spec };
    const result = injectPod(pod, ns, config);
    for (const w of result.warnings) notes.push(`${what}: ${w.replace(/^sidewall: /, '')}`);
    if (!result.injected) {
      notes.push(`${what}: not injected: ${result.reason}`);
      out.push(source(index));
      return;
    }
    const patched = applyJsonPatch(pod, result.patch);
    holder.metadata = patched.metadata;
    holder.spec = patched.spec;
    out.push(stringify(manifest, { lineWidth: 0 }));
  });
  return { output: out.map((d) => (d === '' || d.endsWith('\n') ? d : d + '\n')).join('---\n'), notes };
}

/** --namespace-annotations → the namespace's policy; invalid values become notes (defaults apply). */
export function namespacePolicyFromFlag(text: string | undefined): { policy: NamespacePolicy; notes: string[] } {
  const raw = text === undefined ? {} : parseKeyValueList(text, '--namespace-annotations');
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) annotations[k.includes('/') ? k : ANNOTATION_PREFIX + k] = v;
  const { policy, problems } = resolveNamespacePolicy(annotations, null);
  return { policy, notes: problems.map((p) => `--namespace-annotations: ${describeProblem(p)}`) };
}

export function injectCommand(args: string[], stdin: () => string = () => readFileSync(0, 'utf8')): number {
  const fail = (m: string): number => {
    process.stderr.write(`sidewall: ${m}\n`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        filename: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        'namespace-annotations': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...injectorFlagOptions,
      },
    }));
  } catch (err) {
    return fail(`inject: ${(err as Error).message} (try: sidewall inject --help)`);
  }
  if (values.help) {
    process.stdout.write(INJECT_USAGE);
    return 0;
  }
  if (values.filename === undefined) return fail('inject: -f FILE (or - for stdin) is required (try: sidewall inject --help)');
  let config: InjectorConfig;
  let ns: { policy: NamespacePolicy; notes: string[] };
  try {
    config = injectorConfigFromFlags(values);
    ns = namespacePolicyFromFlag(values['namespace-annotations']);
  } catch (err) {
    return fail((err as Error).message);
  }
  let text: string;
  const label = values.filename === '-' ? '<stdin>' : values.filename;
  try {
    text = values.filename === '-' ? stdin() : readFileSync(values.filename, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(`inject: ${label}: cannot read: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  let outcome: InjectOutcome;
  try {
    outcome = injectManifests(text, ns.policy, config, label);
  } catch (err) {
    return fail(`inject: ${(err as Error).message}`);
  }
  for (const note of [...ns.notes, ...outcome.notes]) process.stderr.write(`sidewall: ${note}\n`);
  if (values.output !== undefined) writeFileSync(values.output, outcome.output);
  else process.stdout.write(outcome.output);
  return 0;
}
