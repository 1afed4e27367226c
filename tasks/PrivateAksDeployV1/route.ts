import { clusterResourceId, type ClusterAccess, type ClusterTarget } from '../../shared/azure/aks/clusterAccess';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import type { TokenBroker } from '../../shared/azure/aks/tokenBroker';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import type { ApplyChange } from '../../shared/kube/applyOutput';
import type { Kubeconfig } from '../../shared/kube/kubeconfig';
import type { KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import type { PhaseTimings } from '../../shared/pipeline/phaseTimings';
import type { DeleteOutcome } from './deleteManifests';
import type { DeployPlan } from './deployPlan';
import type { DeployOptions, RequestedRoute } from './inputs';
import type { PreflightOutcome } from './preflight';

export type RouteName = 'direct' | 'runCommand';

/**
 * A way to run kubectl against the cluster, as k8s-deploy's strategy objects are (Azure/k8s-deploy
 * src/types/kubectl.ts `Kubectl`, and `PrivateKubectl` which sends the same commands through
 * `az aks command invoke`): the flow picks one and asks it to deploy, and does not know which it
 * has. `direct` runs kubectl on the agent; `runCommand` sends the manifests and the kubectl commands
 * through Resource Manager to a pod in the cluster.
 *
 * The operations the task will grow (server-side dry run, preview, rollout diagnosis, rollback,
 * delete) are methods beside `deploy`, each implemented by both routes.
 */
export interface DeployRoute {
  readonly name: RouteName;
  /** How kubectl is authenticated on this route, for the summary. */
  readonly credential: 'builtIn' | 'kubelogin' | 'local';
  /**
   * kubectl apply of the plan (its namespace first when asked), then, when the plan asks, kubectl
   * rollout status for each workload within rolloutTimeoutSeconds. Run command carries both in one
   * request (one pod), so apply and the rollout waits are one operation on the route. Returns what
   * kubectl apply said it did to each object (its name printer's lines).
   */
  deploy(plan: DeployPlan): Promise<ApplyChange[]>;
  /** action: delete: kubectl delete of the plan's objects (--ignore-not-found --wait), which were deleted and which were not there. */
  delete(plan: DeployPlan): Promise<DeleteOutcome>;
  /**
   * kubectl diff of the plan with the apply's flags: nothing changes on the cluster. Resolves with
   * kubectl diff's output (empty when nothing would change); kubectl's own failures reject, explained.
   */
  preview(plan: DeployPlan): Promise<string>;
}

/** What a route needs of the session: who signed in, the cluster, and the credential the flow fetched. */
export interface RouteContext {
  options: DeployOptions;
  cc: ConnectionCredential;
  identity: SignedInIdentity;
  target: ClusterTarget;
  access: ClusterAccess;
  facts: ClusterFacts;
  /** The API server URL the failures name (the kubeconfig's, else Resource Manager's host). */
  server: string;
  /** Only when the flow fetched one (not on route runCommand). */
  kubeconfig?: Kubeconfig;
  broker?: TokenBroker;
  kubectl: () => string;
  timings: PhaseTimings;
  /** The registryName registry's resource id, when the preflight read it through Resource Manager. */
  registryResourceId?: string;
}

/**
 * Which route deploys, from the route asked for and the API server's line of sight (the first
 * outcome; none when nothing was probed). `blocked`: route direct asked, and the agent cannot reach
 * the API server. Pure.
 */
export function chooseRoute(requested: RequestedRoute, outcomes: PreflightOutcome[]): RouteName | 'blocked' {
  if (requested === 'runCommand') return 'runCommand';
  if (outcomes.length === 0 || outcomes[0].diagnosis.ok) return 'direct';
  return requested === 'direct' ? 'blocked' : 'runCommand';
}

/** What kubectl's failures are explained with (kubectlErrors), the same on both routes. */
export function failureContextOf(ctx: RouteContext, plan: DeployPlan): KubectlFailureContext {
  return {
    server: ctx.server,
    clusterName: ctx.facts.name,
    namespace: plan.namespace,
    principalObjectId: ctx.identity.objectId,
    clusterResourceId: clusterResourceId(ctx.target),
    azureRbac: ctx.facts.azureRbac,
  };
}
