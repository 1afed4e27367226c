/**
 * Why a workload's rollout did not finish, read from the cluster's own evidence: its ReplicaSets,
 * its pods' statuses and the events about them, as `kubectl get deploy,rs,pods,events -o json`
 * returns them, and the last lines of crashed containers (`kubectl logs --previous --prefix`).
 * Pure: evidence in, findings out. No Azure knowledge here: an image pull failure is reported with
 * kubelet's message; what it means for a given registry is the caller's to add.
 *
 * The shapes read are what the controllers write:
 * - container `state.waiting.reason` ErrImagePull / ImagePullBackOff / CrashLoopBackOff /
 *   CreateContainerConfigError (pkg/kubelet/images/types.go, pkg/kubelet/kuberuntime/kuberuntime_container.go),
 *   `lastState.terminated` {exitCode, reason} of the previous run;
 * - events `Failed` "Failed to pull image \"x\": <error>" (pkg/kubelet/images/image_manager.go),
 *   `FailedScheduling` from default-scheduler, `FailedCreate` "Error creating: <error>" on the
 *   ReplicaSet (pkg/controller/replicaset/replica_set.go), `Unhealthy` "Readiness probe failed: …";
 * - pod condition PodScheduled False reason Unschedulable (pkg/scheduler/schedule_one.go);
 * - ReplicaSet condition ReplicaFailure reason FailedCreate (pkg/controller/replicaset/replica_set_utils.go);
 * - Deployment condition Progressing False reason ProgressDeadlineExceeded (pkg/controller/deployment/util).
 */

export type KubeJson = Record<string, unknown>;

export interface WorkloadRef {
  kind: string;
  name: string;
  namespace: string;
}

export interface RolloutEvidence {
  /** Items of `kubectl get <workload>,rs,pods,events -o json` (a List's items, or the objects one by one). */
  items: KubeJson[];
  /** `kubectl logs --previous --prefix` output: lines `[pod/<pod>/<container>] <line>`. */
  logs?: string;
}

export type FindingCode =
  | 'IMAGE_PULL_FAILED'
  | 'CRASH_LOOP'
  | 'CONTAINER_CONFIG_ERROR'
  | 'UNSCHEDULABLE'
  | 'POD_CREATE_DENIED'
  | 'POD_QUOTA_EXCEEDED'
  | 'NOT_READY'
  | 'PROGRESS_DEADLINE';

export interface RolloutFinding {
  code: FindingCode;
  /** `Deployment/web` */
  workload: string;
  pod?: string;
  container?: string;
  /** The image a pull failed for. */
  image?: string;
  /** kubelet's or the controller's own words. */
  message: string;
  /** For crash loops: exit code, termination reason, the last log lines. */
  exitCode?: number;
  terminationReason?: string;
  lastLogLines?: string[];
  reason: string;
  fix: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): KubeJson => (v && typeof v === 'object' && !Array.isArray(v) ? (v as KubeJson) : {});
const arr = (v: unknown): KubeJson[] => (Array.isArray(v) ? (v as KubeJson[]) : []);
const meta = (o: KubeJson) => obj(o.metadata);

/** The objects of the evidence: a List is opened, each item kept. */
export function evidenceItems(parsed: unknown): KubeJson[] {
  const o = obj(parsed);
  return str(o.kind)?.endsWith('List') ? arr(o.items) : parsed ? [o] : [];
}

function ownedBy(o: KubeJson, kind: string, name: string): boolean {
  return arr(meta(o).ownerReferences).some((r) => r.kind === kind && r.name === name);
}

/** The workload's ReplicaSets (Deployments) and pods, by owner references; events about any of them. */
function relatedTo(workload: WorkloadRef, items: KubeJson[]) {
  const inNs = items.filter((i) => str(meta(i).namespace) === workload.namespace || !str(meta(i).namespace));
  const replicaSets = inNs.filter((i) => i.kind === 'ReplicaSet' && ownedBy(i, workload.kind, workload.name));
  const owners =
    workload.kind === 'Deployment' ? replicaSets.map((rs) => ({ kind: 'ReplicaSet', name: String(meta(rs).name) })) : [workload];
  const pods = inNs.filter((i) => i.kind === 'Pod' && owners.some((o) => ownedBy(i, o.kind, o.name)));
  const names = new Set([
    `${workload.kind}/${workload.name}`,
    ...replicaSets.map((r) => `ReplicaSet/${meta(r).name}`),
    ...pods.map((p) => `Pod/${meta(p).name}`),
  ]);
  const events = inNs
    .filter((i) => i.kind === 'Event' && names.has(`${obj(i.involvedObject).kind}/${obj(i.involvedObject).name}`))
    .sort((a, b) => timeOf(b) - timeOf(a));
  const self = inNs.find((i) => i.kind === workload.kind && meta(i).name === workload.name);
  return { self, replicaSets, pods, events };
}

