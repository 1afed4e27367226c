import { strToU8, zipSync } from 'fflate';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { acquireToken } from '../../shared/azure/identity/connectionCredential';
import { parseApplyOutput, type ApplyChange } from '../../shared/kube/applyOutput';
import { toYamlStream } from '../../shared/kube/manifests';
import { DeadlineExceededError, withDeadline } from '../../shared/net/deadline';
import { ExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import { explainArmFailure } from '../../shared/azure/arm/armErrors';
import { roleAssignmentCommand, suggestAssignments } from '../../shared/azure/rbac/leastPrivilegedRoles';
import type { ClusterAccess } from '../../shared/azure/aks/clusterAccess';
import { clusterResourceId } from '../../shared/azure/aks/clusterAccess';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import type { KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import { deleteReport } from '../../shared/kube/deleteOutput';
import { splitBySize } from '../../shared/kube/manifestBatches';
import type { ManifestObject } from '../../shared/kube/manifests';
import { deleteScript, deleteTimeout, type DeleteOutcome } from './deleteManifests';
import {
  diffArgs,
  namespaceObject,
  rolloutTargets,
  ROLLOUT_TIMED_OUT,
  rolloutTimeout,
  shellWord,
  type DeployPlan,
  type RolloutTarget,
} from './deployPlan';
import { explainKubectlOutput, stageWhat, type KubectlStage } from './kubectlFailure';
import { MARK, markedTargets, reportRollback, rollbackFromLogs } from './rollback';
import { DRY_RUN_PASSED, runCommandScript } from './runCommandScript';
import { reportRolloutFindings } from './report';
import { failureContextOf, type DeployRoute, type RouteContext } from './route';
import { explainRolloutFailure, pullContextOf, splitRunCommandLog, unfinishedWorkloads, type UnfinishedWorkload } from './rolloutFailure';

/**
 * The largest run command request the task sends. Resource Manager refuses a request body over 4 MB
 * (Azure/azure-resource-manager-rpc v1.0 common-api-details.md, "Max Request Body Size", added by
 * PR #138), and AKS run command's `context` (the files, base64 of a zip: azure-rest-api-specs
 * Microsoft.ContainerService managedClusters.json `RunCommandRequest.context`) travels in that body:
 * `az aks command invoke --file` with a larger folder fails with "Request Entity Too Large"
 * (Azure/azure-cli#22870). A batch whose request would be larger goes in several invocations.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** What the rest of the body takes besides `context`: the command, the token, the JSON around them. */
const REQUEST_RESERVE_BYTES = 64 * 1024;

export interface RunCommandOutcome {
  exitCode: number;
  logs: string;
}

export { runCommandScript };

/** The command for action preview: kubectl diff with the apply's flags (exit 1 means differences, not failure). */
export function previewScript(plan: DeployPlan): string {
  return ['kubectl', ...diffArgs(plan, 'manifests.yaml')].map(shellWord).join(' ');
}

/** Which step of the command failed, from its log: the dry run when it never printed that it passed. */
export function failedStage(plan: DeployPlan, logs: string): KubectlStage {
  if (!plan.serverDryRunFirst || logs.includes(DRY_RUN_PASSED)) return 'apply';
  // The namespace created before the dry run (createNamespace) is a real apply: announced but not
  // reported applied by kubectl, that apply is what failed, not the check.
  if (NAMESPACE_FIRST.test(logs) && !NAMESPACE_APPLIED.test(logs)) return 'apply';
  return 'dryRun';
}

/** What the run command script prints before it creates the namespace ahead of the dry run (runCommandScript.ts), and kubectl's line once it did. */
const NAMESPACE_FIRST = /^serverDryRunFirst: creating the namespace /m;
const NAMESPACE_APPLIED = /^namespace\/\S+ (created|configured|unchanged|serverside-applied)/m;

/**
 * The run command's `context`: the files as one zip archive, base64, unpacked into the command's
 * working directory. az aks command invoke (azure-cli, acs/custom.py _get_command_context) writes
 * it with Python's zipfile (entries stored) and base64.encodebytes; Terraform's archive_file (Go's
 * archive/zip) deflates its entries. The service unzips either, so the manifests go deflated:
 * YAML shrinks several times over.
 */
export function contextArchive(files: Record<string, string>): string {
  const entries = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, strToU8(text)]));
  return Buffer.from(zipSync(entries, { level: 6 })).toString('base64');
}

