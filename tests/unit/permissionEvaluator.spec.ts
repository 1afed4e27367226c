import * as assert from 'assert';
import {
  entryAllows,
  evaluatePermission,
  isAllowed,
  wildcardMatches,
  type OperationKind,
  type PermissionEntry,
} from '../../shared/azure/rbac/permissionEvaluator';
import { INTENT_NAMES, operationsFor } from '../../shared/azure/rbac/intents';
import { ROLES, leastPrivilegedRoleFor, suggestAssignments } from '../../shared/azure/rbac/leastPrivilegedRoles';
import * as sandboxAuthz from '../sandbox/arm/authorization';
import { BUILT_IN_ROLES } from '../sandbox/arm/builtInRoles';

const AKS = 'Microsoft.ContainerService/managedClusters';

/**
 * The wildcard rules as a table. Each row runs against the product evaluator AND the sandbox's
 * (written separately): a bug in either shows as a failing row.
 */
const MATCHES: [pattern: string, operation: string, expected: boolean][] = [
  ['*', `${AKS}/read`, true],
  ['*', '', true],
  ['*/read', `${AKS}/read`, true],
  ['*/read', `${AKS}/write`, false],
  ['*/read', `${AKS}/commandResults/read`, true],
  ['*/read', 'Microsoft.ContainerRegistry/registries/pull/read', true],
  [`${AKS}/*`, `${AKS}/apps/deployments/write`, true],
  [`${AKS}/*`, `${AKS}`, false],
  ['Microsoft.ContainerService/*/read', `${AKS}/agentPools/read`, true],
  ['Microsoft.ContainerService/*/read', `${AKS}/agentPools/write`, false],
  ['Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write', true],
  ['microsoft.containerservice/MANAGEDCLUSTERS/read', `${AKS}/read`, true],
  [`${AKS}/listClusterUserCredential/action`, `${AKS}/listclusterusercredential/ACTION`, true],
  [`${AKS}/listClusterUserCredential/action`, `${AKS}/listClusterAdminCredential/action`, false],
  [`${AKS}/read`, `${AKS}/readx`, false],
  [`${AKS}/read`, `x${AKS}/read`, false],
  [`${AKS}/apps/*/write`, `${AKS}/apps/deployments/write`, true],
  [`${AKS}/apps/*/write`, `${AKS}/apps/deployments/scale/write`, true],
  [`${AKS}/*/*/write`, `${AKS}/services/write`, false],
  [`${AKS}/*s/write`, `${AKS}/services/write`, true],
  ['*read', `${AKS}/read`, true],
  ['Microsoft.ContainerService/managedClusters.read', `${AKS}/read`, false], // '.' is literal, not a regex dot
  ['Microsoft.ContainerService/managedClusters/(read)', `${AKS}/read`, false],
  ['**', `${AKS}/read`, true],
  ['*/*', 'read', false],
];

interface EntryCase {
  name: string;
  entries: PermissionEntry[];
  operation: string;
  kind: OperationKind;
  allowed: boolean;
}

const full = (e: PermissionEntry) => ({
  actions: [...(e.actions ?? [])],
  notActions: [...(e.notActions ?? [])],
  dataActions: [...(e.dataActions ?? [])],
  notDataActions: [...(e.notDataActions ?? [])],
});

