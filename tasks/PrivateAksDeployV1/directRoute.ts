import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { explainKubectlFailure, isConnectionLost, type KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import { runKubectl } from '../../shared/kube/kubectl';
import { toYamlStream } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import { kubeloginCredential } from '../../shared/azure/aks/kubeloginCredential';
import { usesEntraExec, withExecCredential, writeKubeconfig, type Kubeconfig } from '../../shared/kube/kubeconfig';
import { onTaskEnd, taskEnding } from '../../shared/pipeline/runTask';
import { applyArgs, namespaceObject, rolloutArgs, rolloutTargets, type DeployPlan } from './deployPlan';
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

/** What kubectl rollout status prints when its --timeout runs out (wait.ErrWaitTimeout). */
const ROLLOUT_TIMED_OUT = /timed out waiting for the condition/i;

async function kubectlStep(
  what: string,
  args: string[],
  o: DirectRouteOptions,
  deadlineMs: number,
  intent: 'read' | 'write',
  rolloutTimedOut?: () => ExplainedError,
): Promise<string> {
  const run = () =>
    runKubectl(o.kubectl, args, {
      kubeconfig: o.kubeconfigPath,
      env: o.env,
      deadlineMs,
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
  if (result.exitCode !== 0) {
    const explained = explainKubectlFailure(result.stderr, { ...o.failureContext, intent });
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
  return {
    name: 'direct',
    credential: usesEntraExec(kubeconfig) ? o.credentialHelper : 'local',
    deploy: (plan) =>
      deployDirect(plan, {
        kubectl: ctx.kubectl(),
        kubeconfigPath: written.path,
        env,
        failureContext: failureContextOf(ctx, plan),
        applyDeadlineMs: 300_000,
        timings: ctx.timings,
        explainRollout: async (waiting, original) => {
          const workloads = unfinishedWorkloads(plan, waiting);
          const collected = await collectEvidence(workloads, { kubectl: ctx.kubectl(), kubeconfigPath: written.path, env });
          return explainRolloutFailure(original, workloads, collected, pullContextOf(facts, o.registryName), reportRolloutFindings);
        },
      }),
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

/** Applies the plan with kubectl from the agent, then waits for each rollout. */
export async function deployDirect(plan: DeployPlan, o: DirectRouteOptions): Promise<void> {
  const manifestFile = path.join(path.dirname(o.kubeconfigPath), 'manifests.yaml');
  const namespace = namespaceObject(plan);
  const time = <T>(phase: string, work: () => Promise<T> | T) => (o.timings ? o.timings.time(phase, work) : work());
  await time('manifest file', () =>
    fs.writeFileSync(manifestFile, toYamlStream(namespace ? [namespace, ...plan.objects] : plan.objects), { mode: 0o600 }),
  );
  console.log(`kubectl ${applyArgs(plan, 'manifests.yaml').join(' ')}`);
  await time('apply', () => kubectlStep('Applying the manifests', applyArgs(plan, manifestFile), o, o.applyDeadlineMs, 'write'));
  if (!plan.waitForRollout) return;
  await time('rollouts', () => waitForRollouts(plan, o));
  tl.debug('direct route finished');
}

async function waitForRollouts(plan: DeployPlan, o: DirectRouteOptions): Promise<void> {
  // rolloutTimeoutSeconds is one deadline for all workloads, as its help says: each wait gets what is left.
  const deadline = Date.now() + plan.rolloutTimeoutSeconds * 1000;
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

function rolloutTimeout(plan: DeployPlan, waiting: string[]): ExplainedError {
  return new ExplainedError({
    what: 'Waiting for the rollouts',
    reason: `The rollouts did not finish within rolloutTimeoutSeconds (${plan.rolloutTimeoutSeconds} s for all workloads together); still waiting for ${waiting.join(', ')}.`,
    fix: 'Check the pods of those workloads (kubectl describe, events), or raise rolloutTimeoutSeconds.',
    code: 'KUBECTL_TIMEOUT',
  });
}
