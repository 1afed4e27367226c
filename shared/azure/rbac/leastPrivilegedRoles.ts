/**
 * A curated table: for each operation the intents need, the least-privileged Azure built-in role
 * that grants it (real names and GUIDs), and how to combine suggestions into few role assignments.
 * The declared grants are checked against the roles' real action lists by a unit test. Pure.
 *
 * Run command: `runcommand/action` and `commandResults/read` come together in no built-in role
 * below Contributor. The Cluster Admin Role grants runcommand/action (and the admin kubeconfig);
 * Reader's `* /read` grants commandResults/read. So the honest least-privileged pair is Cluster
 * Admin Role + Reader on the cluster; a custom role with just the two actions is narrower still.
 */
import type { OperationKind } from './permissionEvaluator';

export interface BuiltInRoleRef {
  name: string;
  /** Role definition GUID. */
  id: string;
  /** The operations (among those the intents use) that the role grants; checked by a unit test. */
  grants: readonly string[];
  kind: OperationKind;
}

const AKS = 'Microsoft.ContainerService/managedClusters';
const ACR = 'Microsoft.ContainerRegistry/registries';
const K8S_WRITES = ['apps/deployments', 'services', 'configmaps', 'secrets', 'networking.k8s.io/ingresses'].flatMap((r) => [
  `${AKS}/${r}/read`,
  `${AKS}/${r}/write`,
]);

/** In order of preference when two roles would do equally well (fewer privileges first). */
export const ROLES = {
  aksClusterUser: {
    name: 'Azure Kubernetes Service Cluster User Role',
    id: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
    kind: 'action',
    grants: [`${AKS}/read`, `${AKS}/listClusterUserCredential/action`],
  },
  aksRbacWriter: {
    name: 'Azure Kubernetes Service RBAC Writer',
    id: 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb',
    kind: 'dataAction',
    grants: K8S_WRITES,
  },
  aksClusterAdmin: {
    name: 'Azure Kubernetes Service Cluster Admin Role',
    id: '0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8',
    kind: 'action',
    grants: [`${AKS}/read`, `${AKS}/listClusterAdminCredential/action`, `${AKS}/runcommand/action`],
  },
  aksContributor: {
    name: 'Azure Kubernetes Service Contributor Role',
    id: 'ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8',
    kind: 'action',
    grants: [`${AKS}/read`, `${AKS}/write`],
  },
  acrPull: { name: 'AcrPull', id: '7f951dda-4ed3-4680-a7ca-43fe172d538d', kind: 'action', grants: [`${ACR}/pull/read`] },
  acrPush: {
    name: 'AcrPush',
    id: '8311e382-0749-4cb8-b61a-304f252e45ec',
    kind: 'action',
    grants: [`${ACR}/pull/read`, `${ACR}/push/write`],
  },
  acrConfigurationAdmin: {
    name: 'Container Registry Contributor and Data Access Configuration Administrator',
    id: '3bc748fc-213d-45c1-8d91-9da5725539b9',
    kind: 'action',
    grants: [`${ACR}/read`, `${ACR}/write`],
  },
  reader: {
    name: 'Reader',
    id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    kind: 'action',
    grants: [`${AKS}/read`, `${AKS}/commandResults/read`, `${ACR}/read`, `${ACR}/listUsages/read`, `${ACR}/pull/read`],
  },
} as const satisfies Record<string, BuiltInRoleRef>;

export type RoleKey = keyof typeof ROLES;
const ROLE_ORDER = Object.keys(ROLES) as RoleKey[];

interface TableRow {
  operation: string;
  role: RoleKey;
  note?: string;
}