const ENTRIES: EntryCase[] = [
  { name: 'no permissions at all', entries: [], operation: `${AKS}/read`, kind: 'action', allowed: false },
  { name: 'an action grants', entries: [{ actions: [`${AKS}/read`] }], operation: `${AKS}/read`, kind: 'action', allowed: true },
  {
    name: 'a notAction removes it from the same entry',
    entries: [{ actions: [`${AKS}/*`], notActions: [`${AKS}/listClusterUserCredential/action`] }],
    operation: `${AKS}/listClusterUserCredential/action`,
    kind: 'action',
    allowed: false,
  },
  {
    name: 'a notAction leaves the rest',
    entries: [{ actions: [`${AKS}/*`], notActions: [`${AKS}/listClusterUserCredential/action`] }],
    operation: `${AKS}/read`,
    kind: 'action',
    allowed: true,
  },
  {
    name: "a notAction is not a deny: another entry's grant counts",
    entries: [{ actions: ['*'], notActions: [`${AKS}/*`] }, { actions: [`${AKS}/read`] }],
    operation: `${AKS}/read`,
    kind: 'action',
    allowed: true,
  },
  {
    name: "a notAction does not leak into another entry's grant (order reversed)",
    entries: [{ actions: [`${AKS}/read`] }, { actions: ['*'], notActions: ['*'] }],
    operation: `${AKS}/read`,
    kind: 'action',
    allowed: true,
  },
  {
    name: 'Owner-style * grants no data action',
    entries: [{ actions: ['*'] }],
    operation: `${AKS}/pods/read`,
    kind: 'dataAction',
    allowed: false,
  },
  { name: 'a data action grants no action', entries: [{ dataActions: ['*'] }], operation: `${AKS}/read`, kind: 'action', allowed: false },
  {
    name: 'dataActions wildcard grants',
    entries: [{ dataActions: [`${AKS}/*`] }],
    operation: `${AKS}/apps/deployments/write`,
    kind: 'dataAction',
    allowed: true,
  },
  {
    name: 'notDataActions remove',
    entries: [{ dataActions: [`${AKS}/*`], notDataActions: [`${AKS}/secrets/*`] }],
    operation: `${AKS}/secrets/write`,
    kind: 'dataAction',
    allowed: false,
  },
  {
    name: 'notActions do not remove data actions',
    entries: [{ dataActions: [`${AKS}/*`], notActions: [`${AKS}/*`] }],
    operation: `${AKS}/secrets/write`,
    kind: 'dataAction',
    allowed: true,
  },
  {
    name: 'notDataActions do not remove actions',
    entries: [{ actions: [`${AKS}/*`], notDataActions: [`${AKS}/*`] }],
    operation: `${AKS}/read`,
    kind: 'action',
    allowed: true,
  },
  {
    name: 'case-insensitive notActions',
    entries: [{ actions: ['*'], notActions: ['MICROSOFT.AUTHORIZATION/*/WRITE'] }],
    operation: 'Microsoft.Authorization/roleAssignments/write',
    kind: 'action',
    allowed: false,
  },
  {
    name: 'wildcard notActions',
    entries: [{ actions: ['*'], notActions: ['Microsoft.Authorization/*/Write'] }],
    operation: 'Microsoft.Authorization/roleAssignments/read',
    kind: 'action',
    allowed: true,
  },
  { name: 'missing lists count as empty', entries: [{}], operation: `${AKS}/read`, kind: 'action', allowed: false },
];

describe('permission evaluator: wildcard rules (product and sandbox, same table)', () => {
  for (const [pattern, operation, expected] of MATCHES) {
    it(`'${pattern}' ${expected ? 'matches' : 'does not match'} '${operation}'`, () => {
      assert.strictEqual(wildcardMatches(pattern, operation), expected, 'product evaluator');
      assert.strictEqual(sandboxAuthz.matchesOperation(pattern, operation), expected, 'sandbox evaluator');
    });
  }

  for (const c of ENTRIES) {
    it(`${c.name}: ${c.allowed ? 'allowed' : 'not allowed'}`, () => {
      assert.strictEqual(isAllowed(c.entries, c.operation, c.kind), c.allowed, 'product evaluator');
      assert.strictEqual(
        c.entries.some((e) => sandboxAuthz.permissionAllows(full(e), c.operation, c.kind)),
        c.allowed,
        'sandbox evaluator',
      );
    });
  }

  it('names the exclusions that removed an operation, and none when another entry grants it', () => {
    const removed = evaluatePermission(
      [{ actions: [`${AKS}/*`], notActions: [`${AKS}/listClusterUserCredential/action`, `${AKS}/list*`] }],
      `${AKS}/listClusterUserCredential/action`,
      'action',
    );
    assert.deepStrictEqual(removed, { allowed: false, excludedBy: [`${AKS}/listClusterUserCredential/action`, `${AKS}/list*`] });
    const granted = evaluatePermission(
      [{ actions: [`${AKS}/*`], notActions: [`${AKS}/read`] }, { actions: [`${AKS}/read`] }],
      `${AKS}/read`,
      'action',
    );
    assert.deepStrictEqual(granted, { allowed: true, grantedBy: 1, excludedBy: [] });
    assert.strictEqual(entryAllows({ actions: [' */read '] }, `${AKS}/read`, 'action'), true);
  });
});

