/**
 * The three patch formats the Kubernetes API accepts besides server-side apply:
 *
 *   - JSON patch (RFC 6902, `application/json-patch+json`): add/remove/replace/move/copy/test;
 *   - JSON merge patch (RFC 7386, `application/merge-patch+json`);
 *   - strategic merge patch (`application/strategic-merge-patch+json`, built-in types only): lists
 *     of objects merge by their merge key (containers by name, container ports by containerPort…),
 *     with the directives kubectl generates: `$patch` (replace/delete/merge), `$retainKeys`,
 *     `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
 *
 * The merge keys come from the Kubernetes Go types (`patchMergeKey` tags); `listSemantics` is also
 * what server-side apply uses to key list items in managed fields.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class PatchError extends Error {
  constructor(
    message: string,
    readonly status: 409 | 422 | 400 = 422,
  ) {
    super(message);
    this.name = 'PatchError';
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// List semantics

export type ListSemantics = { type: 'map'; keys: string[]; defaults?: Record<string, Json> } | { type: 'set' } | { type: 'atomic' };

/** Association lists keyed by a single field (patchMergeKey), by field name. */
const KEYED_LISTS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  resourceClaims: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  secrets: 'name',
};

/** Primitive lists with merge semantics. */
const SET_LISTS = new Set(['finalizers']);

/**
 * How a list field merges, decided from its name and (for `ports`) its items: container ports merge
 * by containerPort (managed fields key containerPort+protocol), service ports by port (port+protocol).
 */
export function listSemantics(field: string, items: Json[]): ListSemantics {
  if (field === 'ports') {
    const sample = items.find(isObject);
    if (sample && 'containerPort' in sample) return { type: 'map', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } };
    if (sample && 'port' in sample) return { type: 'map', keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } };
    return { type: 'atomic' };
  }
  if (KEYED_LISTS[field]) return { type: 'map', keys: [KEYED_LISTS[field]] };
  if (SET_LISTS.has(field)) return { type: 'set' };
  return { type: 'atomic' };
}

/** The strategic-merge-patch merge key of a list (one field), if it merges by key. */
function mergeKey(field: string, items: Json[]): string | undefined {
  const semantics = listSemantics(field, items);
  return semantics.type === 'map' ? semantics.keys[0] : undefined;
}

// ---------------------------------------------------------------------------------------------
// JSON merge patch

export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// JSON patch

interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`, 400);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: Json, tokens: string[], pointer: string): { parent: Json; key: string } {
  let node: Json = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else node = undefined as unknown as Json;
    if (node === undefined) throw new PatchError(`jsonpatch: path "${pointer}": doc is missing path: "${pointer}": missing value`);
  }
  return { parent: node, key: tokens[tokens.length - 1] };
}

function getPointer(doc: Json, pointer: string): Json | undefined {
  let node: Json | undefined = doc;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isObject(node)) node = node[token];
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw new PatchError(`jsonpatch: add operation does not apply: index ${key} out of bounds`);
    parent.splice(index, 0, clone(value));
  } else if (isObject(parent)) {
    parent[key] = clone(value);
  } else {
    throw new PatchError(`jsonpatch: add operation does not apply: doc is missing path: "${pointer}"`);
  }
  return doc;
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  const { parent, key } = resolveParent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length)
      throw new PatchError(`jsonpatch: remove operation does not apply: doc is missing path: "${pointer}"`);
    parent.splice(index, 1);
  } else if (isObject(parent) && key in parent) {
    delete parent[key];
  } else {
    throw new PatchError(`jsonpatch remove operation does not apply: doc is missing path: "${pointer}"`);
  }
  return doc;
}

export function applyJsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch', 400);
  let doc = clone(target);
  for (const raw of operations) {
    if (!isObject(raw)) throw new PatchError('invalid JSON patch operation', 400);
    const op = raw as unknown as JsonPatchOperation;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, op.value ?? null);
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'replace':
        if (getPointer(doc, op.path) === undefined)
          throw new PatchError(`jsonpatch replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        if (op.path === '') doc = clone(op.value ?? null);
        else doc = addAt(removeAt(doc, op.path), op.path, op.value ?? null);
        break;
      case 'move': {
        const value = getPointer(doc, op.from ?? '');
        if (value === undefined) throw new PatchError(`jsonpatch move operation does not apply: doc is missing from path: ${op.from}`);
        doc = addAt(removeAt(doc, op.from ?? ''), op.path, value);
        break;
      }
      case 'copy': {
        const value = getPointer(doc, op.from ?? '');
        if (value === undefined) throw new PatchError(`jsonpatch copy operation does not apply: doc is missing from path: ${op.from}`);
        doc = addAt(doc, op.path, value);
        break;
      }
      case 'test': {
        const actual = getPointer(doc, op.path);
        if (!deepEqual(actual, op.value ?? null)) throw new PatchError(`testing value ${op.path} failed: test failed`, 422);
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${String((raw as JsonObject).op)}`, 400);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch

const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

export function applyStrategicMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  return mergeMap(isObject(target) ? target : {}, patch) ?? {};
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value))
    return value.filter((v) => !(isObject(v) && v.$patch !== undefined && Object.keys(v).length === 1)).map(stripDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ELEMENT_ORDER) || k.startsWith(DELETE_FROM_PRIMITIVE_LIST)) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeMap(original: JsonObject, patch: JsonObject): JsonObject | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return stripDirectives(patch) as JsonObject;
  const result: JsonObject = clone(original);
  const orders: Array<[string, Json[]]> = [];
  const deletions: Array<[string, Json[]]> = [];
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys') continue;
    if (key.startsWith(SET_ELEMENT_ORDER)) {
      if (Array.isArray(value)) orders.push([key.slice(SET_ELEMENT_ORDER.length), value]);
      continue;
    }
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      if (Array.isArray(value)) deletions.push([key.slice(DELETE_FROM_PRIMITIVE_LIST.length), value]);
      continue;
    }
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(key, Array.isArray(result[key]) ? (result[key] as Json[]) : [], value);
    } else if (isObject(value)) {
      const merged = mergeMap(isObject(result[key]) ? (result[key] as JsonObject) : {}, value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  for (const [field, values] of deletions) {
    if (Array.isArray(result[field])) result[field] = (result[field] as Json[]).filter((v) => !values.some((d) => deepEqual(d, v)));
  }
  for (const [field, order] of orders) {
    if (Array.isArray(result[field])) result[field] = applyOrder(field, result[field] as Json[], order);
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.map(String));
    for (const key of Object.keys(result)) if (!keep.has(key)) delete result[key];
  }
  return result;
}

function mergeList(field: string, original: Json[], patch: Json[]): Json[] {
  if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
    return stripDirectives(patch.filter((item) => !(isObject(item) && item.$patch === 'replace'))) as Json[];
  }
  const semantics = listSemantics(field, [...patch, ...original]);
  if (semantics.type === 'set') {
    const result = clone(original);
    for (const item of patch) if (!result.some((x) => deepEqual(x, item))) result.push(clone(item));
    return result;
  }
  const key = mergeKey(field, [...patch, ...original]);
  if (!key) return stripDirectives(patch) as Json[];
  const result = clone(original);
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((x) => isObject(x) && deepEqual(x[key], item[key]));
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) {
      const merged = mergeMap(result[index] as JsonObject, item);
      if (merged === undefined) result.splice(index, 1);
      else result[index] = merged;
    } else {
      const merged = mergeMap({}, item);
      if (merged !== undefined) result.push(merged);
    }
  }
  return result;
}

/** `$setElementOrder`: listed elements first, in the listed order; the others keep their relative order after them. */
function applyOrder(field: string, list: Json[], order: Json[]): Json[] {
  const key = mergeKey(field, [...order, ...list]);
  const matches = (item: Json, wanted: Json): boolean =>
    key && isObject(item) && isObject(wanted) ? deepEqual(item[key], wanted[key]) : deepEqual(item, wanted);
  const ordered: Json[] = [];
  const rest = [...list];
  for (const wanted of order) {
    const index = rest.findIndex((item) => matches(item, wanted));
    if (index >= 0) ordered.push(...rest.splice(index, 1));
  }
  return [...ordered, ...rest];
}