const TABLE: readonly TableRow[] = [
  { operation: `${AKS}/read`, role: 'aksClusterUser' },
  { operation: `${AKS}/listClusterUserCredential/action`, role: 'aksClusterUser' },
  ...K8S_WRITES.map((operation) => ({ operation, role: 'aksRbacWriter' as const })),
  {
    operation: `${AKS}/listClusterAdminCredential/action`,
    role: 'aksClusterAdmin',
    note: 'The admin kubeconfig bypasses Azure RBAC; AKS hands none out when local accounts are disabled.',
  },
  {
    operation: `${AKS}/runcommand/action`,
    role: 'aksClusterAdmin',
    note: 'No built-in role below Contributor grants runcommand/action with commandResults/read; the Cluster Admin Role also hands out the admin kubeconfig. Narrower: a custom role with just the two actions.',
  },
  {
    operation: `${AKS}/commandResults/read`,
    role: 'reader',
    note: "Reader's */read grants commandResults/read; together with the Cluster Admin Role that is the least-privileged built-in pair for run command (Contributor on the cluster grants both, and much more).",
  },
  { operation: `${AKS}/write`, role: 'aksContributor' },
  { operation: `${ACR}/pull/read`, role: 'acrPull' },
  { operation: `${ACR}/push/write`, role: 'acrPush' },
  { operation: `${ACR}/read`, role: 'acrConfigurationAdmin' },
  { operation: `${ACR}/write`, role: 'acrConfigurationAdmin' },
  {
    operation: `${ACR}/listUsages/read`,
    role: 'reader',
    note: 'No registry-specific built-in role lists listUsages/read; Reader grants it through */read.',
  },
];

/** The least-privileged built-in role for an operation, with a note when the choice needs one. */
export function leastPrivilegedRoleFor(operation: string): { role: BuiltInRoleRef; key: RoleKey; note?: string } | undefined {
  const row = TABLE.find((r) => r.operation.toLowerCase() === operation.toLowerCase());
  return row ? { role: ROLES[row.role], key: row.role, note: row.note } : undefined;
}

/** Whether a role's declared grants include the operation. */
export function roleGrants(role: BuiltInRoleRef, operation: string): boolean {
  return role.grants.some((g) => g.toLowerCase() === operation.toLowerCase());
}

export interface MissingOperation {
  operation: string;
  /** The ARM id of the scope the operation is needed at. */
  scopeId: string;
}

export interface SuggestedAssignment {
  role: BuiltInRoleRef;
  scopeId: string;
  /** The missing operations this assignment grants. */
  operations: string[];
  notes: string[];
}

/**
 * Few role assignments that grant every missing operation: per scope, greedily the role that
 * covers most of what is still missing (ties: the less privileged role first). Operations with no
 * known role are returned apart.
 */
export function suggestAssignments(missing: readonly MissingOperation[]): {
  assignments: SuggestedAssignment[];
  unknown: MissingOperation[];
} {
  const assignments: SuggestedAssignment[] = [];
  const unknown: MissingOperation[] = [];
  const scopes = [...new Set(missing.map((m) => m.scopeId))];
  for (const scopeId of scopes) {
    const ops = [...new Set(missing.filter((m) => m.scopeId === scopeId).map((m) => m.operation))];
    for (const op of ops) if (!leastPrivilegedRoleFor(op)) unknown.push({ operation: op, scopeId });
    let remaining = ops.filter((op) => leastPrivilegedRoleFor(op));
    const candidates = ROLE_ORDER.filter((k) => remaining.some((op) => leastPrivilegedRoleFor(op)?.key === k));
    while (remaining.length > 0) {
      let best: RoleKey | undefined;
      let bestCovered: string[] = [];
      for (const key of candidates) {
        const covered = remaining.filter((op) => roleGrants(ROLES[key], op));
        if (covered.length > bestCovered.length) {
          best = key;
          bestCovered = covered;
        }
      }
      if (!best) break; // cannot happen: each remaining op's own role covers it
      const notes = [...new Set(bestCovered.map((op) => leastPrivilegedRoleFor(op)?.note).filter((n): n is string => !!n))];
      assignments.push({ role: ROLES[best], scopeId, operations: bestCovered, notes });
      remaining = remaining.filter((op) => !bestCovered.includes(op));
    }
  }
  return { assignments, unknown };
}

/** The exact command that makes the assignment. */
export function roleAssignmentCommand(principalObjectId: string | undefined, a: Pick<SuggestedAssignment, 'role' | 'scopeId'>): string {
  return `az role assignment create --assignee-object-id ${principalObjectId ?? '<object id>'} --assignee-principal-type ServicePrincipal --role "${a.role.name}" --scope ${a.scopeId}`;
}
