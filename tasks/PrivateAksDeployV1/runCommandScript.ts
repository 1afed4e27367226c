import {
  applyArgs,
  dryRunArgs,
  namespaceObject,
  rolloutTargets,
  shellQuote,
  shellWord as word,
  type DeployPlan,
  type RolloutTarget,
} from './deployPlan';
import { MARK } from './rollback';
import { evidenceCollection, unfinishedWorkloads, type UnfinishedWorkload } from './rolloutFailure';

/** The line the command prints once the server-side dry run passed, before the real apply. */
export const DRY_RUN_PASSED = 'private-aks-deploy: the server-side dry run passed; applying.';

/** One run command invocation's share of the plan. */
export interface ScriptPart {
  /** The part's own rollout targets (its workloads), whose templates it compares around the apply. */
  targets: RolloutTarget[];
  /** Last part: waits for every rollout of the plan, one deadline for all. */
  last: boolean;
  /** Workloads earlier parts changed (rollbackOnFailure), for the last part to undo. */
  changedBefore: RolloutTarget[];
  /** The whole plan's rollout targets, every part's: what the last part waits for. */
  waits: RolloutTarget[];
  /** The whole plan's workloads: the last part reads the cluster's evidence for them when a wait fails. */
  workloads: UnfinishedWorkload[];
}

/** The script for a plan sent in one invocation: it is the last part, and its own targets are all of them. */
export function wholePlan(plan: DeployPlan): ScriptPart {
  const targets = rolloutTargets(plan);
  return { targets, last: true, changedBefore: [], waits: targets, workloads: unfinishedWorkloads(plan) };
}

function kubectl(args: string[]): string {
  return ['kubectl', ...args].map(word).join(' ');
}

/** The pod template of a workload, as one JSON line (empty when it does not exist). */
function templateOf(t: RolloutTarget): string {
  return `$(kubectl get ${word(t.ref)} --namespace ${word(t.namespace)} --ignore-not-found -o 'jsonpath={.spec.template}' 2>/dev/null)`;
}

/**
 * The bash the run command pod executes for one part: apply, then (last part, waitForRollout) the
 * rollout waits, all within one deadline. bash's SECONDS counts the seconds since the shell started
 * (bash(1), Shell Variables), so each `kubectl rollout status --timeout` gets what is left of
 * rolloutTimeoutSeconds, as on the direct route (directRoute.ts waitForRollouts), instead of the whole
 * timeout each. With rollbackOnFailure the part notes, around its apply, which workloads existed and
 * had their pod template changed, and the last part undoes those when a rollout fails, waiting for
 * the undo within what is left of the deadline.
 */
export function runCommandScript(plan: DeployPlan, part: ScriptPart = wholePlan(plan)): string {
  const rollback = Boolean(plan.rollbackOnFailure && plan.waitForRollout);
  const waits = part.last && plan.waitForRollout ? part.waits : [];
  // serverDryRunFirst: the part's batch through a server-side dry run first; a refusal applies nothing
  // (a batch split in parts is checked part by part: a later part's namespaces exist only once applied).
  // A dry run stores nothing: with createNamespace the Namespace is applied for real first (the one
  // object created before the check), or every object in a new namespace would fail NotFound. It goes
  // as one line of JSON on stdin (kubectl apply -f - reads JSON as well as YAML).
  const namespace = plan.serverDryRunFirst ? namespaceObject(plan) : undefined;
  const createNamespace = namespace
    ? [
        `echo ${shellQuote(`serverDryRunFirst: creating the namespace '${namespace.metadata.name}' first (a dry run of objects in it needs it to exist).`)}`,
        `${kubectl(applyArgs({ ...plan, objects: [namespace], createNamespace: false, pruneSelector: undefined }, '-'))} <<< ${shellQuote(JSON.stringify(namespace))} || exit $?`,
      ]
    : [];
  const dryRun = plan.serverDryRunFirst
    ? [...createNamespace, `${kubectl(dryRunArgs(plan, 'manifests.yaml'))} || exit $?`, `echo ${shellQuote(DRY_RUN_PASSED)}`]
    : [];
  if (!rollback && waits.length === 0) return [...dryRun, kubectl(applyArgs(plan, 'manifests.yaml'))].join('\n');
  const lines = [...dryRun, `deadline=$((SECONDS + ${plan.rolloutTimeoutSeconds}))`, 'rc=0', 'changed=()'];
  for (const t of part.changedBefore) lines.push(`changed+=(${word(`${t.ref} ${t.namespace}`)})`);
  if (rollback) part.targets.forEach((t, i) => lines.push(`before_${i}=${templateOf(t)}`));
  lines.push(`${kubectl(applyArgs(plan, 'manifests.yaml'))} || exit $?`);
  if (rollback) {
    part.targets.forEach((t, i) => {
      const pair = `${t.ref} ${t.namespace}`;
      lines.push(
        `if [ -z "$before_${i}" ]; then echo ${word(`${MARK.created} ${pair}`)}; ` +
          `elif [ "$before_${i}" != "${templateOf(t)}" ]; then changed+=(${word(pair)}); echo ${word(`${MARK.changed} ${pair}`)}; fi`,
      );
    });
  }
  if (waits.length > 0) {
    lines.push(
      'wait_for() { left=$((deadline - SECONDS)); if [ "$left" -le 0 ]; then echo "error: timed out waiting for the condition" >&2; return 1; fi; ' +
        `kubectl rollout status "$1" --namespace "$2" --timeout="\${left}s" && echo "${MARK.rolledOut} $1 $2"; }`,
    );
    lines.push(`${waits.map((t) => `wait_for ${word(t.ref)} ${word(t.namespace)}`).join(' && ')} || rc=$?`);
    // Why a wait failed, from the cluster, read in this same invocation before anything is undone
    // (always on; printed between markers the route takes out of the log: rolloutFailure.ts).
    lines.push(`if [ "$rc" -ne 0 ]; then ${evidenceCollection(part.workloads)}; fi`);
  }
  if (rollback && part.last) {
    lines.push(
      'if [ "$rc" -ne 0 ]; then',
      `  echo ${word(MARK.rollingBack)}`,
      `  for w in "\${changed[@]}"; do set -- $w; echo "rollbackOnFailure: undoing $1 in $2"; kubectl rollout undo "$1" --namespace "$2" && echo "${MARK.undone} $1 $2"; done`,
      `  for w in "\${changed[@]}"; do set -- $w; left=$((deadline - SECONDS)); if [ "$left" -gt 0 ]; then kubectl rollout status "$1" --namespace "$2" --timeout="\${left}s" && echo "${MARK.undoRolledOut} $1 $2"; fi; done`,
      'fi',
    );
  }
  lines.push('exit $rc');
  return lines.join('\n');
}
