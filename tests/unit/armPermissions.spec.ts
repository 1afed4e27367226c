import * as assert from 'assert';
import type { AuthorizationManagementClient } from '@azure/arm-authorization';
import { armRead, kubeletPullOnRegistry, permissionsAt, type PermissionTarget } from '../../shared/azure/rbac/armPermissions';
import { DeadlineExceededError } from '../../shared/net/deadline';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { findBuiltInRole, type BuiltInRole } from '../sandbox/arm/builtInRoles';

/**
 * The decisions of armPermissions, through a client the test plays (the SDK calls themselves run
 * against the sandbox in the roleCheck specs). Role definitions: the real built-in roles
 * (tests/sandbox/arm/builtInRoles.ts, from MicrosoftDocs/azure-docs built-in-roles/*.md). Role assignments
 * listed at a scope with `$filter=assignedTo('{objectId}')` include those "inherited from groups", and
 * without atScope() those at, above and below the scope (MicrosoftDocs/azure-docs
 * articles/role-based-access-control/role-assignments-list-rest.md): one below the registry grants
 * nothing on it.
 */
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000001';
const RG = `${SUB}/resourceGroups/rg`;
const REGISTRY = `${RG}/providers/Microsoft.ContainerRegistry/registries/acr1`;
const KUBELET = 'k-0000-0001';

function role(name: string): BuiltInRole {
  const r = findBuiltInRole(name);
  assert.ok(r, name);
  return r;
}
const definitionId = (r: BuiltInRole) => `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${r.id}`;

async function* listOf<T>(items: T[]): AsyncIterable<T> {
  for (const item of items) yield item;
}

/** A client whose role assignment list and role definition reads answer as the case says. */
function client(options: {
  assignments?: { scope: string; roleDefinitionId: string }[];
  listFails?: { statusCode?: number; message: string };
  definitionsReadable?: boolean;
  filters?: string[];
}): AuthorizationManagementClient {
  return {
    roleAssignments: {
      listForScope: (scope: string, o: { filter?: string }) => {
        options.filters?.push(`${scope} ${o.filter}`);
        if (options.listFails) {
          const failure = options.listFails;
          return {
            [Symbol.asyncIterator]: () => ({
              next: () => Promise.reject(Object.assign(new Error(failure.message), { statusCode: failure.statusCode })),
            }),
          };
        }
        return listOf(options.assignments ?? []);
      },
    },
    roleDefinitions: {
      getById: async (id: string) => {
        if (options.definitionsReadable === false) throw Object.assign(new Error('AuthorizationFailed'), { statusCode: 403 });
        const r = role(id.split('/').pop()!);
        return { roleName: r.roleName, permissions: r.permissions };
      },
    },
  } as unknown as AuthorizationManagementClient;
}

describe('armPermissions: whether the kubelet identity may pull from the registry', () => {
  const cases: {
    name: string;
    options: Parameters<typeof client>[0];
    result: Awaited<ReturnType<typeof kubeletPullOnRegistry>> | RegExp;
  }[] = [
    {
      name: 'AcrPull on the registry',
      options: { assignments: [{ scope: REGISTRY, roleDefinitionId: definitionId(role('AcrPull')) }] },
      result: { state: 'granted', role: 'AcrPull' },
    },
    {
      name: "Reader on the resource group above it (Reader's */read includes pull/read)",
      options: { assignments: [{ scope: RG, roleDefinitionId: definitionId(role('Reader')) }] },
      result: { state: 'granted', role: 'Reader' },
    },
    {
      name: 'AcrPull at the root scope "/"',
      options: { assignments: [{ scope: '/', roleDefinitionId: definitionId(role('AcrPull')) }] },
      result: { state: 'granted', role: 'AcrPull' },
    },
    // Role assignments listed at a scope include those inherited from management groups above its subscription
    // (azure-docs role-based-access-control/role-assignments-list-rest.md), whose ids are no path prefix of it.
    {
      name: 'AcrPull at a management group above the subscription',
      options: {
        assignments: [
          { scope: '/providers/Microsoft.Management/managementGroups/platform', roleDefinitionId: definitionId(role('AcrPull')) },
        ],
      },
      result: { state: 'granted', role: 'AcrPull' },
    },
    {
      name: 'AcrPull on another registry whose name is a prefix of this one (acr for acr1)',
      options: { assignments: [{ scope: REGISTRY.slice(0, -1), roleDefinitionId: definitionId(role('AcrPull')) }] },
      result: { state: 'missing' },
    },
    {
      name: 'AcrPull below the registry (a child scope) grants nothing on it',
      options: { assignments: [{ scope: `${REGISTRY}/scopeMaps/pull-only`, roleDefinitionId: definitionId(role('AcrPull')) }] },
      result: { state: 'missing' },
    },
    {
      name: 'scopes compared case-insensitively, a trailing slash ignored',
      options: { assignments: [{ scope: `${REGISTRY.toUpperCase()}/`, roleDefinitionId: definitionId(role('AcrPull')) }] },
      result: { state: 'granted', role: 'AcrPull' },
    },
    {
      name: 'a role without pull (AKS Cluster User)',
      options: { assignments: [{ scope: REGISTRY, roleDefinitionId: definitionId(role('Azure Kubernetes Service Cluster User Role')) }] },
      result: { state: 'missing' },
    },
    { name: 'no assignments', options: { assignments: [] }, result: { state: 'missing' } },
    {
      name: 'definitions unreadable: a built-in pull role is known by its GUID',
      options: { assignments: [{ scope: REGISTRY, roleDefinitionId: definitionId(role('AcrPush')) }], definitionsReadable: false },
      result: { state: 'granted', role: 'AcrPush' },
    },
    {
      name: 'definitions unreadable and the role not known: unknown, naming the role id',
      options: {
        assignments: [{ scope: REGISTRY, roleDefinitionId: definitionId(role('Azure Kubernetes Service Cluster User Role')) }],
        definitionsReadable: false,
      },
      result: {
        state: 'unknown',
        reason: `the kubelet identity holds role(s) ${role('Azure Kubernetes Service Cluster User Role').id} whose definitions the connection may not read`,
      },
    },
    {
      name: 'role assignments not readable (403)',
      options: { listFails: { statusCode: 403, message: 'AuthorizationFailed' } },
      result: /may not read role assignments on the registry \(Microsoft\.Authorization\/roleAssignments\/read, e\.g\. Reader\)/,
    },
    {
      name: 'the list fails otherwise',
      options: { listFails: { statusCode: 500, message: 'Internal error\nsecond line' } },
      result: /^listing the registry's role assignments failed \(Internal error\)$/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = await kubeletPullOnRegistry(client(c.options), REGISTRY, KUBELET);
      if (c.result instanceof RegExp) {
        assert.strictEqual(result.state, 'unknown');
        assert.match((result as { reason: string }).reason, c.result);
      } else assert.deepStrictEqual(result, c.result);
    });
  }

  it("asks for the kubelet identity's assignments, its groups' included (assignedTo)", async () => {
    const filters: string[] = [];
    await kubeletPullOnRegistry(client({ assignments: [], filters }), REGISTRY, KUBELET);
    assert.deepStrictEqual(filters, [`${REGISTRY} assignedTo('${KUBELET}')`]);
  });
});

