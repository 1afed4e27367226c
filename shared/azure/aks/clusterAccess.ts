import { subscriptionOf } from '../connection/azureRmConnection';
import type { ContainerServiceClient } from '@azure/arm-containerservice';
import { containerServiceClient } from '../arm/armClient';
import { armCall } from '../arm/armCall';
import type { ArmFailureContext } from '../arm/armErrors';
import { clusterIdOf } from '../arm/resourceId';
import type { ConnectionCredential } from '../identity/connectionCredential';
import { parseKubeconfig, type Kubeconfig } from '../../kube/kubeconfig';
import { ExplainedError } from '../../pipeline/explainedError';
import { clusterFactsOf, type ClusterFacts } from './clusterFacts';

export interface ClusterTarget {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const ARM_DEADLINE_MS = 120_000;

/** A cluster as a task's inputs name it: by resource id (with its subscription), or by resource group and name. */
export interface ClusterSelector {
  /** Set when the cluster was given by resource id; otherwise the connection's subscription holds it. */
  subscriptionId?: string;
  resourceGroup: string;
  name: string;
}

/** Where the cluster is: its own subscription when given by resource id, else the connection's. */
export function clusterTargetOf(cluster: ClusterSelector, connectionSubscriptionId: string | undefined): ClusterTarget {
  // Given by resource id, the cluster names its own subscription; by name, the connection's must.
  const subscriptionId =
    cluster.subscriptionId ??
    subscriptionOf(
      { subscriptionId: connectionSubscriptionId },
      "set clusterSpecifiedBy to resourceId and give the cluster's full resource id",
    );
  return { subscriptionId, resourceGroup: cluster.resourceGroup, name: cluster.name };
}

export function clusterResourceId(t: ClusterTarget): string {
  return clusterIdOf(t.subscriptionId, t.resourceGroup, t.name);
}

/** Reads the cluster from Resource Manager and what the deployment needs to know about it. */
export class ClusterAccess {
  private readonly client: ContainerServiceClient;

  constructor(
    private readonly cc: ConnectionCredential,
    readonly target: ClusterTarget,
    private readonly principalObjectId?: string,
  ) {
    this.client = containerServiceClient(cc, target.subscriptionId);
  }

  /** What a failed call on the cluster needed, for the one ARM failure path. */
  private failureContext(action: string, role: string): ArmFailureContext {
    return {
      action,
      role,
      scope: clusterResourceId(this.target),
      principalObjectId: this.principalObjectId,
      resourceLabel: `cluster '${this.target.name}'`,
    };
  }

  async facts(): Promise<ClusterFacts> {
    const cluster = await armCall(
      `Reading cluster '${this.target.name}' from Resource Manager`,
      this.failureContext('Microsoft.ContainerService/managedClusters/read', 'Azure Kubernetes Service Cluster User Role'),
      (abortSignal) => this.client.managedClusters.get(this.target.resourceGroup, this.target.name, { abortSignal }),
      ARM_DEADLINE_MS,
    );
    return clusterFactsOf(cluster, this.target);
  }

  /** The cluster user kubeconfig, or the admin one when asked and allowed (never otherwise). */
  async kubeconfig(admin: boolean): Promise<Kubeconfig> {
    const action = admin ? 'listClusterAdminCredential' : 'listClusterUserCredential';
    const result = await armCall(
      `Getting the cluster ${admin ? 'admin' : 'user'} credential of '${this.target.name}'`,
      this.failureContext(
        `Microsoft.ContainerService/managedClusters/${action}/action`,
        admin ? 'Azure Kubernetes Service Cluster Admin Role' : 'Azure Kubernetes Service Cluster User Role',
      ),
      (abortSignal) =>
        admin
          ? this.client.managedClusters.listClusterAdminCredentials(this.target.resourceGroup, this.target.name, { abortSignal })
          : this.client.managedClusters.listClusterUserCredentials(this.target.resourceGroup, this.target.name, { abortSignal }),
      ARM_DEADLINE_MS,
    );
    const value = result.kubeconfigs?.[0]?.value;
    if (!value) {
      throw new ExplainedError({
        what: `Getting the cluster credential of '${this.target.name}'`,
        reason: 'Resource Manager returned no kubeconfig.',
        fix: 'Check the cluster in the portal.',
        code: 'INVALID_KUBECONFIG',
      });
    }
    return parseKubeconfig(Buffer.from(value).toString('utf8'));
  }

  get containerService(): ContainerServiceClient {
    return this.client;
  }
}
