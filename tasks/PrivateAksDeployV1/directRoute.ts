import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { isConnectionLost, type KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import { parseApplyOutput, type ApplyChange } from '../../shared/kube/applyOutput';
import { runKubectl } from '../../shared/kube/kubectl';
import { toYamlStream } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { kubeloginCredential } from '../../shared/azure/aks/kubeloginCredential';
import { usesEntraExec, withExecCredential, writeKubeconfig, type Kubeconfig } from '../../shared/kube/kubeconfig';
import { onTaskEnd, taskEnding } from '../../shared/pipeline/runTask';
import { deleteReport } from '../../shared/kube/deleteOutput';
import { deleteArgs, deleteTimeout, type DeleteOutcome } from './deleteManifests';
import {
  applyArgs,
  diffArgs,
  dryRunArgs,
  namespaceObject,
  ROLLOUT_TIMED_OUT,
  rolloutArgs,
  rolloutTargets,
  rolloutTimeout,
  type DeployPlan,
  type RolloutTarget,
} from './deployPlan';
import { explainKubectlOutput, stageWhat, type KubectlStage } from './kubectlFailure';
import { reportRollback, type RollbackOutcome } from './rollback';
import { reportRolloutFindings } from './report';
import { failureContextOf, type DeployRoute, type RouteContext } from './route';
import {
  EVIDENCE_TIMEOUT_SECONDS,
  evidenceCommands,
  explainRolloutFailure,
  pullContextOf,
  unfinishedWorkloads,
  type CollectedEvidence,
  type UnfinishedWorkload,
} from './rolloutFailure';

export interface DirectRouteOptions {
  kubectl: string;
  kubeconfigPath: string;
  /** kubectl's environment additions (the token broker's address and key). */
  env: Record<string, string>;
  failureContext: KubectlFailureContext;
  applyDeadlineMs: number;
  /** Where the manifest file, apply and rollout phases are timed. */
  timings?: PhaseTimings;
  /** Turns a failed rollout wait into the cluster's explanation of it (rolloutFailure); the original error when there is none. */
  explainRollout?: (waiting: string[], original: unknown) => Promise<unknown>;
}

/** One `kubectl rollout undo`'s deadline. */
const UNDO_DEADLINE_MS = 60_000;

async function kubectlStep(
  what: string,
  args: string[],
  o: DirectRouteOptions,
  deadlineMs: number,
  intent: 'read' | 'write',
  rolloutTimedOut?: () => ExplainedError,
  stage: KubectlStage = 'other',
  input?: string,
): Promise<string> {
  const run = () =>
    runKubectl(o.kubectl, args, {
      kubeconfig: o.kubeconfigPath,
      env: o.env,
      deadlineMs,
      input,
      onLine: (line, stream) =>
        stream === 'stdout'
          ? console.log(`  ${neutralizeLoggingCommands(line)}`)
          : line && console.log(`  ${neutralizeLoggingCommands(line)}`),
    });
  let result = await run();
  // Apply and rollout status are idempotent: a connection cut under them is worth one more try.
  if (!result.timedOut && result.exitCode !== 0 && isConnectionLost(result.stderr)) {
    console.log('  The connection to the API server was lost; trying once more.');
    result = await run();
  }
  if (rolloutTimedOut && (result.timedOut || (result.exitCode !== 0 && ROLLOUT_TIMED_OUT.test(result.stderr)))) throw rolloutTimedOut();
  if (result.timedOut) {
    throw new ExplainedError({
      what,
      reason: `kubectl did not finish within ${Math.round(deadlineMs / 1000)} s.`,
      fix: 'Check the API server and the rollout; raise rolloutTimeoutSeconds if the rollout is just slow.',
      code: 'KUBECTL_TIMEOUT',
    });
  }
  // kubectl diff exits 1 when it found differences, >1 on an error (kubectl diff --help).
  if (result.exitCode !== 0 && !(stage === 'diff' && result.exitCode === 1)) {
    const explained = explainKubectlOutput(result.stderr, { ...o.failureContext, intent }, stage);
    throw new ExplainedError(
      explained
        ? { what, ...explained }
        : {
            what,
            reason: `kubectl exited with ${result.exitCode}: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`,
            fix: "See kubectl's message above.",
            code: 'KUBECTL_FAILED',
          },
    );
  }
  return result.stdout;
}

/**
 * kubectl from the agent, with the kubeconfig the flow fetched: an Entra cluster's exec credential
 * goes through the task's token broker (builtIn) or the installed kubelogin; a cluster without Entra
 * ID integration, or the admin credential, keeps its own. The kubeconfig is written 0600 in a 0700
 * folder and removed when the task ends.
 */
export function directRoute(ctx: RouteContext & { kubeconfig: Kubeconfig }): DeployRoute {
  const { kubeconfig, broker, facts, options: o } = ctx;
  let env: Record<string, string> = {};
  let config = kubeconfig;
  if (usesEntraExec(kubeconfig) && o.credentialHelper === 'kubelogin') {
    const kubelogin = kubeloginCredential(ctx.cc.connection, o.kubeloginMode);
    env = kubelogin.env;
    config = withExecCredential(kubeconfig, kubelogin.exec);
  } else if (broker) {
    env = broker.env;
    config = withExecCredential(kubeconfig, { command: process.execPath, args: [path.join(__dirname, 'execCredential.js')] });
  } else if (!o.useAdmin) {
    tl.warning(
      `'${facts.name}' has no Entra ID integration: deploying with its local user credential. Enable Entra ID integration and disable local accounts to deploy with short-lived tokens.`,
    );
  }
  const written = writeKubeconfig(o.tempDir, config);
  onTaskEnd(() => written.remove());
  const options = (plan: DeployPlan): DirectRouteOptions => ({
    kubectl: ctx.kubectl(),
    kubeconfigPath: written.path,
    env,
    failureContext: failureContextOf(ctx, plan),
    applyDeadlineMs: 300_000,
    timings: ctx.timings,
    explainRollout: async (waiting, original) => {
      const workloads = unfinishedWorkloads(plan, waiting);
      const collected = await collectEvidence(workloads, { kubectl: ctx.kubectl(), kubeconfigPath: written.path, env });
      return explainRolloutFailure(
        original,
        workloads,
        collected,
        pullContextOf(facts, o.registryName, { environment: ctx.cc.connection.cloud.environment, resourceId: ctx.registryResourceId }),
        reportRolloutFindings,
      );
    },
  });
  return {
    name: 'direct',
    credential: usesEntraExec(kubeconfig) ? o.credentialHelper : 'local',
    deploy: (plan) => deployDirect(plan, options(plan)),
    delete: (plan) => deleteDirect(plan, options(plan)),
    preview: (plan) => previewDirect(plan, options(plan)),
  };
}

/**
 * The evidence of a failed rollout, read from the agent with the deploy's own kubeconfig: one get per
 * namespace, and the previous run's last lines only when a container has ended. Each read has a short
 * deadline; a read that fails ends the collection with kubectl's last line as the reason.
 */
async function collectEvidence(
  workloads: UnfinishedWorkload[],
  o: { kubectl: string; kubeconfigPath: string; env: Record<string, string> },
): Promise<CollectedEvidence> {
  const { get, logs } = evidenceCommands(workloads);
  const read = (args: string[]) =>
    runKubectl(o.kubectl, args, { kubeconfig: o.kubeconfigPath, env: o.env, deadlineMs: (EVIDENCE_TIMEOUT_SECONDS + 5) * 1000 });
  const collected: CollectedEvidence = { lists: [], logs: '' };
  for (const args of get) {
    const r = await read(args);
    if (r.timedOut || r.exitCode !== 0) {
      collected.unreadable = r.timedOut
        ? `kubectl did not answer within ${EVIDENCE_TIMEOUT_SECONDS} s`
        : (r.stderr.trim().split('\n').pop() ?? `kubectl exited with ${r.exitCode}`);
      return collected;
    }
    collected.lists.push(r.stdout);
  }
  // kubectl -o json prints `"lastState": {` then `"terminated": {` for a container that ended before.
  if (!collected.lists.some((t) => /"lastState":\s*\{\s*"terminated"/.test(t))) return collected;
  for (const args of logs) {
    const r = await read(args);
    if (!r.timedOut) collected.logs += r.stdout;
  }
  return collected;
}

/** The plan's objects as one YAML stream (its namespace first when it is to be created). */
function manifestStream(plan: DeployPlan): string {
  const namespace = namespaceObject(plan);
  return toYamlStream(namespace ? [namespace, ...plan.objects] : plan.objects);
}

/**
 * Where kubectl reads the manifests: its standard input when they carry a Secret the task built
 * (never a file), else a 0600 file beside the kubeconfig. `shown` is the argument the log names
 * (the file as run command names it, never the agent's temp path).
 */
async function manifestSource(
  stream: string,
  plan: DeployPlan,
  o: DirectRouteOptions,
): Promise<{ source: string; stdin?: string; shown: string }> {
  if (plan.carriesSecrets) return { source: '-', stdin: stream, shown: '-' };
  const manifestFile = path.join(path.dirname(o.kubeconfigPath), 'manifests.yaml');
  await timed(o, 'manifest file', () => fs.writeFileSync(manifestFile, stream, { mode: 0o600 }));
  return { source: manifestFile, shown: 'manifests.yaml' };
}

/** Runs a phase, timed when the route has timings. */
function timed<T>(o: DirectRouteOptions, phase: string, work: () => Promise<T> | T): Promise<T> | T {
  return o.timings ? o.timings.time(phase, work) : work();
}

/** kubectl diff of the plan from the agent: its output (the unified diff, Secret values masked by kubectl). */
export async function previewDirect(plan: DeployPlan, o: DirectRouteOptions): Promise<string> {
  const { source, stdin, shown } = await manifestSource(manifestStream(plan), plan, o);
  console.log(`kubectl ${diffArgs(plan, shown).join(' ')}`);
  return timed(o, 'diff', () =>
    kubectlStep(stageWhat('diff', 'direct'), diffArgs(plan, source), o, o.applyDeadlineMs, 'read', undefined, 'diff', stdin),
  );
}

/**
 * Applies the plan with kubectl from the agent, then waits for each rollout; returns what apply
 * said it did to each object. A plan carrying a Secret the task built goes to kubectl on stdin
 * (`apply -f -`): its values are never written to a file.
 */
export async function deployDirect(plan: DeployPlan, o: DirectRouteOptions): Promise<ApplyChange[]> {
  const time = <T>(phase: string, work: () => Promise<T> | T) => timed(o, phase, work);
  const { source, stdin, shown: file } = await manifestSource(manifestStream(plan), plan, o);
  const shown = (argsOf: (file: string) => string[]) =>
    `kubectl ${argsOf(file).join(' ')}${stdin !== undefined ? ' (the manifests and the secret on stdin)' : ''}`;
  const namespace = namespaceObject(plan);
  if (plan.serverDryRunFirst && namespace) {
    // A dry run stores nothing: the objects in a namespace this deploy creates would all fail NotFound.
    // The Namespace is the one object applied for real before the check (task.json, serverDryRunFirst).
    const nsPlan: DeployPlan = { ...plan, objects: [namespace], createNamespace: false, pruneSelector: undefined };
    console.log(
      `serverDryRunFirst: creating the namespace '${namespace.metadata.name}' first (a dry run of objects in it needs it to exist).`,
    );
    console.log(`kubectl ${applyArgs(nsPlan, '-').join(' ')} (the Namespace on stdin)`);
    await time('namespace', () =>
      kubectlStep(
        stageWhat('apply', 'direct'),
        applyArgs(nsPlan, '-'),
        o,
        o.applyDeadlineMs,
        'write',
        undefined,
        'apply',
        toYamlStream([namespace]),
      ),
    );
  }
  if (plan.serverDryRunFirst) {
    console.log(shown((f) => dryRunArgs(plan, f)));
    await time('dry run', () =>
      kubectlStep(stageWhat('dryRun', 'direct'), dryRunArgs(plan, source), o, o.applyDeadlineMs, 'write', undefined, 'dryRun', stdin),
    );
  }
  const rollback = plan.rollbackOnFailure && plan.waitForRollout;
  const before = rollback ? await templatesOf(rolloutTargets(plan), o) : [];
  console.log(shown((f) => applyArgs(plan, f)));
  const applied = await time('apply', () =>
    kubectlStep(stageWhat('apply', 'direct'), applyArgs(plan, source), o, o.applyDeadlineMs, 'write', undefined, 'apply', stdin),
  );
  const changes = parseApplyOutput(applied);
  if (!plan.waitForRollout) return changes;
  const after = rollback ? await templatesOf(rolloutTargets(plan), o) : [];
  // rolloutTimeoutSeconds is one deadline for all workloads, as its help says: each wait gets what is left.
  const deadline = Date.now() + plan.rolloutTimeoutSeconds * 1000;
  try {
    await time('rollouts', () => waitForRollouts(plan, o, deadline));
  } catch (failure) {
    if (!rollback) throw failure;
    const targets = rolloutTargets(plan);
    const changed = targets.filter((_, i) => before[i] !== '' && before[i] !== after[i]);
    const created = targets.filter((_, i) => before[i] === '');
    // As on the run command route: the rollback is reported only when the run changed or created a workload.
    if (changed.length === 0 && created.length === 0) throw failure;
    throw reportRollback({ ...(await undoRollouts(changed, o, deadline)), created }, failure);
  }
  tl.debug('direct route finished');
  return changes;
}

/** Each workload's pod template as JSON, '' when it does not exist (or cannot be read). */
async function templatesOf(targets: RolloutTarget[], o: DirectRouteOptions): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    const args = ['get', t.ref, '--namespace', t.namespace, '--ignore-not-found', '-o', 'jsonpath={.spec.template}'];
    const r = await runKubectl(o.kubectl, args, { kubeconfig: o.kubeconfigPath, env: o.env, deadlineMs: 60_000 });
    out.push(r.exitCode === 0 ? r.stdout.trim() : '');
  }
  return out;
}

