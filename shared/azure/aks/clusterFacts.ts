import type { ManagedCluster } from '@azure/arm-containerservice';

/** What the tasks need to know about an AKS cluster, read from Resource Manager. */
export interface ClusterFacts {
  id: string;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  location: string;
  kubernetesVersion?: string;
  privateCluster: boolean;
  /** The name kubectl connects to: the private FQDN for a private cluster, else the public one. */
  apiServerHost?: string;
  privateFqdn?: string;
  publicFqdn?: string;
  entraIntegration: boolean;
  /** AKS-managed Entra ID integration (aadProfile.managed), the kind whose run command takes the caller's token. */
  entraManaged?: boolean;
  azureRbac: boolean;
  localAccountsDisabled: boolean;
  runCommandDisabled: boolean;
  authorizedIpRanges: string[];
  /**
   * The object id of the identity the nodes' kubelet pulls images with (AKS REST spec, managedClusters.json
   * `ManagedClusterProperties.identityProfile`: "Identities associated with the cluster", key
   * `kubeletidentity`, a UserAssignedIdentity {resourceId, clientId, objectId}).
   */
  kubeletObjectId?: string;
}

/** Reads the facts from the cluster's ARM representation (pure: the SDK model in, facts out). */
export function clusterFactsOf(cluster: ManagedCluster, ids: { subscriptionId: string; resourceGroup: string }): ClusterFacts {
  const access = cluster.apiServerAccessProfile;
  const privateCluster = access?.enablePrivateCluster === true;
  return {
    id: cluster.id ?? '',
    name: cluster.name ?? '',
    resourceGroup: ids.resourceGroup,
    subscriptionId: ids.subscriptionId,
    location: cluster.location,
    kubernetesVersion: cluster.currentKubernetesVersion ?? cluster.kubernetesVersion,
    privateCluster,
    privateFqdn: cluster.privateFqdn,
    publicFqdn: cluster.fqdn,
    apiServerHost: privateCluster ? (cluster.privateFqdn ?? cluster.fqdn) : cluster.fqdn,
    entraIntegration: !!cluster.aadProfile,
    entraManaged: cluster.aadProfile?.managed === true,
    azureRbac: cluster.aadProfile?.enableAzureRbac === true,
    localAccountsDisabled: cluster.disableLocalAccounts === true,
    runCommandDisabled: access?.disableRunCommand === true,
    authorizedIpRanges: access?.authorizedIPRanges ?? [],
    // Only when Resource Manager names it (a cluster with a service principal has no kubelet identity).
    ...(cluster.identityProfile?.kubeletidentity?.objectId ? { kubeletObjectId: cluster.identityProfile.kubeletidentity.objectId } : {}),
  };
}

/** The facts as aligned lines for the log. */
export function clusterFactsLines(f: ClusterFacts): string[] {
  const rows: [string, string][] = [
    ['Cluster', `${f.name} (${f.resourceGroup}, ${f.location}, Kubernetes ${f.kubernetesVersion ?? '?'})`],
    [
      'API server',
      `${f.apiServerHost ?? '?'} (${f.privateCluster ? 'private' : 'public'}${f.authorizedIpRanges.length ? `, ${f.authorizedIpRanges.length} authorized IP ranges` : ''})`,
    ],
    [
      'Entra ID',
      f.entraIntegration ? `integrated, ${f.azureRbac ? 'Azure RBAC' : 'Kubernetes RBAC'}` : 'not integrated (local accounts only)',
    ],
    ['Local accounts', f.localAccountsDisabled ? 'disabled' : 'enabled'],
    ['Run command', f.runCommandDisabled ? 'disabled' : 'allowed'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)} : ${v}`);
}