function timeOf(event: KubeJson): number {
  const t = str(event.lastTimestamp) ?? str(event.eventTime) ?? str(meta(event).creationTimestamp);
  return t ? Date.parse(t) : 0;
}

/** The last lines a container printed before it ended, from `kubectl logs --prefix` output. */
function logLinesOf(logs: string | undefined, pod: string, container: string, keep = 10): string[] {
  if (!logs) return [];
  const prefix = `[pod/${pod}/${container}] `;
  return logs
    .split(/\r?\n/)
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length))
    .slice(-keep);
}

/** Findings for one workload, the most telling first; empty when the evidence shows nothing wrong. */
export function diagnoseRollout(workload: WorkloadRef, evidence: RolloutEvidence): RolloutFinding[] {
  const label = `${workload.kind}/${workload.name}`;
  const { self, replicaSets, pods, events } = relatedTo(workload, evidence.items);
  const found = [
    ...createFailures(label, replicaSets, events),
    ...pods.flatMap((pod) => [
      ...schedulingFailure(label, pod),
      ...containerStatuses(pod).flatMap((c) => containerFailure(workload, label, pod, c, events, evidence.logs)),
    ]),
  ];
  if (found.length === 0) found.push(...deadlineExceeded(workload, label, self));
  // The same evidence often says it twice (a ReplicaSet condition and its event; two pods alike).
  const seen = new Set<string>();
  return found.filter((f) => {
    const key = `${f.code}|${f.container ?? ''}|${f.image ?? ''}|${f.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Pods the controller could not create: admission (policy webhooks) or quota refused them. */
function createFailures(label: string, replicaSets: KubeJson[], events: KubeJson[]): RolloutFinding[] {
  const messages = [
    ...replicaSets.flatMap((rs) =>
      arr(obj(rs.status).conditions)
        .filter((c) => c.type === 'ReplicaFailure' && c.status === 'True')
        .map((c) => str(c.message) ?? ''),
    ),
    ...events.filter((e) => e.reason === 'FailedCreate').map((e) => str(e.message) ?? ''),
  ];
  return messages.flatMap((message): RolloutFinding[] => {
    const text = message.replace(/^Error creating: /, '');
    if (/exceeded quota/.test(text)) {
      return [
        {
          code: 'POD_QUOTA_EXCEEDED',
          workload: label,
          message: text,
          reason: `The namespace's ResourceQuota refuses the pods of ${label}: ${text}`,
          fix: 'Lower the pods\u2019 requests or replicas, free up quota in the namespace, or ask the cluster operators to raise it.',
        },
      ];
    }
    if (!/admission webhook|denied the request|is forbidden/.test(text)) return [];
    const constraint = /\[([^\]]+)\]/.exec(text)?.[1];
    return [
      {
        code: 'POD_CREATE_DENIED',
        workload: label,
        message: text,
        reason: `The cluster refuses to create the pods of ${label}${constraint ? ` (policy ${constraint})` : ''}: ${text}`,
        fix: constraint?.startsWith('azurepolicy-')
          ? 'Change the pod template to comply with the Azure Policy named, or ask its owners for an exemption for this namespace.'
          : 'Change the pod template to satisfy the admission policy named, or ask the cluster operators.',
      },
    ];
  });
}

/** A pod no node can take: the scheduler's own message. */
function schedulingFailure(label: string, pod: KubeJson): RolloutFinding[] {
  const scheduled = arr(obj(pod.status).conditions).find((c) => c.type === 'PodScheduled');
  if (scheduled?.status !== 'False' || scheduled.reason !== 'Unschedulable') return [];
  const message = str(scheduled.message) ?? '';
  return [
    {
      code: 'UNSCHEDULABLE',
      workload: label,
      pod: String(meta(pod).name),
      message,
      reason: `No node can take the pods of ${label}: ${message}`,
      fix: /Insufficient (cpu|memory)/.test(message)
        ? 'Lower the containers\u2019 resource requests, or add nodes (scale the node pool or enable the cluster autoscaler).'
        : /affinity|selector|taint/i.test(message)
          ? 'Check the pod\u2019s nodeSelector, affinity and tolerations against the node pools\u2019 labels and taints.'
          : 'See the scheduler\u2019s message; add capacity or relax the pod\u2019s placement rules.',
    },
  ];
}

function containerStatuses(pod: KubeJson): KubeJson[] {
  const status = obj(pod.status);
  return [...arr(status.initContainerStatuses), ...arr(status.containerStatuses)];
}