/**
 * kubectl rollout undo of each workload the run changed, then their rollouts within what is left of
 * the deadline (none when the failure was the deadline itself: the undo is then reported as not
 * finished). As the run command script does (runCommandScript.ts). Each undo runs once, with its own
 * deadline and no retry: `rollout undo` is not idempotent (a second one goes back to the revision
 * that failed). An undo that fails is recorded, never thrown: the rollout's own failure stays the
 * task's error.
 */
async function undoRollouts(
  changed: RolloutTarget[],
  o: DirectRouteOptions,
  deadline: number,
): Promise<Pick<RollbackOutcome, 'undone' | 'failed'>> {
  const undone: RollbackOutcome['undone'] = [];
  const failed: NonNullable<RollbackOutcome['failed']> = [];
  for (const t of changed) {
    console.log(`rollbackOnFailure: undoing ${t.ref} in ${t.namespace}`);
    const args = ['rollout', 'undo', t.ref, '--namespace', t.namespace];
    console.log(`kubectl ${args.join(' ')}`);
    const r = await runKubectl(o.kubectl, args, {
      kubeconfig: o.kubeconfigPath,
      env: o.env,
      deadlineMs: UNDO_DEADLINE_MS,
      onLine: (line) => line && console.log(`  ${neutralizeLoggingCommands(line)}`),
    });
    if (r.exitCode === 0 && !r.timedOut) undone.push({ target: t, rolledOut: false });
    else
      failed.push({
        target: t,
        reason: r.timedOut
          ? `kubectl did not finish within ${UNDO_DEADLINE_MS / 1000} s`
          : (r.stderr.trim().split('\n').pop() ?? `kubectl exited with ${r.exitCode}`),
      });
  }
  for (const u of undone) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) break;
    const args = rolloutArgs({ rolloutTimeoutSeconds: left } as DeployPlan, u.target);
    const r = await runKubectl(o.kubectl, args, { kubeconfig: o.kubeconfigPath, env: o.env, deadlineMs: (left + 30) * 1000 });
    u.rolledOut = r.exitCode === 0;
  }
  return { undone, failed };
}

