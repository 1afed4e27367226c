import * as tl from 'azure-pipelines-task-lib/task';
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { Registry } from '@azure/arm-containerregistry';
import { containerRegistryClient, containerServiceClient } from '../../shared/arm/armClient';
import { clusterIdOf, registryIdOf, resourceGroupIdOf, validateResourceGroupName, validateResourceName } from '../../shared/arm/resourceId';
import { ClusterAccess, type ClusterTarget } from '../../shared/aks/clusterAccess';
import { acquireToken } from '../../shared/identity/connectionCredential';
import { signInWithTaskConnection } from '../../shared/identity/signIn';
import { apiServerOf } from '../../shared/kube/kubeconfig';
import { agentRouteTo } from '../../shared/net/agentHttpSettings';
import { probeEndpoint } from '../../shared/net/lineOfSight';
import { diagnoseLineOfSight } from '../../shared/net/lineOfSightDiagnosis';
import { reviewInCluster, roleBindingCommand } from '../../shared/rbac/inClusterReview';
import { validateNamespace } from '../../shared/kube/manifests';
import { hardeningChecklist, postureScore, type ChecklistInput, type ChecklistItem } from '../../shared/posture/hardeningChecklist';
import { uploadSummaryPage } from '../../shared/pipeline/buildSummary';
import { ExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import { runTask } from '../../shared/pipeline/runTask';
import { booleanInput, choiceInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';
import { armRead, authorizationClient, kubeletPullOnRegistry, permissionsAt, type PermissionTarget } from '../../shared/rbac/armPermissions';
import { parseIntents, resourceOf, type ScopeKind } from '../../shared/rbac/intents';
import { evaluateIntents, type ClusterAuthorization, type OperationVerdict } from '../../shared/rbac/intentVerdicts';
import { evaluatePermission, type PermissionEntry } from '../../shared/rbac/permissionEvaluator';
import { assignmentLines, checklistFixLines, checklistTableLines, permissionTableLines, roleCheckMarkdown } from '../../shared/rbac/roleCheckReport';

function invalid(name: string, reason: string, fix: string): ExplainedError {
  return new ExplainedError({ what: `Reading the input '${name}'`, reason, fix, code: 'INVALID_INPUT' });
}

function readInputs() {
  const resourceGroup = validateResourceGroupName('resourceGroupName', requiredInput('resourceGroupName'));
  const clusterInput = optionalInput('clusterName');
  const registryInput = optionalInput('registryName');
  const clusterName = clusterInput ? validateResourceName('clusterName', 'cluster', clusterInput) : undefined;
  const registryName = registryInput ? validateResourceName('registryName', 'registry', registryInput) : undefined;
  const namespace = validateNamespace('namespace', optionalInput('namespace') ?? 'default');
  const { intents, unknown } = parseIntents(optionalInput('intents') ?? 'deploy');
  if (unknown.length) throw invalid('intents', `'${unknown.join("', '")}' is not an intent.`, 'Use a comma-separated list of deploy, deployRunCommand, adminCredentials, acrPull, acrPush, acrNetworkRules, aksAuthorizedIpRanges.');
  if (intents.length === 0) throw invalid('intents', 'No intent is selected.', 'Choose at least one intent, e.g. deploy.');
  const needCluster = intents.filter((i) => resourceOf(i) === 'cluster');
  const needRegistry = intents.filter((i) => resourceOf(i) === 'registry');
  if (needCluster.length && !clusterName) throw invalid('clusterName', `The intent(s) ${needCluster.join(', ')} concern an AKS cluster, and none is named.`, "Set 'clusterName', or drop those intents.");
  if (needRegistry.length && !registryName) throw invalid('registryName', `The intent(s) ${needRegistry.join(', ')} concern a container registry, and none is named.`, "Set 'registryName', or drop those intents.");
  return {
    resourceGroup,
    clusterName,
    registryName,
    namespace,
    intents,
    checkHardening: booleanInput('checkHardening', true),
    failOn: choiceInput('failOn', ['missingPermissions', 'postureFailures', 'never'] as const, 'missingPermissions'),
  };
}

/** A read whose failure is reported, not fatal: the checklist says what could not be read. */
async function tryRead<T>(read: () => Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await read() };
  } catch (err) {
    const e = err as { reason?: string };
    return { error: e.reason ?? messageOf(err) };
  }
}

/**
 * On a Kubernetes-RBAC cluster, asks the API server itself (SelfSubjectAccessReview, as the
 * connection's identity) when the agent has line of sight to it; otherwise says why not.
 */
