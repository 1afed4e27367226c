/**
 * The cluster's evidence of a rollout: ReplicaSets, Pods and Events, driven by the scenario.
 *
 *   deployment controller  a Deployment generation gets a ReplicaSet `<deploy>-<pod-template-hash>`
 *                          (labels + `pod-template-hash`, controller ownerReference, annotation
 *                          `deployment.kubernetes.io/revision`); older ReplicaSets scale to 0
 *                          (pkg/controller/deployment/sync.go getNewReplicaSet, util.SetNewReplicaSetAnnotations);
 *   replicaset controller  creates Pods `<rs>-<5 chars>` (generateName, pkg/controller/controller_utils.go
 *                          GetPodFromTemplate) through pod admission (`admission` below); a refused create
 *                          gives the ReplicaSet condition ReplicaFailure True `FailedCreate` and a Warning
 *                          event `FailedCreate` "Error creating: <error>" (pkg/controller/replicaset/replica_set.go,
 *                          replica_set_utils.go calculateStatus);
 *   StatefulSet / DaemonSet  pods `<sts>-<ordinal>` / `<ds>-<5 chars>` (one per node) owned by the workload;
 *   default-scheduler      nodeSelector / required node affinity and cpu/memory requests against the
 *                          scenario's nodes (`FailedScheduling`, condition PodScheduled False Unschedulable);
 *   kubelet                image pulls (verdict from `pullImage`, the registry's side), container starts,
 *                          crash loops with their logs (served by the pods/log subresource).
 *
 * Time is compressed: kubelet back-offs that take 10 s, 20 s… on a node take BACKOFF_MS here; the
 * messages still name kubelet's real back-off (10s doubling to 5m0s, pkg/kubelet/kubelet.go
 * backOffPeriod / MaxContainerBackOff). Everything runs on timers after the API request returned,
 * so big applies are not slowed down.
 */
import * as crypto from 'node:crypto';
import { EventRecorder } from './events';
import { clone, isObject, type Json, type JsonObject } from './patch';
import { formatQuantity, parseQuantity } from './quantity';
import type { ResourceCatalog, ResourceType } from './resources';
import { metadataOf, nowTimestamp, type KubeObject, type KubernetesStore } from './store';
import { templateHash } from './controllers';
import { podPolicyDenial, type PolicySettings } from './policyWebhooks';

/** The kubelet's pull result for one image: ok, or the runtime's error text (what follows `Failed to pull image "x": `). */
export type PullVerdict = { ok: true } | { ok: false; error: string };

export interface CrashingImage {
  /** The container image (exact reference as in the pod spec). */
  image: string;
  /** Exit code of each run. Default 1. */
  exitCode?: number;
  /** Lines the container writes before it exits (`kubectl logs --previous`). */
  logs?: string[];
  /** The container exceeds its memory limit: reason OOMKilled, exit code 137. */
  oomKilled?: boolean;
}

export interface WorkloadScenario {
  /** Schedulable nodes. Default 3 × { cpu '1900m', memory '5368709120' (5Gi) } (a Standard_D2s_v3 node's allocatable). */
  nodes?: { count?: number; cpu?: string; memory?: string; labels?: Record<string, string> };
  /** Public (non-ACR) images that do not exist: pulls fail with `not found`. */
  missingImages?: string[];
  crashingImages?: CrashingImage[];
  /**
   * Seconds after which the deployment controller reports ProgressDeadlineExceeded, instead of the
   * Deployment's spec.progressDeadlineSeconds (default 600), so tests see it in seconds.
   */
  progressDeadlineSeconds?: number;
}

export interface WorkloadSettings {
  scenario(): WorkloadScenario;
  rolloutDelaySeconds(): number | 'never';
  /** The registry's side of a pull (ACR: kubelet identity, firewall, repository); absent: every public image pulls. */
  pullImage?(image: string): PullVerdict | undefined;
  /** The cluster's Azure Policy (Gatekeeper) constraints, judged at pod creation (policyWebhooks.ts). */
  policy?(): PolicySettings | undefined;
}

/** Sandbox stand-in for kubelet's back-off periods. */
export const BACKOFF_MS = 1000;
const STEP_MS = 20;
const RUN_MS = 150;
const RETRY_CREATE_MS = 2000;
const JOBS_PER_TURN = 8;
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NODE_PREFIX = 'aks-nodepool1-12345678-vmss';

function randomSuffix(n = 5): string {
  return Array.from(crypto.randomBytes(n), (b) => SAFE_ALPHABET[b % SAFE_ALPHABET.length]).join('');
}

function obj(value: Json | undefined): JsonObject {
  return isObject(value) ? value : {};
}

function containersOf(podSpec: JsonObject): JsonObject[] {
  return Array.isArray(podSpec.containers) ? podSpec.containers.filter(isObject) : [];
}

/** `<name>_<namespace>(<uid>)`: kubelet's format.Pod. */
function podDesc(pod: KubeObject): string {
  const m = metadataOf(pod);
  return `${String(m.name)}_${String(m.namespace)}(${String(m.uid)})`;
}

/** kubelet's container back-off for the n-th crash: 10s doubling, capped at 5m (MaxContainerBackOff). */
function backOffText(crashes: number): string {
  const seconds = Math.min(300, 10 * 2 ** Math.max(0, crashes - 1));
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}

interface ContainerRun {
  crashes: number;
  currentLogs: string[];
  previousLogs?: string[];
  pullFailures: number;
}

interface PodRuntime {
  containers: Map<string, ContainerRun>;
  timers: Set<NodeJS.Timeout>;
}

export class WorkloadControllers {
  private readonly events: EventRecorder;
  private readonly runtimes = new Map<string, PodRuntime>();
  /** Pod names by controller owner uid (what an informer index would give the controllers). */
  private readonly podsByOwner = new Map<string, Set<string>>();
  private readonly types = new Map<string, ResourceType>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private closed = false;
  private readonly queue: Array<() => void> = [];
  private draining = false;