describe('least-privileged roles: the curated table against the real built-in role definitions', () => {
  const builtIn = (id: string) => {
    const role = BUILT_IN_ROLES.find((r) => r.id === id);
    assert.ok(role, `unknown built-in role ${id}`);
    return role!;
  };

  for (const [key, role] of Object.entries(ROLES)) {
    it(`${role.name}: real GUID and name, and it grants every operation it is declared to grant`, () => {
      const real = builtIn(role.id);
      assert.strictEqual(real.roleName, role.name, key);
      for (const op of role.grants) {
        assert.ok(isAllowed(real.permissions, op, role.kind), `${role.name} does not grant ${op} (product evaluator)`);
        assert.ok(
          real.permissions.some((p) => sandboxAuthz.permissionAllows(p, op, role.kind)),
          `${role.name} does not grant ${op} (sandbox evaluator)`,
        );
      }
    });
  }

  it('every operation an intent needs has a suggested role that really grants it', () => {
    for (const intent of INTENT_NAMES) {
      for (const op of operationsFor(intent)) {
        const suggestion = leastPrivilegedRoleFor(op.operation);
        assert.ok(suggestion, `no role for ${op.operation}`);
        assert.ok(
          isAllowed(builtIn(suggestion!.role.id).permissions, op.operation, op.kind),
          `${suggestion!.role.name} does not grant ${op.operation}`,
        );
      }
    }
  });

  it('no single built-in role below Contributor grants run command and its results together', () => {
    const below = BUILT_IN_ROLES.filter((r) => !['Owner', 'Contributor'].includes(r.roleName));
    const both = below.filter(
      (r) =>
        isAllowed(r.permissions, `${AKS}/runcommand/action`, 'action') && isAllowed(r.permissions, `${AKS}/commandResults/read`, 'action'),
    );
    assert.deepStrictEqual(
      both.map((r) => r.roleName),
      [],
    );
  });

  it('suggests few assignments: AcrPush covers pull, Cluster Admin covers the cluster read, scopes kept apart', () => {
    const reg = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r';
    const cl = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c';
    const { assignments, unknown } = suggestAssignments([
      { operation: 'Microsoft.ContainerRegistry/registries/pull/read', scopeId: reg },
      { operation: 'Microsoft.ContainerRegistry/registries/push/write', scopeId: reg },
      { operation: `${AKS}/read`, scopeId: cl },
      { operation: `${AKS}/runcommand/action`, scopeId: cl },
      { operation: `${AKS}/commandResults/read`, scopeId: cl },
      { operation: `${AKS}/apps/deployments/write`, scopeId: `${cl}/namespaces/web` },
      { operation: 'Microsoft.Storage/storageAccounts/write', scopeId: reg },
    ]);
    assert.deepStrictEqual(
      assignments.map((a) => [a.role.name, a.scopeId.split('/').slice(-2).join('/'), a.operations.length]),
      [
        ['AcrPush', 'registries/r', 2],
        ['Azure Kubernetes Service Cluster Admin Role', 'managedClusters/c', 2],
        ['Reader', 'managedClusters/c', 1],
        ['Azure Kubernetes Service RBAC Writer', 'namespaces/web', 1],
      ],
    );
    assert.deepStrictEqual(unknown, [{ operation: 'Microsoft.Storage/storageAccounts/write', scopeId: reg }]);
  });
});