/**
 * AKS run command: no kubeconfig on the agent. The run command pod's log is printed; a kubectl that
 * failed in it fails the task, explained as on the direct route.
 */
export function runCommandRoute(ctx: RouteContext): DeployRoute {
  const { facts } = ctx;
  return {
    name: 'runCommand',
    credential: facts.entraIntegration ? ctx.options.credentialHelper : 'local',
    deploy: (plan) => deployInParts(ctx, plan),
    delete: (plan) => deleteInParts(ctx, plan),
    preview: (plan) => previewInParts(ctx, plan),
  };
}

/** One invocation: the command, its files, the deadline; its log printed. */
async function invoke(ctx: RouteContext, command: string, objects: ManifestObject[], deadlineMs: number, label: string) {
  const outcome = await ctx.timings.time('run command', () =>
    deployThroughRunCommand(
      ctx.cc,
      ctx.access,
      ctx.facts,
      command,
      runCommandContext(ctx.facts, objects),
      deadlineMs,
      ctx.identity.objectId,
    ),
  );
  if (label) console.log(label);
  // A failed rollout's evidence is read, not shown: the user sees what kubectl printed.
  const { shown, evidence } = splitRunCommandLog(outcome.logs);
  for (const line of shown.split(/\r\n|\r|\n/)) if (line) console.log(`  [run command] ${neutralizeLoggingCommands(line)}`);
  return { ...outcome, logs: shown, evidence };
}

/**
 * The plan's objects (the namespace to create first) in batches each within one request. `prunes`:
 * the apply (or its diff) prunes with the plan's selector, and a batch in parts is refused: kubectl
 * apply --prune deletes the objects with the selector that are not in the files of that apply
 * (kubectl apply --help, "--prune: Automatically delete resource objects, that do not appear in the
 * configs"), so each part would delete what the parts before it applied.
 */
function partsOf(ctx: RouteContext, plan: DeployPlan, prunes: boolean): ManifestObject[][] {
  const namespace = namespaceObject(plan);
  const objects = namespace ? [namespace, ...plan.objects] : plan.objects;
  const budget = Math.floor(((MAX_REQUEST_BYTES - REQUEST_RESERVE_BYTES) * 3) / 4); // base64: 4 bytes for 3
  const split = splitBySize(objects, (batch) => zippedSize(batch), budget);
  if (split.tooLarge) {
    throw new ExplainedError({
      what: `Deploying to '${ctx.facts.name}' through AKS run command`,
      reason: `${split.tooLarge.kind} '${split.tooLarge.metadata.name}' alone is larger, zipped, than one run command request carries (${MAX_REQUEST_BYTES / 1024 / 1024} MB, Resource Manager's limit).`,
      fix: 'Make the object smaller (a ConfigMap or Secret that big belongs in a volume or a registry), or deploy from an agent with line of sight (route: direct).',
      code: 'RUN_COMMAND_TOO_LARGE',
    });
  }
  if (prunes && plan.pruneSelector && split.batches.length > 1) {
    throw new ExplainedError({
      what: `Deploying to '${ctx.facts.name}' through AKS run command`,
      reason: `The manifests are larger, zipped, than one run command request carries (${MAX_REQUEST_BYTES / 1024 / 1024} MB, Resource Manager's limit), so they would go in ${split.batches.length} parts; with pruneSelector each part's kubectl apply --prune would delete the objects the parts before it applied.`,
      fix: 'Deploy from an agent with line of sight (route: direct), which applies the whole batch at once, or make the batch smaller (fewer or smaller objects per task run), or turn prune off.',
      code: 'PRUNE_NEEDS_ONE_REQUEST',
    });
  }
  if (split.batches.length > 1)
    console.log(
      `The manifests are larger than one run command request carries: sending them in ${split.batches.length} parts, namespaces and CRDs first.`,
    );
  return split.batches;
}

