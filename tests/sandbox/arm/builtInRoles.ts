/**
 * Azure built-in role definitions the sandbox knows, with their real GUIDs, descriptions and
 * permission lists as `GET .../providers/Microsoft.Authorization/roleDefinitions/{id}` returns them.
 *
 * Source: the JSON blocks of the Azure docs "Azure built-in roles" pages (MicrosoftDocs/azure-docs,
 * articles/role-based-access-control/built-in-roles/{privileged,general,containers,networking}.md,
 * 2024-2025 revisions). Copied verbatim, including Microsoft's own typos ("namespace.This role").
 */

export interface RolePermission {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export interface BuiltInRole {
  /** Role definition GUID (the `name` of the ARM resource). */
  id: string;
  roleName: string;
  description: string;
  permissions: RolePermission[];
}

const perm = (actions: string[], dataActions: string[] = [], notActions: string[] = [], notDataActions: string[] = []): RolePermission => ({
  actions,
  notActions,
  dataActions,
  notDataActions,
});

const AKS = 'Microsoft.ContainerService/managedClusters';

/** Actions granted (in `actions`) by every AKS RBAC data-plane role. */
const AKS_RBAC_READ_ACTIONS = [
  'Microsoft.Authorization/*/read',
  'Microsoft.Resources/subscriptions/operationresults/read',
  'Microsoft.Resources/subscriptions/read',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
];

export const BUILT_IN_ROLE_IDS = {
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  userAccessAdministrator: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  aksClusterAdmin: '0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8',
  aksClusterUser: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
  aksContributor: 'ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8',
  aksRbacAdmin: '3498e952-d568-435e-9b2c-8d77e338d7f7',
  aksRbacClusterAdmin: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b',
  aksRbacReader: '7f6c6a51-bcf8-42ba-9220-52d62157d7db',
  aksRbacWriter: 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  acrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  acrDelete: 'c2f4ef07-c644-48eb-af81-4b1b4947fb11',
  acrContributorAndDataAccessConfigurationAdministrator: '3bc748fc-213d-45c1-8d91-9da5725539b9',
  networkContributor: '4d97b98b-1d4f-4787-a291-c67834d212e7',
} as const;

export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  {
    id: BUILT_IN_ROLE_IDS.owner,
    roleName: 'Owner',
    description: 'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    permissions: [perm(['*'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.contributor,
    roleName: 'Contributor',
    description:
      'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.',
    permissions: [
      perm(
        ['*'],
        [],
        [
          'Microsoft.Authorization/*/Delete',
          'Microsoft.Authorization/*/Write',
          'Microsoft.Authorization/elevateAccess/Action',
          'Microsoft.Blueprint/blueprintAssignments/write',
          'Microsoft.Blueprint/blueprintAssignments/delete',
          'Microsoft.Compute/galleries/share/action',
          'Microsoft.Purview/consents/write',
          'Microsoft.Purview/consents/delete',
          'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
          'Microsoft.Subscription/cancel/action',
          'Microsoft.Subscription/enable/action',
        ],
      ),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.reader,
    roleName: 'Reader',
    description: 'View all resources, but does not allow you to make any changes.',
    permissions: [perm(['*/read'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.userAccessAdministrator,
    roleName: 'User Access Administrator',
    description: 'Lets you manage user access to Azure resources.',
    permissions: [perm(['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksClusterAdmin,
    roleName: 'Azure Kubernetes Service Cluster Admin Role',
    description: 'List cluster admin credential action.',
    permissions: [
      perm([
        `${AKS}/listClusterAdminCredential/action`,
        `${AKS}/accessProfiles/listCredential/action`,
        `${AKS}/read`,
        `${AKS}/runcommand/action`,
      ]),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksClusterUser,
    roleName: 'Azure Kubernetes Service Cluster User Role',
    description: 'List cluster user credential action.',
    permissions: [perm([`${AKS}/listClusterUserCredential/action`, `${AKS}/read`])],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksContributor,
    roleName: 'Azure Kubernetes Service Contributor Role',
    description: 'Grants access to read and write Azure Kubernetes Service clusters',
    permissions: [perm([`${AKS}/read`, `${AKS}/write`, 'Microsoft.Resources/deployments/*'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksRbacAdmin,
    roleName: 'Azure Kubernetes Service RBAC Admin',
    description: 'Lets you manage all resources under cluster/namespace, except update or delete resource quotas and namespaces.',
    permissions: [
      perm(
        [...AKS_RBAC_READ_ACTIONS, `${AKS}/listClusterUserCredential/action`],
        [`${AKS}/*`],
        [],
        [`${AKS}/resourcequotas/write`, `${AKS}/resourcequotas/delete`, `${AKS}/namespaces/write`, `${AKS}/namespaces/delete`],
      ),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksRbacClusterAdmin,
    roleName: 'Azure Kubernetes Service RBAC Cluster Admin',
    description: 'Lets you manage all resources in the cluster.',
    permissions: [perm([...AKS_RBAC_READ_ACTIONS, `${AKS}/listClusterUserCredential/action`], [`${AKS}/*`])],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksRbacReader,
    roleName: 'Azure Kubernetes Service RBAC Reader',
    description:
      'Allows read-only access to see most objects in a namespace. It does not allow viewing roles or role bindings. This role does not allow viewing Secrets, since reading the contents of Secrets enables access to ServiceAccount credentials in the namespace, which would allow API access as any ServiceAccount in the namespace (a form of privilege escalation). Applying this role at cluster scope will give access across all namespaces.',
    permissions: [
      perm(
        [...AKS_RBAC_READ_ACTIONS],
        [
          'apps/controllerrevisions/read',
          'apps/daemonsets/read',
          'apps/deployments/read',
          'apps/replicasets/read',
          'apps/statefulsets/read',
          'autoscaling/horizontalpodautoscalers/read',
          'batch/cronjobs/read',
          'batch/jobs/read',
          'configmaps/read',
          'discovery.k8s.io/endpointslices/read',
          'endpoints/read',
          'events.k8s.io/events/read',
          'events/read',
          'extensions/daemonsets/read',
          'extensions/deployments/read',
          'extensions/ingresses/read',
          'extensions/networkpolicies/read',
          'extensions/replicasets/read',
          'limitranges/read',
          'metrics.k8s.io/pods/read',
          'metrics.k8s.io/nodes/read',
          'namespaces/read',
          'networking.k8s.io/ingresses/read',
          'networking.k8s.io/networkpolicies/read',
          'persistentvolumeclaims/read',
          'pods/read',
          'policy/poddisruptionbudgets/read',
          'replicationcontrollers/read',
          'resourcequotas/read',
          'serviceaccounts/read',
          'services/read',
        ].map((a) => `${AKS}/${a}`),
      ),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.aksRbacWriter,
    roleName: 'Azure Kubernetes Service RBAC Writer',
    description:
      'Allows read/write access to most objects in a namespace.This role does not allow viewing or modifying roles or role bindings. However, this role allows accessing Secrets and running Pods as any ServiceAccount in the namespace, so it can be used to gain the API access levels of any ServiceAccount in the namespace. Applying this role at cluster scope will give access across all namespaces.',
    permissions: [
      perm(
        [...AKS_RBAC_READ_ACTIONS],
        [
          'apps/controllerrevisions/read',
          'apps/daemonsets/*',
          'apps/deployments/*',
          'apps/replicasets/*',
          'apps/statefulsets/*',
          'autoscaling/horizontalpodautoscalers/*',
          'batch/cronjobs/*',
          'coordination.k8s.io/leases/read',
          'coordination.k8s.io/leases/write',
          'coordination.k8s.io/leases/delete',
          'discovery.k8s.io/endpointslices/read',
          'batch/jobs/*',
          'configmaps/*',
          'endpoints/*',
          'events.k8s.io/events/read',
          'events/*',
          'extensions/daemonsets/*',
          'extensions/deployments/*',
          'extensions/ingresses/*',
          'extensions/networkpolicies/*',
          'extensions/replicasets/*',
          'limitranges/read',
          'metrics.k8s.io/pods/read',
          'metrics.k8s.io/nodes/read',
          'namespaces/read',
          'networking.k8s.io/ingresses/*',
          'networking.k8s.io/networkpolicies/*',
          'persistentvolumeclaims/*',
          'pods/*',
          'policy/poddisruptionbudgets/*',
          'replicationcontrollers/*',
          'resourcequotas/read',
          'secrets/*',
          'serviceaccounts/*',
          'services/*',
        ].map((a) => `${AKS}/${a}`),
      ),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.acrPull,
    roleName: 'AcrPull',
    description: 'acr pull',
    permissions: [perm(['Microsoft.ContainerRegistry/registries/pull/read'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.acrPush,
    roleName: 'AcrPush',
    description: 'acr push',
    permissions: [perm(['Microsoft.ContainerRegistry/registries/pull/read', 'Microsoft.ContainerRegistry/registries/push/write'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.acrDelete,
    roleName: 'AcrDelete',
    description: 'acr delete',
    permissions: [perm(['Microsoft.ContainerRegistry/registries/artifacts/delete'])],
  },
  {
    id: BUILT_IN_ROLE_IDS.acrContributorAndDataAccessConfigurationAdministrator,
    roleName: 'Container Registry Contributor and Data Access Configuration Administrator',
    description:
      'Provides permissions to create, list, and update container registries and registry configuration properties. Provides permissions to configure data access such as admin user credentials, scope maps, and tokens, which can be used to read, write or delete repositories and images. Does not provide direct permissions to read, list, or write registry contents including repositories and images. Does not provide permissions to modify data plane content such as imports, Artifact Cache or Sync, and Transfer Pipelines. Does not provide permissions for managing Tasks.',
    permissions: [
      perm([
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.ContainerRegistry/registries/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/read',
        'Microsoft.ContainerRegistry/registries/write',
        'Microsoft.ContainerRegistry/registries/delete',
        'Microsoft.ContainerRegistry/registries/listCredentials/action',
        'Microsoft.ContainerRegistry/registries/regenerateCredential/action',
        'Microsoft.ContainerRegistry/registries/generateCredentials/action',
        'Microsoft.ContainerRegistry/registries/replications/read',
        'Microsoft.ContainerRegistry/registries/replications/write',
        'Microsoft.ContainerRegistry/registries/replications/delete',
        'Microsoft.ContainerRegistry/registries/replications/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action',
        'Microsoft.ContainerRegistry/registries/privateEndpointConnections/read',
        'Microsoft.ContainerRegistry/registries/privateEndpointConnections/write',
        'Microsoft.ContainerRegistry/registries/privateEndpointConnections/delete',
        'Microsoft.ContainerRegistry/registries/privateEndpointConnections/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/tokens/read',
        'Microsoft.ContainerRegistry/registries/tokens/write',
        'Microsoft.ContainerRegistry/registries/tokens/delete',
        'Microsoft.ContainerRegistry/registries/tokens/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/scopeMaps/read',
        'Microsoft.ContainerRegistry/registries/scopeMaps/write',
        'Microsoft.ContainerRegistry/registries/scopeMaps/delete',
        'Microsoft.ContainerRegistry/registries/scopeMaps/operationStatuses/read',
        'Microsoft.ContainerRegistry/registries/providers/Microsoft.Insights/diagnosticSettings/read',
        'Microsoft.ContainerRegistry/registries/providers/Microsoft.Insights/diagnosticSettings/write',
        'Microsoft.ContainerRegistry/registries/providers/Microsoft.Insights/logDefinitions/read',
        'Microsoft.ContainerRegistry/registries/providers/Microsoft.Insights/metricDefinitions/read',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Authorization/*/read',
        'Microsoft.ContainerRegistry/registries/connectedRegistries/read',
        'Microsoft.ContainerRegistry/registries/connectedRegistries/write',
        'Microsoft.ContainerRegistry/registries/connectedRegistries/delete',
        'Microsoft.ContainerRegistry/registries/connectedRegistries/deactivate/action',
        'Microsoft.ContainerRegistry/registries/webhooks/read',
        'Microsoft.ContainerRegistry/registries/webhooks/write',
        'Microsoft.ContainerRegistry/registries/webhooks/delete',
        'Microsoft.ContainerRegistry/registries/webhooks/getCallbackConfig/action',
        'Microsoft.ContainerRegistry/registries/webhooks/ping/action',
        'Microsoft.ContainerRegistry/registries/webhooks/listEvents/action',
        'Microsoft.ContainerRegistry/registries/webhooks/operationStatuses/read',
        'Microsoft.Insights/AlertRules/Write',
        'Microsoft.Insights/AlertRules/Delete',
        'Microsoft.Insights/AlertRules/Read',
        'Microsoft.Insights/AlertRules/Activated/Action',
        'Microsoft.Insights/AlertRules/Resolved/Action',
        'Microsoft.Insights/AlertRules/Throttled/Action',
        'Microsoft.Insights/AlertRules/Incidents/Read',
        'Microsoft.ContainerRegistry/locations/operationResults/read',
        'Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action',
        'Microsoft.Network/virtualNetworks/subnets/read',
        'Microsoft.Network/virtualNetworks/subnets/write',
        'Microsoft.Network/virtualNetworks/read',
        'Microsoft.Network/privateEndpoints/privateLinkServiceProxies/write',
      ]),
    ],
  },
  {
    id: BUILT_IN_ROLE_IDS.networkContributor,
    roleName: 'Network Contributor',
    description: 'Lets you manage networks, but not access to them.',
    permissions: [
      perm([
        'Microsoft.Authorization/*/read',
        'Microsoft.Insights/alertRules/*',
        'Microsoft.Network/*',
        'Microsoft.ResourceHealth/availabilityStatuses/read',
        'Microsoft.Resources/deployments/*',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
        'Microsoft.Support/*',
      ]),
    ],
  },
];

/** A built-in role by name (case-insensitive) or GUID. */
export function findBuiltInRole(nameOrId: string): BuiltInRole | undefined {
  const key = nameOrId.trim().toLowerCase();
  return BUILT_IN_ROLES.find((r) => r.id === key || r.roleName.toLowerCase() === key);
}
