import type { Pipeline } from '@azure/core-rest-pipeline';
import type { ContainerServiceClient } from '@azure/arm-containerservice';
import { ArmCallError, failureOf, sendArm, waitForOperation, withoutRetries } from '../arm/rawArmCall';
import type { RuleState } from '../firewall/ruleLeases';
import type { RuleStore } from '../firewall/ruleSync';

/**
 * A public AKS cluster's API server authorized IP ranges as a firewall rule store. The cluster is
 * read and PUT back whole as raw JSON (what `az aks update --api-server-authorized-ip-ranges`
 * does), with only the ranges and tags changed, and `If-Match` on the eTag read: a concurrent
 * change makes the PUT fail with 412 instead of being overwritten.
 */
export const CLUSTER_API_VERSION = '2024-05-01';
/** AKS accepts at most 200 authorized IP ranges. */
export const MAX_AUTHORIZED_RANGES = 200;
/** An update of the API server's access profile takes minutes in Azure. */
const LRO_DEADLINE_MS = 15 * 60_000;

export interface ClusterDocument {
  json: Record<string, unknown> & { properties?: Record<string, unknown>; tags?: Record<string, string> };
  eTag?: string;
}

interface AccessProfile {
  enablePrivateCluster?: boolean;
  authorizedIPRanges?: string[];
}

export function accessProfileOf(doc: ClusterDocument): AccessProfile {
  return (doc.json.properties?.apiServerAccessProfile ?? {}) as AccessProfile;
}

export class AuthorizedRangesClient {
  readonly resourceUrl: string;
  private readonly readPipeline: Pipeline;
  private readonly writePipeline: Pipeline;

  constructor(client: ContainerServiceClient, resourceManagerUrl: string, readonly clusterId: string) {
    this.resourceUrl = `${resourceManagerUrl.replace(/\/+$/, '')}${clusterId}?api-version=${CLUSTER_API_VERSION}`;
    this.readPipeline = client.pipeline;
    this.writePipeline = withoutRetries(client.pipeline);
  }

  async read(): Promise<ClusterDocument> {
    const res = await sendArm(this.readPipeline, 'GET', this.resourceUrl, 'Reading the cluster');
    if (res.status !== 200) throw new ArmCallError(failureOf(res));
    const json = JSON.parse(res.bodyAsText ?? '{}') as ClusterDocument['json'];
    const eTag = (json.eTag as string | undefined) ?? res.headers.get('etag')?.replace(/^W\//, '').replace(/"/g, '');
    return { json, eTag };
  }

  /** PUTs the cluster as read with new ranges and tags, conditional on the eTag read, and waits for the update. */
  async write(doc: ClusterDocument, next: RuleState): Promise<void> {
    const properties = doc.json.properties ?? {};
    const body = {
      ...doc.json,
      tags: next.tags,
      properties: { ...properties, apiServerAccessProfile: { ...accessProfileOf(doc), authorizedIPRanges: next.ipRules } },
    };
    const headers: Record<string, string> = doc.eTag ? { 'If-Match': `"${doc.eTag}"` } : {};
    const res = await sendArm(this.writePipeline, 'PUT', this.resourceUrl, 'Updating the cluster', { body, headers });
    if (res.status !== 200 && res.status !== 201 && res.status !== 202) throw new ArmCallError(failureOf(res));
    const asyncUrl = res.headers.get('azure-asyncoperation') ?? res.headers.get('location');
    if (asyncUrl) await waitForOperation(this.readPipeline, asyncUrl, 'Updating the API server authorized IP ranges', LRO_DEADLINE_MS);
  }
}

export function authorizedRangesStore(client: AuthorizedRangesClient, clusterName: string, explain: RuleStore<ClusterDocument>['explain']): RuleStore<ClusterDocument> {
  return {
    label: `the cluster '${clusterName}'`,
    listCommand: `az aks show --name ${clusterName} --resource-group <group> --query apiServerAccessProfile.authorizedIpRanges`,
    maxRules: MAX_AUTHORIZED_RANGES,
    conditionalWrites: true,
    async read() {
      const raw = await client.read();
      return { raw, rules: { ipRules: [...(accessProfileOf(raw).authorizedIPRanges ?? [])], tags: { ...(raw.json.tags ?? {}) } } };
    },
    write: (raw, next) => client.write(raw, next),
    explain,
  };
}