describe('armPermissions: reads with a deadline and an explanation', () => {
  it('armRead returns what the call gives', async () => {
    assert.strictEqual(await armRead('Reading x', RG, 'Microsoft.Authorization/permissions/read', 'o-1', async () => 7), 7);
  });

  it('a 403 becomes ARM_AUTHORIZATION_FAILED for the scope', async () => {
    await assert.rejects(
      armRead('Reading permissions', RG, 'Microsoft.Authorization/permissions/read', 'o-1', async () => {
        throw Object.assign(new Error('denied'), { statusCode: 403, code: 'AuthorizationFailed' });
      }),
      (err: unknown) =>
        err instanceof ExplainedError &&
        err.code === 'ARM_AUTHORIZATION_FAILED' &&
        err.reason.includes(`on ${RG}`) &&
        err.fix.includes('--assignee-object-id o-1'),
    );
  });

  it('no answer in time becomes ARM_TIMEOUT', async () => {
    await assert.rejects(
      armRead('Reading permissions', RG, 'a', undefined, async () => {
        throw new DeadlineExceededError('Reading permissions', 60_000);
      }),
      (err: unknown) => err instanceof ExplainedError && err.code === 'ARM_TIMEOUT' && /did not answer within 60 s/.test(err.reason),
    );
  });

  it('an ExplainedError from the call goes through unchanged', async () => {
    const given = new ExplainedError({ what: 'w', reason: 'r', fix: 'f', code: 'ARM_FOREIGN_URL' });
    await assert.rejects(
      armRead('Reading', RG, 'a', undefined, async () => {
        throw given;
      }),
      (err: unknown) => err === given,
    );
  });

  it('permissionsAt asks at the resource group or the resource, as the target says', async () => {
    const asked: string[] = [];
    const fake = {
      permissions: {
        listForResourceGroup: (rg: string) => (asked.push(`rg ${rg}`), listOf([{ actions: ['*/read'] }])),
        listForResource: (rg: string, provider: string, parent: string, type: string, name: string) => (
          asked.push(`res ${rg} ${provider} '${parent}' ${type} ${name}`),
          listOf([{ dataActions: ['x'] }])
        ),
      },
    } as unknown as AuthorizationManagementClient;
    const groupTarget: PermissionTarget = { kind: 'resourceGroup', resourceGroup: 'rg', id: RG };
    const nsTarget: PermissionTarget = {
      kind: 'resource',
      resourceGroup: 'rg',
      provider: 'Microsoft.ContainerService',
      parentPath: 'managedClusters/aks1',
      type: 'namespaces',
      name: 'web',
      id: `${RG}/providers/Microsoft.ContainerService/managedClusters/aks1/namespaces/web`,
    };
    assert.deepStrictEqual(await permissionsAt(fake, groupTarget), [{ actions: ['*/read'] }]);
    assert.deepStrictEqual(await permissionsAt(fake, nsTarget), [{ dataActions: ['x'] }]);
    assert.deepStrictEqual(asked, ['rg rg', "res rg Microsoft.ContainerService 'managedClusters/aks1' namespaces web"]);
  });
});