  constructor(
    private readonly store: KubernetesStore,
    private readonly catalog: ResourceCatalog,
    private readonly settings: WorkloadSettings,
  ) {
    this.events = new EventRecorder(store, this.type('', 'events'));
    // Garbage collector: dependents go with their controller owner (foreground/background alike here).
    this.unsubscribe = store.subscribe((event) => {
      if (event.type !== 'DELETED') return;
      if (!['apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', '/pods'].includes(event.storageKey)) return;
      const uid = String(metadataOf(event.object).uid ?? '');
      if (event.storageKey === '/pods') {
        this.stopPod(uid);
        const owner = this.controllerUid(event.object);
        if (owner) this.podsByOwner.get(owner)?.delete(String(metadataOf(event.object).name));
        return;
      }
      this.later(5, () => this.collectDependents(event.namespace, uid));
    });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.runtimes.values()) for (const t of r.timers) clearTimeout(t);
    this.runtimes.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Nodes

  nodes(): Array<{ name: string; labels: Record<string, string>; cpu: number; memory: number }> {
    const spec = this.settings.scenario().nodes ?? {};
    const count = spec.count ?? 3;
    return Array.from({ length: count }, (_, i) => {
      const name = `${NODE_PREFIX}${String(i).padStart(6, '0')}`;
      return {
        name,
        labels: {
          agentpool: 'nodepool1',
          'kubernetes.io/arch': 'amd64',
          'kubernetes.io/os': 'linux',
          'kubernetes.io/hostname': name,
          'kubernetes.azure.com/mode': 'system',
          ...(spec.labels ?? {}),
        },
        cpu: parseQuantity(spec.cpu ?? '1900m'),
        memory: parseQuantity(spec.memory ?? '5Gi'),
      };
    });
  }

  // ------------------------------------------------------------------------------------------
  // Workload controllers

  /** Called after every write of a workload (the API server's afterWrite). */
  observe(type: ResourceType, object: KubeObject, previous: KubeObject | undefined): void {
    if (type.group !== 'apps' || !['deployments', 'statefulsets', 'daemonsets'].includes(type.resource)) return;
    const meta = metadataOf(object);
    const sameGeneration = previous && metadataOf(previous).generation === meta.generation;
    if (sameGeneration) return;
    const namespace = String(meta.namespace);
    const name = String(meta.name);
    this.later(5, () => {
      const current = this.store.read(type, namespace, name);
      if (!current || metadataOf(current).generation !== meta.generation) return;
      if (type.resource === 'deployments') this.syncDeployment(current);
      else this.syncDirectPods(type, current);
    });
  }

  /**
   * Whether the workload's new pods cannot become available (the deployment controller then runs
   * into its progress deadline): pods refused at creation, unschedulable, failing pulls or crashing.
   */
  rolloutFailure(type: ResourceType, workload: KubeObject): string | undefined {
    const spec = obj(workload.spec);
    if (spec.replicas === 0) return undefined;
    const namespace = String(metadataOf(workload).namespace);
    const template = obj(spec.template);
    const podSpec = obj(template.spec);
    const probe: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe', namespace }, spec: clone(podSpec) };
    const denied = this.policyDenial(probe);
    if (denied) return denied;
    if (type.resource === 'deployments') {
      const rs = this.store.read(this.type('apps', 'replicasets'), namespace, this.replicaSetName(workload));
      const failure = rs ? this.condition(rs, 'ReplicaFailure') : undefined;
      if (failure?.status === 'True') return String(failure.message);
    }
    const placement = this.schedule(probe, new Map());
    if (!this.nodes().some((n) => n.name === placement)) return placement;
    for (const c of containersOf(podSpec)) {
      const image = String(c.image ?? '');
      const verdict = this.pull(image);
      if (!verdict.ok) return verdict.error;
      if (this.crashing(image)) return `container ${String(c.name)} crashes`;
    }
    return undefined;
  }

  /** Seconds until ProgressDeadlineExceeded for a Deployment. */
  progressDeadlineSeconds(deployment: KubeObject): number {
    const fromScenario = this.settings.scenario().progressDeadlineSeconds;
    if (fromScenario !== undefined) return fromScenario;
    const spec = obj(deployment.spec).progressDeadlineSeconds;
    return typeof spec === 'number' ? spec : 600;
  }

  replicaSetName(deployment: KubeObject): string {
    return `${String(metadataOf(deployment).name)}-${templateHash(obj(deployment.spec).template)}`;
  }