async function deployInParts(ctx: RouteContext, plan: DeployPlan): Promise<ApplyChange[]> {
  // A token still on its way to the broker is the one run command takes from the credential's cache.
  await ctx.broker?.prefetched;
  const parts = partsOf(ctx, plan, true);
  const deadlineMs = (plan.rolloutTimeoutSeconds + 120) * 1000;
  const changedBefore: RolloutTarget[] = [];
  // The last part waits for the rollouts of the whole plan, every part's, and reads the evidence for all its workloads.
  const waits = rolloutTargets(plan);
  const workloads = unfinishedWorkloads(plan);
  let applied = '';
  for (const [i, objects] of parts.entries()) {
    const last = i === parts.length - 1;
    // The namespace to create travels in the first part (partsOf); its script creates it ahead of a dry run.
    const partPlan: DeployPlan = {
      ...plan,
      objects: objects.filter((o) => plan.objects.includes(o)),
      createNamespace: i === 0 && plan.createNamespace,
    };
    const command = runCommandScript(partPlan, { targets: rolloutTargets(partPlan), last, changedBefore, waits, workloads });
    const label = parts.length > 1 ? `Run command part ${i + 1} of ${parts.length}: ${objects.length} object(s).` : '';
    const outcome = await invoke(ctx, command, objects, deadlineMs, label);
    changedBefore.push(...markedTargets(outcome.logs, MARK.changed));
    applied += `${outcome.logs}\n`;
    if (outcome.exitCode === 0) continue;
    let failure: unknown = ROLLOUT_TIMED_OUT.test(outcome.logs)
      ? rolloutTimeout(plan, notRolledOut(plan, outcome.logs))
      : runCommandFailure(outcome, { ...failureContextOf(ctx, plan), intent: 'write' }, failedStage(plan, outcome.logs));
    // Why the rollout failed, from the evidence the script read in the same invocation.
    if (outcome.evidence)
      failure = explainRolloutFailure(
        failure,
        stillRollingOut(plan, outcome.logs),
        outcome.evidence,
        pullContextOf(ctx.facts, ctx.options.registryName, {
          environment: ctx.cc.connection.cloud.environment,
          resourceId: ctx.registryResourceId,
        }),
        reportRolloutFindings,
      );
    // The rollback, once the last part went on to it: what it undid, and what every part created.
    if (last && plan.rollbackOnFailure && plan.waitForRollout && outcome.logs.includes(MARK.rollingBack))
      failure = reportRollback(rollbackFromLogs(applied), failure);
    throw failure;
  }
  // What kubectl apply printed for each object, across the parts (its name printer's lines).
  return parseApplyOutput(applied);
}

/** The plan's workloads the log does not mark rolled out: the ones the rollout diagnosis is about. */
export function stillRollingOut(plan: DeployPlan, logs: string): UnfinishedWorkload[] {
  return unfinishedWorkloads(plan, notRolledOut(plan, logs));
}

function notRolledOut(plan: DeployPlan, logs: string): string[] {
  const done = new Set(markedTargets(logs, MARK.rolledOut).map((t) => `${t.ref}@${t.namespace}`));
  return rolloutTargets(plan)
    .filter((t) => !done.has(`${t.ref}@${t.namespace}`))
    .map((t) => t.ref);
}

