// Namespaces: list, then watch from the list's resourceVersion; re-list on 410 Gone (HTTP status
// or an ERROR event with code 410); bounded exponential backoff on errors and dropped connections.
// Events are handed to the handlers one at a time, in order.
import type { Logger } from 'pino';
import { Backoff, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.js';
import { KubeApiError, type KubeClient, type WatchEvent, type WatchHandle } from './kube-client.js';

export interface NamespaceObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
}

interface NamespaceList {
  metadata?: { resourceVersion?: string };
  items?: NamespaceObject[];
}

export interface NamespaceHandlers {
  /** After every (re-)list: the complete current set. */
  onSync(namespaces: NamespaceObject[]): Promise<void>;
  onUpsert(ns: NamespaceObject): Promise<void>;
  onDelete(ns: NamespaceObject): Promise<void>;
}

export type RestartReason = 'gone' | 'error' | 'dropped' | 'closed';

export interface NamespaceWatcherOptions {
  backoff?: BackoffOptions;
  /** Asked of the server per watch request (it closes the stream after this; default 300). */
  watchTimeoutSeconds?: number;
  logger: Logger;
  onRestart?: (reason: RestartReason) => void;
}

/** A watch ERROR event: the object is a Status. */
class WatchGoneError extends Error {}

export class NamespaceWatcher {
  private readonly abort = new AbortController();
  private current: WatchHandle | null = null;
  private loop: Promise<void> | null = null;
  private resourceVersion: string | null = null;
  private syncedOnce = false;
  private readonly backoff: Backoff;
  private readonly watchTimeout: number;

  constructor(
    private readonly client: KubeClient,
    private readonly handlers: NamespaceHandlers,
    private readonly options: NamespaceWatcherOptions,
  ) {
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.watchTimeout = options.watchTimeoutSeconds ?? 300;
  }

  /** True once the first list has been handled. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.current?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const log = this.options.logger;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === null) await this.list();
        if (signal.aborted) break;
        const progressed = await this.watchOnce();
        this.options.onRestart?.('closed');
        // The server ended the watch normally: resume from the last resourceVersion. A watch that
        // delivered nothing still waits a (growing) moment, so a server closing at once is no busy loop.
        if (progressed) this.backoff.reset();
        else await sleep(this.backoff.next(), signal);
      } catch (err) {
        if (signal.aborted) break;
        let reason: RestartReason;
        if (err instanceof WatchGoneError || (err instanceof KubeApiError && err.status === 410)) {
          // Our resourceVersion is too old: re-list at once (not an error, no backoff).
          reason = 'gone';
          this.resourceVersion = null;
          log.info({ err: (err as Error).message }, 'namespace watch expired (410 Gone), re-listing');
          this.options.onRestart?.(reason);
          continue;
        }
        reason = /connection dropped|ECONNRESET|socket hang up|no data for/.test((err as Error).message) ? 'dropped' : 'error';
        this.options.onRestart?.(reason);
        const delay = this.backoff.next();
        log.warn({ err: (err as Error).message, retry_ms: delay, reason }, 'namespace watch failed, retrying');
        await sleep(delay, signal);
      }
    }
  }

  private async list(): Promise<void> {
    const list = await this.client.get<NamespaceList>('/api/v1/namespaces');
    const rv = list.metadata?.resourceVersion;
    if (typeof rv !== 'string' || rv === '') throw new Error('namespace list has no metadata.resourceVersion');
    const items = (list.items ?? []).filter(isNamespace);
    await this.handlers.onSync(items);
    this.resourceVersion = rv;
    this.syncedOnce = true;
    this.backoff.reset();
  }

  /** One watch request; resolves true when it delivered at least one event. */
  private async watchOnce(): Promise<boolean> {
    const path =
      `/api/v1/namespaces?watch=true&allowWatchBookmarks=true&timeoutSeconds=${this.watchTimeout}` +
      `&resourceVersion=${encodeURIComponent(this.resourceVersion!)}`;
    let chain = Promise.resolve();
    let progressed = false;
    let gone: WatchGoneError | null = null;
    let failed: Error | null = null;
    const handle = this.client.watch<NamespaceObject>(path, (event) => {
      if (gone || failed) return;
      const next = this.classify(event);
      if (next instanceof WatchGoneError) {
        gone = next;
        handle.abort();
        return;
      }
      if (next instanceof Error) {
        failed = next;
        handle.abort();
        return;
      }
      if (next === null) return;
      progressed = true;
      chain = chain.then(next).catch((err: unknown) => {
        this.options.logger.error({ err: (err as Error)?.message }, 'namespace event handler failed');
      });
    }, (this.watchTimeout + 30) * 1000);
    this.current = handle;
    try {
      await handle.done;
    } finally {
      this.current = null;
      await chain;
    }
    if (gone) throw gone;
    if (failed) throw failed;
    return progressed;
  }

  /** What to do with one event: a handler call, nothing (null), or an error ending the watch. */
  private classify(event: WatchEvent<NamespaceObject>): (() => Promise<void>) | Error | null {
    const obj = event.object as unknown;
    if (event.type === 'ERROR') {
      const status = (obj ?? {}) as { code?: number; message?: string; reason?: string };
      const text = `watch ERROR event: ${status.code ?? '?'} ${status.reason ?? ''} ${status.message ?? ''}`.trim();
      return status.code === 410 ? new WatchGoneError(text) : new Error(text);
    }
    if (!isNamespace(obj)) return new Error(`watch ${event.type} event without a namespace object`);
    if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    switch (event.type) {
      case 'BOOKMARK':
        return null;
      case 'ADDED':
      case 'MODIFIED':
        return () => this.handlers.onUpsert(obj);
      case 'DELETED':
        return () => this.handlers.onDelete(obj);
      default:
        return new Error(`unknown watch event type ${JSON.stringify(event.type)}`);
    }
  }
}

function isNamespace(obj: unknown): obj is NamespaceObject {
  const md = (obj as NamespaceObject | null)?.metadata;
  return typeof md === 'object' && md !== null && typeof md.name === 'string' && md.name !== '';
}
