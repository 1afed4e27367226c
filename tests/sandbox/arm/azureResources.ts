import type { WorkloadScenario } from '../kubernetes/workloads';

/**
 * The Azure side of a sandbox scenario: groups, roles and role assignments, AKS clusters, container
 * registries, and where the agent sits on the network. Declared by tests; the ARM, AKS, ACR and
 * network services read it (resolved defaults live in the ARM service's state).
 */

export interface GroupSpec {
  name: string;
  objectId?: string;
  /** PrincipalSpec names (or other group names) that are members. */
  members: string[];
}

export interface CustomRoleSpec {
  name: string;
  /** Role definition GUID; generated when omitted. */
  id?: string;
  actions?: string[];
  notActions?: string[];
  dataActions?: string[];
  notDataActions?: string[];
}

export interface RoleAssignmentSpec {
  /** PrincipalSpec name or GroupSpec name. */
  principal: string;
  /** Built-in role name ("Azure Kubernetes Service Cluster User Role"), custom role name, or role definition GUID. */
  role: string;
  /**
   * ARM scope. Shorthands: 'subscription', 'resourceGroup:<rg>', 'cluster:<name>',
   * 'cluster:<name>/namespaces/<ns>', 'registry:<name>'; otherwise a full ARM id.
   */
  scope: string;
}

export interface ClusterSpec {
  name: string;
  resourceGroup: string;
  location?: string; // default 'eastus'
  /** apiServerAccessProfile.enablePrivateCluster; default true. */
  private?: boolean;
  enablePrivateClusterPublicFQDN?: boolean;
  /** Entra integration; null = none (local accounts only). Default { managed: true, enableAzureRBAC: true }. */
  aad?: { managed: boolean; enableAzureRBAC: boolean; adminGroups?: string[] } | null;
  disableLocalAccounts?: boolean; // default true
  disableRunCommand?: boolean; // default false
  authorizedIpRanges?: string[];
  /** Seconds before a change of the authorized IP ranges takes effect at the public API server. Default 2. */
  authorizedIpRangesPropagationSeconds?: number;
  tags?: Record<string, string>;
  oidcIssuer?: boolean;
  workloadIdentity?: boolean;
  azurePolicy?: boolean;
  keyVaultSecretsProvider?: boolean;
  networkPolicy?: 'azure' | 'calico' | 'cilium' | 'none';
  defender?: boolean;
  /** PrincipalSpec name of the kubelet identity (a managed identity). */
  kubeletIdentity?: string;
  /** Seconds until a Deployment's rollout completes; 'never' keeps it progressing. Default 1. */
  rolloutDelaySeconds?: number | 'never';
  /** Namespaces that exist from the start besides the built-in ones (a platform team's landing zone). */
  namespaces?: string[];
  /**
   * Kubernetes version reported by /version and ARM; it decides which removed beta API versions
   * the API server still serves (kubernetes/servedVersions.ts). Default '1.31.2'.
   */
  kubernetesVersion?: string;
  /** What pods of this cluster run into: nodes, failing images, policy constraints (kubernetes/workloads.ts). */
  workloads?: WorkloadScenario;
  /**
   * Kubelet pulls from the scenario's registries are checked as ACR would (acr/acrPull.ts): the
   * kubelet identity's pull permission, the registry firewall against the nodes' egress IP / subnet /
   * private endpoint, the registry's `images`. Default false: such pulls succeed, as on a cluster
   * attached to its registries (`az aks create --attach-acr`) whose nodes reach them.
   */
  acrPullChecks?: boolean;
  /** The public IP the nodes' outbound traffic comes from (ACR firewall ipRules). Default '20.62.100.10'. */
  nodeEgressIp?: string;
  /** Node subnet resource id (ACR virtualNetworkRules with a service endpoint). */
  nodeSubnetId?: string;
  /** Nodes reach registries with an Approved private endpoint through it (private DNS linked to the node VNet). */
  registryPrivateEndpoints?: boolean;
  /** ResourceQuota objects the cluster has from the start (their namespace must exist: built-in or in `namespaces`). */
  resourceQuotas?: { namespace: string; name: string; hard: Record<string, string> }[];
  /**
   * Azure Policy add-on constraints Gatekeeper enforces at admission (kubernetes/policyWebhooks.ts):
   * built-in templates k8sazurev2noprivilege, k8sazurev2containerallowedimages (`imageRegex`).
   * They match Pods; workloads too with `policyExpansionTemplate`.
   */
  policyConstraints?: {
    template: 'k8sazurev2noprivilege' | 'k8sazurev2containerallowedimages';
    effect?: 'Deny' | 'Audit' | 'Warn';
    imageRegex?: string;
    excludedNamespaces?: string[];
    hash?: string;
  }[];
  /** Gatekeeper ExpansionTemplate applying Pod constraints to workload pod templates (e.g. 'expand-deployments'). */
  policyExpansionTemplate?: string;
}

export interface RegistrySpec {
  name: string;
  resourceGroup: string;
  location?: string;
  sku?: 'Basic' | 'Standard' | 'Premium'; // default Premium (network rules need it)
  publicNetworkAccess?: 'Enabled' | 'Disabled'; // default Enabled
  /** networkRuleSet.defaultAction; default 'Deny' (selected networks). */
  defaultAction?: 'Allow' | 'Deny';
  ipRules?: string[];
  /** Subnet resource ids. */
  virtualNetworkRules?: string[];
  adminUserEnabled?: boolean;
  /** Dedicated data endpoints (`<name>.<region>.data.azurecr.io`) for layer downloads. */
  dataEndpointEnabled?: boolean;
  networkRuleBypassOptions?: 'AzureServices' | 'None';
  privateEndpoints?: { name: string; status: 'Approved' | 'Pending' | 'Rejected' }[];
  /** Seconds before a network rule change takes effect on the data endpoint. Default 2. */
  firewallPropagationSeconds?: number;
  /** IPRules quota reported by listUsages. Default 200. */
  ipRuleLimit?: number;
  tags?: Record<string, string>;
  /** `repository:tag` references the registry holds (kubelet pulls of others fail `not found`). Default: any. */
  images?: string[];
}

export interface NetworkSpec {
  /** Whether the agent is inside the VNet (private DNS names resolve there). Default false. */
  agentInsideVnet?: boolean;
  /** The public IP the registry and API server see for the agent. Default '203.0.113.10'. */
  agentEgressIp?: string;
}

export interface AzureScenario {
  subscriptionId?: string;
  subscriptionName?: string;
  groups?: GroupSpec[];
  customRoles?: CustomRoleSpec[];
  roleAssignments?: RoleAssignmentSpec[];
  clusters?: ClusterSpec[];
  registries?: RegistrySpec[];
  network?: NetworkSpec;
}
