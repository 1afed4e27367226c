/**
 * Field ownership (`metadata.managedFields`, FieldsV1) and server-side apply, simplified from
 * structured-merge-diff:
 *
 *   - every write records which manager set which leaf fields: Update entries for create/update/
 *     patch (the manager takes the fields it changed, others lose them), Apply entries for
 *     server-side apply (the applier owns exactly the fields in its configuration);
 *   - apply merges maps recursively, keyed lists by key (containers by name, ports by
 *     port+protocol…), replaces atomic lists; fields the applier owned before and no longer
 *     applies are removed unless another manager owns them;
 *   - a field owned by another manager with a different value is a conflict (409) unless `force`.
 *
 * Requests that change `metadata.managedFields` themselves (kubectl's client-side to server-side
 * apply migration sends a JSON patch replacing them) are taken as-is, as the API server does.
 */
import { clone, deepEqual, isObject, listSemantics, type Json, type JsonObject } from './patch';

/** A path of FieldsV1 segments: `f:spec`, `k:{"name":"web"}`, `v:"kubernetes"`. */
type FieldPath = string[];

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

export interface FieldConflict {
  manager: string;
  /** `.spec.replicas`, `.spec.template.spec.containers[name="web"].image` */
  field: string;
}

export class ApplyConflictError extends Error {
  constructor(readonly conflicts: FieldConflict[]) {
    super(conflictMessage(conflicts));
    this.name = 'ApplyConflictError';
  }
}

const IGNORED_ROOT = new Set(['apiVersion', 'kind', 'status']);
const IGNORED_METADATA = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
]);

type Part = 'main' | 'status';

interface Entry {
  raw: ManagedFieldsEntry;
  fields: Set<string>;
}

const key = (path: FieldPath): string => JSON.stringify(path);
const unkey = (k: string): FieldPath => JSON.parse(k) as FieldPath;

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// Leaf fields of an object

function itemKey(item: JsonObject, keys: string[], defaults: Record<string, Json> = {}): string | undefined {
  const out: JsonObject = {};
  for (const k of keys) {
    const v = item[k] ?? defaults[k];
    if (v === undefined) return undefined;
    out[k] = v;
  }
  return `k:${JSON.stringify(out)}`;
}

/** Leaf field paths of `obj` (the part a manager can own) with their values. */
export function leafFields(obj: JsonObject, part: Part = 'main'): Map<string, Json> {
  const leaves = new Map<string, Json>();
  const walk = (value: Json, path: FieldPath, field: string): void => {
    if (value === null || value === undefined) return;
    if (isObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 0) {
        leaves.set(key(path), value);
        return;
      }
      for (const k of keys) walk(value[k], [...path, `f:${k}`], k);
      return;
    }
    if (Array.isArray(value)) {
      const semantics = listSemantics(field, value);
      if (value.length > 0 && semantics.type === 'map' && value.every(isObject)) {
        const segments = value.map((item) => itemKey(item as JsonObject, semantics.keys, semantics.defaults));
        if (segments.every((s) => s !== undefined)) {
          value.forEach((item, i) => {
            const itemPath = [...path, segments[i]!];
            leaves.set(key([...itemPath, '.']), null);
            for (const [k, v] of Object.entries(item as JsonObject)) walk(v, [...itemPath, `f:${k}`], k);
          });
          return;
        }
      }
      if (value.length > 0 && semantics.type === 'set' && value.every((v) => !isObject(v) && !Array.isArray(v))) {
        for (const v of value) leaves.set(key([...path, `v:${JSON.stringify(v)}`]), v);
        return;
      }
      leaves.set(key(path), value);
      return;
    }
    leaves.set(key(path), value);
  };
  if (part === 'status') {
    walk(obj.status ?? null, ['f:status'], 'status');
    return leaves;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (IGNORED_ROOT.has(k)) continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (!IGNORED_METADATA.has(mk)) walk(mv, ['f:metadata', `f:${mk}`], mk);
      }
      continue;
    }
    walk(v, [`f:${k}`], k);
  }
  return leaves;
}

