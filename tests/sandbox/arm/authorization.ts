/**
 * Azure RBAC evaluation, pure functions over role definitions, role assignments and groups.
 *
 * Semantics (as Azure documents and implements them):
 *   - operation names and patterns compare case-insensitively;
 *   - `*` in a pattern matches any run of characters, including `/` (so `*` and `* /read` span
 *     segments, and `Microsoft.ContainerService/* /read` matches `.../managedClusters/agentPools/read`);
 *   - each permission entry of a role is evaluated on its own: the entry allows an operation when
 *     one of its actions (dataActions) matches and none of ITS notActions (notDataActions) does.
 *     NotActions are not deny rules: another entry or another role can still grant the operation;
 *   - an assignment at scope S applies to S and to every scope below it
 *     (`/subscriptions/x` covers its resource groups and resources; `<clusterId>` covers
 *     `<clusterId>/namespaces/<ns>`, but `<clusterId>/namespaces/<ns>` covers only that namespace);
 *   - a principal receives the assignments made to it and to every group it belongs to, transitively.
 */
import type { RolePermission } from './builtInRoles';

export type { RolePermission } from './builtInRoles';

export type PermissionKind = 'action' | 'dataAction';

export interface RoleDefinitionLike {
  /** GUID (or a full role definition id, whose last segment is the GUID). */
  id: string;
  permissions: RolePermission[];
}

export interface RoleAssignmentLike {
  properties: { roleDefinitionId: string; principalId: string; scope: string };
}

export interface GroupLike {
  objectId: string;
  /** Object ids of direct members (principals or other groups). */
  memberObjectIds: string[];
}

export interface AuthorizationState {
  roleDefinitions: readonly RoleDefinitionLike[];
  roleAssignments: readonly RoleAssignmentLike[];
  groups: readonly GroupLike[];
}

const patternCache = new Map<string, RegExp>();

/** Whether an RBAC action pattern (`*` wildcards, case-insensitive) matches an operation name. */
export function matchesOperation(pattern: string, operation: string): boolean {
  const key = pattern.toLowerCase();
  let re = patternCache.get(key);
  if (!re) {
    const body = key
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 's');
    patternCache.set(key, re);
  }
  return re.test(operation.toLowerCase());
}

/** Whether one permission entry allows the operation (its own notActions / notDataActions applied). */
export function permissionAllows(permission: RolePermission, operation: string, kind: PermissionKind): boolean {
  const [allow, deny] =
    kind === 'action' ? [permission.actions, permission.notActions] : [permission.dataActions, permission.notDataActions];
  return allow.some((p) => matchesOperation(p, operation)) && !deny.some((p) => matchesOperation(p, operation));
}

/** `/a/b/` → `/a/b`, repeated slashes collapsed, leading slash ensured; '' and '/' → '/'. */
export function normalizeScope(scope: string): string {
  const trimmed = `/${scope.trim()}`.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** Whether an assignment at `assignmentScope` applies at `target` (same scope or a descendant). */
export function scopeCovers(assignmentScope: string, target: string): boolean {
  const a = normalizeScope(assignmentScope).toLowerCase();
  const t = normalizeScope(target).toLowerCase();
  if (a === '/') return true;
  return t === a || t.startsWith(`${a}/`);
}

/** The object id itself plus every group containing it, directly or through other groups. */
export function principalIdentities(state: Pick<AuthorizationState, 'groups'>, objectId: string): Set<string> {
  const ids = new Set<string>([objectId.toLowerCase()]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const group of state.groups) {
      const gid = group.objectId.toLowerCase();
      if (ids.has(gid)) continue;
      if (group.memberObjectIds.some((m) => ids.has(m.toLowerCase()))) {
        ids.add(gid);
        grew = true;
      }
    }
  }
  return ids;
}

/** Last path segment of a role definition id (the GUID), lower-cased. */
export function roleDefinitionGuid(roleDefinitionId: string): string {
  const parts = roleDefinitionId.split('/').filter(Boolean);
  return (parts[parts.length - 1] ?? '').toLowerCase();
}

