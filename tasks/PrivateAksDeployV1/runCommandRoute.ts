import { strToU8, zipSync } from 'fflate';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { acquireToken } from '../../shared/azure/identity/connectionCredential';
import { toYamlStream } from '../../shared/kube/manifests';
import { DeadlineExceededError, withDeadline } from '../../shared/net/deadline';
import { ExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import { explainArmFailure } from '../../shared/azure/arm/armErrors';
import { roleAssignmentCommand, suggestAssignments } from '../../shared/azure/rbac/leastPrivilegedRoles';
import type { ClusterAccess } from '../../shared/azure/aks/clusterAccess';
import { clusterResourceId } from '../../shared/azure/aks/clusterAccess';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import { explainKubectlFailure } from '../../shared/kube/kubectlErrors';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import { applyArgs, namespaceObject, rolloutArgs, rolloutTargets, shellQuote, type DeployPlan } from './deployPlan';
import { reportRolloutFindings } from './report';
import { failureContextOf, type DeployRoute, type RouteContext } from './route';
import { evidenceScript, explainRolloutFailure, pullContextOf, splitRunCommandLog, unfinishedWorkloads } from './rolloutFailure';

/** AKS run command takes the files as one base64 zip in the request; keep well under its limits. */
const MAX_CONTEXT_BYTES = 20 * 1024 * 1024;

export interface RunCommandOutcome {
  exitCode: number;
  logs: string;
}

/**
 * The bash command the run-command pod executes: apply, then wait for each rollout; when a wait
 * fails, the evidence of why is collected in the same invocation (rolloutFailure.evidenceScript).
 */
export function runCommandScript(plan: DeployPlan): string {
  const line = (args: string[]) => ['kubectl', ...args].map((a) => (/^[\w./=:-]+$/.test(a) ? a : shellQuote(a))).join(' ');
  const apply = line(applyArgs(plan, 'manifests.yaml'));
  const waits = plan.waitForRollout ? rolloutTargets(plan).map((target) => line(rolloutArgs(plan, target))) : [];
  if (waits.length === 0) return apply;
  return `${apply} && { ${waits.join(' && ')} || ${evidenceScript(unfinishedWorkloads(plan))}; }`;
}

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
  const { facts, timings } = ctx;
  return {
    name: 'runCommand',
    credential: facts.entraIntegration ? ctx.options.credentialHelper : 'local',
    async deploy(plan) {
      // A token still on its way to the broker is the one run command takes from the credential's cache.
      await ctx.broker?.prefetched;
      const deadlineMs = (plan.rolloutTimeoutSeconds + 120) * 1000;
      const outcome = await timings.time('run command', () =>
        deployThroughRunCommand(ctx.cc, ctx.access, facts, plan, deadlineMs, ctx.identity.objectId),
      );
      // The rollout's evidence (when a wait failed) is read, not shown: only what the user's kubectl printed.
      const { shown, evidence } = splitRunCommandLog(outcome.logs);
      for (const line of shown.split(/\r\n|\r|\n/)) if (line) console.log(`  [run command] ${neutralizeLoggingCommands(line)}`);
      if (outcome.exitCode === 0) return;
      const failure = runCommandFailure({ ...outcome, logs: shown }, { ...failureContextOf(ctx, plan), intent: 'write' });
      if (!evidence) throw failure;
      throw explainRolloutFailure(
        failure,
        unfinishedWorkloads(plan),
        evidence,
        pullContextOf(facts, ctx.options.registryName),
        reportRolloutFindings,
      );
    },
  };
}

function runCommandFailure(outcome: RunCommandOutcome, context: Parameters<typeof explainKubectlFailure>[1]): ExplainedError {
  const explained = explainKubectlFailure(outcome.logs, context);
  return new ExplainedError(
    explained
      ? { what: 'Deploying through AKS run command', ...explained }
      : {
          what: 'Deploying through AKS run command',
          reason: `The command exited with ${outcome.exitCode}.`,
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
  plan: DeployPlan,
  deadlineMs: number,
  principalObjectId?: string,
): Promise<RunCommandOutcome> {
  const what = `Deploying to '${facts.name}' through AKS run command`;
  const context = runCommandContext(what, facts, plan);
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
          { command: runCommandScript(plan), context, ...(clusterToken ? { clusterToken } : {}) },
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

/** The manifests as run command's `context`, once the cluster is seen to allow run command and the archive fits. */
function runCommandContext(what: string, facts: ClusterFacts, plan: DeployPlan): string {
  if (facts.runCommandDisabled) {
    throw new ExplainedError({
      what,
      reason:
        'The cluster disables run command (apiServerAccessProfile.disableRunCommand), and the agent has no line of sight to its API server.',
      fix: `Run the job on a self-hosted agent inside the cluster's VNet, or enable run command: az aks command invoke needs 'az aks update -n ${facts.name} -g ${facts.resourceGroup} --enable-run-command'.`,
      code: 'RUN_COMMAND_DISABLED',
    });
  }
  const namespace = namespaceObject(plan);
  const context = contextArchive({ 'manifests.yaml': toYamlStream(namespace ? [namespace, ...plan.objects] : plan.objects) });
  if (context.length > MAX_CONTEXT_BYTES) {
    throw new ExplainedError({
      what,
      reason: `The zipped manifests are ${Math.round(context.length / 1024 / 1024)} MB, more than run command carries (${MAX_CONTEXT_BYTES / 1024 / 1024} MB).`,
      fix: 'Deploy in smaller batches, or from an agent with line of sight (route: direct).',
      code: 'RUN_COMMAND_TOO_LARGE',
    });
  }
  return context;
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
