/**
 * The hardening checklist of an AKS cluster and a container registry, from their Resource Manager
 * models: each item pass / warn / fail, why it matters, and the command that fixes it. Pure.
 */
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { Registry } from '@azure/arm-containerregistry';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface ChecklistItem {
  id: string;
  resource: 'cluster' | 'registry';
  title: string;
  status: CheckStatus;
  /** What was found. */
  found: string;
  why: string;
  /** The command that fixes it (only when not passing). */
  fix?: string;
}

/** Whether the kubelet identity may pull from the registry, as far as the connection could tell. */
export type KubeletPull = { state: 'granted'; role: string } | { state: 'missing' } | { state: 'unknown'; reason: string };

export interface ChecklistInput {
  cluster?: { model: ManagedCluster; resourceGroup: string } | { unreadable: string; name: string };
  registry?: { model: Registry; resourceGroup: string } | { unreadable: string; name: string };
  /** Only when both a cluster and a registry are checked. */
  kubeletPull?: KubeletPull;
  registryId?: string;
}

function item(
  resource: ChecklistItem['resource'],
  id: string,
  title: string,
  status: CheckStatus,
  found: string,
  why: string,
  fix: string,
): ChecklistItem {
  return { id, resource, title, status, found, why, ...(status === 'pass' ? {} : { fix }) };
}

export function clusterChecklist(c: ManagedCluster, resourceGroup: string): ChecklistItem[] {
  const aks = `az aks update --resource-group ${resourceGroup} --name ${c.name}`;
  const addon = (addons: string) => `az aks enable-addons --resource-group ${resourceGroup} --name ${c.name} --addons ${addons}`;
  const aad = c.aadProfile;
  const access = c.apiServerAccessProfile;
  const ranges = access?.authorizedIPRanges ?? [];
  const oidc = c.oidcIssuerProfile?.enabled === true;
  const workloadIdentity = c.securityProfile?.workloadIdentity?.enabled === true;
  const policy = c.addonProfiles?.azurepolicy?.enabled === true;
  const keyVault = c.addonProfiles?.azureKeyvaultSecretsProvider?.enabled === true;
  const networkPolicy = c.networkProfile?.networkPolicy;
  const defender = c.securityProfile?.defender?.securityMonitoring?.enabled === true;
  return [
    item(
      'cluster',
      'entraIntegration',
      'Entra ID integration (managed)',
      aad?.managed ? 'pass' : aad ? 'warn' : 'fail',
      aad?.managed
        ? 'managed Entra ID integration'
        : aad
          ? 'legacy (unmanaged) Entra ID integration'
          : 'none: Kubernetes users are local accounts only',
      'Without it, access to the API server is a static certificate that cannot be tied to a person or pipeline, revoked alone, or guarded by Conditional Access.',
      `${aks} --enable-aad`,
    ),
    item(
      'cluster',
      'azureRbac',
      'Azure RBAC for Kubernetes authorization',
      aad?.enableAzureRbac ? 'pass' : 'warn',
      aad?.enableAzureRbac
        ? 'Azure RBAC decides Kubernetes access'
        : aad
          ? 'Kubernetes RBAC (in-cluster RoleBindings) decides'
          : 'not available without Entra ID integration',
      'With Azure RBAC, who may do what in which namespace is an Azure role assignment, audited and reviewed with the rest of Azure access, not a RoleBinding inside the cluster.',
      `${aks} --enable-azure-rbac`,
    ),
    item(
      'cluster',
      'localAccounts',
      'Local accounts disabled',
      c.disableLocalAccounts ? 'pass' : 'fail',
      c.disableLocalAccounts ? 'disabled' : 'enabled: listClusterAdminCredential hands out a static cluster-admin certificate',
      'A local admin kubeconfig bypasses Entra ID and Azure RBAC and does not expire with a token; anyone who can list it owns the cluster.',
      `${aks} --disable-local-accounts`,
    ),
    item(
      'cluster',
      'apiServerExposure',
      'Private cluster or authorized IP ranges',
      access?.enablePrivateCluster ? 'pass' : ranges.length ? 'pass' : 'fail',
      access?.enablePrivateCluster
        ? 'private API server'
        : ranges.length
          ? `public API server limited to ${ranges.length} authorized IP range(s)`
          : 'public API server open to the internet',
      'An API server reachable from any address is exposed to credential stuffing and to the next Kubernetes vulnerability.',
      `${aks} --api-server-authorized-ip-ranges <your agents' egress CIDRs>   (or: ${aks} --enable-apiserver-vnet-integration --enable-private-cluster)`,
    ),
    item(
      'cluster',
      'workloadIdentity',
      'OIDC issuer and workload identity',
      oidc && workloadIdentity ? 'pass' : 'warn',
      `OIDC issuer ${oidc ? 'enabled' : 'disabled'}, workload identity ${workloadIdentity ? 'enabled' : 'disabled'}`,
      'Workload identity lets pods use Entra ID without secrets in the cluster; without it, apps keep client secrets in Kubernetes Secrets.',
      `${aks} --enable-oidc-issuer --enable-workload-identity`,
    ),
    item(
      'cluster',
      'azurePolicy',
      'Azure Policy add-on',
      policy ? 'pass' : 'warn',
      policy ? 'enabled' : 'disabled',
      'The add-on enforces guardrails (no privileged pods, allowed registries, required limits) at admission, across all deployments.',
      addon('azure-policy'),
    ),
    item(
      'cluster',
      'keyVaultSecretsProvider',
      'Key Vault secrets provider',
      keyVault ? 'pass' : 'warn',
      keyVault ? 'enabled' : 'disabled',
      'Secrets mounted from Key Vault stay rotated and audited there instead of being copied into Kubernetes Secrets by pipelines.',
      addon('azure-keyvault-secrets-provider'),
    ),
    item(
      'cluster',
      'networkPolicy',
      'Network policy',
      networkPolicy && networkPolicy !== 'none' ? 'pass' : 'warn',
      networkPolicy && networkPolicy !== 'none' ? `${networkPolicy}` : 'none: every pod can reach every other pod',
      'Without a network policy engine, NetworkPolicy objects are ignored and a compromised pod can reach every service in the cluster.',
      `${aks} --network-policy azure   (or cilium with --network-dataplane cilium)`,
    ),
    item(
      'cluster',
      'defender',
      'Microsoft Defender for Containers',
      defender ? 'pass' : 'warn',
      defender ? 'security monitoring enabled' : 'no Defender profile',
      'Defender raises runtime threat alerts and vulnerability findings for the cluster and its images.',
      `${aks} --enable-defender`,
    ),
  ];
}

