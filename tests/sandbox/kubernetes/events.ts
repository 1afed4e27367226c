/**
 * core/v1 Events as the cluster's components record them (client-go tools/record): one Event per
 * (source, involved object, reason, message); a repeat within the aggregation window bumps `count`
 * and `lastTimestamp` instead of adding an object (the EventCorrelator's events cache). Names are
 * `<involved name>.<hex unix nanos>` (record.makeEvent: `fmt.Sprintf("%v.%x", ref.Name, t.UnixNano())`).
 * `fieldPath` names the container for kubelet container events (`spec.containers{<name>}`,
 * kubelet/container/ref.go GenerateContainerRef).
 */
import { metadataOf, nowTimestamp, type KubeObject, type KubernetesStore } from './store';
import type { ResourceType } from './resources';
import type { JsonObject } from './patch';

export interface EventSource {
  /** 'kubelet', 'default-scheduler', 'replicaset-controller', 'deployment-controller'… */
  component: string;
  /** The node, for kubelet events. */
  host?: string;
}

export class EventRecorder {
  private readonly seen = new Map<string, string>();
  private counter = 0;

  constructor(
    private readonly store: KubernetesStore,
    private readonly eventType: ResourceType,
  ) {}

  record(involved: KubeObject, source: EventSource, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const meta = metadataOf(involved);
    const namespace = String(meta.namespace ?? 'default');
    const key = [source.component, source.host ?? '', meta.uid, fieldPath ?? '', reason, message].join('\u0000');
    const now = nowTimestamp();
    const existingName = this.seen.get(key);
    if (existingName) {
      const existing = this.store.read(this.eventType, namespace, existingName);
      if (existing) {
        const next = structuredClone(existing);
        next.count = (typeof existing.count === 'number' ? existing.count : 1) + 1;
        next.lastTimestamp = now;
        delete metadataOf(next).resourceVersion;
        this.store.write(this.eventType, next);
        return;
      }
    }
    const nanos = BigInt(Date.now()) * 1000000n + BigInt(this.counter++ % 1000000);
    const name = `${String(meta.name)}.${nanos.toString(16)}`;
    const involvedObject: JsonObject = {
      kind: String(involved.kind ?? ''),
      namespace,
      name: String(meta.name),
      uid: String(meta.uid ?? ''),
      apiVersion: String(involved.apiVersion ?? ''),
      resourceVersion: String(meta.resourceVersion ?? ''),
    };
    if (fieldPath) involvedObject.fieldPath = fieldPath;
    const event: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace, uid: this.store.newUid(), creationTimestamp: now },
      involvedObject,
      reason,
      message,
      source: source.host ? { component: source.component, host: source.host } : { component: source.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    };
    this.store.write(this.eventType, event);
    this.seen.set(key, name);
  }
}
