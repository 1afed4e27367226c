/**
 * What the cluster's controllers would do, as far as deployments need it:
 *
 *   - workloads (Deployment, StatefulSet, DaemonSet): a new generation is observed at once
 *     (status "progressing": updated replicas not yet available, old ones pending termination) and
 *     completes after `rolloutDelaySeconds` (read when the generation is observed; 'never' keeps it
 *     progressing), with the status fields and conditions `kubectl rollout status` reads;
 *   - CustomResourceDefinitions: accepted and established at once (their resources are served);
 *   - namespaces: a new namespace gets its `default` ServiceAccount and `kube-root-ca.crt`
 *     ConfigMap (via ClusterControllers.schedule, from the API server); a deleted namespace is
 *     Terminating, then its contents and itself disappear.
 *
 * Workload status writes go through the store as the `kube-controller-manager` manager on the
 * status subresource, bumping resourceVersion and producing MODIFIED watch events. A CRD's status
 * (`establishedCrdStatus`) is set by the API server when it stores the CRD.
 */
import * as crypto from 'node:crypto';
import { isObject, type Json, type JsonObject } from './patch';
import type { ResourceType } from './resources';
import { metadataOf, nowTimestamp, type KubeObject, type KubernetesStore } from './store';

export interface ControllerSettings {
  /** Read when a new generation is observed. */
  rolloutDelaySeconds(): number | 'never';
  /** Nodes a DaemonSet schedules on. */
  nodeCount: number;
  /**
   * Why the workload's new pods cannot become available (workloads.ts: refused, unschedulable,
   * failing pulls, crashing), checked when the rollout would complete; undefined: they can.
   */
  rolloutFailure?(type: ResourceType, obj: KubeObject): string | undefined;
  /** Seconds from observing a Deployment generation to ProgressDeadlineExceeded. */
  progressDeadlineSeconds?(obj: KubeObject): number;
}