/** kubectl delete of the manifests' objects: the rest first, namespaces and CRDs last (the parts in reverse). */
async function deleteInParts(ctx: RouteContext, plan: DeployPlan): Promise<DeleteOutcome> {
  await ctx.broker?.prefetched;
  const parts = partsOf(ctx, { ...plan, createNamespace: false }, false).reverse();
  let output = '';
  for (const [i, objects] of parts.entries()) {
    const command = deleteScript({ ...plan, objects });
    const label = parts.length > 1 ? `Run command part ${i + 1} of ${parts.length}: ${objects.length} object(s).` : '';
    const outcome = await invoke(ctx, command, objects, (plan.rolloutTimeoutSeconds + 120) * 1000, label);
    if (outcome.exitCode !== 0) {
      if (ROLLOUT_TIMED_OUT.test(outcome.logs)) throw deleteTimeout(plan);
      throw runCommandFailure(outcome, { ...failureContextOf(ctx, plan), intent: 'write' }, 'other');
    }
    output += outcome.logs;
  }
  return deleteReport(plan.objects, plan.namespace, output);
}

/** kubectl diff of each part with the apply's flags: nothing changes; the diffs, concatenated. */
async function previewInParts(ctx: RouteContext, plan: DeployPlan): Promise<string> {
  await ctx.broker?.prefetched;
  let diff = '';
  for (const objects of partsOf(ctx, plan, true)) {
    const partPlan: DeployPlan = { ...plan, objects: objects.filter((o) => plan.objects.includes(o)) };
    const outcome = await invoke(ctx, previewScript(partPlan), objects, 300_000, '');
    // kubectl diff: 0 no differences, 1 differences, >1 an error (kubectl diff --help).
    if (outcome.exitCode > 1 || outcome.exitCode < 0)
      throw runCommandFailure(outcome, { ...failureContextOf(ctx, plan), intent: 'read' }, 'diff');
    diff += outcome.logs;
  }
  return diff;
}

function runCommandFailure(outcome: RunCommandOutcome, context: KubectlFailureContext, stage: KubectlStage): ExplainedError {
  const explained = explainKubectlOutput(outcome.logs, context, stage);
  const what = stageWhat(stage, 'runCommand');
  return new ExplainedError(
    explained
      ? { what, ...explained }
      : {
          what,
          reason: `The command exited with ${outcome.exitCode}.${stage === 'dryRun' ? ' Nothing was applied: the server-side dry run refused the batch.' : ''}`,
          fix: 'See the run command log above.',
          code: 'RUN_COMMAND_FAILED',
        },
  );
}

/**
 * Deploys through Resource Manager's AKS run command: the manifests travel zipped in the request,
 * a pod inside the cluster runs kubectl with a short-lived Entra token for the API server, and the
 * task polls for the result within the deadline. This reaches a private cluster from any agent.
 */
export async function deployThroughRunCommand(
  cc: ConnectionCredential,
  access: ClusterAccess,
  facts: ClusterFacts,
  command: string,
  context: string,
  deadlineMs: number,
  principalObjectId?: string,
): Promise<RunCommandOutcome> {
  const what = `Deploying to '${facts.name}' through AKS run command`;
  // As `az aks command invoke` does (azure-cli, acs/custom.py aks_runcommand): the caller's token for
  // the AKS server application goes only to a cluster with AKS-managed Entra ID; any other cluster
  // runs the command with its own credential, and a token there would only travel for nothing.
  const clusterToken = facts.entraManaged ? (await acquireToken(cc, 'aksServer')).token : undefined;
  try {
    const result = await withDeadline(
      deadlineMs,
      (abortSignal) =>
        access.containerService.managedClusters.runCommand(
          facts.resourceGroup,
          facts.name,
          { command, context, ...(clusterToken ? { clusterToken } : {}) },
          { updateIntervalInMs: 1_000, abortSignal },
        ),
      () => new DeadlineExceededError('AKS run command', deadlineMs),
    );
    // A command that never ran (its pod failed) has no exit code and no logs, only a reason.
    if (/^failed$/i.test(result.provisioningState ?? '') && result.exitCode === undefined) {
      throw new ExplainedError({
        what,
        reason: `The run command pod failed before the command ran: ${result.reason || 'no reason given'}.`,
        fix: 'Check the cluster has capacity for the command pod in the aks-command namespace, then run again.',
        code: 'RUN_COMMAND_FAILED',
      });
    }
    return { exitCode: result.exitCode ?? -1, logs: result.logs ?? '' };
  } catch (err) {
    throw runCommandRequestFailure(err, what, deadlineMs, access, facts, principalObjectId);
  }
}

