import type { ContainerServiceClient } from '@azure/arm-containerservice';
import { clusterIdOf } from '../../azure/arm/resourceId';
import { agentGet } from '../../net/agentGet';
import type { AccessAnswer } from '../accessWait';
import type { FirewallTarget } from '../firewallTarget';
import { storeExplainer, type RuleStore } from '../ruleSync';
import { ExplainedError, messageOf } from '../../pipeline/explainedError';
import { AuthorizedRangesClient, MAX_AUTHORIZED_RANGES, accessProfileOf, type ClusterDocument } from '../../azure/aks/authorizedIpRanges';

export interface ClusterTargetOptions {
  sdk: ContainerServiceClient;
  resourceManagerUrl: string;
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
  principalObjectId?: string;
}

const PROBE_DEADLINE_MS = 3_000;
/** TLS errors that prove the API server answered: it presented a certificate the agent does not trust (the cluster CA). */
const ANSWERED_TLS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/i;

export async function clusterTarget(o: ClusterTargetOptions): Promise<FirewallTarget> {
  const clusterId = clusterIdOf(o.subscriptionId, o.resourceGroup, o.clusterName);
  const explain = storeExplainer({
    scope: clusterId,
    resourceLabel: `the cluster '${o.clusterName}'`,
    principalObjectId: o.principalObjectId,
    read: { action: 'Microsoft.ContainerService/managedClusters/read', role: 'Reader' },
    write: { action: 'Microsoft.ContainerService/managedClusters/write', role: 'Azure Kubernetes Service Contributor Role' },
  });
  const client = new AuthorizedRangesClient(o.sdk, o.resourceManagerUrl, clusterId);
  const doc: ClusterDocument = await client.read().catch((err) => {
    throw explain(err, `Reading the cluster '${o.clusterName}'`, 'read');
  });
  const profile = accessProfileOf(doc);
  const fqdn = String(doc.json.properties?.fqdn ?? '');
  const ranges = profile.authorizedIPRanges ?? [];
  console.log(
    `Cluster ${o.clusterName}: ${profile.enablePrivateCluster ? 'private' : 'public'} API server${fqdn ? ` ${fqdn}` : ''}, ${ranges.length} authorized IP range(s).`,
  );

  async function ask(deadlineMs: number): Promise<AccessAnswer> {
    try {
      // The IP filter drops what it refuses: no answer within a few seconds is the answer.
      const res = await agentGet(`https://${fqdn}/readyz`, Math.min(deadlineMs, PROBE_DEADLINE_MS));
      return { through: true, detail: `/readyz answers HTTP ${res.status}` };
    } catch (err) {
      const e = err as { code?: string };
      if (e.code && ANSWERED_TLS.test(e.code)) return { through: true, detail: `presents its certificate (${e.code})` };
      return { through: false, detail: `no answer (${e.code ?? messageOf(err).split('\n')[0]})` };
    }
  }

  return {
    kind: 'aksAuthorizedIpRanges',
    name: o.clusterName,
    endpoint: fqdn,
    store: authorizedRangesStore(client, o.clusterName, explain),
    async posture() {
      if (profile.enablePrivateCluster) {
        throw new ExplainedError({
          what: `Opening ${o.clusterName}'s API server to the agent`,
          reason:
            'The cluster is private: its API server has no public endpoint, and authorized IP ranges do not apply to it. Nothing was changed.',
          fix: 'Run the agent inside the VNet (or a peered one) with the private DNS zone linked, or let PrivateAksDeploy use AKS run command (route: auto).',
          code: 'AKS_PRIVATE_CLUSTER',
        });
      }
      // No ranges: every network reaches the API server. Adding ours would lock everyone else out.
      return ranges.length === 0 ? 'open' : 'filtered';
    },
    async ipFromEndpoint() {
      return { why: "the AKS API server does not name the caller's IP", through: false };
    },
    ask,
  };
}

/** A public cluster's API server authorized IP ranges as the firewall engine's rule store. */
export function authorizedRangesStore(
  client: AuthorizedRangesClient,
  clusterName: string,
  explain: RuleStore<ClusterDocument>['explain'],
): RuleStore<ClusterDocument> {
  return {
    label: `the cluster '${clusterName}'`,
    listCommand: `az aks show --name ${clusterName} --resource-group <group> --query apiServerAccessProfile.authorizedIpRanges`,
    maxRules: MAX_AUTHORIZED_RANGES,
    conditionalWrites: true,
    emptyMeansOpen: true,
    async read() {
      const raw = await client.read();
      return { raw, rules: { ipRules: [...(accessProfileOf(raw).authorizedIPRanges ?? [])], tags: { ...(raw.json.tags ?? {}) } } };
    },
    write: (raw, next) => client.write(raw, next),
    explain,
  };
}
