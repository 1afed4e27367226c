import type { AuthorizationManagementClient } from '@azure/arm-authorization';
import { permissionsAt } from '../../shared/azure/rbac/armPermissions';
import type { ScopeKind } from '../../shared/azure/rbac/intents';
import { evaluateIntents, type ClusterAuthorization, type IntentEvaluation } from '../../shared/azure/rbac/intentVerdicts';
import { evaluatePermission, type PermissionEntry } from '../../shared/azure/rbac/permissionEvaluator';
import type { RoleCheckOptions } from './inputs';
import { valueOf, readError, type RoleCheckScope } from './roleCheckScope';

/** The connection's effective permissions (ARM permissions API) at each scope the intents touch, and at the resource group. */
export interface EffectivePermissions {
  atScopes: Partial<Record<ScopeKind, PermissionEntry[]>>;
  resourceGroup: PermissionEntry[];
}

export async function readPermissions(
  authz: AuthorizationManagementClient,
  o: RoleCheckOptions,
  scope: RoleCheckScope,
  oid: string | undefined,
): Promise<EffectivePermissions> {
  const kinds = Object.keys(scope.permissionTargets) as ScopeKind[];
  const [lists, resourceGroup] = await Promise.all([
    Promise.all(kinds.map(async (k) => [k, await permissionsAt(authz, scope.permissionTargets[k]!, oid)] as const)),
    permissionsAt(authz, { kind: 'resourceGroup', resourceGroup: o.resourceGroup, id: scope.resourceGroupId }, oid),
  ]);
  return { atScopes: Object.fromEntries(lists), resourceGroup };
}

export function evaluatePermissions(
  o: RoleCheckOptions,
  scope: RoleCheckScope,
  permissions: EffectivePermissions,
  clusterAuthorization: ClusterAuthorization,
): IntentEvaluation {
  return evaluateIntents(o.intents, {
    scopeIds: scope.scopeIds,
    permissions: permissions.atScopes,
    clusterAuthorization,
    namespace: o.namespace,
  });
}

/** What the connection may do in the resource group, in one line, and the warning when it may grant itself anything. */
export function resourceGroupFindings(o: RoleCheckOptions, permissions: EffectivePermissions): { line: string; notes: string[] } {
  const can = (op: string) => evaluatePermission(permissions.resourceGroup, op, 'action').allowed;
  const yesNo = (op: string) => (can(op) ? 'yes' : 'no');
  const line = `Resource group ${o.resourceGroup}: read ${yesNo('Microsoft.Resources/subscriptions/resourceGroups/read')}, deploy templates ${yesNo('Microsoft.Resources/deployments/write')}, assign roles ${yesNo('Microsoft.Authorization/roleAssignments/write')}`;
  const notes = can('Microsoft.Authorization/roleAssignments/write')
    ? [
        `The connection may assign roles in ${o.resourceGroup} (Owner or User Access Administrator): a pipeline that can grant itself any access. Prefer the roles above.`,
      ]
    : [];
  return { line, notes };
}

/** What the cluster's settings mean for the verdicts, whatever the roles. */
export function clusterNotes(o: RoleCheckOptions, scope: RoleCheckScope, clusterAuthorization: ClusterAuthorization): string[] {
  const notes: string[] = [];
  const cluster = valueOf(scope.clusterRead);
  if (clusterAuthorization === 'localAccounts')
    notes.push(
      `'${o.clusterName}' has no Entra ID integration: whoever gets its user credential gets the access of that local credential; Azure RBAC does not limit Kubernetes operations.`,
    );
  if (clusterAuthorization === 'unknown' && o.clusterName)
    notes.push(
      `The connection could not read '${o.clusterName}' (${readError(scope.clusterRead)}), so the Kubernetes permissions were checked as if the cluster used Azure RBAC.`,
    );
  if (cluster?.disableLocalAccounts && o.intents.includes('adminCredentials'))
    notes.push(`'${o.clusterName}' disables local accounts: AKS hands out no admin credential whatever the role.`);
  if (cluster?.apiServerAccessProfile?.disableRunCommand && o.intents.includes('deployRunCommand'))
    notes.push(`'${o.clusterName}' disables run command: deployRunCommand cannot work whatever the role.`);
  return notes;
}