async function checkInClusterBindings(
  cc: Parameters<typeof acquireToken>[0],
  target: ClusterTarget,
  oid: string | undefined,
  verdicts: OperationVerdict[],
  namespace: string,
): Promise<{ verdicts?: OperationVerdict[]; reason: string }> {
  let kubeconfig;
  try {
    kubeconfig = await new ClusterAccess(cc, target, oid).kubeconfig(false);
  } catch (err) {
    return { reason: `the connection could not get the cluster user credential (${(err as ExplainedError).reason ?? messageOf(err)})` };
  }
  const server = apiServerOf(kubeconfig);
  const url = new URL(server.server);
  const host = server.tlsServerName ?? url.hostname;
  const port = Number(url.port) || 443;
  // The same way kubectl would go: through the agent's proxy unless its bypass list names the server.
  const route = agentRouteTo(url.hostname, port);
  const probe = await probeEndpoint({ label: 'AKS API server', host, port, ca: server.caPem ? [server.caPem] : undefined, path: '/readyz', reachableStatuses: [200, 401], route }, IN_CLUSTER_PROBE_MS);
  const diagnosis = diagnoseLineOfSight(probe, { kind: 'aksApiServer', resourceName: target.name, privateCluster: /\.privatelink\./.test(host) });
  if (!diagnosis.ok) return { reason: `the API server is not reachable from this agent [${diagnosis.code}]; run the check on an agent inside the cluster's network.` };
  try {
    const token = (await acquireToken(cc, 'aksServer')).token;
    return { verdicts: await reviewInCluster(verdicts, { ...server, token, route }, namespace, 30_000), reason: '' };
  } catch (err) {
    return { reason: `the API server did not answer the review (${messageOf(err)}).` };
  }
}

const IN_CLUSTER_PROBE_MS = 5_000;

function clusterAuthorizationOf(cluster: ManagedCluster | undefined): ClusterAuthorization {
  if (!cluster) return 'unknown';
  if (!cluster.aadProfile) return 'localAccounts';
  return cluster.aadProfile.enableAzureRbac ? 'azureRbac' : 'kubernetesRbac';
}