/** Objects as run command's `context`, once the cluster is seen to allow run command. */
function runCommandContext(facts: ClusterFacts, objects: ManifestObject[]): string {
  if (facts.runCommandDisabled) {
    throw new ExplainedError({
      what: `Deploying to '${facts.name}' through AKS run command`,
      reason:
        'The cluster disables run command (apiServerAccessProfile.disableRunCommand), and the agent has no line of sight to its API server.',
      fix: `Run the job on a self-hosted agent inside the cluster's VNet, or enable run command: az aks command invoke needs 'az aks update -n ${facts.name} -g ${facts.resourceGroup} --enable-run-command'.`,
      code: 'RUN_COMMAND_DISABLED',
    });
  }
  return contextArchive({ 'manifests.yaml': toYamlStream(objects) });
}

function zippedSize(objects: ManifestObject[]): number {
  return zipSync({ 'manifests.yaml': strToU8(toYamlStream(objects)) }, { level: 6 }).length;
}

/** The run command request's failure, explained: the deadline, or Resource Manager's refusal with the roles that allow it. */
function runCommandRequestFailure(
  err: unknown,
  what: string,
  deadlineMs: number,
  access: ClusterAccess,
  facts: ClusterFacts,
  principalObjectId: string | undefined,
): ExplainedError {
  // Already explained (e.g. ARM_FOREIGN_URL from the client's pipeline, a poll URL off Resource Manager).
  if (err instanceof ExplainedError) return err;
  if (err instanceof DeadlineExceededError) {
    return new ExplainedError(
      {
        what,
        reason: `The command did not finish within ${Math.round(deadlineMs / 1000)} s.`,
        fix: 'Raise rolloutTimeoutSeconds, or check the rollout in the cluster.',
        code: 'RUN_COMMAND_TIMEOUT',
      },
      { cause: err },
    );
  }
  const e = err as { statusCode?: number; code?: string };
  const scope = clusterResourceId(access.target);
  const explained = explainArmFailure(
    { statusCode: e.statusCode, code: e.code, message: messageOf(err) },
    { action: `${AKS}/runcommand/action (and commandResults/read)`, scope, principalObjectId, resourceLabel: `cluster '${facts.name}'` },
  );
  if (explained.code === 'ARM_AUTHORIZATION_FAILED') explained.fix = runCommandRolesFix(principalObjectId, scope);
  return new ExplainedError({ what, ...explained }, { cause: err });
}

const AKS = 'Microsoft.ContainerService/managedClusters';

/**
 * Run command needs exactly runcommand/action and commandResults/read on the cluster (AKS docs, "Access
 * a private AKS cluster using command invoke": "Access to the ... runcommand/action and ...
 * commandResults/read roles on the cluster"). No built-in role below Contributor holds both, so the
 * narrowest grant is a custom role with the two; the least-privileged built-in pair is the one
 * ServiceConnectionRoleCheck recommends.
 */
export function runCommandRolesFix(principalObjectId: string | undefined, scope: string): string {
  const pair = suggestAssignments(
    [`${AKS}/runcommand/action`, `${AKS}/commandResults/read`].map((operation) => ({ operation, scopeId: scope })),
  ).assignments;
  return `Assign a custom role with just ${AKS}/runcommand/action and ${AKS}/commandResults/read at the cluster, or the built-in pair: ${pair.map((a) => roleAssignmentCommand(principalObjectId, a)).join(' && ')}`;
}