/** Assignments that apply to the principal (or its groups) at `scope` (made at the scope or above). */
export function effectiveAssignments<A extends RoleAssignmentLike>(
  state: Pick<AuthorizationState, 'groups'> & { roleAssignments: readonly A[] },
  principalObjectId: string,
  scope: string,
): A[] {
  const ids = principalIdentities(state, principalObjectId);
  return state.roleAssignments.filter((a) => ids.has(a.properties.principalId.toLowerCase()) && scopeCovers(a.properties.scope, scope));
}

/**
 * What `GET {scope}/providers/Microsoft.Authorization/permissions` returns for the principal: one
 * entry per permission entry of every role assigned to it or its groups at the scope or above.
 */
export function permissionsAt(state: AuthorizationState, principalObjectId: string, scope: string): RolePermission[] {
  const result: RolePermission[] = [];
  for (const assignment of effectiveAssignments(state, principalObjectId, scope)) {
    const guid = roleDefinitionGuid(assignment.properties.roleDefinitionId);
    const definition = state.roleDefinitions.find((d) => roleDefinitionGuid(d.id) === guid);
    if (!definition) continue;
    for (const p of definition.permissions) {
      result.push({
        actions: [...p.actions],
        notActions: [...p.notActions],
        dataActions: [...p.dataActions],
        notDataActions: [...p.notDataActions],
      });
    }
  }
  return result;
}

/** Whether the principal may perform `operation` (an action or a data action) at `scope`. */
export function isAllowed(
  state: AuthorizationState,
  principalObjectId: string,
  operation: string,
  scope: string,
  kind: PermissionKind,
): boolean {
  return permissionsAt(state, principalObjectId, scope).some((p) => permissionAllows(p, operation, kind));
}

// ---------------------------------------------------------------------------------------------
// Scope shorthands of the scenario

export interface ScopeContext {
  subscriptionId: string;
  clusters: ReadonlyArray<{ name: string; resourceGroup: string }>;
  registries: ReadonlyArray<{ name: string; resourceGroup: string }>;
}

export function subscriptionScope(subscriptionId: string): string {
  return `/subscriptions/${subscriptionId}`;
}

export function resourceGroupScope(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function clusterResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupScope(subscriptionId, resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${name}`;
}

export function registryResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupScope(subscriptionId, resourceGroup)}/providers/Microsoft.ContainerRegistry/registries/${name}`;
}

/**
 * Resolves a scenario scope: 'subscription', 'resourceGroup:<rg>', 'cluster:<name>',
 * 'cluster:<name>/namespaces/<ns>', 'registry:<name>', or a full ARM id (returned normalized).
 * Throws on unknown clusters / registries and malformed shorthands.
 */
export function resolveScope(scope: string, ctx: ScopeContext): string {
  const s = scope.trim();
  if (s.toLowerCase() === 'subscription') return subscriptionScope(ctx.subscriptionId);
  const m = /^(resourceGroup|cluster|registry):(.+)$/i.exec(s);
  if (!m) {
    if (!s.startsWith('/'))
      throw new Error(
        `Unknown scope '${scope}' (use 'subscription', 'resourceGroup:<rg>', 'cluster:<name>[/namespaces/<ns>]', 'registry:<name>' or a full ARM id)`,
      );
    return normalizeScope(s);
  }
  const kind = m[1].toLowerCase();
  const rest = m[2];
  if (kind === 'resourcegroup') return resourceGroupScope(ctx.subscriptionId, rest);
  if (kind === 'registry') {
    const registry = ctx.registries.find((r) => r.name.toLowerCase() === rest.toLowerCase());
    if (!registry) throw new Error(`Scope '${scope}': unknown registry '${rest}'`);
    return registryResourceId(ctx.subscriptionId, registry.resourceGroup, registry.name);
  }
  const cm = /^([^/]+)(?:\/namespaces\/([^/]+))?$/i.exec(rest);
  if (!cm) throw new Error(`Scope '${scope}': expected 'cluster:<name>' or 'cluster:<name>/namespaces/<ns>'`);
  const cluster = ctx.clusters.find((c) => c.name.toLowerCase() === cm[1].toLowerCase());
  if (!cluster) throw new Error(`Scope '${scope}': unknown cluster '${cm[1]}'`);
  const id = clusterResourceId(ctx.subscriptionId, cluster.resourceGroup, cluster.name);
  return cm[2] ? `${id}/namespaces/${cm[2]}` : id;
}