  private syncDeployment(deployment: KubeObject): void {
    const rsType = this.type('apps', 'replicasets');
    const meta = metadataOf(deployment);
    const namespace = String(meta.namespace);
    const spec = obj(deployment.spec);
    const template = obj(spec.template);
    const hash = templateHash(template);
    const rsName = this.replicaSetName(deployment);
    const owned = this.store
      .readAll(rsType, namespace)
      .filter((rs) => this.ownedBy(rs, String(meta.uid)) && String(metadataOf(rs).name) !== rsName);
    const revisions = owned.map((rs) => Number(obj(metadataOf(rs).annotations)['deployment.kubernetes.io/revision'] ?? 0));
    const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
    const existing = this.store.read(rsType, namespace, rsName);
    const revision = String(Math.max(0, ...revisions) + 1);
    if (!existing) {
      const templateMeta = obj(template.metadata);
      const labels = { ...obj(templateMeta.labels), 'pod-template-hash': hash };
      const selector = obj(spec.selector);
      const rs: KubeObject = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: rsName,
          namespace,
          uid: this.store.newUid(),
          generation: 1,
          creationTimestamp: nowTimestamp(),
          labels,
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(replicas),
            'deployment.kubernetes.io/max-replicas': String(replicas + Math.ceil(replicas * 0.25)),
            'deployment.kubernetes.io/revision': revision,
          },
          ownerReferences: [this.ownerRef(deployment)],
        },
        spec: {
          replicas,
          selector: { ...selector, matchLabels: { ...obj(selector.matchLabels), 'pod-template-hash': hash } },
          template: { ...template, metadata: { ...templateMeta, labels } },
        },
        status: { replicas: 0 },
      };
      this.store.write(rsType, rs);
      this.events.record(
        deployment,
        { component: 'deployment-controller' },
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${rsName} to ${replicas}`,
      );
    } else if (obj(existing.spec).replicas !== replicas) {
      this.writeSpecReplicas(existing, replicas);
    }
    for (const old of owned) {
      if (obj(old.spec).replicas === 0) continue;
      this.writeSpecReplicas(old, 0);
      this.events.record(
        deployment,
        { component: 'deployment-controller' },
        'Normal',
        'ScalingReplicaSet',
        `Scaled down replica set ${String(metadataOf(old).name)} to 0 from ${String(obj(old.spec).replicas)}`,
      );
    }
    for (const rs of [rsName, ...owned.map((o) => String(metadataOf(o).name))]) this.syncReplicaSet(namespace, rs);
  }

  private writeSpecReplicas(rs: KubeObject, replicas: number): void {
    const next = clone(rs);
    obj(next.spec).replicas = replicas;
    const m = metadataOf(next);
    m.generation = (typeof m.generation === 'number' ? m.generation : 1) + 1;
    delete m.resourceVersion;
    this.store.write(this.type('apps', 'replicasets'), next);
  }

  /** The ReplicaSet controller: as many pods as spec.replicas (creating through admission, deleting extras). */
  private syncReplicaSet(namespace: string, name: string): void {
    const rsType = this.type('apps', 'replicasets');
    const rs = this.store.read(rsType, namespace, name);
    if (!rs) return;
    const want = typeof obj(rs.spec).replicas === 'number' ? (obj(rs.spec).replicas as number) : 1;
    const pods = this.podsOf(namespace, String(metadataOf(rs).uid));
    for (const extra of pods.slice(want)) this.deletePod(extra);
    let failure: string | undefined;
    for (let i = pods.length; i < want; i++) {
      const pod = this.podFromTemplate(
        rs,
        `${name}-${randomSuffix()}`,
        { 'pod-template-hash': String(obj(metadataOf(rs).labels)['pod-template-hash'] ?? '') },
        `${name}-`,
      );
      failure = this.admit(pod);
      if (failure) {
        this.events.record(rs, { component: 'replicaset-controller' }, 'Warning', 'FailedCreate', `Error creating: ${failure}`);
        break;
      }
      this.createPod(pod);
      this.events.record(
        rs,
        { component: 'replicaset-controller' },
        'Normal',
        'SuccessfulCreate',
        `Created pod: ${String(metadataOf(pod).name)}`,
      );
    }
    this.updateReplicaSetStatus(namespace, name, failure);
    if (failure) this.later(RETRY_CREATE_MS, () => this.syncReplicaSet(namespace, name));
  }

  private updateReplicaSetStatus(namespace: string, name: string, failure?: string | null): void {
    const rsType = this.type('apps', 'replicasets');
    this.store.updateStatus(rsType, namespace, name, 'kube-controller-manager', (rs) => {
      const pods = this.podsOf(namespace, String(metadataOf(rs).uid));
      const ready = pods.filter((p) => this.condition(p, 'Ready')?.status === 'True').length;
      const previous = obj(rs.status);
      const status: JsonObject = {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
      };
      for (const k of Object.keys(status)) if (status[k] === 0 && k !== 'replicas') delete status[k];
      status.observedGeneration = metadataOf(rs).generation ?? 1;
      const keep = Array.isArray(previous.conditions) ? previous.conditions.filter(isObject) : [];
      if (failure) {
        const prior = keep.find((c) => c.type === 'ReplicaFailure');
        status.conditions = [
          {
            type: 'ReplicaFailure',
            status: 'True',
            lastTransitionTime: String(prior?.lastTransitionTime ?? nowTimestamp()),
            reason: 'FailedCreate',
            message: failure,
          },
        ];
      } else if (failure === undefined && keep.length && pods.length >= Number(obj(rs.spec).replicas ?? 0)) {
        // The condition goes once creates succeed (calculateStatus removes it).
      } else if (keep.length) {
        status.conditions = keep;
      }
      rs.status = status;
    });
  }

  private syncDirectPods(type: ResourceType, workload: KubeObject): void {
    const meta = metadataOf(workload);
    const namespace = String(meta.namespace);
    const uid = String(meta.uid);
    const hash = `${String(meta.name)}-${templateHash(obj(workload.spec).template)}`;
    const existing = this.podsOf(namespace, uid);
    // A new revision replaces the pods (RollingUpdate: the sandbox replaces them at once).
    for (const pod of existing) if (obj(metadataOf(pod).labels)['controller-revision-hash'] !== hash) this.deletePod(pod);
    const current = existing.filter((p) => obj(metadataOf(p).labels)['controller-revision-hash'] === hash);
    const have = new Set(current.map((p) => String(metadataOf(p).name)));
    const component = type.resource === 'statefulsets' ? 'statefulset-controller' : 'daemonset-controller';
    const wanted: Array<{ name: string; labels: Record<string, string>; node?: string }> =
      type.resource === 'statefulsets'
        ? Array.from({ length: typeof obj(workload.spec).replicas === 'number' ? (obj(workload.spec).replicas as number) : 1 }, (_, i) => ({
            name: `${String(meta.name)}-${i}`,
            labels: {
              'controller-revision-hash': hash,
              'statefulset.kubernetes.io/pod-name': `${String(meta.name)}-${i}`,
              'apps.kubernetes.io/pod-index': String(i),
            },
          }))
        : this.nodes().map((n) => ({
            name: `${String(meta.name)}-${randomSuffix()}`,
            labels: { 'controller-revision-hash': hash, 'pod-template-generation': String(meta.generation ?? 1) },
            node: n.name,
          }));
    const nodesCovered = new Set(current.map((p) => String(obj(p.spec).nodeName ?? '')));
    for (const w of wanted) {
      if (have.has(w.name) || (w.node && nodesCovered.has(w.node))) continue;
      const pod = this.podFromTemplate(workload, w.name, w.labels, w.node ? `${String(meta.name)}-` : undefined);
      if (w.node) obj(pod.spec).nodeName = w.node;
      const failure = this.admit(pod);
      if (failure) {
        this.events.record(
          workload,
          { component },
          'Warning',
          'FailedCreate',
          `create Pod ${w.name} in ${type.kind} ${String(meta.name)} failed error: ${failure}`,
        );
        this.later(RETRY_CREATE_MS, () => {
          const again = this.store.read(type, namespace, String(meta.name));
          if (again && metadataOf(again).generation === meta.generation) this.syncDirectPods(type, again);
        });
        return;
      }
      this.createPod(pod);
      this.events.record(
        workload,
        { component },
        'Normal',
        'SuccessfulCreate',
        `create Pod ${w.name} in ${type.kind} ${String(meta.name)} successful`,
      );
    }
  }

  private collectDependents(namespace: string, ownerUid: string): void {
    for (const rs of this.store.readAll(this.type('apps', 'replicasets'), namespace))
      if (this.ownedBy(rs, ownerUid)) this.store.remove(this.type('apps', 'replicasets'), namespace, String(metadataOf(rs).name));
    for (const pod of this.podsOf(namespace, ownerUid)) this.deletePod(pod);
  }

  // ------------------------------------------------------------------------------------------
  // Pods

  private podFromTemplate(owner: KubeObject, name: string, extraLabels: Record<string, string>, generateName?: string): KubeObject {
    const template = obj(obj(owner.spec).template);
    const templateMeta = obj(template.metadata);
    const ownerMeta = metadataOf(owner);
    const spec = clone(obj(template.spec));
    spec.restartPolicy ??= 'Always';
    spec.schedulerName ??= 'default-scheduler';
    spec.serviceAccountName ??= 'default';
    spec.dnsPolicy ??= 'ClusterFirst';
    spec.terminationGracePeriodSeconds ??= 30;
    spec.enableServiceLinks ??= true;
    spec.preemptionPolicy ??= 'PreemptLowerPriority';
    spec.priority ??= 0;
    // DefaultTolerationSeconds admission plugin.
    spec.tolerations ??= [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ];
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        ...(generateName ? { generateName } : {}),
        namespace: ownerMeta.namespace,
        labels: { ...obj(templateMeta.labels), ...extraLabels },
        ...(isObject(templateMeta.annotations) ? { annotations: clone(templateMeta.annotations) } : {}),
        ownerReferences: [this.ownerRef(owner)],
      },
      spec,
      status: { phase: 'Pending', qosClass: qosClass(spec) },
    };
    return pod;
  }

  private createPod(pod: KubeObject): void {
    const meta = metadataOf(pod);
    meta.uid = this.store.newUid();
    meta.creationTimestamp = nowTimestamp();
    const podType = this.type('', 'pods');
    this.store.write(podType, pod);
    const owner = this.controllerUid(pod);
    if (owner) {
      const set = this.podsByOwner.get(owner) ?? new Set<string>();
      set.add(String(meta.name));
      this.podsByOwner.set(owner, set);
    }
    const uid = String(meta.uid);
    this.runtimes.set(uid, { containers: new Map(), timers: new Set() });
    this.podLater(uid, STEP_MS, () => this.schedulePod(String(meta.namespace), String(meta.name), uid));
  }

  private deletePod(pod: KubeObject): void {
    const meta = metadataOf(pod);
    this.stopPod(String(meta.uid));
    this.store.remove(this.type('', 'pods'), String(meta.namespace), String(meta.name));
  }

  private stopPod(uid: string): void {
    const r = this.runtimes.get(uid);
    if (!r) return;
    for (const t of r.timers) clearTimeout(t);
    this.runtimes.delete(uid);
  }

  private podsOf(namespace: string, ownerUid: string): KubeObject[] {
    const names = [...(this.podsByOwner.get(ownerUid) ?? [])].sort();
    const podType = this.type('', 'pods');
    return names.map((n) => this.store.read(podType, namespace, n)).filter((p): p is KubeObject => !!p && this.ownedBy(p, ownerUid));
  }

  private controllerUid(o: KubeObject): string | undefined {
    const refs = metadataOf(o).ownerReferences;
    const ref = Array.isArray(refs) ? refs.filter(isObject).find((r) => r.controller === true) : undefined;
    return ref ? String(ref.uid) : undefined;
  }

  private readPod(namespace: string, name: string, uid: string): KubeObject | undefined {
    const pod = this.store.read(this.type('', 'pods'), namespace, name);
    return pod && metadataOf(pod).uid === uid ? pod : undefined;
  }

  private writePodStatus(pod: KubeObject, mutate: (pod: KubeObject) => void, manager = 'kubelet'): KubeObject | undefined {
    const meta = metadataOf(pod);
    const wasReady = this.condition(pod, 'Ready')?.status === 'True';
    const stored = this.store.updateStatus(this.type('', 'pods'), String(meta.namespace), String(meta.name), manager, mutate);
    const isReady = stored ? this.condition(stored, 'Ready')?.status === 'True' : false;
    const owner = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObject)[0] : undefined;
    // The ReplicaSet's counts only move when a pod's readiness does.
    if (owner?.kind === 'ReplicaSet' && wasReady !== isReady) this.updateReplicaSetStatus(String(meta.namespace), String(owner.name), null);
    return stored;
  }

  /** default-scheduler: filter nodes (NodeAffinity, NodeResourcesFit), bind or report FailedScheduling. */
  private schedulePod(namespace: string, name: string, uid: string): void {
    const pod = this.readPod(namespace, name, uid);
    if (!pod) return;
    const preassigned = obj(pod.spec).nodeName;
    const requests = podRequests(obj(pod.spec));
    const used = requests.cpu > 0 || requests.memory > 0 ? this.usage() : new Map<string, { cpu: number; memory: number }>();
    const result = typeof preassigned === 'string' ? preassigned : this.schedule(pod, used);
    if (typeof preassigned !== 'string' && !this.nodes().some((n) => n.name === result)) {
      // Unschedulable: `result` is the scheduler's diagnosis.
      this.writePodStatus(
        pod,
        (p) => {
          p.status = {
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                lastProbeTime: null,
                lastTransitionTime: nowTimestamp(),
                reason: 'Unschedulable',
                message: result,
              },
            ],
            qosClass: obj(p.status).qosClass ?? 'BestEffort',
          };
        },
        'kube-scheduler',
      );
      this.events.record(pod, { component: 'default-scheduler' }, 'Warning', 'FailedScheduling', result);
      this.podLater(uid, BACKOFF_MS * 5, () => this.schedulePod(namespace, name, uid));
      return;
    }
    // Binding (pods/binding) sets spec.nodeName and PodScheduled; the scheduler records Scheduled.
    const bound = clone(pod);
    obj(bound.spec).nodeName = result;
    bound.status = {
      ...obj(bound.status),
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() }],
    };
    delete metadataOf(bound).resourceVersion;
    const stored = this.store.write(this.type('', 'pods'), bound);
    if (typeof preassigned !== 'string')
      this.events.record(
        stored,
        { component: 'default-scheduler' },
        'Normal',
        'Scheduled',
        `Successfully assigned ${namespace}/${name} to ${result}`,
      );
    this.podLater(uid, STEP_MS, () => this.startPod(namespace, name, uid));
  }

  /** cpu/memory requested per node by the pods bound to it. */
  private usage(): Map<string, { cpu: number; memory: number }> {
    const used = new Map<string, { cpu: number; memory: number }>();
    for (const pod of this.store.readAll(this.type('', 'pods'))) {
      const node = obj(pod.spec).nodeName;
      if (typeof node !== 'string') continue;
      const r = podRequests(obj(pod.spec));
      const u = used.get(node) ?? { cpu: 0, memory: 0 };
      used.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory });
    }
    return used;
  }

  /**
   * The node a pod fits on, or the scheduler's FailedScheduling message (pkg/scheduler/schedule_one.go
   * FitError.Error: "0/N nodes are available: <count> <reason>, … ." + the preemption diagnosis;
   * reasons from framework/plugins/nodeaffinity (ErrReasonPod "node(s) didn't match Pod's node
   * affinity/selector") and noderesources/fit.go ("Insufficient cpu", "Insufficient memory");
   * preemption: "No preemption victims found for incoming pod." for resource shortfalls,
   * "Preemption is not helpful for scheduling." for UnschedulableAndUnresolvable ones).
   */
  private schedule(pod: KubeObject, used: Map<string, { cpu: number; memory: number }>): string {
    const nodes = this.nodes();
    const spec = obj(pod.spec);
    const requests = podRequests(spec);
    const reasons = new Map<string, number>();
    let unresolvable = 0;
    for (const node of nodes) {
      if (!matchesNode(spec, node.labels)) {
        reasons.set(
          "node(s) didn't match Pod's node affinity/selector",
          (reasons.get("node(s) didn't match Pod's node affinity/selector") ?? 0) + 1,
        );
        unresolvable++;
        continue;
      }
      const u = used.get(node.name) ?? { cpu: 0, memory: 0 };
      const short: string[] = [];
      if (requests.cpu > 0 && u.cpu + requests.cpu > node.cpu + 1e-9) short.push('Insufficient cpu');
      if (requests.memory > 0 && u.memory + requests.memory > node.memory) short.push('Insufficient memory');
      if (!short.length) return node.name;
      for (const s of short) reasons.set(s, (reasons.get(s) ?? 0) + 1);
    }
    const n = nodes.length;
    const list = [...reasons.entries()]
      .map(([r, c]) => `${c} ${r}`)
      .sort()
      .join(', ');
    const preemptionParts: string[] = [];
    if (unresolvable) preemptionParts.push(`${unresolvable} Preemption is not helpful for scheduling`);
    if (n - unresolvable > 0) preemptionParts.push(`${n - unresolvable} No preemption victims found for incoming pod`);
    return `0/${n} nodes are available: ${list}. preemption: 0/${n} nodes are available: ${preemptionParts.sort().join(', ')}.`;
  }

  /** kubelet: sandbox, image pulls, containers. */
  private startPod(namespace: string, name: string, uid: string): void {
    const pod = this.readPod(namespace, name, uid);
    if (!pod) return;
    const node = String(obj(pod.spec).nodeName);
    const nodeIndex = this.nodes().findIndex((n) => n.name === node);
    const containers = containersOf(obj(pod.spec));
    this.writePodStatus(pod, (p) => {
      const st = obj(p.status);
      p.status = {
        ...st,
        phase: 'Pending',
        hostIP: `10.224.0.${4 + Math.max(0, nodeIndex)}`,
        hostIPs: [{ ip: `10.224.0.${4 + Math.max(0, nodeIndex)}` }],
        podIP: `10.244.${Math.max(0, nodeIndex)}.${10 + (crypto.randomBytes(1)[0] % 240)}`,
        startTime: nowTimestamp(),
        conditions: podConditions(
          p,
          containers.map((c) => String(c.name)),
          false,
        ),
        containerStatuses: containers.map((c) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { waiting: { reason: 'ContainerCreating' } },
          lastState: {},
        })),
      };
      (p.status as JsonObject).podIPs = [{ ip: (p.status as JsonObject).podIP as string }];
    });
    const runtime = this.runtimes.get(uid);
    if (!runtime) return;
    for (const c of containers) {
      const cname = String(c.name);
      runtime.containers.set(cname, { crashes: 0, currentLogs: [], pullFailures: 0 });
      this.podLater(uid, STEP_MS, () => this.pullContainer(namespace, name, uid, cname));
    }
  }

  /** pkg/kubelet/images/image_manager.go EnsureImageExists + kuberuntime startContainer's events. */
  private pullContainer(namespace: string, name: string, uid: string, cname: string): void {
    const pod = this.readPod(namespace, name, uid);
    const run = this.runtimes.get(uid)?.containers.get(cname);
    if (!pod || !run) return;
    const container = containersOf(obj(pod.spec)).find((c) => c.name === cname)!;
    const image = String(container.image ?? '');
    const node = String(obj(pod.spec).nodeName);
    const source = { component: 'kubelet', host: node };
    const fieldPath = `spec.containers{${cname}}`;
    // image_manager.go: `Pulling image %q` (events.PullingImage = "Pulling").
    this.events.record(pod, source, 'Normal', 'Pulling', `Pulling image "${image}"`, fieldPath);
    const verdict = this.pull(image);
    if (!verdict.ok) {
      run.pullFailures++;
      // image_manager.go: FailedToPullImage ("Failed") `Failed to pull image %q: %v`, then
      // kuberuntime_container.go startContainer: FailedToCreateContainer ("Failed") `Error: %v` with
      // ErrImagePull (kubelet/images/types.go); the waiting state carries the pull error's message.
      this.events.record(pod, source, 'Warning', 'Failed', `Failed to pull image "${image}": ${verdict.error}`, fieldPath);
      this.events.record(pod, source, 'Warning', 'Failed', 'Error: ErrImagePull', fieldPath);
      this.setContainerState(pod, cname, { waiting: { reason: 'ErrImagePull', message: verdict.error } });
      this.podLater(uid, BACKOFF_MS, () => {
        const again = this.readPod(namespace, name, uid);
        if (!again) return;
        // image_manager.go: in back-off, BackOffPullImage ("BackOff") `Back-off pulling image %q`
        // and ErrImagePullBackOff ("ImagePullBackOff") with the same message.
        const msg = `Back-off pulling image "${image}"`;
        this.events.record(again, source, 'Normal', 'BackOff', msg, fieldPath);
        this.events.record(again, source, 'Warning', 'Failed', 'Error: ImagePullBackOff', fieldPath);
        this.setContainerState(again, cname, { waiting: { reason: 'ImagePullBackOff', message: msg } });
        this.podLater(uid, BACKOFF_MS * 2, () => this.pullContainer(namespace, name, uid, cname));
      });
      return;
    }
    // image_manager.go: PulledImage ("Pulled") `Successfully pulled image %q in %v (%v including waiting). Image size: %v bytes.`
    this.events.record(
      pod,
      source,
      'Normal',
      'Pulled',
      `Successfully pulled image "${image}" in 1.04s (1.04s including waiting). Image size: 28014213 bytes.`,
      fieldPath,
    );
    this.runContainer(namespace, name, uid, cname);
  }

  private runContainer(namespace: string, name: string, uid: string, cname: string): void {
    const pod = this.readPod(namespace, name, uid);
    const run = this.runtimes.get(uid)?.containers.get(cname);
    if (!pod || !run) return;
    const container = containersOf(obj(pod.spec)).find((c) => c.name === cname)!;
    const image = String(container.image ?? '');
    const source = { component: 'kubelet', host: String(obj(pod.spec).nodeName) };
    const fieldPath = `spec.containers{${cname}}`;
    // kuberuntime_container.go startContainer: CreatedContainer `Created container %s`, StartedContainer `Started container %s` (1.31).
    this.events.record(pod, source, 'Normal', 'Created', `Created container ${cname}`, fieldPath);
    this.events.record(pod, source, 'Normal', 'Started', `Started container ${cname}`, fieldPath);
    const crash = this.crashing(image);
    const startedAt = nowTimestamp();
    const containerId = `containerd://${crypto.randomBytes(32).toString('hex')}`;
    run.currentLogs = crash?.logs ? [...crash.logs] : [];
    if (!crash) {
      // Ready when the cluster's rollout delay has passed (no probes: kubelet marks a started container ready).
      const delay = this.settings.rolloutDelaySeconds();
      if (delay === 'never') {
        this.setContainerState(pod, cname, { running: { startedAt } }, { containerID: containerId, started: true });
        return;
      }
      this.podLater(uid, Math.max(0, delay * 1000 - STEP_MS * 3), () => {
        const again = this.readPod(namespace, name, uid);
        if (again)
          this.setContainerState(again, cname, { running: { startedAt } }, { containerID: containerId, started: true, ready: true });
      });
      return;
    }
    this.setContainerState(pod, cname, { running: { startedAt } }, { containerID: containerId, started: true });
    this.podLater(uid, RUN_MS, () => {
      const again = this.readPod(namespace, name, uid);
      if (!again) return;
      run.crashes++;
      run.previousLogs = run.currentLogs;
      const terminated: JsonObject = {
        exitCode: crash.oomKilled ? 137 : (crash.exitCode ?? 1),
        reason: crash.oomKilled ? 'OOMKilled' : 'Error',
        startedAt,
        finishedAt: nowTimestamp(),
        containerID: containerId,
      };
      // kuberuntime_manager.go doBackOff: BackOffStartContainer ("BackOff") `Back-off restarting failed
      // container %s in pod %s` (format.Pod) and CrashLoopBackOff `back-off %s restarting failed container=%s pod=%s`.
      this.events.record(
        again,
        source,
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${cname} in pod ${podDesc(again)}`,
        fieldPath,
      );
      this.setContainerState(
        again,
        cname,
        {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${backOffText(run.crashes)} restarting failed container=${cname} pod=${podDesc(again)}`,
          },
        },
        { lastState: { terminated }, restartCount: run.crashes, started: false, containerID: containerId },
      );
      this.podLater(uid, BACKOFF_MS, () => {
        const pod3 = this.readPod(namespace, name, uid);
        if (!pod3) return;
        // image_manager.go: the image is present now: PulledImage `Container image %q already present on machine`.
        this.events.record(pod3, source, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, fieldPath);
        this.runContainer(namespace, name, uid, cname);
      });
    });
  }

  private setContainerState(pod: KubeObject, cname: string, state: JsonObject, extra: JsonObject = {}): void {
    this.writePodStatus(pod, (p) => {
      const st = obj(p.status);
      const statuses = Array.isArray(st.containerStatuses) ? st.containerStatuses.filter(isObject) : [];
      for (const cs of statuses) {
        if (cs.name !== cname) continue;
        cs.state = state;
        cs.ready = extra.ready === true;
        for (const [k, v] of Object.entries(extra)) if (k !== 'ready') cs[k] = v;
        if (typeof extra.containerID === 'string' && state.waiting === undefined)
          cs.imageID = `${String(cs.image)}@sha256:${crypto.createHash('sha256').update(String(cs.image)).digest('hex')}`;
      }
      const names = statuses.map((cs) => String(cs.name));
      const allReady = statuses.length > 0 && statuses.every((cs) => cs.ready === true);
      const anyRunning = statuses.some((cs) => isObject(cs.state) && isObject(cs.state.running));
      st.phase = anyRunning || statuses.some((cs) => typeof cs.restartCount === 'number' && cs.restartCount > 0) ? 'Running' : 'Pending';
      st.conditions = podConditions(p, names, allReady, statuses);
      p.status = st;
    });
  }

  // ------------------------------------------------------------------------------------------
  // pods/log

  /** GET pods/<name>/log: kubelet's logs, or the error the API server relays (400 with kubelet's text). */
  podLog(namespace: string, name: string, query: URLSearchParams): { status: number; text?: string; error?: string } {
    const pod = this.store.read(this.type('', 'pods'), namespace, name);
    if (!pod) return { status: 404, error: `pods "${name}" not found` };
    const containers = containersOf(obj(pod.spec)).map((c) => String(c.name));
    let container = query.get('container') ?? '';
    if (!container) {
      // pkg/registry/core/pod/strategy.go LogLocation.
      if (containers.length !== 1)
        return { status: 400, error: `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]` };
      container = containers[0];
    }
    if (!containers.includes(container)) return { status: 400, error: `container ${container} is not valid for pod ${name}` };
    // strategy.go LogLocation: no node yet.
    if (typeof obj(pod.spec).nodeName !== 'string') return { status: 400, error: `pod ${name} does not have a host assigned` };
    const statuses = Array.isArray(obj(pod.status).containerStatuses) ? (obj(pod.status).containerStatuses as Json[]).filter(isObject) : [];
    const cs = statuses.find((s) => s.name === container);
    const run = this.runtimes.get(String(metadataOf(pod).uid))?.containers.get(container);
    const previous = ['true', '1'].includes(query.get('previous') ?? '');
    const state = obj(cs?.state);
    const lastTerminated = isObject(obj(cs?.lastState).terminated);
    // pkg/kubelet/kubelet_pods.go validateContainerLogStatus.
    let lines: string[];
    if (previous) {
      if (!lastTerminated || !run?.previousLogs)
        return { status: 400, error: `previous terminated container "${container}" in pod "${name}" not found` };
      lines = run.previousLogs;
    } else if (isObject(state.running)) {
      lines = run?.currentLogs ?? [];
    } else if (lastTerminated) {
      lines = run?.previousLogs ?? [];
    } else {
      const reason = String(obj(state.waiting).reason ?? 'ContainerCreating');
      const why =
        reason === 'ErrImagePull' ? "image can't be pulled" : reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : reason;
      return { status: 400, error: `container "${container}" in pod "${name}" is waiting to start: ${why}` };
    }
    const tail = query.get('tailLines');
    if (tail !== null && /^\d+$/.test(tail)) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
    return { status: 200, text: lines.map((l) => `${l}\n`).join('') };
  }

  // ------------------------------------------------------------------------------------------
  // Pod admission at create

  /** The error text a pod create gets from admission (Gatekeeper, then ResourceQuota), or undefined. */
  private admit(pod: KubeObject): string | undefined {
    return this.policyDenial(pod) ?? this.quotaDenial(pod);
  }

  /** Gatekeeper's verdict on the pod (policyWebhooks.ts podPolicyDenial: the cluster's policyConstraints). */
  private policyDenial(pod: KubeObject): string | undefined {
    return podPolicyDenial(this.settings.policy?.(), pod);
  }

  /**
   * ResourceQuota admission (plugin/pkg/admission/resourcequota/controller.go CheckRequest):
   * `exceeded quota: %s, requested: %s, used: %s, limited: %s` (resources as `name=quantity`,
   * comma-separated, sorted), wrapped as Forbidden `pods "<name>" is forbidden: …`.
   */
  private quotaDenial(pod: KubeObject): string | undefined {
    const namespace = String(metadataOf(pod).namespace);
    const quotas = this.store.readAll(this.type('', 'resourcequotas'), namespace);
    if (!quotas.length) return undefined;
    const pods = this.store.readAll(this.type('', 'pods'), namespace);
    const usageOf = (p: KubeObject): Record<string, number> => {
      const r = podRequests(obj(p.spec));
      const l = podLimits(obj(p.spec));
      return {
        pods: 1,
        count: 1,
        'requests.cpu': r.cpu,
        cpu: r.cpu,
        'requests.memory': r.memory,
        memory: r.memory,
        'limits.cpu': l.cpu,
        'limits.memory': l.memory,
      };
    };
    const requested = usageOf(pod);
    for (const quota of quotas) {
      const hard = obj(obj(quota.spec).hard);
      const over: string[] = [];
      const used: Record<string, number> = {};
      for (const key of Object.keys(hard).sort()) {
        const resource = key === 'count/pods' ? 'count' : key;
        if (!(resource in requested)) continue;
        used[key] = pods.reduce((sum, p) => sum + usageOf(p)[resource], 0);
        if (used[key] + requested[resource] > parseQuantity(hard[key]) + 1e-9) over.push(key);
      }
      if (over.length) {
        const fmt = (values: (k: string) => number): string => over.map((k) => `${k}=${formatQuantity(k, values(k))}`).join(',');
        const req = fmt((k) => requested[k === 'count/pods' ? 'count' : k]);
        return `pods "${String(metadataOf(pod).name)}" is forbidden: exceeded quota: ${String(metadataOf(quota).name)}, requested: ${req}, used: ${fmt((k) => used[k])}, limited: ${over.map((k) => `${k}=${String(hard[k])}`).join(',')}`;
      }
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------

  private pull(image: string): PullVerdict {
    const fromRegistry = this.settings.pullImage?.(image);
    if (fromRegistry) return fromRegistry;
    if ((this.settings.scenario().missingImages ?? []).includes(image)) {
      const ref = normalizeReference(image);
      // containerd CRI PullImage over a registry 404: `rpc error: code = NotFound desc = failed to pull and unpack image %q: failed to resolve reference %q: %s: not found`.
      return {
        ok: false,
        error: `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`,
      };
    }
    return { ok: true };
  }

  private crashing(image: string): CrashingImage | undefined {
    return (this.settings.scenario().crashingImages ?? []).find((c) => c.image === image);
  }

  private condition(o: KubeObject, type: string): JsonObject | undefined {
    const conditions = obj(o.status).conditions;
    return Array.isArray(conditions) ? conditions.filter(isObject).find((c) => c.type === type) : undefined;
  }

  private ownedBy(o: KubeObject, uid: string): boolean {
    const refs = metadataOf(o).ownerReferences;
    return Array.isArray(refs) && refs.some((r) => isObject(r) && r.uid === uid && r.controller === true);
  }

  private ownerRef(owner: KubeObject): JsonObject {
    const m = metadataOf(owner);
    return {
      apiVersion: String(owner.apiVersion ?? 'apps/v1'),
      kind: String(owner.kind),
      name: String(m.name),
      uid: String(m.uid),
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private type(group: string, resource: string): ResourceType {
    const key = `${group}/${resource}`;
    const cached = this.types.get(key);
    if (cached) return cached;
    const t = this.catalog.all().find((x) => x.group === group && x.resource === resource);
    if (!t) throw new Error(`unknown resource ${group}/${resource}`);
    this.types.set(key, t);
    return t;
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.enqueue(fn);
    }, ms);
    this.timers.add(t);
  }

  /**
   * Due work runs a few jobs per turn of the event loop, so API requests (a big apply) are answered
   * between them instead of waiting for a burst of pod updates.
   */
  private enqueue(fn: () => void): void {
    this.queue.push(fn);
    if (this.draining) return;
    this.draining = true;
    const drain = (): void => {
      if (this.closed) return;
      for (let i = 0; i < JOBS_PER_TURN && this.queue.length; i++) this.queue.shift()!();
      if (this.queue.length) setImmediate(drain);
      else this.draining = false;
    };
    setImmediate(drain);
  }

  private podLater(uid: string, ms: number, fn: () => void): void {
    const r = this.runtimes.get(uid);
    if (!r || this.closed) return;
    const t = setTimeout(() => {
      r.timers.delete(t);
      this.enqueue(() => {
        if (this.runtimes.has(uid)) fn();
      });
    }, ms);
    r.timers.add(t);
  }
}

/** The image reference containerd resolves (docker.io/library/ for short names, :latest when untagged). */
export function normalizeReference(image: string): string {
  let ref = image;
  const first = ref.split('/')[0];
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  const last = ref.split('/').pop() ?? '';
  if (!last.includes(':') && !last.includes('@')) ref = `${ref}:latest`;
  return ref;
}

function resourcesOf(podSpec: JsonObject, kind: 'requests' | 'limits'): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of containersOf(podSpec)) {
    const r = obj(obj(c.resources)[kind]);
    // Requests default to limits when only limits are given (core/v1 defaults).
    const fallback = kind === 'requests' ? obj(obj(c.resources).limits) : {};
    const cv = parseQuantity(r.cpu ?? fallback.cpu);
    const mv = parseQuantity(r.memory ?? fallback.memory);
    if (!Number.isNaN(cv)) cpu += cv;
    if (!Number.isNaN(mv)) memory += mv;
  }
  return { cpu, memory };
}

