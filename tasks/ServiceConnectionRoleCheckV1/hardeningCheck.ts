import type { AuthorizationManagementClient } from '@azure/arm-authorization';
import { hardeningChecklist, postureScore, type ChecklistInput, type ChecklistItem } from '../../shared/azure/aks/hardeningChecklist';
import { kubeletPullOnRegistry } from '../../shared/azure/rbac/armPermissions';
import type { RoleCheckOptions } from './inputs';
import { readError, valueOf, type RoleCheckScope } from './roleCheckScope';

export interface Hardening {
  checklist: ChecklistItem[];
  score: number;
}

/** The hardening checklist of the cluster and the registry (what could not be read is an item of its own). */
export async function checkHardening(authz: AuthorizationManagementClient, o: RoleCheckOptions, scope: RoleCheckScope): Promise<Hardening> {
  const cluster = valueOf(scope.clusterRead);
  const registry = valueOf(scope.registryRead);
  const input: ChecklistInput = { registryId: scope.registryId };
  if (o.clusterName)
    input.cluster = cluster
      ? { model: cluster, resourceGroup: o.resourceGroup }
      : { unreadable: readError(scope.clusterRead), name: o.clusterName };
  if (o.registryName)
    input.registry = registry
      ? { model: registry, resourceGroup: o.resourceGroup }
      : { unreadable: readError(scope.registryRead), name: o.registryName };
  if (cluster && scope.registryId) {
    const kubeletOid = cluster.identityProfile?.kubeletidentity?.objectId;
    input.kubeletPull = kubeletOid
      ? await kubeletPullOnRegistry(authz, scope.registryId, kubeletOid)
      : { state: 'unknown', reason: 'the cluster reports no kubelet identity (service principal cluster?)' };
  }
  const checklist = hardeningChecklist(input);
  return { checklist, score: postureScore(checklist) };
}
