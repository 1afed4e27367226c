/**
 * In-memory object storage of one sandbox cluster: what etcd is to an API server. Objects are
 * kept per resource (group + plural, all versions share storage) and namespace; every change gets
 * the next global resourceVersion and is appended to an event history that watches replay and
 * follow. Tests inspect it with `server.store.get('Deployment', 'web', 'x')`.
 */
import * as crypto from 'node:crypto';
import { clone, isObject, type JsonObject } from './patch';
import { recordUpdate } from './fieldManager';
import { groupVersion, type ResourceCatalog, type ResourceType } from './resources';

export type KubeObject = JsonObject;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  type: WatchEventType;
  /** `group/resource` of the object. */
  storageKey: string;
  namespace: string;
  resourceVersion: number;
  object: KubeObject;
}

export type StoreListener = (event: StoredEvent) => void;

/** Where resourceVersions start (any number works; real clusters are in the millions). */
const FIRST_RESOURCE_VERSION = 1000;

/** `group/resource` of the storage (a removed beta version's objects live under its replacement's group). */
export function storageKey(type: Pick<ResourceType, 'group' | 'resource' | 'storageGroup'>): string {
  return `${type.storageGroup ?? type.group}/${type.resource}`;
}

export function metadataOf(obj: KubeObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class KubernetesStore {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private revision = FIRST_RESOURCE_VERSION;

  constructor(readonly catalog: ResourceCatalog) {}

  /** The latest resourceVersion handed out (what a LIST reports). */
  get resourceVersion(): number {
    return this.revision;
  }

  // ------------------------------------------------------------------------------------------
  // For tests

  /**
   * A copy of the stored object, or undefined. `kind`: 'Deployment', 'deployments',
   * 'deploy', 'deployments.apps'… (see ResourceCatalog.lookup); `namespace` is ignored for
   * cluster-scoped kinds.
   */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const type = this.requireType(kind);
    return clone(this.read(type, namespace, name));
  }

  /** Copies of the stored objects of a kind (in one namespace, or all). */
  list(kind: string, namespace?: string): KubeObject[] {
    return clone(this.readAll(this.requireType(kind), namespace));
  }

  /** Events recorded since `resourceVersion` (exclusive), all kinds. */
  eventsSince(resourceVersion = 0): StoredEvent[] {
    return clone(this.history.filter((e) => e.resourceVersion > resourceVersion));
  }

  private requireType(kind: string): ResourceType {
    const type = this.catalog.lookup(kind);
    if (!type) throw new Error(`Unknown Kubernetes kind or resource '${kind}'`);
    return type;
  }

  // ------------------------------------------------------------------------------------------
  // For the API server

  read(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(storageKey(type))?.get(this.objectKey(type, namespace, name));
  }

  readAll(type: ResourceType, namespace?: string): KubeObject[] {
    const bucket = this.objects.get(storageKey(type));
    if (!bucket) return [];
    return [...bucket.values()]
      .filter((o) => !type.namespaced || namespace === undefined || metadataOf(o).namespace === namespace)
      .sort((a, b) => {
        const ka = `${String(metadataOf(a).namespace ?? '')}/${String(metadataOf(a).name)}`;
        const kb = `${String(metadataOf(b).namespace ?? '')}/${String(metadataOf(b).name)}`;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
  }

  /**
   * Stores `obj` (new or replacing), stamping the next resourceVersion; `apiVersion`/`kind`
   * are set to the storage version's. Returns the stored object (do not mutate it).
   */
  write(type: ResourceType, obj: KubeObject): KubeObject {
    const meta = metadataOf(obj);
    const key = this.objectKey(type, meta.namespace as string | undefined, String(meta.name));
    const bucket = this.objects.get(storageKey(type)) ?? new Map<string, KubeObject>();
    this.objects.set(storageKey(type), bucket);
    const existed = bucket.has(key);
    const stored = this.normalize(type, clone(obj));
    metadataOf(stored).resourceVersion = String(++this.revision);
    bucket.set(key, stored);
    this.emit(existed ? 'MODIFIED' : 'ADDED', type, stored);
    return stored;
  }

  /** Removes an object; returns it (with the resourceVersion of its deletion), or undefined. */
  remove(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const bucket = this.objects.get(storageKey(type));
    const key = this.objectKey(type, namespace, name);
    const obj = bucket?.get(key);
    if (!bucket || !obj) return undefined;
    bucket.delete(key);
    const removed = clone(obj);
    metadataOf(removed).resourceVersion = String(++this.revision);
    this.emit('DELETED', type, removed);
    return removed;
  }

  /** Removes every object of a resource (a deleted CRD's instances). */
  removeAll(type: ResourceType): void {
    for (const obj of this.readAll(type)) this.remove(type, metadataOf(obj).namespace as string | undefined, String(metadataOf(obj).name));
  }

  /**
   * A controller's status write: `mutate` changes the status of a copy of the stored object;
   * managedFields record `manager` on the status subresource. No-op when the object is gone or
   * the status did not change.
   */
  updateStatus(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    manager: string,
    mutate: (obj: KubeObject) => void,
  ): KubeObject | undefined {
    const current = this.read(type, namespace, name);
    if (!current) return undefined;
    const next = clone(current);
    mutate(next);
    if (JSON.stringify(next.status) === JSON.stringify(current.status)) return current;
    recordUpdate(current, next, manager, groupVersion(type), 'status');
    return this.write(type, next);
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Oldest resourceVersion a watch can start from (older ones get 410 Gone). */
  get oldestWatchableResourceVersion(): number {
    return FIRST_RESOURCE_VERSION;
  }

  /** Stored events after `resourceVersion` for one resource. */
  replay(type: ResourceType, resourceVersion: number): StoredEvent[] {
    const key = storageKey(type);
    return this.history.filter((e) => e.storageKey === key && e.resourceVersion > resourceVersion);
  }

  newUid(): string {
    return crypto.randomUUID();
  }

  private objectKey(type: ResourceType, namespace: string | undefined, name: string): string {
    return type.namespaced ? `${namespace ?? ''}/${name}` : `/${name}`;
  }

  private normalize(type: ResourceType, obj: KubeObject): KubeObject {
    const { apiVersion, kind: _kind, ...rest } = obj;
    return { apiVersion: apiVersion ?? groupVersion(type), kind: type.kind, ...rest };
  }

  private emit(type: WatchEventType, resource: ResourceType, obj: KubeObject): void {
    const event: StoredEvent = {
      type,
      storageKey: storageKey(resource),
      namespace: String(metadataOf(obj).namespace ?? ''),
      resourceVersion: this.revision,
      object: clone(obj),
    };
    this.history.push(event);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A broken watcher must not break writes.
      }
    }
  }
}