const CONTROLLER_MANAGER = 'kube-controller-manager';
/** How soon a controller observes a change. */
const OBSERVE_DELAY_MS = 5;
/** How long a deleted namespace stays Terminating. */
const NAMESPACE_FINALIZE_DELAY_MS = 500;

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A pod-template-hash / controller revision suffix (`rand.SafeEncodeString` alphabet). */
export function templateHash(template: Json | undefined, length = 10): string {
  const digest = crypto
    .createHash('sha256')
    .update(JSON.stringify(template ?? null))
    .digest();
  return Array.from(digest.subarray(0, length), (b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

function num(value: Json | undefined, fallback = 0): number {
  return typeof value === 'number' ? value : fallback;
}

/** Drops zero-valued counters, as the API omits them (omitempty). */
function compact(status: JsonObject): JsonObject {
  for (const [k, v] of Object.entries(status)) if (v === 0 && k !== 'observedGeneration') delete status[k];
  return status;
}

function condition(type: string, status: 'True' | 'False', reason: string, message: string, previous: Json | undefined): JsonObject {
  const now = nowTimestamp();
  const prev = Array.isArray(previous) ? (previous.find((c) => isObject(c) && c.type === type) as JsonObject | undefined) : undefined;
  const transitioned = !prev || prev.status !== status;
  return {
    type,
    status,
    lastUpdateTime: now,
    lastTransitionTime: transitioned ? now : String(prev.lastTransitionTime ?? now),
    reason,
    message,
  };
}

export class ClusterControllers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly store: KubernetesStore,
    private readonly settings: ControllerSettings,
  ) {}

  /** Called after every write of an object's main resource (create, update, patch, apply). */
  observe(type: ResourceType, obj: KubeObject, previous: KubeObject | undefined): void {
    if (type.group !== 'apps' || !['deployments', 'statefulsets', 'daemonsets'].includes(type.resource)) return;
    const meta = metadataOf(obj);
    const generation = num(meta.generation, 1);
    if (previous && num(metadataOf(previous).generation, 1) === generation) return;
    const namespace = String(meta.namespace);
    const name = String(meta.name);
    const delay = this.settings.rolloutDelaySeconds();
    this.later(OBSERVE_DELAY_MS, () => this.progress(type, namespace, name, generation, delay));
  }

  /** Marks a namespace Terminating; its contents and the namespace go away shortly after. */
  terminateNamespace(namespaceType: ResourceType, name: string, allTypes: () => ResourceType[]): void {
    this.later(NAMESPACE_FINALIZE_DELAY_MS, () => {
      for (const type of allTypes()) {
        if (!type.namespaced) continue;
        for (const obj of this.store.readAll(type, name)) this.store.remove(type, name, String(metadataOf(obj).name));
      }
      this.store.remove(namespaceType, undefined, name);
    });
  }

  /** Runs `fn` shortly, as a controller reacting to a change would (cancelled by close()). */
  schedule(fn: () => void, ms = OBSERVE_DELAY_MS): void {
    this.later(ms, fn);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private currentGeneration(type: ResourceType, namespace: string, name: string): number | undefined {
    const obj = this.store.read(type, namespace, name);
    return obj ? num(metadataOf(obj).generation, 1) : undefined;
  }

  private progress(type: ResourceType, namespace: string, name: string, generation: number, delay: number | 'never'): void {
    if (this.currentGeneration(type, namespace, name) !== generation) return;
    const update = (mutate: (obj: KubeObject) => void): void => {
      this.store.updateStatus(type, namespace, name, CONTROLLER_MANAGER, mutate);
    };
    switch (type.resource) {
      case 'deployments':
        update((obj) => deploymentProgressing(obj, generation));
        break;
      case 'statefulsets':
        update((obj) => statefulSetProgressing(obj, generation));
        break;
      case 'daemonsets':
        update((obj) => daemonSetProgressing(obj, generation, this.settings.nodeCount));
        break;
    }
    if (delay === 'never') return;
    this.later(Math.max(0, delay * 1000), () => {
      if (this.currentGeneration(type, namespace, name) !== generation) return;
      const current = this.store.read(type, namespace, name)!;
      if (this.settings.rolloutFailure?.(type, current) !== undefined) {
        if (type.resource !== 'deployments') return;
        const deadline = this.settings.progressDeadlineSeconds?.(current) ?? 600;
        this.later(Math.max(0, (deadline - delay) * 1000), () => {
          if (this.currentGeneration(type, namespace, name) !== generation) return;
          update((obj) => deploymentTimedOut(obj));
        });
        return;
      }
      switch (type.resource) {
        case 'deployments':
          update((obj) => deploymentComplete(obj, generation));
          break;
        case 'statefulsets':
          update((obj) => statefulSetComplete(obj, generation));
          break;
        case 'daemonsets':
          update((obj) => daemonSetComplete(obj, generation, this.settings.nodeCount));
          break;
      }
    });
  }
}

function specReplicas(obj: KubeObject): number {
  return num((obj.spec as JsonObject | undefined)?.replicas, 1);
}

function replicaSetName(obj: KubeObject): string {
  return `${String(metadataOf(obj).name)}-${templateHash((obj.spec as JsonObject | undefined)?.template)}`;
}

function deploymentProgressing(obj: KubeObject, generation: number): void {
  const previous = isObject(obj.status) ? obj.status : {};
  const replicas = specReplicas(obj);
  const wasObserved = num(previous.observedGeneration) > 0;
  const oldAvailable = wasObserved ? num(previous.availableReplicas) : 0;
  if (replicas === 0) {
    deploymentComplete(obj, generation);
    return;
  }
  obj.status = compact({
    observedGeneration: generation,
    replicas: replicas + oldAvailable,
    updatedReplicas: replicas,
    readyReplicas: oldAvailable,
    availableReplicas: oldAvailable,
    unavailableReplicas: replicas,
    conditions: [
      oldAvailable > 0
        ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', previous.conditions)
        : condition(
            'Available',
            'False',
            'MinimumReplicasUnavailable',
            'Deployment does not have minimum availability.',
            previous.conditions,
          ),
      condition('Progressing', 'True', 'ReplicaSetUpdated', `ReplicaSet "${replicaSetName(obj)}" is progressing.`, previous.conditions),
    ],
  });
}

function deploymentComplete(obj: KubeObject, generation: number): void {
  const previous = isObject(obj.status) ? obj.status : {};
  const replicas = specReplicas(obj);
  obj.status = compact({
    observedGeneration: generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [
      condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', previous.conditions),
      condition(
        'Progressing',
        'True',
        'NewReplicaSetAvailable',
        `ReplicaSet "${replicaSetName(obj)}" has successfully progressed.`,
        previous.conditions,
      ),
    ],
  });
}

/**
 * pkg/controller/deployment/progress.go syncRolloutStatus: past spec.progressDeadlineSeconds without
 * progress, Progressing becomes False with reason ProgressDeadlineExceeded and the message of
 * util.TimedOutReason's condition (deployment_util.go: `ReplicaSet %q has timed out progressing.`);
 * `kubectl rollout status` then fails with `deployment %q exceeded its progress deadline`.
 */
function deploymentTimedOut(obj: KubeObject): void {
  const previous = isObject(obj.status) ? obj.status : {};
  const conditions = Array.isArray(previous.conditions) ? previous.conditions.filter(isObject) : [];
  const others = conditions.filter((c) => c.type !== 'Progressing');
  obj.status = {
    ...previous,
    conditions: [
      ...others,
      condition(
        'Progressing',
        'False',
        'ProgressDeadlineExceeded',
        `ReplicaSet "${replicaSetName(obj)}" has timed out progressing.`,
        previous.conditions,
      ),
    ],
  };
}

function statefulSetProgressing(obj: KubeObject, generation: number): void {
  const previous = isObject(obj.status) ? obj.status : {};
  const revision = replicaSetName(obj);
  const first = num(previous.observedGeneration) === 0;
  obj.status = compact({
    observedGeneration: generation,
    replicas: specReplicas(obj),
    readyReplicas: first ? 0 : num(previous.readyReplicas),
    currentReplicas: first ? 0 : num(previous.currentReplicas),
    updatedReplicas: 0,
    availableReplicas: first ? 0 : num(previous.availableReplicas),
    currentRevision: first ? revision : String(previous.currentRevision ?? revision),
    updateRevision: revision,
    collisionCount: 0,
  });
}

function statefulSetComplete(obj: KubeObject, generation: number): void {
  const replicas = specReplicas(obj);
  const revision = replicaSetName(obj);
  obj.status = compact({
    observedGeneration: generation,
    replicas,
    readyReplicas: replicas,
    currentReplicas: replicas,
    updatedReplicas: replicas,
    availableReplicas: replicas,
    currentRevision: revision,
    updateRevision: revision,
    collisionCount: 0,
  });
}

function daemonSetProgressing(obj: KubeObject, generation: number, nodes: number): void {
  const previous = isObject(obj.status) ? obj.status : {};
  obj.status = {
    currentNumberScheduled: nodes,
    numberMisscheduled: 0,
    desiredNumberScheduled: nodes,
    numberReady: num(previous.numberReady),
    observedGeneration: generation,
    updatedNumberScheduled: 0,
    numberAvailable: num(previous.numberAvailable),
    numberUnavailable: nodes - num(previous.numberAvailable),
  };
}

function daemonSetComplete(obj: KubeObject, generation: number, nodes: number): void {
  obj.status = {
    currentNumberScheduled: nodes,
    numberMisscheduled: 0,
    desiredNumberScheduled: nodes,
    numberReady: nodes,
    observedGeneration: generation,
    updatedNumberScheduled: nodes,
    numberAvailable: nodes,
  };
}

/** The status the API server gives a CustomResourceDefinition it accepted. */
export function establishedCrdStatus(crd: KubeObject): JsonObject {
  const spec = isObject(crd.spec) ? crd.spec : {};
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
  const now = nowTimestamp();
  return {
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: now, reason: 'NoConflicts', message: 'no conflicts found' },
      {
        type: 'Established',
        status: 'True',
        lastTransitionTime: now,
        reason: 'InitialNamesAccepted',
        message: 'the initial names have been accepted',
      },
    ],
    acceptedNames: isObject(spec.names) ? spec.names : {},
    storedVersions: versions.filter((v) => v.storage === true).map((v) => v.name ?? ''),
  };
}
