// Live configuration: loads the base ruleset and the settings directory, compiles one engine per
// distinct effective settings, and reloads when files change (fs.watch + a fingerprint poll,
// debounced) or on request (SIGHUP).
//
// A reload compiles the new engines in time slices on the main thread (compiled rules hold RE2
// objects and closures, which cannot cross a worker boundary), yielding to the event loop between
// slices so checks keep being answered, then swaps the whole EngineTable in one assignment.
// Rejections: a namespace whose settings.yaml or exclusions.conf is invalid keeps its previous
// settings (or the base settings if it never had valid ones); a base ruleset that fails to load
// rejects the whole reload and every engine stays as it was. Engines no longer referenced by the
// new table are garbage once in-flight checks are done with them.
import { dirname, join, resolve } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { Logger } from 'pino';
import { isCrsDirectory, readRulesEntry } from '../engine/crs-layout.js';
import { SecLangError, type Directive } from '../seclang/ast.js';
import type { SlicedCompileStats } from '../engine/waf.js';
import { describeSettings, resolveSettings, settingsKey, type EffectiveSettings, type SettingsDefaults } from '../settings/effective.js';
import { readSettingsDir, type NamespaceSource, type SettingsSnapshot } from '../settings/settings-dir.js';
import { resolveStaged } from '../settings/staged.js';
import type { SettingsValues } from '../settings/values.js';
import { buildEngine } from './engine-builder.js';
import { EngineProvider, type EngineSource, type EngineTable, type StagedEngine } from './engine-provider.js';
import { contentFingerprint, DirWatchSet, statFingerprint } from './change-watch.js';
import type { WafLike } from './check-service.js';
import type { Metrics } from './metrics.js';
import { ReloadMetrics } from './reload-metrics.js';


/** Names of files that can hold rules or rule data (see EngineReloader.isRuleFile). */
const RULE_FILE_NAME = /\.(?:conf|data|txt)$/i;
export const DEFAULT_POLL_MS = 2000;
export const DEFAULT_DEBOUNCE_MS = 200;
export const DEFAULT_SLICE_MS = 8;
const MAX_REMEMBERED_WARNINGS = 1000;

export type ReloadReason = 'startup' | 'watch' | 'poll' | 'signal' | 'request';

export interface ReloadOutcome {
  result: 'success' | 'failure' | 'unchanged';
  /** One line per rejected file, naming file:line. */
  errors: string[];
  durationMs: number;
  /** Longest synchronous compile stretch (how long checks could wait), ms. */
  longestSliceMs: number;
  /** Engines compiled by this load (reused ones not counted). */
  compiled: number;
}

export interface ReloaderOptions {
  /** SecLang entry file of the base ruleset. */
  rulesFile: string;
  /** --settings-dir; null = no per-namespace settings (base settings + pod overrides). */
  settingsDir: string | null;
  pod: SettingsValues;
  defaults: SettingsDefaults;
  regexFallbackRuleIds?: ReadonlySet<number>;
  /** Engine acceleration (config engine.acceleration; default true). */
  acceleration?: boolean;
  /** Sidewall detection layer in CRS directory mode (config sidewall_layer; default true). */
  sidewallLayer?: boolean;
  logger: Logger;
  metrics: Metrics;
  pollMs?: number;
  debounceMs?: number;
  sliceMs?: number;
  /** Watch and poll for changes (default true); reload() works either way. */
  watch?: boolean;
}

/** What was applied for one namespace ('' = the sidecar layout's single namespace). */
interface Applied {
  key: string;
  settings: EffectiveSettings;
}

