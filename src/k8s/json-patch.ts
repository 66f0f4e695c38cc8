// RFC 6902 JSON Patch: the operations the injector emits, and an applier (used by `sidewall inject`
// so it produces exactly what the API server makes of the webhook's patch, and by the tests).

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

/** RFC 6901: "~" → "~0", "/" → "~1". */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer must start with "/": ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean, pointer: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`bad array index ${JSON.stringify(token)} in ${pointer}`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`array index ${i} out of range in ${pointer}`);
  return i;
}

function parentOf(doc: unknown, pointer: string): { parent: Container; key: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new Error('operations on the document root are not supported');
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, pointer)];
    else if (isContainer(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = (cur as Record<string, unknown>)[t];
    else throw new Error(`path not found: ${pointer}`);
  }
  if (!isContainer(cur)) throw new Error(`path not found: ${pointer}`);
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function get(doc: unknown, pointer: string): unknown {
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false, pointer)];
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new Error(`path not found: ${pointer}`);
  return (parent as Record<string, unknown>)[key];
}

function add(doc: unknown, pointer: string, value: unknown): void {
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, pointer), 0, value);
  else (parent as Record<string, unknown>)[key] = value;
}

function remove(doc: unknown, pointer: string): unknown {
  const { parent, key } = parentOf(doc, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false, pointer), 1)[0];
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw new Error(`path not found: ${pointer}`);
  const old = (parent as Record<string, unknown>)[key];
  delete (parent as Record<string, unknown>)[key];
  return old;
}

/** Applies `ops` to a deep copy of `doc` and returns it; throws on the first failing operation. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const out = structuredClone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        add(out, op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(out, op.path);
        break;
      case 'replace':
        get(out, op.path);
        remove(out, op.path);
        add(out, op.path, structuredClone(op.value));
        break;
      case 'move': {
        const v = remove(out, op.from);
        add(out, op.path, v);
        break;
      }
      case 'copy':
        add(out, op.path, structuredClone(get(out, op.from)));
        break;
      case 'test':
        if (JSON.stringify(get(out, op.path)) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
        break;
      default:
        throw new Error(`unknown JSON patch op ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }
  return out;
}
