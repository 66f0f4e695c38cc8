// Which compiled engine answers a check. Holds one immutable EngineTable and swaps it whole on
// reload: a check reads the table once and evaluates synchronously, so it always finishes on the
// engine it started with, and a swap never shows a half-updated table.
//
// Sidecar (single namespace): one engine for every check. Shared gateway (multi namespace): the
// namespace from context_extensions.namespace, else from a SPIFFE principal
// spiffe://<trust-domain>/ns/<NAME>/sa/<SA> (destination first: the workload receiving the
// request is the destination; then source); unknown namespaces get the base engine.
import type { EngineMode, HttpRequest, Verdict } from '../engine/api.js';
import type { StagedDescription } from '../settings/staged.js';
import type { CheckContext } from './check-mapper.js';
import type { WafLike } from './check-service.js';

/** A staged policy's compiled engine (src/settings/staged.ts), evaluated in shadow only. */
export interface StagedEngine {
  readonly engine: WafLike;
  readonly sampleRate: number;
  readonly staged: StagedDescription;
}

export interface EngineTable {
  /** Sidecar layout: `base` answers everything. */
  readonly multi: boolean;
  /** The engine for checks without a known namespace (the only one in the sidecar layout). */
  readonly base: WafLike;
  /** Gateway layout: namespace → engine (namespaces with equal settings share one object). */
  readonly byNamespace: ReadonlyMap<string, WafLike>;
  /** Staged policies: of `base`, and per namespace in the gateway layout. Absent = none. */
  readonly stagedBase?: StagedEngine | null;
  readonly stagedByNamespace?: ReadonlyMap<string, StagedEngine>;
}

/** What the check service asks for the engine of one check. */
export interface EngineSource {
  engineFor(context: CheckContext): WafLike;
  /** The staged policy for the check's namespace, null when none is staged. */
  stagedFor?(context: CheckContext): StagedEngine | null;
}

const NS_SEGMENT = '/ns/';

/** The namespace named by a SPIFFE id spiffe://td/ns/NAME/sa/SA, or null. */
export function spiffeNamespace(principal: string): string | null {
  if (!principal.startsWith('spiffe://')) return null;
  const at = principal.indexOf(NS_SEGMENT, 9);
  if (at < 0) return null;
  const start = at + NS_SEGMENT.length;
  const end = principal.indexOf('/', start);
  const ns = end < 0 ? principal.slice(start) : principal.slice(start, end);
  return ns === '' ? null : ns;
}

/** The namespace a check belongs to in the gateway layout, or null. */
export function namespaceOf(context: CheckContext): string | null {
  const ext = context.contextExtensions.namespace;
  if (ext !== undefined && ext !== '') return ext;
  return spiffeNamespace(context.destination.principal) ?? spiffeNamespace(context.source.principal);
}

export class EngineProvider implements EngineSource {
  private current: EngineTable;

  constructor(initial: EngineTable) {
    this.current = initial;
  }

  get table(): EngineTable {
    return this.current;
  }

  /** Installs a new table; checks already evaluating finish on the engines they hold. */
  swap(table: EngineTable): void {
    this.current = table;
  }

  engineFor(context: CheckContext): WafLike {
    const t = this.current;
    if (!t.multi || t.byNamespace.size === 0) return t.base;
    const ns = namespaceOf(context);
    return (ns === null ? undefined : t.byNamespace.get(ns)) ?? t.base;
  }

  stagedFor(context: CheckContext): StagedEngine | null {
    const t = this.current;
    if (!t.multi) return t.stagedBase ?? null;
    const ns = t.byNamespace.size === 0 ? null : namespaceOf(context);
    // A namespace with its own settings but nothing staged has no staged policy (not the base's).
    if (ns !== null && t.byNamespace.has(ns)) return t.stagedByNamespace?.get(ns) ?? null;
    return t.stagedBase ?? null;
  }

  /** A WafLike that always delegates to the current base engine (for code that holds one engine). */
  readonly base: WafLike = new BaseEngineView(this);
}

class BaseEngineView implements WafLike {
  constructor(private readonly provider: EngineProvider) {}

  evaluate(request: HttpRequest): Verdict {
    return this.provider.table.base.evaluate(request);
  }

  get mode(): EngineMode {
    return this.provider.table.base.mode;
  }

  get ruleCount(): number {
    return this.provider.table.base.ruleCount;
  }
}
