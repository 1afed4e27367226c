import { ClusterAccess, clusterTargetOf } from '../../shared/azure/aks/clusterAccess';
import { clusterFactsOf } from '../../shared/azure/aks/clusterFacts';
import { acquireToken, type ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { apiServerOf } from '../../shared/kube/kubeconfig';
import { probeEndpoint } from '../../shared/lineOfSight/lineOfSight';
import { aksApiServerProbe } from '../../shared/lineOfSight/probeTargets';
import { diagnoseLineOfSight } from '../../shared/lineOfSight/lineOfSightDiagnosis';
import { messageOf, type ExplainedError } from '../../shared/pipeline/explainedError';
import { reviewInCluster, roleBindingCommand } from '../../shared/azure/rbac/inClusterReview';
import type { IntentEvaluation, OperationVerdict } from '../../shared/azure/rbac/intentVerdicts';
import type { RoleCheckOptions } from './inputs';
import { valueOf, type RoleCheckScope } from './roleCheckScope';

const IN_CLUSTER_PROBE_MS = 5_000;
const REVIEW_DEADLINE_MS = 30_000;

/**
 * On a Kubernetes-RBAC cluster, the RoleBindings inside the cluster decide what Azure RBAC leaves
 * open: asks the API server itself (SelfSubjectAccessReview, as the connection's identity) when the
 * agent has line of sight to it, and otherwise says why it could not.
 */
export async function settleInClusterVerdicts(
  cc: ConnectionCredential,
  o: RoleCheckOptions,
  scope: RoleCheckScope,
  oid: string | undefined,
  evaluation: IntentEvaluation,
): Promise<{ evaluation: IntentEvaluation; note: string }> {
  const asked = await askApiServer(cc, o, scope, oid, evaluation.verdicts);
  if (!asked.verdicts) {
    return {
      evaluation,
      note: `'${o.clusterName}' uses Kubernetes RBAC: RoleBindings inside the cluster decide, and they were not checked: ${asked.reason} Check with: kubectl auth can-i create deployments --namespace ${o.namespace}`,
    };
  }
  const denied = asked.verdicts.filter((v) => v.verdict === 'missing' && v.kind === 'dataAction');
  return {
    evaluation: {
      ...evaluation,
      verdicts: asked.verdicts,
      missing: [...evaluation.missing, ...denied.map((v) => ({ operation: v.operation, scopeId: v.scopeId }))],
    },
    note: denied.length
      ? `'${o.clusterName}' uses Kubernetes RBAC, and its RoleBindings deny ${denied.length} of the operations (SelfSubjectAccessReview). Grant them in the cluster: ${roleBindingCommand(oid ?? '<object id>', o.namespace)}`
      : `'${o.clusterName}' uses Kubernetes RBAC; its RoleBindings allow the operations (checked with SelfSubjectAccessReview).`,
  };
}

async function askApiServer(
  cc: ConnectionCredential,
  o: RoleCheckOptions,
  scope: RoleCheckScope,
  oid: string | undefined,
  verdicts: OperationVerdict[],
): Promise<{ verdicts?: OperationVerdict[]; reason: string }> {
  const target = clusterTargetOf({ resourceGroup: o.resourceGroup, name: o.clusterName! }, scope.subscriptionId);
  let kubeconfig;
  try {
    kubeconfig = await new ClusterAccess(cc, target, oid).kubeconfig(false);
  } catch (err) {
    return { reason: `the connection could not get the cluster user credential (${(err as ExplainedError).reason ?? messageOf(err)})` };
  }
  const server = apiServerOf(kubeconfig);
  // What Resource Manager says of the cluster, when the connection could read it (the diagnosis also knows a privatelink name).
  const cluster = valueOf(scope.clusterRead);
  const facts = cluster ? clusterFactsOf(cluster, target) : undefined;
  const { probe, context } = aksApiServerProbe(server, {
    name: target.name,
    privateCluster: facts?.privateCluster,
    authorizedIpRanges: facts?.authorizedIpRanges,
  });
  const diagnosis = diagnoseLineOfSight(await probeEndpoint(probe, IN_CLUSTER_PROBE_MS), context);
  if (!diagnosis.ok)
    return {
      reason: `the API server is not reachable from this agent [${diagnosis.code}]; run the check on an agent inside the cluster's network.`,
    };
  try {
    const token = (await acquireToken(cc, 'aksServer')).token;
    return {
      verdicts: await reviewInCluster(verdicts, { ...server, token, route: probe.route }, o.namespace, REVIEW_DEADLINE_MS),
      reason: '',
    };
  } catch (err) {
    return { reason: `the API server did not answer the review (${messageOf(err)}).` };
  }
}