/** What one container's status (and the events about its pod) says is wrong with it. */
function containerFailure(
  workload: WorkloadRef,
  label: string,
  pod: KubeJson,
  c: KubeJson,
  events: KubeJson[],
  logs: string | undefined,
): RolloutFinding[] {
  const podName = String(meta(pod).name);
  const container = String(c.name);
  const waiting = obj(obj(c.state).waiting);
  const why = str(waiting.reason);
  const base = { workload: label, pod: podName, container };
  if (why === 'ErrImagePull' || why === 'ImagePullBackOff') {
    // kubelet's pull error sits in the Failed event ("Failed to pull image "x": …"); the waiting
    // message of ImagePullBackOff is only "Back-off pulling image "x"".
    const pulled = events.find(
      (e) => e.reason === 'Failed' && obj(e.involvedObject).name === podName && /^Failed to pull image/.test(str(e.message) ?? ''),
    );
    const message = str(pulled?.message) ?? str(waiting.message) ?? why;
    const image = /^Failed to pull image "([^"]+)"/.exec(message)?.[1] ?? str(c.image);
    return [
      {
        ...base,
        code: 'IMAGE_PULL_FAILED',
        image,
        message,
        reason: `The nodes cannot pull the image of container '${container}': ${message}`,
        fix: 'Check that the image and tag exist and that the nodes may pull from the registry (credentials, network).',
      },
    ];
  }
  const last = obj(obj(c.lastState).terminated);
  if (why === 'CrashLoopBackOff' || (last.exitCode !== undefined && c.ready !== true)) return [crashLoop(workload, base, c, logs)];
  if (why === 'CreateContainerConfigError' || why === 'CreateContainerError') {
    const message = str(waiting.message) ?? why;
    return [
      {
        ...base,
        code: 'CONTAINER_CONFIG_ERROR',
        message,
        reason: `Container '${container}' cannot be started: ${message}`,
        fix: /secret|configmap/i.test(message)
          ? 'Create the Secret or ConfigMap it references (in the same namespace) before the workload, or fix the reference.'
          : 'Correct the container definition as the message says.',
      },
    ];
  }
  const probe =
    obj(c.state).running && c.ready === false
      ? events.find((e) => e.reason === 'Unhealthy' && obj(e.involvedObject).name === podName)
      : undefined;
  if (!probe) return [];
  const message = str(probe.message) ?? '';
  return [
    {
      ...base,
      code: 'NOT_READY',
      message,
      reason: `Container '${container}' runs but never becomes ready: ${message}`,
      fix: 'Check the readiness probe (path, port, timing) and what the application needs to answer it.',
    },
  ];
}

/** A container that keeps exiting: its exit code, why it ended, its last lines. */
function crashLoop(
  workload: WorkloadRef,
  base: { workload: string; pod: string; container: string },
  c: KubeJson,
  logs: string | undefined,
): RolloutFinding {
  const last = obj(obj(c.lastState).terminated);
  const exitCode = typeof last.exitCode === 'number' ? last.exitCode : undefined;
  const terminationReason = str(last.reason);
  const lines = logLinesOf(logs, base.pod, base.container);
  const restarts = `restarted ${c.restartCount ?? 0} time(s)`;
  return {
    ...base,
    code: 'CRASH_LOOP',
    message: str(obj(obj(c.state).waiting).message) ?? restarts,
    exitCode,
    terminationReason,
    lastLogLines: lines,
    reason: `Container '${base.container}' keeps exiting${exitCode !== undefined ? ` with code ${exitCode}` : ''}${terminationReason ? ` (${terminationReason})` : ''}, ${restarts}${lines.length ? `; its last lines: ${lines.slice(-3).join(' | ')}` : ''}.`,
    fix:
      terminationReason === 'OOMKilled'
        ? 'The container ran out of memory: raise its memory limit or lower its use.'
        : `See the container's log (kubectl logs ${base.pod} -c ${base.container} --previous -n ${workload.namespace}) and fix what makes it exit.`,
  };
}

/** The deployment controller's verdict, when the pods themselves show nothing. */
function deadlineExceeded(workload: WorkloadRef, label: string, self: KubeJson | undefined): RolloutFinding[] {
  const progressing = arr(obj(self?.status).conditions).find((c) => c.type === 'Progressing');
  if (progressing?.reason !== 'ProgressDeadlineExceeded') return [];
  const message = str(progressing.message) ?? '';
  return [
    {
      code: 'PROGRESS_DEADLINE',
      workload: label,
      message,
      reason: `${label} did not make progress within its progressDeadlineSeconds (${message}), and its pods show no error.`,
      fix: `Look at the pods and events: kubectl describe ${workload.kind.toLowerCase()} ${workload.name} -n ${workload.namespace}.`,
    },
  ];
}
