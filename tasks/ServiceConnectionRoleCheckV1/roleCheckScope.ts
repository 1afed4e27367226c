import type { ManagedCluster } from '@azure/arm-containerservice';
import type { Registry } from '@azure/arm-containerregistry';
import { containerRegistryClient, containerServiceClient } from '../../shared/azure/arm/armClient';
import { clusterIdOf, registryIdOf, resourceGroupIdOf } from '../../shared/azure/arm/resourceId';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { messageOf } from '../../shared/pipeline/explainedError';
import { armRead, type PermissionTarget } from '../../shared/azure/rbac/armPermissions';
import type { ScopeKind } from '../../shared/azure/rbac/intents';
import type { ClusterAuthorization } from '../../shared/azure/rbac/intentVerdicts';
import type { RoleCheckOptions } from './inputs';

/** A read whose failure is reported, not fatal: the checklist says what could not be read. */
export type Read<T> = { value: T } | { error: string };

/** The resources the check is about, as Resource Manager names them, and what the connection could read of them. */
export interface RoleCheckScope {
  subscriptionId: string;
  resourceGroupId: string;
  clusterId?: string;
  registryId?: string;
  /** Resource ids and labels per scope the intents' permissions live at. */
  scopeIds: Partial<Record<ScopeKind, string>>;
  scopeLabels: Partial<Record<ScopeKind, string>>;
  permissionTargets: Partial<Record<ScopeKind, PermissionTarget>>;
  clusterRead?: Read<ManagedCluster>;
  registryRead?: Read<Registry>;
}

async function tryRead<T>(read: () => Promise<T>): Promise<Read<T>> {
  try {
    return { value: await read() };
  } catch (err) {
    const e = err as { reason?: string };
    return { error: e.reason ?? messageOf(err) };
  }
}

export const valueOf = <T>(read: Read<T> | undefined): T | undefined => (read && 'value' in read ? read.value : undefined);
export const readError = (read: Read<unknown> | undefined): string => (read && 'error' in read ? read.error : 'not read');

/** The ids of the resource group, cluster, namespace and registry the options name, and what the connection may permission-check there. */
export function scopeOf(o: RoleCheckOptions, subscriptionId: string): RoleCheckScope {
  const clusterId = o.clusterName ? clusterIdOf(subscriptionId, o.resourceGroup, o.clusterName) : undefined;
  const registryId = o.registryName ? registryIdOf(subscriptionId, o.resourceGroup, o.registryName) : undefined;
  const scopeIds: Partial<Record<ScopeKind, string>> = {
    cluster: clusterId,
    namespace: clusterId && `${clusterId}/namespaces/${o.namespace}`,
    registry: registryId,
  };
  const scopeLabels: Partial<Record<ScopeKind, string>> = {
    cluster: `cluster ${o.clusterName}`,
    namespace: `namespace ${o.namespace}`,
    registry: `registry ${o.registryName}`,
  };
  const permissionTargets: Partial<Record<ScopeKind, PermissionTarget>> = {};
  if (o.clusterName && clusterId) {
    permissionTargets.cluster = {
      kind: 'resource',
      resourceGroup: o.resourceGroup,
      provider: 'Microsoft.ContainerService',
      parentPath: '',
      type: 'managedClusters',
      name: o.clusterName,
      id: clusterId,
    };
    permissionTargets.namespace = {
      kind: 'resource',
      resourceGroup: o.resourceGroup,
      provider: 'Microsoft.ContainerService',
      parentPath: `managedClusters/${o.clusterName}`,
      type: 'namespaces',
      name: o.namespace,
      id: scopeIds.namespace!,
    };
  }
  if (o.registryName && registryId)
    permissionTargets.registry = {
      kind: 'resource',
      resourceGroup: o.resourceGroup,
      provider: 'Microsoft.ContainerRegistry',
      parentPath: '',
      type: 'registries',
      name: o.registryName,
      id: registryId,
    };
  return {
    subscriptionId,
    resourceGroupId: resourceGroupIdOf(subscriptionId, o.resourceGroup),
    clusterId,
    registryId,
    scopeIds,
    scopeLabels,
    permissionTargets,
  };
}

/** Reads the cluster and the registry (each may fail: the report says what could not be read). */
export async function readResources(
  cc: ConnectionCredential,
  o: RoleCheckOptions,
  scope: RoleCheckScope,
  oid: string | undefined,
): Promise<Pick<RoleCheckScope, 'clusterRead' | 'registryRead'>> {
  const [clusterRead, registryRead] = await Promise.all([
    o.clusterName
      ? tryRead(() =>
          armRead(
            `Reading cluster '${o.clusterName}'`,
            scope.clusterId!,
            'Microsoft.ContainerService/managedClusters/read',
            oid,
            (abortSignal) =>
              containerServiceClient(cc, scope.subscriptionId).managedClusters.get(o.resourceGroup, o.clusterName!, { abortSignal }),
          ),
        )
      : undefined,
    o.registryName
      ? tryRead(() =>
          armRead(
            `Reading registry '${o.registryName}'`,
            scope.registryId!,
            'Microsoft.ContainerRegistry/registries/read',
            oid,
            (abortSignal) =>
              containerRegistryClient(cc, scope.subscriptionId).registries.get(o.resourceGroup, o.registryName!, { abortSignal }),
          ),
        )
      : undefined,
  ]);
  return { clusterRead, registryRead };
}

export function clusterAuthorizationOf(cluster: ManagedCluster | undefined): ClusterAuthorization {
  if (!cluster) return 'unknown';
  if (!cluster.aadProfile) return 'localAccounts';
  return cluster.aadProfile.enableAzureRbac ? 'azureRbac' : 'kubernetesRbac';
}