// ---------------------------------------------------------------------------------------------
// Navigation

function findItem(list: Json[], segment: string): number {
  const wanted = JSON.parse(segment.slice(2)) as JsonObject;
  return list.findIndex(
    (item) => isObject(item) && Object.entries(wanted).every(([k, v]) => deepEqual(item[k] ?? (k === 'protocol' ? 'TCP' : undefined), v)),
  );
}

function getAt(obj: Json, path: FieldPath): Json | undefined {
  let node: Json | undefined = obj;
  for (const segment of path) {
    if (segment === '.') return node;
    if (node === undefined || node === null) return undefined;
    if (segment.startsWith('f:')) {
      node = isObject(node) ? node[segment.slice(2)] : undefined;
    } else if (segment.startsWith('k:')) {
      if (!Array.isArray(node)) return undefined;
      const index = findItem(node, segment);
      node = index >= 0 ? node[index] : undefined;
    } else if (segment.startsWith('v:')) {
      if (!Array.isArray(node)) return undefined;
      const wanted = JSON.parse(segment.slice(2)) as Json;
      return node.some((v) => deepEqual(v, wanted)) ? wanted : undefined;
    }
  }
  return node;
}

/** Removes the field at `path`; returns whether something was removed. */
function deleteAt(obj: JsonObject, path: FieldPath): boolean {
  const effective = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
  if (effective.length === 0) return false;
  const parent = getAt(obj, effective.slice(0, -1));
  const last = effective[effective.length - 1];
  if (last.startsWith('f:') && isObject(parent) && last.slice(2) in parent) {
    delete parent[last.slice(2)];
    return true;
  }
  if (last.startsWith('k:') && Array.isArray(parent)) {
    const index = findItem(parent, last);
    if (index >= 0) parent.splice(index, 1);
    return index >= 0;
  }
  if (last.startsWith('v:') && Array.isArray(parent)) {
    const wanted = JSON.parse(last.slice(2)) as Json;
    const index = parent.findIndex((v) => deepEqual(v, wanted));
    if (index >= 0) parent.splice(index, 1);
    return index >= 0;
  }
  return false;
}