function podRequests(podSpec: JsonObject): { cpu: number; memory: number } {
  return resourcesOf(podSpec, 'requests');
}

function podLimits(podSpec: JsonObject): { cpu: number; memory: number } {
  return resourcesOf(podSpec, 'limits');
}

function qosClass(podSpec: JsonObject): string {
  const cs = containersOf(podSpec);
  const any = cs.some((c) => Object.keys(obj(obj(c.resources).requests)).length || Object.keys(obj(obj(c.resources).limits)).length);
  if (!any) return 'BestEffort';
  const guaranteed = cs.every((c) => {
    const l = obj(obj(c.resources).limits);
    const r = obj(obj(c.resources).requests);
    return l.cpu !== undefined && l.memory !== undefined && (r.cpu ?? l.cpu) === l.cpu && (r.memory ?? l.memory) === l.memory;
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** nodeSelector and requiredDuringSchedulingIgnoredDuringExecution node affinity (matchExpressions). */
function matchesNode(podSpec: JsonObject, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(obj(podSpec.nodeSelector))) if (labels[k] !== v) return false;
  const required = obj(obj(obj(podSpec.affinity).nodeAffinity).requiredDuringSchedulingIgnoredDuringExecution);
  const terms = Array.isArray(required.nodeSelectorTerms) ? required.nodeSelectorTerms.filter(isObject) : [];
  if (!terms.length) return true;
  return terms.some((term) =>
    (Array.isArray(term.matchExpressions) ? term.matchExpressions.filter(isObject) : []).every((e) => {
      const key = String(e.key);
      const values = Array.isArray(e.values) ? e.values.map(String) : [];
      switch (e.operator) {
        case 'In':
          return key in labels && values.includes(labels[key]);
        case 'NotIn':
          return !(key in labels) || !values.includes(labels[key]);
        case 'Exists':
          return key in labels;
        case 'DoesNotExist':
          return !(key in labels);
        default:
          return false;
      }
    }),
  );
}

/** Pod conditions as the kubelet's status manager writes them (pkg/kubelet/status/generate.go). */
function podConditions(pod: KubeObject, names: string[], ready: boolean, statuses: JsonObject[] = []): JsonObject[] {
  const now = nowTimestamp();
  const previous = Array.isArray(obj(pod.status).conditions) ? (obj(pod.status).conditions as Json[]).filter(isObject) : [];
  const since = (type: string, status: string): string => {
    const p = previous.find((c) => c.type === type);
    return p && p.status === status ? String(p.lastTransitionTime) : now;
  };
  const notReady = statuses.length ? statuses.filter((s) => s.ready !== true).map((s) => String(s.name)) : names;
  const unready = (type: string): JsonObject =>
    ready
      ? { type, status: 'True', lastProbeTime: null, lastTransitionTime: since(type, 'True') }
      : {
          type,
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: since(type, 'False'),
          reason: 'ContainersNotReady',
          message: `containers with unready status: [${notReady.join(' ')}]`,
        };
  return [
    {
      type: 'PodReadyToStartContainers',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: since('PodReadyToStartContainers', 'True'),
    },
    { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: since('Initialized', 'True') },
    unready('Ready'),
    unready('ContainersReady'),
    { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: since('PodScheduled', 'True') },
  ];
}
