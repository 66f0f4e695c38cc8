// Transformation pipelines as a prefix tree: rules that share a prefix (t:urlDecodeUni,t:htmlEntityDecode...)
// share nodes, so a transaction caches each intermediate result once per value and reuses it across rules.
import type { Transformation } from '../transformations/types.js';
import { changesAsciiCaseOnly, identityUnless } from '../transformations/identity.js';

export class TransformNode {
  /** Nodes from the first transformation to this one. */
  readonly path: TransformNode[];
  /** Char classes without which this node's transformation is the identity (transformations/identity.ts). */
  readonly unless: number;
  /** The same for the whole path: a string holding none of these leaves every node unchanged. */
  readonly pathUnless: number;
  /** This node's transformation only changes ASCII letters' case (t:lowercase, t:uppercase). */
  readonly caseOnly: boolean;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly fn: Transformation,
    readonly parent: TransformNode | null,
  ) {
    this.path = parent === null ? [this] : [...parent.path, this];
    this.unless = identityUnless(fn);
    this.pathUnless = (parent === null ? 0 : parent.pathUnless) | this.unless;
    this.caseOnly = changesAsciiCaseOnly(fn);
  }
}

export class PipelineInterner {
  private readonly nodes = new Map<string, TransformNode>();
  private nextId = 0;

  /** Returns the node for the given transformation sequence, or null for none. */
  intern(steps: Array<{ name: string; fn: Transformation }>): TransformNode | null {
    let node: TransformNode | null = null;
    for (const step of steps) {
      const key = (node === null ? '' : node.id + '/') + step.name;
      let next = this.nodes.get(key);
      if (next === undefined) {
        next = new TransformNode(this.nextId++, step.name, step.fn, node);
        this.nodes.set(key, next);
      }
      node = next;
    }
    return node;
  }

  get size(): number {
    return this.nextId;
  }
}