void runTask('ServiceConnectionRoleCheck', async () => {
  // Identity first: a wrong connection shows before anything else.
  const { cc, identity } = await signInWithTaskConnection();
  if (identity.objectId) tl.setVariable('principalObjectId', identity.objectId, false, true);
  const inputs = readInputs();
  const subscriptionId = cc.connection.subscriptionId;
  if (!subscriptionId) {
    throw new ExplainedError({ what: 'Finding the resource group', reason: 'The connection is not scoped to a subscription (management group or workspace level).', fix: 'Use a connection scoped to the subscription that holds the cluster and registry.', code: 'NO_SUBSCRIPTION' });
  }
  const oid = identity.objectId;
  const rgId = resourceGroupIdOf(subscriptionId, inputs.resourceGroup);
  const clusterId = inputs.clusterName ? clusterIdOf(subscriptionId, inputs.resourceGroup, inputs.clusterName) : undefined;
  const registryId = inputs.registryName ? registryIdOf(subscriptionId, inputs.resourceGroup, inputs.registryName) : undefined;
  const scopeIds: Partial<Record<ScopeKind, string>> = { cluster: clusterId, namespace: clusterId && `${clusterId}/namespaces/${inputs.namespace}`, registry: registryId };
  const scopeLabels: Partial<Record<ScopeKind, string>> = { cluster: `cluster ${inputs.clusterName}`, namespace: `namespace ${inputs.namespace}`, registry: `registry ${inputs.registryName}` };
  const targets: Partial<Record<ScopeKind, PermissionTarget>> = {};
  if (inputs.clusterName && clusterId) {
    targets.cluster = { kind: 'resource', resourceGroup: inputs.resourceGroup, provider: 'Microsoft.ContainerService', parentPath: '', type: 'managedClusters', name: inputs.clusterName, id: clusterId };
    targets.namespace = { kind: 'resource', resourceGroup: inputs.resourceGroup, provider: 'Microsoft.ContainerService', parentPath: `managedClusters/${inputs.clusterName}`, type: 'namespaces', name: inputs.namespace, id: scopeIds.namespace! };
  }
  if (inputs.registryName && registryId) targets.registry = { kind: 'resource', resourceGroup: inputs.resourceGroup, provider: 'Microsoft.ContainerRegistry', parentPath: '', type: 'registries', name: inputs.registryName, id: registryId };

  const authz = authorizationClient(cc, subscriptionId);
  const [permissionLists, rgPermissions, clusterRead, registryRead] = await Promise.all([
    Promise.all((Object.keys(targets) as ScopeKind[]).map(async (k) => [k, await permissionsAt(authz, targets[k]!, oid)] as const)),
    permissionsAt(authz, { kind: 'resourceGroup', resourceGroup: inputs.resourceGroup, id: rgId }, oid),
    inputs.clusterName
      ? tryRead(() => armRead(`Reading cluster '${inputs.clusterName}'`, clusterId!, 'Microsoft.ContainerService/managedClusters/read', oid, (abortSignal) => containerServiceClient(cc, subscriptionId).managedClusters.get(inputs.resourceGroup, inputs.clusterName!, { abortSignal })))
      : undefined,
    inputs.registryName
      ? tryRead(() => armRead(`Reading registry '${inputs.registryName}'`, registryId!, 'Microsoft.ContainerRegistry/registries/read', oid, (abortSignal) => containerRegistryClient(cc, subscriptionId).registries.get(inputs.resourceGroup, inputs.registryName!, { abortSignal })))
      : undefined,
  ]);
  const permissions: Partial<Record<ScopeKind, PermissionEntry[]>> = Object.fromEntries(permissionLists);
  const cluster: ManagedCluster | undefined = clusterRead && 'value' in clusterRead ? clusterRead.value : undefined;
  const registry: Registry | undefined = registryRead && 'value' in registryRead ? registryRead.value : undefined;
  const clusterAuthorization = clusterAuthorizationOf(cluster);

  let evaluation = evaluateIntents(inputs.intents, { scopeIds, permissions, clusterAuthorization, namespace: inputs.namespace });
  const notes: string[] = [];
  if (clusterAuthorization === 'kubernetesRbac' && inputs.clusterName && evaluation.verdicts.some((v) => v.verdict === 'inCluster')) {
    const inCluster = await checkInClusterBindings(cc, { subscriptionId, resourceGroup: inputs.resourceGroup, name: inputs.clusterName }, oid, evaluation.verdicts, inputs.namespace);
    if (inCluster.verdicts) {
      const denied = inCluster.verdicts.filter((v) => v.verdict === 'missing' && v.kind === 'dataAction');
      evaluation = { ...evaluation, verdicts: inCluster.verdicts, missing: [...evaluation.missing, ...denied.map((v) => ({ operation: v.operation, scopeId: v.scopeId }))] };
      notes.push(
        denied.length
          ? `'${inputs.clusterName}' uses Kubernetes RBAC, and its RoleBindings deny ${denied.length} of the operations (SelfSubjectAccessReview). Grant them in the cluster: ${roleBindingCommand(oid ?? '<object id>', inputs.namespace)}`
          : `'${inputs.clusterName}' uses Kubernetes RBAC; its RoleBindings allow the operations (checked with SelfSubjectAccessReview).`,
      );
    } else {
      notes.push(`'${inputs.clusterName}' uses Kubernetes RBAC: RoleBindings inside the cluster decide, and they were not checked: ${inCluster.reason} Check with: kubectl auth can-i create deployments --namespace ${inputs.namespace}`);
    }
  }
  if (clusterAuthorization === 'localAccounts') notes.push(`'${inputs.clusterName}' has no Entra ID integration: whoever gets its user credential gets the access of that local credential; Azure RBAC does not limit Kubernetes operations.`);
  if (clusterAuthorization === 'unknown' && inputs.clusterName) notes.push(`The connection could not read '${inputs.clusterName}' (${clusterRead && 'error' in clusterRead ? clusterRead.error : 'not read'}), so the Kubernetes permissions were checked as if the cluster used Azure RBAC.`);
  if (cluster?.disableLocalAccounts && inputs.intents.includes('adminCredentials')) notes.push(`'${inputs.clusterName}' disables local accounts: AKS hands out no admin credential whatever the role.`);
  if (cluster?.apiServerAccessProfile?.disableRunCommand && inputs.intents.includes('deployRunCommand')) notes.push(`'${inputs.clusterName}' disables run command: deployRunCommand cannot work whatever the role.`);
  const rgCan = (op: string) => evaluatePermission(rgPermissions, op, 'action').allowed;
  const rgLine = `Resource group ${inputs.resourceGroup}: read ${rgCan('Microsoft.Resources/subscriptions/resourceGroups/read') ? 'yes' : 'no'}, deploy templates ${rgCan('Microsoft.Resources/deployments/write') ? 'yes' : 'no'}, assign roles ${rgCan('Microsoft.Authorization/roleAssignments/write') ? 'yes' : 'no'}`;
  if (rgCan('Microsoft.Authorization/roleAssignments/write')) notes.push(`The connection may assign roles in ${inputs.resourceGroup} (Owner or User Access Administrator): a pipeline that can grant itself any access. Prefer the roles above.`);

  console.log('');
  console.log(`Effective permissions (ARM permissions API, group memberships and custom roles included) for: ${inputs.intents.join(', ')}`);
  for (const line of permissionTableLines(evaluation, { principalObjectId: oid, scopeLabels })) console.log(`  ${line}`);
  console.log(`  ${rgLine}`);
  if (evaluation.assignments.length) {
    console.log('');
    console.log(`Missing: ${evaluation.missing.length} permission(s). Least-privileged built-in roles that grant them:`);
    for (const line of assignmentLines(evaluation.assignments, oid)) console.log(`  ${line}`);
  } else {
    console.log(evaluation.missing.length ? `Missing: ${evaluation.missing.length} permission(s).` : 'All permissions the intents need are present.');
  }
  for (const m of evaluation.unmatched) console.log(`  No curated role for ${m.operation} at ${m.scopeId}: grant it with a custom role.`);
  for (const n of notes) tl.warning(neutralizeLoggingCommands(n));
  tl.setVariable('missingPermissionCount', String(evaluation.missing.length), false, true);

  let checklist: ChecklistItem[] | undefined;
  let score: number | undefined;
  if (inputs.checkHardening && (inputs.clusterName || inputs.registryName)) {
    const input: ChecklistInput = { registryId };
    if (inputs.clusterName) input.cluster = cluster ? { model: cluster, resourceGroup: inputs.resourceGroup } : { unreadable: clusterRead && 'error' in clusterRead ? clusterRead.error : 'not read', name: inputs.clusterName };
    if (inputs.registryName) input.registry = registry ? { model: registry, resourceGroup: inputs.resourceGroup } : { unreadable: registryRead && 'error' in registryRead ? registryRead.error : 'not read', name: inputs.registryName };
    const kubeletOid = cluster?.identityProfile?.kubeletidentity?.objectId;
    if (cluster && registryId) {
      input.kubeletPull = kubeletOid ? await kubeletPullOnRegistry(authz, registryId, kubeletOid) : { state: 'unknown', reason: 'the cluster reports no kubelet identity (service principal cluster?)' };
    }
    checklist = hardeningChecklist(input);
    score = postureScore(checklist);
    console.log('');
    console.log(`Hardening checklist (score ${score}/100):`);
    for (const line of checklistTableLines(checklist)) console.log(`  ${line}`);
    for (const line of checklistFixLines(checklist)) console.log(`  ${line}`);
    tl.setVariable('postureScore', String(score), false, true);
  }

  uploadSummaryPage('service-connection-role-check', 'Service connection role check', roleCheckMarkdown({ identity, intents: inputs.intents, evaluation, ctx: { principalObjectId: oid, scopeLabels }, checklist, score, notes: [rgLine, ...notes] }));

  const failures = checklist?.filter((i) => i.status === 'fail') ?? [];
  if (inputs.failOn !== 'never' && evaluation.missing.length > 0) {
    throw new ExplainedError({
      what: 'Checking the connection\'s permissions',
      reason: `${evaluation.missing.length} permission(s) the intents ${inputs.intents.join(', ')} need are missing (${evaluation.missing.map((m) => m.operation.split('/').slice(-2).join('/')).join(', ')}).`,
      fix: evaluation.assignments.length ? `Assign ${evaluation.assignments.map((a) => `'${a.role.name}' at ${a.scopeId}`).join(' and ')} (commands in the log and the summary).` : 'Grant them with a custom role.',
      code: 'MISSING_PERMISSIONS',
    });
  }
  if (inputs.failOn === 'postureFailures' && failures.length > 0) {
    throw new ExplainedError({
      what: 'Checking the hardening of the cluster and registry',
      reason: `${failures.length} check(s) failed: ${failures.map((f) => f.title).join(', ')}.`,
      fix: 'Apply the fix commands in the log and the summary, or set failOn to missingPermissions.',
      code: 'POSTURE_FAILURES',
    });
  }
});
