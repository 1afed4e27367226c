/**
 * What a principal needs in a scenario to deploy to a cluster's namespace, directly (Cluster User
 * + RBAC Writer) or through AKS run command (a custom role: no built-in role below Contributor
 * grants both run command actions).
 */
import type { CustomRoleSpec, RoleAssignmentSpec } from '../sandbox/arm/azureResources';

export const RUN_COMMAND_INVOKER: CustomRoleSpec = {
  name: 'Run command invoker',
  actions: [
    'Microsoft.ContainerService/managedClusters/runcommand/action',
    'Microsoft.ContainerService/managedClusters/commandResults/read',
  ],
};

export function deployerAssignments(principal: string, cluster = 'aks-prod', namespace = 'web'): RoleAssignmentSpec[] {
  return [
    { principal, role: 'Azure Kubernetes Service Cluster User Role', scope: `cluster:${cluster}` },
    { principal, role: 'Azure Kubernetes Service RBAC Writer', scope: `cluster:${cluster}/namespaces/${namespace}` },
    { principal, role: RUN_COMMAND_INVOKER.name, scope: `cluster:${cluster}` },
  ];
}