/** The base ruleset failed: the whole reload is rejected. */
class BaseRulesetError extends Error {
  constructor(readonly original: unknown) {
    super(`rules: ${firstLine(original)}`);
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

export class EngineReloader {
  readonly provider: EngineProvider;
  private readonly options: ReloaderOptions;
  private readonly metrics: ReloadMetrics;
  private readonly logger: Logger;
  private readonly watchers: DirWatchSet;
  private readonly warned = new Set<string>();
  private baseDirectives: Directive[];
  private ruleDirs: string[];
  /** Every file the last successful read of the base ruleset went through. */
  private loadedFiles: Set<string>;
  private engines = new Map<string, WafLike>();
  private applied = new Map<string, Applied>();
  private loadedRulesFp = '';
  private attempted = { rules: '', settings: '' };
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private queued: { reason: ReloadReason; force: boolean; promise: Promise<ReloadOutcome> } | null = null;
  private closed = false;
  /** The base ruleset error that made the startup load fail (rethrown as is, for the CLI). */
  private startupError: unknown = null;

  private constructor(options: ReloaderOptions, base: Directive[], table: EngineTable) {
    this.options = options;
    this.logger = options.logger;
    this.metrics = new ReloadMetrics(options.metrics.registry);
    this.baseDirectives = base;
    this.ruleDirs = EngineReloader.ruleDirsOf(options.rulesFile, base);
    this.loadedFiles = EngineReloader.filesOf(options.rulesFile, base);
    this.provider = new EngineProvider(table);
    this.watchers = new DirWatchSet(() => this.onFileEvent());
  }

  /**
   * Loads everything once (compiling in one go: nothing is served yet) and starts watching.
   * Throws when the base ruleset cannot be loaded; settings problems are logged and counted.
   */
  static async start(options: ReloaderOptions): Promise<EngineReloader> {
    const started = performance.now();
    // Throws SecLangError naming file:line.
    const base = readRulesEntry(options.rulesFile, (m) => options.logger.warn({ rules: options.rulesFile }, m), { sidewallLayer: options.sidewallLayer });
    const none: WafLike = { evaluate: () => { throw new Error('no engine loaded'); }, mode: 'off', ruleCount: 0 };
    const r = new EngineReloader(options, base, { multi: false, base: none, byNamespace: new Map() });
    r.attempted = {
      rules: await statFingerprint(r.ruleDirs, r.isRuleFile),
      settings: options.settingsDir === null ? '' : await contentFingerprint(options.settingsDir),
    };
    r.loadedRulesFp = r.attempted.rules;
    const outcome = await r.load('startup', true, base, started, 0);
    if (r.provider.table.base === none) throw r.startupError ?? new Error(outcome.errors[0] ?? 'no engine loaded');
    if (options.watch !== false) r.startWatching();
    return r;
  }

  /**
   * Files whose change means the ruleset changed: every file the last load read, and new rule-like
   * files (*.conf, *.data, *.txt: an added plugin or data file). Not logs, sockets or spools that
   * happen to share a directory with the rules — rewriting those must not recompile anything.
   */
  private readonly isRuleFile = (path: string): boolean => this.loadedFiles.has(path) || RULE_FILE_NAME.test(path);

  private static filesOf(rulesFile: string, base: readonly Directive[]): Set<string> {
    const files = new Set<string>([resolve(rulesFile)]);
    for (const d of base) files.add(resolve(d.loc.file));
    return files;
  }

  private static ruleDirsOf(rulesFile: string, base: readonly Directive[]): string[] {
    const dirs = new Set<string>([dirname(resolve(rulesFile))]);
    for (const d of base) dirs.add(dirname(resolve(d.loc.file)));
    // A CRS directory: a plugin or renamed exclusion file added later must be noticed too.
    if (isCrsDirectory(rulesFile)) {
      for (const sub of ['', 'rules', 'plugins']) if (existsSync(join(rulesFile, sub))) dirs.add(resolve(rulesFile, sub));
    }
    return [...dirs].sort();
  }

  get source(): EngineSource {
    return this.provider;
  }

  get base(): WafLike {
    return this.provider.base;
  }

  /** Reloads now (SIGHUP, tests); `force` re-reads and recompiles even when nothing changed. */
  reload(reason: ReloadReason = 'request', force = true): Promise<ReloadOutcome> {
    if (this.queued !== null) {
      this.queued.force ||= force;
      return this.queued.promise;
    }
    const entry = { reason, force, promise: null as unknown as Promise<ReloadOutcome> };
    entry.promise = this.chain.then(() => {
      this.queued = null;
      return this.run(entry.reason, entry.force);
    });
    this.chain = entry.promise.catch(() => undefined);
    this.queued = entry;
    return entry.promise;
  }

  close(): void {
    this.closed = true;
    if (this.poller !== null) clearInterval(this.poller);
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.watchers.close();
  }

  private startWatching(): void {
    this.updateWatches();
    this.poller = setInterval(() => void this.reload('poll', false), this.options.pollMs ?? DEFAULT_POLL_MS);
    this.poller.unref();
  }

  private onFileEvent(): void {
    if (this.closed) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    // Editors and kubelet write in several steps: wait until the directory is quiet.
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.reload('watch', false);
    }, this.options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    this.debounce.unref();
  }

  private updateWatches(): void {
    if (this.closed || this.options.watch === false) return;
    const dirs = [...this.ruleDirs];
    const sd = this.options.settingsDir;
    if (sd !== null) {
      dirs.push(sd);
      try {
        for (const name of readdirSync(sd)) {
          if (name.startsWith('.')) continue;
          try {
            if (statSync(resolve(sd, name)).isDirectory()) dirs.push(resolve(sd, name));
          } catch {
            // vanished meanwhile
          }
        }
      } catch {
        // settings dir missing: the poll notices when it appears
      }
    }
    this.watchers.update(dirs);
  }

  private async run(reason: ReloadReason, force: boolean): Promise<ReloadOutcome> {
    const started = performance.now();
    if (this.closed) return { result: 'unchanged', errors: [], durationMs: 0, longestSliceMs: 0, compiled: 0 };
    let rulesFp: string;
    let settingsFp: string;
    try {
      rulesFp = await statFingerprint(this.ruleDirs, this.isRuleFile);
      settingsFp = this.options.settingsDir === null ? '' : await contentFingerprint(this.options.settingsDir);
    } catch (err) {
      return this.reject(reason, started, [`cannot read configuration: ${firstLine(err)}`]);
    }
    if (!force && rulesFp === this.attempted.rules && settingsFp === this.attempted.settings) {
      return { result: 'unchanged', errors: [], durationMs: performance.now() - started, longestSliceMs: 0, compiled: 0 };
    }
    // Recorded before reading: a change made while we read shows up as a new fingerprint.
    this.attempted = { rules: rulesFp, settings: settingsFp };
    let base = this.baseDirectives;
    let baseChanged = false;
    if (force || rulesFp !== this.loadedRulesFp) {
      try {
        base = readRulesEntry(this.options.rulesFile, (m) => this.warnOnce(m), { sidewallLayer: this.options.sidewallLayer });
        baseChanged = true;
      } catch (err) {
        return this.reject(reason, started, [`rules: ${firstLine(err)}`]);
      }
    }
    let outcome: ReloadOutcome;
    try {
      outcome = await this.load(reason, baseChanged, base, started, this.options.sliceMs ?? DEFAULT_SLICE_MS);
    } catch (err) {
      // A bug of ours must not take the server down from a file watcher or a signal handler.
      return this.reject(reason, started, [`internal error: ${firstLine(err)}`]);
    }
    if (this.baseDirectives === base && baseChanged) {
      this.loadedRulesFp = rulesFp;
      this.ruleDirs = EngineReloader.ruleDirsOf(this.options.rulesFile, base);
      this.loadedFiles = EngineReloader.filesOf(this.options.rulesFile, base);
    }
    this.updateWatches();
    return outcome;
  }

  private reject(reason: ReloadReason, started: number, errors: string[]): ReloadOutcome {
    const durationMs = performance.now() - started;
    this.metrics.rejected(durationMs / 1000);
    this.logger.error({ event: 'reload', reason, result: 'failure', errors, duration_ms: Math.round(durationMs) }, 'configuration rejected, previous configuration stays');
    return { result: 'failure', errors, durationMs, longestSliceMs: 0, compiled: 0 };
  }

  /**
   * Compiles the engines the current settings need (reusing unchanged ones unless the base
   * changed) and swaps them in. Applies per namespace; only a base ruleset failure rejects all.
   */
  private async load(reason: ReloadReason, baseChanged: boolean, base: Directive[], started: number, sliceMs: number): Promise<ReloadOutcome> {
    const { defaults, pod, settingsDir } = this.options;
    const stats: SlicedCompileStats = { longestSliceMs: 0, slices: 0 };
    const engines = new Map<string, WafLike>();
    let compiled = 0;
    const compile = async (settings: EffectiveSettings): Promise<WafLike> => {
      const key = settingsKey(settings);
      const have = engines.get(key) ?? (baseChanged ? undefined : this.engines.get(key));
      if (have !== undefined) {
        engines.set(key, have);
        return have;
      }
      let engine: WafLike;
      try {
        engine = await buildEngine(base, settings, {
          regexFallbackRuleIds: this.options.regexFallbackRuleIds,
          acceleration: this.options.acceleration,
          onWarning: (m) => this.warnOnce(m),
          sliceMs,
          stats,
        });
      } catch (err) {
        // Errors inside the namespace's exclusions only reject that namespace.
        const inExclusions = err instanceof SecLangError && settings.exclusions !== null && err.loc?.file === settings.exclusions.file;
        if (inExclusions) throw err;
        throw new BaseRulesetError(err);
      }
      if (settings.waf !== 'disabled') compiled++;
      engines.set(key, engine);
      return engine;
    };

    const errors: string[] = [];
    const applied = new Map<string, Applied>();
    const baseSettings = resolveSettings(defaults, null, pod);
    /** The engine for one namespace's settings; on rejection its previous (or the base) settings. */
    const namespaceEngine = async (name: string, settings: EffectiveSettings | null, problem: string | null): Promise<WafLike> => {
      if (settings !== null) {
        try {
          const engine = await compile(settings);
          applied.set(name, { key: settingsKey(settings), settings });
          return engine;
        } catch (err) {
          if (err instanceof BaseRulesetError) throw err;
          problem = firstLine(err);
        }
      }
      errors.push(problem!);
      const previous = this.applied.get(name);
      if (previous !== undefined) {
        try {
          const engine = await compile(previous.settings);
          applied.set(name, previous);
          return engine;
        } catch (err) {
          if (err instanceof BaseRulesetError) throw err;
        }
      }
      return compile(baseSettings);
    };

    /**
     * The staged engine (shadow only, src/settings/staged.ts) beside settings that applied; a
     * staged policy that fails to compile is reported and leaves only the enforced engine.
     */
    const stagedEngine = async (name: string, enforced: EffectiveSettings, source: NamespaceSource | null): Promise<StagedEngine | null> => {
      const policy = resolveStaged(enforced, source?.settings ?? null, pod, source?.stagedExclusions ?? null);
      if (policy === null) return null;
      try {
        return { engine: await compile(policy.settings), sampleRate: policy.sampleRate, staged: policy.staged };
      } catch (err) {
        if (err instanceof BaseRulesetError) throw err;
        errors.push(`staged policy${name ? ' of ' + name : ''}: ${firstLine(err)}`);
        return null;
      }
    };

    let table: EngineTable;
    let snapshot: SettingsSnapshot | null = null;
    try {
      snapshot = settingsDir === null ? null : readSettingsDir(settingsDir);
      if (snapshot === null) {
        const base = await compile(baseSettings);
        table = { multi: false, base, byNamespace: new Map(), stagedBase: await stagedEngine('', baseSettings, null) };
      } else if (snapshot.layout === 'single') {
        const e = snapshot.entry;
        const settings = e.ok ? resolveSettings(defaults, e.value.settings, pod, e.value.exclusions) : null;
        const engine = await namespaceEngine('', settings, e.ok ? null : e.error);
        const applied1 = applied.get('');
        const stagedBase = e.ok && applied1?.settings === settings ? await stagedEngine('', settings!, e.value) : null;
        table = { multi: false, base: engine, byNamespace: new Map(), stagedBase };
      } else {
        const byNamespace = new Map<string, WafLike>();
        const stagedByNamespace = new Map<string, StagedEngine>();
        const baseEngine = await compile(baseSettings);
        for (const [name, e] of snapshot.namespaces) {
          const settings = e.ok ? resolveSettings(defaults, e.value.settings, pod, e.value.exclusions) : null;
          byNamespace.set(name, await namespaceEngine(name, settings, e.ok ? null : e.error));
          if (e.ok && applied.get(name)?.settings === settings) {
            const staged = await stagedEngine(name, settings!, e.value);
            if (staged !== null) stagedByNamespace.set(name, staged);
          }
        }
        table = { multi: true, base: baseEngine, byNamespace, stagedBase: await stagedEngine('', baseSettings, null), stagedByNamespace };
      }
    } catch (err) {
      if (!(err instanceof BaseRulesetError)) throw err;
      if (reason === 'startup') this.startupError = err.original;
      return this.reject(reason, started, [err.message]);
    }

    if (snapshot?.layout === 'multi' && snapshot.missing && reason === 'startup') {
      this.logger.warn({ settings_dir: settingsDir }, 'settings directory does not exist (yet): server defaults apply until it appears');
    }
    this.provider.swap(table);
    this.baseDirectives = base;
    this.engines = engines;
    this.applied = applied;
    const durationMs = performance.now() - started;
    const result = errors.length === 0 ? 'success' : 'failure';
    const namespaces = snapshot === null ? 0 : snapshot.layout === 'single' ? 1 : snapshot.namespaces.size;
    this.metrics.loaded(result, durationMs / 1000, engines.size, namespaces);
    this.options.metrics.setRulesLoaded(table.base.ruleCount);
    const line = {
      event: 'reload',
      reason,
      result,
      layout: snapshot === null ? 'none' : snapshot.layout,
      namespaces,
      engines: engines.size,
      compiled,
      rule_count: table.base.ruleCount,
      mode: table.base.mode,
      duration_ms: Math.round(durationMs),
      longest_slice_ms: Math.round(stats.longestSliceMs * 10) / 10,
      settings: [...applied].map(([ns, a]) => ({ namespace: ns || undefined, ...describeSettings(a.settings) })),
      errors: errors.length > 0 ? errors : undefined,
    };
    if (result === 'success') this.logger.info(line, reason === 'startup' ? 'configuration loaded' : 'configuration reloaded');
    else this.logger.error(line, 'configuration partly rejected, previous settings stay for the files named');
    return { result, errors, durationMs, longestSliceMs: stats.longestSliceMs, compiled };
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    if (this.warned.size < MAX_REMEMBERED_WARNINGS) this.warned.add(message);
    this.logger.warn({ rules: this.options.rulesFile }, message);
  }
}
