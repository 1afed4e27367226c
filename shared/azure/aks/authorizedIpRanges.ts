import type { ContainerServiceClient } from '@azure/arm-containerservice';
import { RawArmResource } from '../arm/rawArmCall';
import { ExplainedError } from '../../pipeline/explainedError';

/**
 * A public AKS cluster's API server authorized IP ranges as a firewall rule store. The cluster is
 * read and PUT back whole as raw JSON (what `az aks update --api-server-authorized-ip-ranges`
 * does), with only the ranges and tags changed, and `If-Match` on the eTag read: a concurrent
 * change makes the PUT fail with 412 instead of being overwritten.
 *
 * 2024-10-01 is the first stable api-version whose ManagedClusters_CreateOrUpdate takes `If-Match`
 * (azure-rest-api-specs, specification/containerservice/resource-manager/Microsoft.ContainerService/
 * aks/stable/2024-10-01/managedClusters.json; 2024-09-01 has no such parameter): at older versions
 * the precondition is not part of the API and protects nothing.
 */
export const CLUSTER_API_VERSION = '2024-10-01';
/** AKS accepts at most 200 authorized IP ranges (learn.microsoft.com, "Secure access to the API server using authorized IP address ranges": the limit is 200). */
export const MAX_AUTHORIZED_RANGES = 200;
/** An update of the API server's access profile takes minutes in Azure. */
const LRO_DEADLINE_MS = 15 * 60_000;

/** What is written: the authorized ranges and the cluster's tags (the firewall engine's rule state). */
export interface AuthorizedRanges {
  ipRules: string[];
  tags: Record<string, string>;
}

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
  private readonly resource: RawArmResource;

  constructor(client: ContainerServiceClient, resourceManagerUrl: string, clusterId: string) {
    this.resource = new RawArmResource(client.pipeline, resourceManagerUrl, clusterId, CLUSTER_API_VERSION, 'the cluster');
  }

  async read(): Promise<ClusterDocument> {
    const res = await this.resource.get();
    const json = JSON.parse(res.bodyAsText ?? '{}') as ClusterDocument['json'];
    // ManagedCluster.eTag is a read-only body field; the spec defines no ETag response header.
    const eTag = typeof json.eTag === 'string' && json.eTag !== '' ? json.eTag : undefined;
    return { json, eTag };
  }

  /**
   * PUTs the cluster as read with new ranges and tags, conditional on the eTag read, and waits for
   * the update. `If-Match` carries the eTag verbatim, as `az aks update --if-match <eTag>` sends it
   * (the spec's header is a plain string). Without an eTag nothing is written: an unconditional PUT
   * could overwrite another job's change.
   */
  async write(doc: ClusterDocument, next: AuthorizedRanges): Promise<void> {
    if (!doc.eTag) {
      throw new ExplainedError({
        what: "Updating the cluster's authorized IP ranges",
        reason: `Resource Manager returned the cluster without an eTag (api-version ${CLUSTER_API_VERSION}), so the update could not be made conditional and could overwrite a concurrent change. Nothing was changed.`,
        fix: 'Run again; if it persists, add the range with az aks update --api-server-authorized-ip-ranges.',
        code: 'AKS_NO_ETAG',
      });
    }
    const properties = doc.json.properties ?? {};
    const body = {
      ...doc.json,
      tags: next.tags,
      properties: { ...properties, apiServerAccessProfile: { ...accessProfileOf(doc), authorizedIPRanges: next.ipRules } },
    };
    await this.resource.write('PUT', body, LRO_DEADLINE_MS, { 'If-Match': doc.eTag });
  }
}