/** `.spec.template.spec.containers[name="web"].image` */
export function pathToString(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (segment === '.') continue;
    if (segment.startsWith('f:')) out += `.${segment.slice(2)}`;
    else if (segment.startsWith('k:')) {
      const fields = JSON.parse(segment.slice(2)) as JsonObject;
      out += `[${Object.entries(fields)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    } else if (segment.startsWith('v:')) out += `[=${segment.slice(2)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FieldsV1 encoding

export function toFieldsV1(fields: Iterable<string>): JsonObject {
  const root: JsonObject = {};
  for (const k of fields) {
    let node = root;
    for (const segment of unkey(k)) {
      node[segment] = isObject(node[segment]) ? node[segment] : {};
      node = node[segment] as JsonObject;
    }
  }
  const sort = (node: JsonObject): JsonObject => {
    const out: JsonObject = {};
    for (const k of Object.keys(node).sort((a, b) => (a === '.' ? -1 : b === '.' ? 1 : a < b ? -1 : a > b ? 1 : 0)))
      out[k] = sort(node[k] as JsonObject);
    return out;
  };
  return sort(root);
}

export function fromFieldsV1(tree: Json | undefined): Set<string> {
  const fields = new Set<string>();
  const walk = (node: Json, path: FieldPath): void => {
    if (!isObject(node)) return;
    const children = Object.keys(node);
    if (children.length === 0 && path.length > 0) {
      fields.add(key(path));
      return;
    }
    for (const child of children) walk(node[child], [...path, child]);
  };
  walk(tree ?? {}, []);
  return fields;
}

function parseEntries(obj: JsonObject | undefined): Entry[] {
  const raw = (obj?.metadata as JsonObject | undefined)?.managedFields;
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((e) => ({ raw: clone(e) as unknown as ManagedFieldsEntry, fields: fromFieldsV1(e.fieldsV1) }));
}

function writeEntries(obj: JsonObject, entries: Entry[]): void {
  const metadata = (obj.metadata ??= {}) as JsonObject;
  const kept = entries.filter((e) => e.fields.size > 0);
  if (kept.length === 0) {
    delete metadata.managedFields;
    return;
  }
  metadata.managedFields = kept.map((e) => {
    const out: JsonObject = {
      manager: e.raw.manager,
      operation: e.raw.operation,
      apiVersion: e.raw.apiVersion,
      time: e.raw.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(e.fields),
    };
    if (e.raw.subresource) out.subresource = e.raw.subresource;
    return out;
  });
}

function sameEntry(e: Entry, manager: string, operation: 'Apply' | 'Update', subresource: string | undefined): boolean {
  return e.raw.manager === manager && e.raw.operation === operation && (e.raw.subresource ?? '') === (subresource ?? '');
}

// ---------------------------------------------------------------------------------------------
// Update (create, update, non-apply patch)

/**
 * Records a non-apply write by `manager` on `after` (mutated: its managedFields are rewritten).
 * `before` is the stored object (undefined on create).
 */
export function recordUpdate(
  before: JsonObject | undefined,
  after: JsonObject,
  manager: string,
  apiVersion: string,
  subresource?: string,
): void {
  const beforeManaged = (before?.metadata as JsonObject | undefined)?.managedFields;
  const afterManaged = (after.metadata as JsonObject | undefined)?.managedFields;
  if (before && afterManaged !== undefined && !deepEqual(beforeManaged, afterManaged)) {
    // The request set managedFields explicitly: the server takes them as they are.
    if (Array.isArray(afterManaged) && afterManaged.length === 0) delete (after.metadata as JsonObject).managedFields;
    return;
  }
  const part: Part = subresource === 'status' ? 'status' : 'main';
  const beforeLeaves = before ? leafFields(before, part) : new Map<string, Json>();
  const afterLeaves = leafFields(after, part);
  const changed = new Set<string>();
  for (const [k, v] of afterLeaves) if (!beforeLeaves.has(k) || !deepEqual(beforeLeaves.get(k), v)) changed.add(k);
  const removed = [...beforeLeaves.keys()].filter((k) => !afterLeaves.has(k));
  const entries = before ? parseEntries(before) : [];
  for (const e of entries) {
    for (const k of changed) if (!sameEntry(e, manager, 'Update', subresource)) e.fields.delete(k);
    for (const k of removed) e.fields.delete(k);
  }
  if (changed.size > 0) {
    let mine = entries.find((e) => sameEntry(e, manager, 'Update', subresource));
    if (!mine) {
      mine = {
        raw: { manager, operation: 'Update', apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {}, subresource },
        fields: new Set(),
      };
      entries.push(mine);
    }
    for (const k of changed) mine.fields.add(k);
    mine.raw.time = now();
    mine.raw.apiVersion = apiVersion;
  }
  writeEntries(after, entries);
}

// ---------------------------------------------------------------------------------------------
// Server-side apply

function mergeApplied(current: Json | undefined, config: Json, field: string): Json {
  if (isObject(config)) {
    const result: JsonObject = isObject(current) ? clone(current) : {};
    for (const [k, v] of Object.entries(config)) {
      if (v === null) continue;
      result[k] = mergeApplied(result[k], v, k);
    }
    return result;
  }
  if (Array.isArray(config) && Array.isArray(current)) {
    const semantics = listSemantics(field, [...config, ...current]);
    if (semantics.type === 'map' && config.every(isObject) && current.every(isObject)) {
      const result: Json[] = clone(current);
      for (const item of config as JsonObject[]) {
        const segment = itemKey(item, semantics.keys, semantics.defaults);
        const index = segment ? findItem(result, segment) : -1;
        if (index >= 0) result[index] = mergeApplied(result[index], item, '');
        else result.push(clone(item));
      }
      return result;
    }
    if (semantics.type === 'set') {
      const result = clone(current);
      for (const v of config) if (!result.some((x) => deepEqual(x, v))) result.push(clone(v));
      return result;
    }
  }
  return clone(config);
}

/** Whether the field key `k` is `prefix` or lies under it. */
function isUnder(k: string, prefix: FieldPath): boolean {
  const p = key(prefix);
  return k === p || k.startsWith(`${p.slice(0, -1)},`);
}

function hasOwnerUnder(entries: Entry[], prefix: FieldPath): boolean {
  return entries.some((e) => [...e.fields].some((k) => isUnder(k, prefix)));
}

/**
 * Server-side apply of `config` by `manager` onto `current` (undefined: the object is created).
 * Returns the new object (with managedFields); throws ApplyConflictError.
 */
export function serverSideApply(
  current: JsonObject | undefined,
  config: JsonObject,
  manager: string,
  force: boolean,
  apiVersion: string,
): JsonObject {
  const applied = clone(config);
  if (isObject(applied.metadata)) delete applied.metadata.managedFields;
  const configLeaves = leafFields(applied);
  const entries = current ? parseEntries(current) : [];

  const conflicts: Array<{ entry: Entry; field: string }> = [];
  for (const [k, value] of configLeaves) {
    if (k.endsWith('"."]')) continue;
    for (const e of entries) {
      if (sameEntry(e, manager, 'Apply', undefined) || !e.fields.has(k)) continue;
      if (!deepEqual(getAt(current ?? {}, unkey(k)), value)) conflicts.push({ entry: e, field: k });
    }
  }
  if (conflicts.length > 0) {
    if (!force) {
      throw new ApplyConflictError(conflicts.map((c) => ({ manager: describeManager(c.entry.raw), field: pathToString(unkey(c.field)) })));
    }
    for (const c of conflicts) c.entry.fields.delete(c.field);
  }

  const result = mergeApplied(current ? clone(current) : {}, applied, '') as JsonObject;
  let mine = entries.find((e) => sameEntry(e, manager, 'Apply', undefined));
  const previous = mine ? [...mine.fields] : [];
  const others = entries.filter((e) => e !== mine);
  for (const k of previous) {
    if (configLeaves.has(k) || others.some((e) => e.fields.has(k))) continue;
    const path = unkey(k);
    deleteAt(result, path);
    // Prune list items and maps left without any owner.
    for (let i = path.length - 1; i > 0; i--) {
      const prefix = path.slice(0, i);
      const last = prefix[prefix.length - 1];
      if (hasOwnerUnder(others, prefix) || [...configLeaves.keys()].some((c) => isUnder(c, prefix))) break;
      const node = getAt(result, prefix);
      if (last.startsWith('k:') || (isObject(node) && Object.keys(node).length === 0)) deleteAt(result, prefix);
      else break;
    }
  }
  if (!mine) {
    mine = { raw: { manager, operation: 'Apply', apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: {} }, fields: new Set() };
    entries.push(mine);
  }
  mine.fields = new Set(configLeaves.keys());
  mine.raw.time = now();
  mine.raw.apiVersion = apiVersion;
  writeEntries(result, entries);
  return result;
}

function describeManager(entry: ManagedFieldsEntry): string {
  let out = JSON.stringify(entry.manager);
  if (entry.subresource) out += ` with subresource ${JSON.stringify(entry.subresource)}`;
  if (entry.operation === 'Update') out += ` using ${entry.apiVersion}`;
  return out;
}

/** The message the API server gives (structured-merge-diff Conflicts.Error wrapped by the apply handler). */
function conflictMessage(conflicts: FieldConflict[]): string {
  if (conflicts.length === 1) return `Apply failed with 1 conflict: conflict with ${conflicts[0].manager}: ${conflicts[0].field}`;
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), c.field]);
  let text = 'conflicts with';
  if (byManager.size === 1) {
    const [[manager, fields]] = [...byManager.entries()];
    text += ` ${manager}:${fields.map((f) => `\n- ${f}`).join('')}`;
  } else {
    text += ' multiple managers:';
    for (const [manager, fields] of byManager) for (const f of fields) text += `\n- ${manager}: ${f}`;
  }
  return `Apply failed with ${conflicts.length} conflicts: ${text}`;
}