/** action: delete from the agent: kubectl delete -f of the manifests, then which were deleted and which were not there. */
export async function deleteDirect(plan: DeployPlan, o: DirectRouteOptions): Promise<DeleteOutcome> {
  const { source, stdin, shown } = await manifestSource(toYamlStream(plan.objects), plan, o);
  console.log(`kubectl ${deleteArgs(plan, shown).join(' ')}`);
  const stdout = await kubectlStep(
    'Deleting the manifests',
    deleteArgs(plan, source),
    o,
    (plan.rolloutTimeoutSeconds + 30) * 1000,
    'write',
    () => deleteTimeout(plan),
    'other',
    stdin,
  );
  return deleteReport(plan.objects, plan.namespace, stdout);
}

async function waitForRollouts(plan: DeployPlan, o: DirectRouteOptions, deadline: number): Promise<void> {
  const targets = rolloutTargets(plan);
  for (const [i, target] of targets.entries()) {
    const timedOut = () =>
      rolloutTimeout(
        plan,
        targets.slice(i).map((t) => t.ref),
      );
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) throw timedOut();
    const args = rolloutArgs({ ...plan, rolloutTimeoutSeconds: left }, target);
    console.log(`kubectl ${args.join(' ')}`);
    // kubectl stops itself at --timeout; the process deadline only catches a kubectl that hangs.
    try {
      await kubectlStep(`Waiting for the rollout of ${target.ref} in ${target.namespace}`, args, o, (left + 30) * 1000, 'read', timedOut);
    } catch (err) {
      // Why it failed, from the cluster's evidence for the workloads not yet done (always on: it costs nothing on success).
      // Not when the agent cancelled the step: the wait was stopped, nothing failed, and nothing new may start.
      if (!o.explainRollout || taskEnding()) throw err;
      throw await o
        .explainRollout(
          targets.slice(i).map((t) => t.ref),
          err,
        )
        .catch(() => err); // the diagnosis never swallows the rollout's own failure
    }
  }
}
