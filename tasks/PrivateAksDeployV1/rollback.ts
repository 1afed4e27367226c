import * as tl from 'azure-pipelines-task-lib/task';
import { STATUS_ICON, code, table, uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError, isExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import type { RolloutTarget } from './deployPlan';

/**
 * rollbackOnFailure: what the run changed and what it undid. A workload is undone when it existed
 * before the apply and the apply changed its pod template (`kubectl rollout undo` goes back to the
 * revision before: kubernetes/kubernetes staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollback.go,
 * DeploymentRollbacker takes the ReplicaSet of the previous revision, DaemonSet/StatefulSet the
 * previous ControllerRevision). A workload the run created has no revision to go back to: it is
 * reported, and left in place (deleting it could take away what a pipeline author wants to inspect,
 * and KubernetesManifest's rollback does not delete either).
 */
export interface RollbackOutcome {
  /** Undone, with whether the undo's own rollout finished within what was left of the deadline. */
  undone: { target: RolloutTarget; rolledOut: boolean }[];
  /** Created by this run: reported, not deleted. */
  created: RolloutTarget[];
  /** Changed by this run, but `kubectl rollout undo` failed (direct route): with kubectl's last line. */
  failed?: { target: RolloutTarget; reason: string }[];
}

/** The line markers the run command script prints, for the task to read back. */
export const MARK = {
  changed: 'private-aks-deploy: template changed:',
  created: 'private-aks-deploy: created:',
  rolledOut: 'private-aks-deploy: rolled out:',
  undone: 'private-aks-deploy: undone:',
  undoRolledOut: 'private-aks-deploy: undo rolled out:',
  /** The last part's rollout failed and it went on to undo what the run changed (printed once, before any undo). */
  rollingBack: 'private-aks-deploy: rolling back:',
} as const;

function ref(t: RolloutTarget): string {
  return `${t.ref} in ${t.namespace}`;
}

/** Targets the lines of `logs` mark with `marker` (`<marker> <ref> <namespace>`). Pure. */
export function markedTargets(logs: string, marker: string): RolloutTarget[] {
  const out: RolloutTarget[] = [];
  for (const line of logs.split(/\r\n|\r|\n/)) {
    const at = line.indexOf(marker);
    if (at < 0) continue;
    const [r, namespace] = line
      .slice(at + marker.length)
      .trim()
      .split(/\s+/);
    if (r && namespace) out.push({ ref: r, namespace });
  }
  return out;
}

/** The rollback's outcome as the run command script's log tells it. Pure. */
export function rollbackFromLogs(logs: string): RollbackOutcome {
  const rolledOut = new Set(markedTargets(logs, MARK.undoRolledOut).map(ref));
  return {
    undone: markedTargets(logs, MARK.undone).map((target) => ({ target, rolledOut: rolledOut.has(ref(target)) })),
    created: markedTargets(logs, MARK.created),
  };
}

/**
 * The rollback reported (log, `rolledBack` output, build summary page) and the rollout's failure
 * returned with what was undone in its reason, so the run's one error line says both.
 */
export function reportRollback(outcome: RollbackOutcome, failure: unknown): ExplainedError {
  const undone = outcome.undone.map((u) => ({
    kind: kindOf(u.target),
    namespace: u.target.namespace,
    name: nameOf(u.target),
    rolledOut: u.rolledOut,
  }));
  tl.setVariable('rolledBack', JSON.stringify(undone), false, true);
  console.log(`rollbackOnFailure: ${outcome.undone.length} workload(s) undone.`);
  for (const u of outcome.undone)
    console.log(
      `  ${u.target.ref} in ${u.target.namespace}: back to its previous revision${u.rolledOut ? '' : ' (its rollout did not finish within the deadline)'}`,
    );
  for (const f of outcome.failed ?? []) console.log(`  ${ref(f.target)}: the undo failed (${f.reason}); left as the run applied it`);
  for (const c of outcome.created) console.log(`  ${c.ref} in ${c.namespace}: created by this run, left in place (no previous revision)`);
  uploadSummaryPage('private-aks-deploy-rollback', 'Private AKS deploy: rollback', rollbackMarkdown(outcome));
  const e: ExplainedError = isExplainedError(failure)
    ? failure
    : new ExplainedError({
        what: 'Waiting for the rollouts',
        reason: messageOf(failure),
        fix: 'See the log above.',
        code: 'KUBECTL_FAILED',
      });
  const said = outcome.undone.length
    ? ` Rolled back to the previous revision: ${outcome.undone.map((u) => ref(u.target)).join(', ')}.`
    : outcome.failed?.length
      ? ''
      : ' Nothing was rolled back (no workload this run changed had a previous revision).';
  const notUndone = outcome.failed?.length
    ? ` Could not roll back: ${outcome.failed.map((f) => `${ref(f.target)} (${f.reason})`).join(', ')}.`
    : '';
  const left = outcome.created.length ? ` Created by this run and left in place: ${outcome.created.map(ref).join(', ')}.` : '';
  return new ExplainedError(
    { what: e.what, reason: `${e.reason}${said}${notUndone}${left}`, fix: e.fix, code: e.code },
    { cause: failure },
  );
}

function kindOf(t: RolloutTarget): string {
  const k = t.ref.split('/')[0];
  return { deployment: 'Deployment', statefulset: 'StatefulSet', daemonset: 'DaemonSet' }[k] ?? k;
}

function nameOf(t: RolloutTarget): string {
  return t.ref.split('/')[1];
}

export function rollbackMarkdown(outcome: RollbackOutcome): string {
  const rows = [
    ...outcome.undone.map((u) => [
      kindOf(u.target),
      code(u.target.namespace),
      code(nameOf(u.target)),
      u.rolledOut ? `${STATUS_ICON.pass} rolled back` : `${STATUS_ICON.fail} undone, rollout not finished`,
    ]),
    ...(outcome.failed ?? []).map((f) => [
      kindOf(f.target),
      code(f.target.namespace),
      code(nameOf(f.target)),
      `${STATUS_ICON.fail} undo failed`,
    ]),
    ...outcome.created.map((c) => [kindOf(c), code(c.namespace), code(nameOf(c)), 'created by this run, left in place']),
  ];
  return (
    [
      `### ${STATUS_ICON.fail} Rollout failed: ${outcome.undone.length} workload(s) rolled back`,
      '',
      ...table(['Kind', 'Namespace', 'Name', 'Rollback'], rows),
    ].join('\n') + '\n'
  );
}
