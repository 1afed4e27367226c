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
  const findings: RolloutFinding[] = [];
  const seen = new Set<string>();
  const add = (f: RolloutFinding) => {
    const key = `${f.code}|${f.container ?? ''}|${f.image ?? ''}|${f.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    findings.push(f);
  };

  // Pods the controller could not create: admission (policy webhooks) or quota refused them.
  const createFailures = [
    ...replicaSets.flatMap((rs) =>
      arr(obj(rs.status).conditions)
        .filter((c) => c.type === 'ReplicaFailure' && c.status === 'True')
        .map((c) => str(c.message) ?? ''),
    ),
    ...events.filter((e) => e.reason === 'FailedCreate').map((e) => str(e.message) ?? ''),
  ];
  for (const message of createFailures) {
    const text = message.replace(/^Error creating: /, '');
    if (/exceeded quota/.test(text)) {
      add({
        code: 'POD_QUOTA_EXCEEDED',
        workload: label,
        message: text,
        reason: `The namespace's ResourceQuota refuses the pods of ${label}: ${text}`,
        fix: 'Lower the pods\u2019 requests or replicas, free up quota in the namespace, or ask the cluster operators to raise it.',
      });
    } else if (/admission webhook|denied the request|is forbidden/.test(text)) {
      const constraint = /\[([^\]]+)\]/.exec(text)?.[1];
      add({
        code: 'POD_CREATE_DENIED',
        workload: label,
        message: text,
        reason: `The cluster refuses to create the pods of ${label}${constraint ? ` (policy ${constraint})` : ''}: ${text}`,
        fix: constraint?.startsWith('azurepolicy-')
          ? 'Change the pod template to comply with the Azure Policy named, or ask its owners for an exemption for this namespace.'
          : 'Change the pod template to satisfy the admission policy named, or ask the cluster operators.',
      });
    }
  }

  for (const pod of pods) {
    const podName = String(meta(pod).name);
    const status = obj(pod.status);
    const scheduled = arr(status.conditions).find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      const message = str(scheduled.message) ?? '';
      add({
        code: 'UNSCHEDULABLE',
        workload: label,
        pod: podName,
        message,
        reason: `No node can take the pods of ${label}: ${message}`,
        fix: /Insufficient (cpu|memory)/.test(message)
          ? 'Lower the containers\u2019 resource requests, or add nodes (scale the node pool or enable the cluster autoscaler).'
          : /affinity|selector|taint/i.test(message)
            ? 'Check the pod\u2019s nodeSelector, affinity and tolerations against the node pools\u2019 labels and taints.'
            : 'See the scheduler\u2019s message; add capacity or relax the pod\u2019s placement rules.',
      });
    }
    const containers = [...arr(status.initContainerStatuses), ...arr(status.containerStatuses)];
    for (const c of containers) {
      const container = String(c.name);
      const waiting = obj(obj(c.state).waiting);
      const why = str(waiting.reason);
      const image = str(c.image);
      if (why === 'ErrImagePull' || why === 'ImagePullBackOff') {
        // kubelet's pull error sits in the Failed event ("Failed to pull image "x": …"); the
        // waiting message of ImagePullBackOff is only "Back-off pulling image "x"".
        const pulled = events.find(
          (e) => e.reason === 'Failed' && obj(e.involvedObject).name === podName && /^Failed to pull image/.test(str(e.message) ?? ''),
        );
        const message = str(pulled?.message) ?? str(waiting.message) ?? why;
        add({
          code: 'IMAGE_PULL_FAILED',
          workload: label,
          pod: podName,
          container,
          image: /^Failed to pull image "([^"]+)"/.exec(message)?.[1] ?? image,
          message,
          reason: `The nodes cannot pull the image of container '${container}': ${message}`,
          fix: 'Check that the image and tag exist and that the nodes may pull from the registry (credentials, network).',
        });
      } else if (why === 'CrashLoopBackOff' || obj(obj(c.lastState).terminated).exitCode !== undefined) {
        const last = obj(obj(c.lastState).terminated);
        if (why !== 'CrashLoopBackOff' && c.ready === true) continue;
        const exitCode = typeof last.exitCode === 'number' ? last.exitCode : undefined;
        const terminationReason = str(last.reason);
        const lines = logLinesOf(evidence.logs, podName, container);
        add({
          code: 'CRASH_LOOP',
          workload: label,
          pod: podName,
          container,
          message: str(waiting.message) ?? `restarted ${c.restartCount ?? 0} time(s)`,
          exitCode,
          terminationReason,
          lastLogLines: lines,
          reason: `Container '${container}' keeps exiting${exitCode !== undefined ? ` with code ${exitCode}` : ''}${terminationReason ? ` (${terminationReason})` : ''}, restarted ${c.restartCount ?? 0} time(s)${lines.length ? `; its last lines: ${lines.slice(-3).join(' | ')}` : ''}.`,
          fix:
            terminationReason === 'OOMKilled'
              ? 'The container ran out of memory: raise its memory limit or lower its use.'
              : `See the container's log (kubectl logs ${podName} -c ${container} --previous -n ${workload.namespace}) and fix what makes it exit.`,
        });
      } else if (why === 'CreateContainerConfigError' || why === 'CreateContainerError') {
        const message = str(waiting.message) ?? why;
        add({
          code: 'CONTAINER_CONFIG_ERROR',
          workload: label,
          pod: podName,
          container,
          message,
          reason: `Container '${container}' cannot be started: ${message}`,
          fix: /secret|configmap/i.test(message)
            ? 'Create the Secret or ConfigMap it references (in the same namespace) before the workload, or fix the reference.'
            : 'Correct the container definition as the message says.',
        });
      } else if (obj(c.state).running && c.ready === false) {
        const probe = events.find((e) => e.reason === 'Unhealthy' && obj(e.involvedObject).name === podName);
        if (probe) {
          const message = str(probe.message) ?? '';
          add({
            code: 'NOT_READY',
            workload: label,
            pod: podName,
            container,
            message,
            reason: `Container '${container}' runs but never becomes ready: ${message}`,
            fix: 'Check the readiness probe (path, port, timing) and what the application needs to answer it.',
          });
        }
      }
    }
  }

  const progressing = arr(obj(self?.status).conditions).find((c) => c.type === 'Progressing');
  if (findings.length === 0 && progressing?.reason === 'ProgressDeadlineExceeded') {
    const message = str(progressing.message) ?? '';
    add({
      code: 'PROGRESS_DEADLINE',
      workload: label,
      message,
      reason: `${label} did not make progress within its progressDeadlineSeconds (${message}), and its pods show no error.`,
      fix: `Look at the pods and events: kubectl describe ${workload.kind.toLowerCase()} ${workload.name} -n ${workload.namespace}.`,
    });
  }
  return findings;
}
