import { explainDeployFailure } from '../../shared/kube/deployFailures';
import { explainKubectlFailure, type KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import type { Explanation } from '../../shared/pipeline/explainedError';

/** What the task's kubectl step was doing when it failed: the explanation says what that means for the cluster. */
export type KubectlStage = 'dryRun' | 'apply' | 'diff' | 'other';

/**
 * What kubectl printed when it failed, explained the same way on both routes (direct: its stderr;
 * run command: the command's log). The API server's refusals of a manifest (deployFailures: removed
 * API versions, immutable fields, quota, admission denials, unknown fields, other 422s) come first:
 * their texts are the server's and name the object; then what kubectl met on the way (network,
 * credentials, RBAC: kubectlErrors).
 *
 * A refusal in the server-side dry run that runs before the apply (serverDryRunFirst) changed
 * nothing, and says so; in kubectl diff (action preview) nothing was to change anyway.
 */
export function explainKubectlOutput(
  output: string,
  context: KubectlFailureContext,
  stage: KubectlStage,
): Omit<Explanation, 'what'> | undefined {
  // kubectl diff runs `diff` (or KUBECTL_EXTERNAL_DIFF) itself; without one on PATH the real kubectl
  // 1.32 prints `error: failed to run "diff": executable file not found in $PATH` and exits 2 (seen
  // against the sandbox with a PATH holding only kubectl).
  const noDiff = stage === 'diff' ? /failed to run "([^"]+)": executable file not found/.exec(output) : null;
  if (noDiff) {
    return {
      code: 'PREVIEW_NO_DIFF',
      reason: `kubectl diff needs a diff program and found none on PATH (${noDiff[1]}).`,
      fix: 'On the agent: install diffutils, or set KUBECTL_EXTERNAL_DIFF to a diff program. Through run command (whose image lacks it): preview from an agent with line of sight (route direct).',
    };
  }
  const deploy = explainDeployFailure(output);
  const explained = deploy ?? explainKubectlFailure(output, context);
  if (!explained) return undefined;
  // A dry run (or diff) stores nothing, so a namespace not created yet does not exist for the objects
  // in it: the API server answers NotFound, as it does to kubectl apply --dry-run=server. Before a dry
  // run the deploy creates createNamespace's namespace for real (directRoute.ts deployDirect,
  // runCommandScript.ts), so there it is a namespace the manifests use without creating it first.
  if (explained.code === 'KUBECTL_NAMESPACE_MISSING' && stage === 'diff') {
    return {
      ...explained,
      reason: `${explained.reason} A preview stores nothing, so a namespace the deployment would create does not exist yet for the objects in it.`,
      fix: 'Create the namespace once before (a deploy with createNamespace: true, or kubectl create namespace), then preview into it.',
    };
  }
  if (explained.code === 'KUBECTL_NAMESPACE_MISSING' && stage === 'dryRun') {
    return {
      ...explained,
      reason: `${explained.reason} A server-side dry run stores nothing, so every namespace the manifests use must exist before it; only the namespace input with createNamespace: true is created first. Nothing was applied.`,
      fix: 'Create the namespace before this deploy (kubectl create namespace, or an earlier deploy), or deploy into it with the namespace input and createNamespace: true.',
    };
  }
  if (stage === 'dryRun')
    return { ...explained, reason: `${explained.reason} Nothing was applied: the server-side dry run refused the batch.` };
  return explained;
}

/** The step's name in the failure's first line. */
export function stageWhat(stage: KubectlStage, route: 'direct' | 'runCommand'): string {
  const via = route === 'runCommand' ? ' through AKS run command' : '';
  if (stage === 'dryRun') return `Checking the manifests with a server-side dry run${via}`;
  if (stage === 'diff') return `Previewing the changes (kubectl diff)${via}`;
  return route === 'runCommand' ? 'Deploying through AKS run command' : 'Applying the manifests';
}
