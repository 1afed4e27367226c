/**
 * What the connection may do, as Resource Manager says: the permissions API at a resource, a child
 * resource (an AKS namespace) or a resource group, and the role assignments that let the kubelet
 * identity pull from a registry. Every call has a deadline; failures are explained.
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { armClientOptions } from '../arm/armClient';
import { ARM_DEADLINE_MS, armRead } from '../arm/armCall';
import type { ConnectionCredential } from '../identity/connectionCredential';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import { messageOf } from '../../pipeline/explainedError';
import { evaluatePermission, type PermissionEntry } from './permissionEvaluator';
import { ROLES } from './leastPrivilegedRoles';

// The generic ARM read lives with the one ARM failure path; named here too for the checks that know it from here.
export { ARM_DEADLINE_MS, armRead };

export function authorizationClient(cc: ConnectionCredential, subscriptionId: string): AuthorizationManagementClient {
  return new AuthorizationManagementClient(cc.credential, subscriptionId, armClientOptions(cc));
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterator) items.push(item);
  return items;
}

/** Where to ask for permissions: a resource (optionally a child of one) or a whole resource group. */
export type PermissionTarget =
  | { kind: 'resourceGroup'; resourceGroup: string; id: string }
  | { kind: 'resource'; resourceGroup: string; provider: string; parentPath: string; type: string; name: string; id: string };

/**
 * The caller's permissions at the target (assignments there and above, through groups too). Needs
 * no permission of its own: every principal may read its own permissions.
 */
export async function permissionsAt(
  client: AuthorizationManagementClient,
  target: PermissionTarget,
  principalObjectId?: string,
): Promise<PermissionEntry[]> {
  return armRead(
    `Reading the connection's permissions at ${target.id}`,
    target.id,
    'Microsoft.Authorization/permissions/read',
    principalObjectId,
    (abortSignal) =>
      collect(
        target.kind === 'resourceGroup'
          ? client.permissions.listForResourceGroup(target.resourceGroup, { abortSignal })
          : client.permissions.listForResource(target.resourceGroup, target.provider, target.parentPath, target.type, target.name, {
              abortSignal,
            }),
      ),
  );
}

/** Whether `assignmentScope` is the target or above it. */
function covers(assignmentScope: string, target: string): boolean {
  const a = assignmentScope.replace(/\/+$/, '').toLowerCase();
  const t = target.replace(/\/+$/, '').toLowerCase();
  // A management group's assignment, listed at a resource, is inherited from above its subscription
  // (role assignments listed at a scope include those above it); its id is no path prefix of the resource's.
  if (a.startsWith('/providers/microsoft.management/managementgroups/')) return true;
  return a === '' || t === a || t.startsWith(`${a}/`);
}

const PULL = 'Microsoft.ContainerRegistry/registries/pull/read';
/** Built-in roles known to grant pull, for when the connection may not read role definitions. */
const KNOWN_PULL_ROLES: Record<string, string> = {
  [ROLES.acrPull.id]: ROLES.acrPull.name,
  [ROLES.acrPush.id]: ROLES.acrPush.name,
  [ROLES.reader.id]: ROLES.reader.name,
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
};

export type KubeletPullResult = { state: 'granted'; role: string } | { state: 'missing' } | { state: 'unknown'; reason: string };

/**
 * Whether the kubelet identity holds a role that grants pull at the registry: its role assignments
 * there or above (through its groups too), each role definition evaluated for pull. Never throws:
 * what the connection may not read makes the answer 'unknown', with why.
 */
export async function kubeletPullOnRegistry(
  client: AuthorizationManagementClient,
  registryId: string,
  kubeletObjectId: string,
): Promise<KubeletPullResult> {
  let assignments;
  try {
    assignments = await withDeadline(
      ARM_DEADLINE_MS,
      (abortSignal) =>
        collect(client.roleAssignments.listForScope(registryId, { filter: `assignedTo('${kubeletObjectId}')`, abortSignal })),
      () => new DeadlineExceededError('listing role assignments', ARM_DEADLINE_MS),
    );
  } catch (err) {
    const e = err as { statusCode?: number };
    return {
      state: 'unknown',
      reason:
        e.statusCode === 403
          ? "the connection may not read role assignments on the registry (Microsoft.Authorization/roleAssignments/read, e.g. Reader), so the kubelet identity's roles cannot be seen"
          : `listing the registry's role assignments failed (${messageOf(err).split('\n')[0]})`,
    };
  }
  const relevant = assignments.filter((a) => a.scope && covers(a.scope, registryId) && a.roleDefinitionId);
  const unreadable: string[] = [];
  for (const a of relevant) {
    const guid = a.roleDefinitionId!.split('/').filter(Boolean).pop()!.toLowerCase();
    try {
      const definition = await withDeadline(
        ARM_DEADLINE_MS,
        (abortSignal) => client.roleDefinitions.getById(a.roleDefinitionId!, { abortSignal }),
        () => new DeadlineExceededError('reading a role definition', ARM_DEADLINE_MS),
      );
      if (evaluatePermission(definition.permissions ?? [], PULL, 'action').allowed)
        return { state: 'granted', role: definition.roleName ?? guid };
    } catch {
      if (KNOWN_PULL_ROLES[guid]) return { state: 'granted', role: KNOWN_PULL_ROLES[guid] };
      unreadable.push(guid);
    }
  }
  if (unreadable.length)
    return {
      state: 'unknown',
      reason: `the kubelet identity holds role(s) ${unreadable.join(', ')} whose definitions the connection may not read`,
    };
  return { state: 'missing' };
}