export function registryChecklist(r: Registry, resourceGroup: string): ChecklistItem[] {
  const acr = `az acr update --resource-group ${resourceGroup} --name ${r.name}`;
  const publicAccess = r.publicNetworkAccess ?? 'Enabled';
  const defaultAction = r.networkRuleSet?.defaultAction ?? 'Allow';
  const ipRules = r.networkRuleSet?.ipRules?.length ?? 0;
  const endpoints = r.privateEndpointConnections ?? [];
  const pending = endpoints.filter((p) => (p.privateLinkServiceConnectionState?.status ?? '') !== 'Approved');
  const approved = endpoints.length - pending.length;
  const bypass = r.networkRuleBypassOptions ?? 'AzureServices';
  const publicStatus: CheckStatus = publicAccess === 'Disabled' ? 'pass' : defaultAction === 'Deny' ? 'warn' : 'fail';
  const endpointStatus: CheckStatus =
    endpoints.length === 0 ? (publicAccess === 'Disabled' ? 'fail' : 'warn') : pending.length ? 'warn' : 'pass';
  return [
    item(
      'registry',
      'adminUser',
      'Admin user disabled',
      r.adminUserEnabled ? 'fail' : 'pass',
      r.adminUserEnabled ? 'enabled: a shared username and password can push and pull' : 'disabled',
      'The admin user is one shared static credential with full push/pull rights, not tied to any identity and not covered by Azure RBAC.',
      `${acr} --admin-enabled false`,
    ),
    item(
      'registry',
      'publicNetworkAccess',
      'Public network access',
      publicStatus,
      publicAccess === 'Disabled'
        ? 'disabled: private endpoints only'
        : defaultAction === 'Deny'
          ? `enabled for selected networks (${ipRules} IP rule(s))`
          : 'enabled from all networks',
      'A registry reachable from anywhere lets leaked credentials pull images (and secrets baked into them) from any address.',
      publicStatus === 'warn'
        ? `${acr} --public-network-enabled false   (once agents and nodes reach it through a private endpoint)`
        : `${acr} --default-action Deny   (then allow your agents: az acr network-rule add --name ${r.name} --ip-address <egress IP>)`,
    ),
    item(
      'registry',
      'privateEndpoints',
      'Private endpoints approved',
      endpointStatus,
      endpoints.length === 0
        ? 'no private endpoint'
        : `${approved} approved, ${pending.length} not approved${pending.length ? ` (${pending.map((p) => `${p.name}: ${p.privateLinkServiceConnectionState?.status ?? '?'}`).join(', ')})` : ''}`,
      'A private endpoint keeps image pulls on the VNet; one left Pending or Rejected carries no traffic, so nodes fall back to the public endpoint or fail.',
      pending.length
        ? pending.map((p) => `az acr private-endpoint-connection approve --registry-name ${r.name} --name ${p.name}`).join('; ')
        : `az network private-endpoint create --resource-group ${resourceGroup} --name ${r.name}-pe --vnet-name <vnet> --subnet <subnet> --private-connection-resource-id <registry id> --group-id registry --connection-name ${r.name}-pe`,
    ),
    item(
      'registry',
      'trustedServices',
      'Trusted Azure services may bypass the firewall',
      bypass === 'AzureServices' ? 'pass' : 'warn',
      bypass === 'AzureServices' ? 'AzureServices' : 'None',
      'With the firewall on, trusted services (Defender image scanning, ACR Tasks, Machine Learning) reach the registry only through this bypass; without it they silently stop working.',
      `${acr} --allow-trusted-services true`,
    ),
  ];
}

