import { randomUUID } from 'crypto';
import type { Scenario } from '../../tests/sandbox';

/** The connection the demo's pipeline uses: workload identity federation, as new connections are. */
export const DEMO_CONNECTION = { id: '5d3b2f1e-8c4a-4e6b-9f7d-2a1c0b9e8d7f', name: 'prod-aks-wif' };

/**
 * The story the demo tells: a platform team locked AKS and ACR down (private API server, Entra ID
 * only, local accounts off, registry limited to selected networks) and deploys from Azure Pipelines
 * with a workload identity federation connection.
 */
export function demoScenario(): Scenario {
  return {
    tenantId: randomUUID(),
    subscriptionName: 'contoso-prod',
    principals: [
      { name: 'pipeline', federated: [{ subject: `sc://contoso/web/${DEMO_CONNECTION.name}` }] },
      { name: 'kubelet', managedIdentity: true },
    ],
    serviceConnections: [{ id: DEMO_CONNECTION.id, name: DEMO_CONNECTION.name, principal: 'pipeline' }],
    azureDevOps: { organization: 'contoso', projectName: 'web' },
    groups: [{ name: 'aks-deployers', members: ['pipeline'] }],
    // Run command needs both actions; no built-in role below Contributor grants the pair.
    customRoles: [
      {
        name: 'AKS Run Command Invoker',
        actions: [
          'Microsoft.ContainerService/managedClusters/runcommand/action',
          'Microsoft.ContainerService/managedClusters/commandResults/read',
          'Microsoft.ContainerService/managedClusters/read',
        ],
      },
    ],
    roleAssignments: [
      { principal: 'aks-deployers', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
      { principal: 'aks-deployers', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
      { principal: 'aks-deployers', role: 'AKS Run Command Invoker', scope: 'cluster:aks-prod' },
      { principal: 'pipeline', role: 'AcrPush', scope: 'registry:contosoprod' },
      // AcrNetworkRuleSync opens the registry's firewall to the agent for the job (and reads the IP rule quota).
      {
        principal: 'pipeline',
        role: 'Container Registry Contributor and Data Access Configuration Administrator',
        scope: 'registry:contosoprod',
      },
      { principal: 'pipeline', role: 'Reader', scope: 'registry:contosoprod' },
      { principal: 'kubelet', role: 'AcrPull', scope: 'registry:contosoprod' },
    ],
    clusters: [
      {
        name: 'aks-prod',
        resourceGroup: 'rg-aks-prod',
        private: true,
        aad: { managed: true, enableAzureRBAC: true },
        disableLocalAccounts: true,
        oidcIssuer: true,
        workloadIdentity: true,
        networkPolicy: 'azure',
        kubeletIdentity: 'kubelet',
        // The platform team created the team's namespace; the pipeline may write only inside it.
        namespaces: ['web'],
      },
    ],
    registries: [
      {
        name: 'contosoprod',
        resourceGroup: 'rg-aks-prod',
        publicNetworkAccess: 'Enabled',
        defaultAction: 'Deny',
        ipRules: ['198.51.100.0/24'],
        virtualNetworkRules: [
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/agents',
        ],
      },
    ],
    network: { agentInsideVnet: false },
  };
}

/**
 * The demo's world with the most common locked-down rollout failure: the cluster's kubelet identity
 * has no AcrPull on the registry, so the nodes' pulls get 401 and the rollout never finishes. The
 * nodes' subnet is admitted by the registry firewall (a service endpoint), so authorization is what fails.
 */
export function rolloutFailureScenario(): Scenario {
  const s = demoScenario();
  const nodes =
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks-prod/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-nodes';
  return {
    ...s,
    roleAssignments: s.roleAssignments!.filter((a) => !(a.principal === 'kubelet' && a.role === 'AcrPull')),
    clusters: s.clusters!.map((c) => ({
      ...c,
      acrPullChecks: true,
      nodeSubnetId: nodes,
      rolloutDelaySeconds: 0,
      workloads: { progressDeadlineSeconds: 3 },
    })),
    registries: s.registries!.map((r) => ({ ...r, virtualNetworkRules: [...(r.virtualNetworkRules ?? []), nodes] })),
  };
}
