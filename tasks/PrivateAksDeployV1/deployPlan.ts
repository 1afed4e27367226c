import type { ManifestObject } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { isClusterScoped } from '../../shared/kube/manifests';

/** What to apply and how: the same for both routes. */
export interface DeployPlan {
  objects: ManifestObject[];
  /** The objects hold a Secret the task built in memory: kubectl gets them on stdin or in run command's request, never in a file. */
  carriesSecrets?: boolean;
  namespace?: string;
  createNamespace: boolean;
  serverSideApply: boolean;
  /** Run the whole batch with --dry-run=server before the real apply, so a refused batch changes nothing. */
  serverDryRunFirst?: boolean;
  pruneSelector?: string;
  waitForRollout: boolean;
  rolloutTimeoutSeconds: number;
  /** Undo the rollout of the workloads this run changed when their rollout fails (rollback.ts). */
  rollbackOnFailure?: boolean;
}

/** A workload whose rollout the task waits for: `<kind>/<name>` and its namespace. */
export type RolloutTarget = { ref: string; namespace: string };

const ROLLOUT_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** The workloads whose rollout the task waits for (and diagnoses, and can undo). */
export function isRolloutKind(kind: string): boolean {
  return ROLLOUT_KINDS.has(kind);
}

/** The namespace an object lands in: its own, else the task's, else kubectl's default. */
export function namespaceOf(plan: Pick<DeployPlan, 'namespace'>, o: ManifestObject): string {
  return o.metadata.namespace ?? plan.namespace ?? 'default';
}

/** The objects whose rollout the task waits for, as kubectl resource references. */
export function rolloutTargets(plan: DeployPlan): RolloutTarget[] {
  return plan.objects
    .filter((o) => isRolloutKind(o.kind))
    .map((o) => ({ ref: `${o.kind.toLowerCase()}/${o.metadata.name}`, namespace: namespaceOf(plan, o) }));
}

/** kubectl apply's arguments for the plan (the manifest file comes last). */
export function applyArgs(plan: DeployPlan, manifestFile: string): string[] {
  const args = ['apply', '-f', manifestFile];
  if (plan.namespace) args.push('--namespace', plan.namespace);
  // The pipeline is the source of truth for what it applies: take over fields another manager
  // (an earlier client-side apply, a hand edit) set, as a migration to server-side apply needs.
  if (plan.serverSideApply) args.push('--server-side', '--field-manager=private-aks-deploy', '--force-conflicts');
  if (plan.pruneSelector) {
    // Prune only the kinds the manifests hold: kubectl's default list is deprecated and reaches kinds
    // the pipeline never deployed.
    args.push('--prune', '--selector', plan.pruneSelector, ...pruneAllowlist(plan).flatMap((gvk) => ['--prune-allowlist', gvk]));
  }
  return args;
}

/**
 * The same apply as a server-side dry run: every object goes through validation and admission
 * (webhooks, quota) and nothing is stored (kubectl apply --dry-run=server; dryRun=All on each request).
 */
export function dryRunArgs(plan: DeployPlan, manifestFile: string): string[] {
  return [...applyArgs(plan, manifestFile), '--dry-run=server'];
}

/**
 * kubectl diff with the apply's flags (namespace, server-side apply with the same field manager and
 * --force-conflicts, prune with its selector and allowlist: kubectl diff takes them all), so the
 * diff shows what that apply would do; kubectl diff asks the server with dryRun=All either way.
 */
export function diffArgs(plan: DeployPlan, manifestFile: string): string[] {
  return ['diff', ...applyArgs(plan, manifestFile).slice(1)];
}

export function rolloutArgs(plan: DeployPlan, target: { ref: string; namespace: string }): string[] {
  return ['rollout', 'status', target.ref, '--namespace', target.namespace, `--timeout=${plan.rolloutTimeoutSeconds}s`];
}

/** The namespace object to create first, when asked and not already among the manifests. */
export function namespaceObject(plan: DeployPlan): ManifestObject | undefined {
  if (!plan.createNamespace || !plan.namespace) return undefined;
  if (plan.objects.some((o) => o.kind === 'Namespace' && o.metadata.name === plan.namespace)) return undefined;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: plan.namespace } };
}

/** Objects as the appliedObjects output lists them. */
export function appliedObjects(plan: DeployPlan): { kind: string; namespace?: string; name: string }[] {
  return plan.objects.map((o) => ({
    kind: o.kind,
    namespace: isClusterScoped(o.kind) ? undefined : namespaceOf(plan, o),
    name: o.metadata.name,
  }));
}

/** Quotes one argument for the run command's bash (single quotes, nothing expands). */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * One argument as a bash word: bare when it holds only characters bash gives no meaning there
 * (letters, digits, `_ . / = : , -`: none is a metacharacter, a quote, or starts an expansion;
 * bash(1) DEFINITIONS and EXPANSION, a comma only matters inside braces), else single-quoted.
 */
export function shellWord(arg: string): string {
  return /^[\w./=:,-]+$/.test(arg) ? arg : shellQuote(arg);
}

/** `<group>/<version>/<Kind>` of each kind in the plan (core for the core group), as --prune-allowlist takes them. */
export function pruneAllowlist(plan: DeployPlan): string[] {
  const kinds = new Set(
    plan.objects.map((o) => {
      const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['core', o.apiVersion];
      return `${group}/${version}/${o.kind}`;
    }),
  );
  return [...kinds].sort();
}

/** What kubectl rollout status (and kubectl delete --wait) prints when its --timeout runs out (wait.ErrWaitTimeout). */
export const ROLLOUT_TIMED_OUT = /timed out waiting for the condition/i;

/** rolloutTimeoutSeconds ran out: one deadline for all workloads, on both routes. */
export function rolloutTimeout(plan: DeployPlan, waiting: string[]): ExplainedError {
  return new ExplainedError({
    what: 'Waiting for the rollouts',
    reason: `The rollouts did not finish within rolloutTimeoutSeconds (${plan.rolloutTimeoutSeconds} s for all workloads together); still waiting for ${waiting.join(', ')}.`,
    fix: 'Check the pods of those workloads (kubectl describe, events), or raise rolloutTimeoutSeconds.',
    code: 'KUBECTL_TIMEOUT',
  });
}