function kubeletItem(
  k: KubeletPull,
  cluster: ManagedCluster,
  clusterResourceGroup: string,
  registryName: string,
  registryId: string,
): ChecklistItem {
  const status: CheckStatus = k.state === 'granted' ? 'pass' : k.state === 'missing' ? 'fail' : 'warn';
  return item(
    'cluster',
    'kubeletAcrPull',
    'Kubelet identity holds AcrPull on the registry',
    status,
    k.state === 'granted'
      ? `granted (${k.role})`
      : k.state === 'missing'
        ? `no role assignment on ${registryName} lets the kubelet identity pull`
        : `not known: ${k.reason}`,
    'Nodes pull images with the kubelet identity; without AcrPull on the registry, pods fail with ImagePullBackOff (or teams fall back to admin-user pull secrets).',
    `az aks update --resource-group ${clusterResourceGroup} --name ${cluster.name} --attach-acr ${registryId}`,
  );
}

/** The whole checklist; a resource the connection cannot read yields one 'warn' item saying so. */
export function hardeningChecklist(input: ChecklistInput): ChecklistItem[] {
  const items: ChecklistItem[] = [];
  if (input.cluster) {
    if ('model' in input.cluster) items.push(...clusterChecklist(input.cluster.model, input.cluster.resourceGroup));
    else
      items.push({
        id: 'clusterReadable',
        resource: 'cluster',
        title: `Cluster '${input.cluster.name}' readable`,
        status: 'warn',
        found: input.cluster.unreadable,
        why: 'The cluster checks need its Resource Manager properties.',
        fix: 'Run the check with a connection that holds Reader (or the Cluster User Role) on the cluster.',
      });
  }
  if (input.registry) {
    if ('model' in input.registry) items.push(...registryChecklist(input.registry.model, input.registry.resourceGroup));
    else
      items.push({
        id: 'registryReadable',
        resource: 'registry',
        title: `Registry '${input.registry.name}' readable`,
        status: 'warn',
        found: input.registry.unreadable,
        why: 'The registry checks need its Resource Manager properties.',
        fix: 'Run the check with a connection that holds Reader on the registry.',
      });
  }
  if (input.kubeletPull && input.cluster && 'model' in input.cluster && input.registry && input.registryId) {
    items.push(
      kubeletItem(
        input.kubeletPull,
        input.cluster.model,
        input.cluster.resourceGroup,
        'model' in input.registry ? (input.registry.model.name ?? '') : input.registry.name,
        input.registryId,
      ),
    );
  }
  return items;
}

/** 0-100: a pass counts 1, a warning half, a failure nothing. */
export function postureScore(items: readonly ChecklistItem[]): number {
  if (items.length === 0) return 100;
  const points = items.reduce((sum, i) => sum + (i.status === 'pass' ? 1 : i.status === 'warn' ? 0.5 : 0), 0);
  return Math.round((100 * points) / items.length);
}
