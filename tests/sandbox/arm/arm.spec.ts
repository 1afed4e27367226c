/**
 * Drives the sandbox ARM service with the real SDK clients (@azure/arm-containerservice,
 * @azure/arm-containerregistry, @azure/arm-authorization) and unit-tests the RBAC evaluation.
 */
import * as assert from 'node:assert/strict';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ClientSecretCredential } from '@azure/identity';
import { API_VERSIONS, ArmService, type ClusterEndpointHint, type RunCommandRequest } from './arm';
import { ArmState } from './armState';
import * as authz from './authorization';
import { BUILT_IN_ROLE_IDS, BUILT_IN_ROLES, findBuiltInRole } from './builtInRoles';
import { ARM_SCOPE, startSandbox, type Sandbox, type Scenario } from '../index';
import { rawRequest, type RawResponse } from '../../support/rawRequest';

const SUBNET =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-build/subnets/agents';
const FAKE_CLUSTER_CA = '-----BEGIN CERTIFICATE-----\nMIIBfakeClusterCa\n-----END CERTIFICATE-----\n';

const scenario: Scenario = {
  subscriptionId: '3f0b6c5e-1111-4a2b-9c3d-000000000001',
  principals: [
    { name: 'deployer' },
    { name: 'reader' },
    { name: 'owner' },
    { name: 'outsider' },
    { name: 'kubelet', managedIdentity: true },
  ],
  groups: [
    { name: 'platform-team', members: ['aks-deployers'] },
    { name: 'aks-deployers', members: ['deployer'] },
  ],
  clusters: [
    {
      name: 'aks-prod',
      resourceGroup: 'rg-prod',
      kubeletIdentity: 'kubelet',
      oidcIssuer: true,
      workloadIdentity: true,
      azurePolicy: true,
      networkPolicy: 'cilium',
      defender: true,
      aad: { managed: true, enableAzureRBAC: true, adminGroups: ['platform-team'] },
    },
    {
      name: 'aks-legacy',
      resourceGroup: 'rg-prod',
      private: false,
      aad: null,
      disableLocalAccounts: false,
      authorizedIpRanges: ['203.0.113.0/24'],
    },
    { name: 'aks-locked', resourceGroup: 'rg-other', disableRunCommand: true, disableLocalAccounts: false },
  ],
  registries: [
    {
      name: 'contosoacr',
      resourceGroup: 'rg-prod',
      ipRules: ['198.51.100.7'],
      virtualNetworkRules: [SUBNET],
      ipRuleLimit: 3,
      firewallPropagationSeconds: 30,
    },
    { name: 'contosobasic', resourceGroup: 'rg-prod', sku: 'Basic' },
  ],
  roleAssignments: [
    { principal: 'platform-team', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
    { principal: 'deployer', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
    {
      principal: 'deployer',
      role: 'Container Registry Contributor and Data Access Configuration Administrator',
      scope: 'registry:contosoacr',
    },
    { principal: 'reader', role: 'Reader', scope: 'subscription' },
    { principal: 'owner', role: 'Owner', scope: 'subscription' },
  ],
};

/** A raw ARM call: a bearer token and a JSON body. */
function raw(
  sandbox: Sandbox,
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  if (body) headers['Content-Type'] = 'application/json';
  return rawRequest(sandbox, url, { method: init.method, headers, body });
}

async function rejection(promise: Promise<unknown>): Promise<Error & { statusCode?: number; code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { statusCode?: number; code?: string };
  }
  assert.fail('expected a rejection');
}

describe('sandbox: ARM with the real SDK clients', function () {
  this.timeout(20_000);
  let sandbox: Sandbox;
  let arm: ArmService;
  const endpointCalls: Array<{ name: string; hint: ClusterEndpointHint }> = [];
  const runCalls: Array<{ name: string; request: RunCommandRequest }> = [];
  const credentials = new Map<string, ClientSecretCredential>();

  const credential = (name: string): ClientSecretCredential => {
    let c = credentials.get(name);
    if (!c) {
      const p = sandbox.principal(name);
      c = new ClientSecretCredential(sandbox.tenantId, p.clientId, p.secret!, {
        authorityHost: sandbox.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: sandbox.tlsOptions(),
      });
      credentials.set(name, c);
    }
    return c;
  };
  const clientOptions = () => ({
    endpoint: arm.origin,
    credentials: { scopes: [ARM_SCOPE] },
    tlsOptions: sandbox.tlsOptions(),
    retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
  });
  const aks = (name: string) => new ContainerServiceClient(credential(name), sandbox.scenario.subscriptionId, clientOptions());
  const acr = (name: string) => new ContainerRegistryManagementClient(credential(name), sandbox.scenario.subscriptionId, clientOptions());
  const auth = (name: string) =>
    new AuthorizationManagementClient(credential(name), sandbox.scenario.subscriptionId, {
      endpoint: arm.origin,
      credentialScopes: [ARM_SCOPE],
      tlsOptions: sandbox.tlsOptions(),
      retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    });
  const token = async (name: string, scope = ARM_SCOPE): Promise<string> => (await credential(name).getToken(scope))!.token;
  const lro = { updateIntervalInMs: 5 };

  before(async () => {
    sandbox = await startSandbox(scenario);
    arm = await ArmService.start({
      ...sandbox.context,
      clusterEndpoint: (name, hint) => {
        endpointCalls.push({ name, hint });
        return {
          server: `https://${hint.fqdn}:443`,
          caPem: FAKE_CLUSTER_CA,
          ...(name === 'aks-legacy' ? { staticUserToken: 'legacy-user-token-from-the-api-server' } : {}),
        };
      },
      runCommand: async (name, request) => {
        runCalls.push({ name, request });
        await new Promise((r) => setTimeout(r, 5));
        return request.command === 'exit 3' ? { exitCode: 3, logs: 'failing\n' } : { exitCode: 0, logs: `ran: ${request.command}\n` };
      },
    });
  });

  after(async () => {
    await arm?.close();
    await sandbox?.stop();
  });

  beforeEach(() => {
    sandbox.requests.clear();
    sandbox.faults.clear();
  });

  it('serves managed clusters with the real ARM field names, FQDN shapes and defaults', async () => {
    const client = aks('reader');
    const c = await client.managedClusters.get('rg-prod', 'aks-prod');
    const state = arm.state.cluster('aks-prod');
    assert.equal(c.name, 'aks-prod');
    assert.equal(c.type, 'Microsoft.ContainerService/ManagedClusters');
    assert.equal(c.id?.toLowerCase(), state.id.toLowerCase());
    assert.equal(c.location, 'eastus');
    assert.equal(c.eTag, state.eTag);
    assert.equal(c.provisioningState, 'Succeeded');
    assert.match(c.privateFqdn ?? '', /^[a-z0-9-]+-[0-9a-f]{8}\.[0-9a-f-]{36}\.privatelink\.eastus\.azmk8s\.io$/);
    assert.equal(c.fqdn, undefined, 'private cluster without public FQDN has no fqdn');
    assert.match(c.azurePortalFqdn ?? '', /\.portal\.hcp\.eastus\.azmk8s\.io$/);
    assert.equal(c.apiServerAccessProfile?.enablePrivateCluster, true);
    assert.equal(c.apiServerAccessProfile?.privateDNSZone, 'system');
    assert.equal(c.apiServerAccessProfile?.disableRunCommand, false);
    assert.equal(c.disableLocalAccounts, true);
    assert.equal(c.enableRbac, true);
    assert.equal(c.aadProfile?.managed, true);
    assert.equal(c.aadProfile?.enableAzureRbac, true);
    assert.equal(c.aadProfile?.tenantID, sandbox.tenantId);
    assert.deepEqual(c.aadProfile?.adminGroupObjectIDs, [arm.state.objectIdOf('platform-team')]);
    assert.equal(c.oidcIssuerProfile?.enabled, true);
    assert.match(
      c.oidcIssuerProfile?.issuerURL ?? '',
      new RegExp(`^https://eastus\\.oic\\.prod-aks\\.azure\\.com/${sandbox.tenantId}/[0-9a-f-]{36}/$`),
    );
    assert.equal(c.securityProfile?.workloadIdentity?.enabled, true);
    assert.equal(c.securityProfile?.defender?.securityMonitoring?.enabled, true);
    assert.equal(c.addonProfiles?.azurepolicy?.enabled, true);
    assert.equal(c.addonProfiles?.azureKeyvaultSecretsProvider?.enabled, false);
    assert.equal(c.networkProfile?.networkPolicy, 'cilium');
    assert.equal(c.networkProfile?.networkDataplane, 'cilium');
    const kubelet = sandbox.principal('kubelet');
    assert.deepEqual(c.identityProfile?.kubeletidentity, {
      resourceId: kubelet.resourceId,
      clientId: kubelet.clientId,
      objectId: kubelet.objectId,
    });
    assert.equal(c.identity?.type, 'SystemAssigned');
    assert.equal(c.kubernetesVersion, '1.31.2');

    const legacy = await client.managedClusters.get('RG-PROD', 'AKS-LEGACY');
    assert.match(legacy.fqdn ?? '', /\.hcp\.eastus\.azmk8s\.io$/);
    assert.equal(legacy.privateFqdn, undefined);
    assert.equal(legacy.aadProfile, undefined);
    assert.deepEqual(legacy.apiServerAccessProfile?.authorizedIPRanges, ['203.0.113.0/24']);

    const inRg: string[] = [];
    for await (const x of client.managedClusters.listByResourceGroup('rg-prod')) inRg.push(x.name!);
    assert.deepEqual(inRg.sort(), ['aks-legacy', 'aks-prod']);
    const all: string[] = [];
    for await (const x of client.managedClusters.list()) all.push(x.name!);
    assert.equal(all.length, 3);
    const req = sandbox.requests.for('arm', '/managedClusters/aks-prod')[0];
    assert.match(req.query, new RegExp(`api-version=${API_VERSIONS.containerService}`));
  });

  it('returns the kubelogin exec kubeconfig for an Entra cluster, granted through nested groups', async () => {
    endpointCalls.length = 0;
    const result = await aks('deployer').managedClusters.listClusterUserCredentials('rg-prod', 'aks-prod');
    assert.equal(result.kubeconfigs?.length, 1);
    assert.equal(result.kubeconfigs![0].name, 'clusterUser');
    const kubeconfig = Buffer.from(result.kubeconfigs![0].value!).toString('utf8');
    const state = arm.state.cluster('aks-prod');
    assert.deepEqual(endpointCalls, [{ name: 'aks-prod', hint: { fqdn: state.privateFqdn, kind: 'private' } }]);
    assert.ok(kubeconfig.includes(`server: https://${state.privateFqdn}:443`), kubeconfig);
    assert.ok(kubeconfig.includes(`certificate-authority-data: ${Buffer.from(FAKE_CLUSTER_CA).toString('base64')}`));
    assert.ok(kubeconfig.includes(`user: clusterUser_rg-prod_aks-prod`));
    for (const line of [
      'command: kubelogin',
      'apiVersion: client.authentication.k8s.io/v1beta1',
      '- get-token',
      '- --environment',
      '- AzurePublicCloud',
      '- --server-id',
      '- 6dae42f8-4368-4678-94ff-3960e28e3630',
      '- --client-id',
      '- 80faf920-1908-4b52-b5ef-a8e7bedfc67a',
      '- --tenant-id',
      `- ${sandbox.tenantId}`,
      '- --login',
      '- devicecode',
      'provideClusterInfo: false',
    ]) {
      assert.ok(kubeconfig.includes(line), `missing '${line}' in\n${kubeconfig}`);
    }
    assert.ok(!/token:/.test(kubeconfig), 'no static token for an Entra cluster');
    assert.equal(sandbox.requests.last('arm')?.note?.decision, 'allowed');

    const legacy = await aks('owner').managedClusters.listClusterUserCredentials('rg-prod', 'aks-legacy');
    const legacyConfig = Buffer.from(legacy.kubeconfigs![0].value!).toString('utf8');
    assert.ok(legacyConfig.includes('token: legacy-user-token-from-the-api-server'), "the API server's static token, from clusterEndpoint");
    assert.ok(legacyConfig.includes(`server: https://${arm.state.cluster('aks-legacy').fqdn}:443`));
    assert.ok(sandbox.issuedSecrets().includes('legacy-user-token-from-the-api-server'));
  });

  it("refuses admin credentials with AKS's own error when local accounts are disabled", async () => {
    const err = await rejection(aks('owner').managedClusters.listClusterAdminCredentials('rg-prod', 'aks-prod'));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'BadRequest');
    assert.equal(err.message, 'Getting static credential is not allowed because this cluster is set to disable local accounts.');
    const ok = await aks('owner').managedClusters.listClusterAdminCredentials('rg-other', 'aks-locked');
    assert.equal(ok.kubeconfigs![0].name, 'clusterAdmin');
    assert.ok(Buffer.from(ok.kubeconfigs![0].value!).toString('utf8').includes('current-context: aks-locked-admin'));
  });

  it("answers 403 AuthorizationFailed with ARM's exact text for a Reader asking for credentials", async () => {
    const reader = sandbox.principal('reader');
    const err = await rejection(aks('reader').managedClusters.listClusterUserCredentials('rg-prod', 'aks-prod'));
    assert.equal(err.statusCode, 403);
    assert.equal(err.code, 'AuthorizationFailed');
    const scope = `/subscriptions/${sandbox.scenario.subscriptionId}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod`;
    assert.equal(
      err.message,
      `The client '${reader.clientId}' with object id '${reader.objectId}' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    // Authorization comes before existence: an outsider learns nothing about missing clusters.
    const missing = await rejection(aks('outsider').managedClusters.get('rg-prod', 'nope'));
    assert.equal(missing.statusCode, 403);
    const notFound = await rejection(aks('reader').managedClusters.get('rg-prod', 'nope'));
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.code, 'ResourceNotFound');
    const noRg = await rejection(aks('reader').managedClusters.get('rg-missing', 'nope'));
    assert.equal(noRg.code, 'ResourceGroupNotFound');
  });

  it('reports permissions, role assignments and role definitions like Microsoft.Authorization', async () => {
    const deployer = sandbox.principal('deployer');
    const client = auth('deployer');
    const perms: Array<Record<string, unknown>> = [];
    for await (const p of client.permissions.listForResource('rg-prod', 'Microsoft.ContainerService', '', 'managedClusters', 'aks-prod'))
      perms.push(p as Record<string, unknown>);
    assert.deepEqual(perms, [
      {
        actions: [
          'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
          'Microsoft.ContainerService/managedClusters/read',
        ],
        notActions: [],
        dataActions: [],
        notDataActions: [],
      },
    ]);
    const rgPerms: unknown[] = [];
    for await (const p of auth('reader').permissions.listForResourceGroup('rg-prod')) rgPerms.push(p);
    assert.deepEqual(rgPerms, [{ actions: ['*/read'], notActions: [], dataActions: [], notDataActions: [] }]);
    assert.match(sandbox.requests.last('arm')?.query ?? '', /api-version=2022-04-01/);

    const clusterScope = arm.state.cluster('aks-prod').id;
    const assignedTo: string[] = [];
    for await (const a of auth('reader').roleAssignments.listForScope(clusterScope, { filter: `assignedTo('${deployer.objectId}')` })) {
      assignedTo.push(authz.roleDefinitionGuid(a.roleDefinitionId!));
    }
    assert.deepEqual(
      assignedTo.sort(),
      [BUILT_IN_ROLE_IDS.aksClusterUser, BUILT_IN_ROLE_IDS.aksRbacWriter].sort(),
      'group assignment at the cluster and the namespace assignment below it',
    );
    const atScope: string[] = [];
    for await (const a of auth('reader').roleAssignments.listForScope(clusterScope, {
      filter: `atScope() and assignedTo('${deployer.objectId}')`,
    }))
      atScope.push(authz.roleDefinitionGuid(a.roleDefinitionId!));
    assert.deepEqual(atScope, [BUILT_IN_ROLE_IDS.aksClusterUser]);
    const direct: string[] = [];
    for await (const a of auth('reader').roleAssignments.listForScope(clusterScope, { filter: `principalId eq '${deployer.objectId}'` }))
      direct.push(a.principalType!);
    assert.deepEqual(direct, ['ServicePrincipal'], 'principalId eq does not expand groups');

    const def = await auth('reader').roleDefinitions.get(`/subscriptions/${sandbox.scenario.subscriptionId}`, BUILT_IN_ROLE_IDS.acrPull);
    assert.equal(def.roleName, 'AcrPull');
    assert.equal(def.roleType, 'BuiltInRole');
    assert.equal(
      def.id,
      `/subscriptions/${sandbox.scenario.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.acrPull}`,
    );
    assert.deepEqual(def.permissions, [
      { actions: ['Microsoft.ContainerRegistry/registries/pull/read'], notActions: [], dataActions: [], notDataActions: [] },
    ]);
    const named: string[] = [];
    for await (const d of auth('reader').roleDefinitions.list(`/subscriptions/${sandbox.scenario.subscriptionId}`, {
      filter: "roleName eq 'Azure Kubernetes Service RBAC Reader'",
    }))
      named.push(d.name!);
    assert.deepEqual(named, [BUILT_IN_ROLE_IDS.aksRbacReader]);
  });

  it('creates role assignments with PUT and refuses duplicates and callers without roleAssignments/write', async () => {
    const outsider = sandbox.principal('outsider');
    const scope = arm.state.registry('contosoacr').id;
    const roleDefinitionId = `/subscriptions/${sandbox.scenario.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.acrPull}`;
    const created = await auth('owner').roleAssignments.create(scope, '0b5e7c0e-8a38-4a6b-9c5e-5c1f2d2f0001', {
      roleDefinitionId,
      principalId: outsider.objectId,
      principalType: 'ServicePrincipal',
    });
    assert.equal(created.scope, scope);
    assert.equal(created.principalId, outsider.objectId);
    assert.equal(created.id, `${scope}/providers/Microsoft.Authorization/roleAssignments/0b5e7c0e-8a38-4a6b-9c5e-5c1f2d2f0001`);
    assert.ok(arm.state.isAllowed(outsider.objectId, 'Microsoft.ContainerRegistry/registries/pull/read', 'registry:contosoacr'));

    const dup = await rejection(
      auth('owner').roleAssignments.create(scope, '0b5e7c0e-8a38-4a6b-9c5e-5c1f2d2f0002', {
        roleDefinitionId,
        principalId: outsider.objectId,
      }),
    );
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.code, 'RoleAssignmentExists');
    const denied = await rejection(
      auth('deployer').roleAssignments.create(scope, '0b5e7c0e-8a38-4a6b-9c5e-5c1f2d2f0003', {
        roleDefinitionId,
        principalId: outsider.objectId,
      }),
    );
    assert.equal(denied.statusCode, 403);
    assert.ok(denied.message.includes("'Microsoft.Authorization/roleAssignments/write'"));
    const unknownPrincipal = await rejection(
      auth('owner').roleAssignments.create(scope, '0b5e7c0e-8a38-4a6b-9c5e-5c1f2d2f0004', {
        roleDefinitionId,
        principalId: '9d1ab0b1-0000-4000-8000-00000000dead',
      }),
    );
    assert.equal(unknownPrincipal.code, 'PrincipalNotFound');
  });

  it('PATCHes a registry as an LRO; a PATCH without virtualNetworkRules drops them, as ACR replaces networkRuleSet', async () => {
    const client = acr('deployer');
    const before = await client.registries.get('rg-prod', 'contosoacr');
    assert.equal(before.loginServer, 'contosoacr.azurecr.io');
    assert.equal(before.sku.name, 'Premium');
    assert.equal(before.publicNetworkAccess, 'Enabled');
    assert.deepEqual(before.networkRuleSet, { defaultAction: 'Deny', ipRules: [{ action: 'Allow', iPAddressOrRange: '198.51.100.7' }] });
    // The 2025-11-01 model has no virtualNetworkRules; an old preview api-version shows them.
    const armToken = await token('deployer');
    const registryUrl = `${arm.origin}${arm.state.registry('contosoacr').id}`;
    const old = await raw(sandbox, `${registryUrl}?api-version=2021-08-01-preview`, { token: armToken });
    assert.deepEqual(old.json().properties.networkRuleSet.virtualNetworkRules, [{ action: 'Allow', id: SUBNET }]);

    const updated = await client.registries.update(
      'rg-prod',
      'contosoacr',
      {
        networkRuleSet: {
          defaultAction: 'Deny',
          ipRules: [...before.networkRuleSet!.ipRules!, { action: 'Allow', iPAddressOrRange: '203.0.113.10' }],
        },
        tags: { 'aks-deploy': 'temporary-ip' },
      },
      lro,
    );
    assert.deepEqual(
      updated.networkRuleSet?.ipRules?.map((r) => r.iPAddressOrRange),
      ['198.51.100.7', '203.0.113.10'],
    );
    assert.deepEqual(updated.tags, { 'aks-deploy': 'temporary-ip' });
    assert.equal(updated.provisioningState, 'Succeeded');
    const patch = sandbox.requests.for('arm', '/registries/contosoacr').find((r) => r.method === 'PATCH');
    assert.equal(patch?.status, 201);
    assert.ok(sandbox.requests.count('arm', '/operationStatuses/') >= 2, sandbox.requests.describe());
    const registry = arm.state.registry('contosoacr');
    assert.deepEqual(registry.network.virtualNetworkRules, [], 'the VNet rule was dropped');
    const after = await raw(sandbox, `${registryUrl}?api-version=2021-08-01-preview`, { token: armToken });
    assert.deepEqual(after.json().properties.networkRuleSet.virtualNetworkRules, []);

    // The data endpoint keeps enforcing the previous rules until the change has propagated.
    const changedAt = registry.lastNetworkChangeAt.getTime();
    assert.deepEqual(arm.registryNetworkState('contosoacr'), {
      publicNetworkAccess: 'Enabled',
      networkRuleSet: {
        defaultAction: 'Deny',
        ipRules: [
          { value: '198.51.100.7', action: 'Allow' },
          { value: '203.0.113.10', action: 'Allow' },
        ],
      },
      lastNetworkChangeAt: changedAt,
      firewallPropagationSeconds: 30,
    });
    assert.deepEqual(arm.state.registryNetworkInEffect('contosoacr', changedAt + 1_000).ipRules, ['198.51.100.7']);
    assert.deepEqual(arm.state.registryNetworkInEffect('contosoacr', changedAt + 30_000).ipRules, ['198.51.100.7', '203.0.113.10']);

    // A PATCH at an api-version whose model has virtualNetworkRules keeps them when it sends them.
    for (const [apiVersion, key] of [
      ['2021-08-01-preview', 'id'],
      ['2026-01-01-preview', 'virtualNetworkSubnetResourceId'],
    ] as const) {
      const res = await raw(sandbox, `${registryUrl}?api-version=${apiVersion}`, {
        method: 'PATCH',
        token: armToken,
        body: {
          properties: {
            networkRuleSet: {
              defaultAction: 'Deny',
              ipRules: [{ action: 'Allow', value: '198.51.100.7' }],
              virtualNetworkRules: [{ action: 'Allow', [key]: SUBNET }],
            },
          },
        },
      });
      assert.equal(res.status, 201, res.text);
      const status = await raw(sandbox, String(res.headers['azure-asyncoperation']), { token: armToken });
      assert.equal(status.json().status, 'InProgress');
      const done = await raw(sandbox, String(res.headers['azure-asyncoperation']), { token: armToken });
      assert.equal(done.json().status, 'Succeeded');
      assert.deepEqual(arm.state.registry('contosoacr').network.virtualNetworkRules, [SUBNET]);
      const shown = await raw(sandbox, `${registryUrl}?api-version=${apiVersion}`, { token: armToken });
      assert.deepEqual(shown.json().properties.networkRuleSet.virtualNetworkRules, [{ action: 'Allow', [key]: SUBNET }]);
    }
  });

  it('keeps VNet rules on a networkRuleSet PATCH only in the opt-in merge mode', async () => {
    const state = new ArmState(sandbox.scenario);
    const merging = await ArmService.start({ ...sandbox.context, state, acrNetworkRuleSetPatch: 'merge', lroInProgressPolls: 0 });
    try {
      const client = new ContainerRegistryManagementClient(credential('deployer'), sandbox.scenario.subscriptionId, {
        ...clientOptions(),
        endpoint: merging.origin,
      });
      await client.registries.update(
        'rg-prod',
        'contosoacr',
        { networkRuleSet: { defaultAction: 'Deny', ipRules: [{ iPAddressOrRange: '192.0.2.1' }] } },
        lro,
      );
      assert.deepEqual(state.registry('contosoacr').network.virtualNetworkRules, [SUBNET]);
      assert.deepEqual(state.registry('contosoacr').network.ipRules, ['192.0.2.1']);
    } finally {
      await merging.close();
    }
  });

  it('lists registry usages and enforces the IPRules quota and the Premium SKU', async () => {
    const usages = await acr('reader').registries.listUsages('rg-prod', 'contosoacr');
    const ipRules = usages.value?.find((u) => u.name === 'IPRules');
    assert.deepEqual(ipRules, {
      name: 'IPRules',
      limit: 3,
      currentValue: arm.state.registry('contosoacr').network.ipRules.length,
      unit: 'Count',
    });
    assert.ok(usages.value?.some((u) => u.name === 'VNetRules'));
    const tooMany = await rejection(
      acr('deployer').registries.update(
        'rg-prod',
        'contosoacr',
        {
          networkRuleSet: {
            defaultAction: 'Deny',
            ipRules: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'].map((v) => ({ iPAddressOrRange: v })),
          },
        },
        lro,
      ),
    );
    assert.equal(tooMany.statusCode, 400);
    assert.equal(tooMany.code, 'QuotaExceeded');
    const basic = await rejection(
      acr('owner').registries.update('rg-prod', 'contosobasic', { networkRuleSet: { defaultAction: 'Deny' } }, lro),
    );
    assert.equal(basic.statusCode, 400);
    const basicGet = await acr('reader').registries.get('rg-prod', 'contosobasic');
    assert.equal(basicGet.networkRuleSet, undefined);
  });

  it('survives 429 with Retry-After through the SDK retry policy', async () => {
    sandbox.faults.inject('arm', {
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
      method: 'GET',
      pathIncludes: '/managedClusters/aks-legacy',
    });
    const started = Date.now();
    const c = await aks('reader').managedClusters.get('rg-prod', 'aks-legacy');
    assert.equal(c.name, 'aks-legacy');
    assert.ok(Date.now() - started >= 900, `retried after ${Date.now() - started} ms`);
    const statuses = sandbox.requests.for('arm', '/managedClusters/aks-legacy').map((r) => r.status);
    assert.deepEqual(statuses, [429, 200]);
    assert.match(sandbox.requests.for('arm', '/managedClusters/aks-legacy')[0].fault ?? '', /^arm#\d+$/);
    assert.equal(sandbox.faults.pending('arm').length, 0);
  });

  it('surfaces a failed long-running operation as an error', async () => {
    arm.failNextOperation('registries', { code: 'RegistryUpdateFailed', message: 'The registry update failed.' });
    const before = structuredClone(arm.state.registry('contosoacr').network);
    const err = await rejection(
      acr('deployer').registries.update('rg-prod', 'contosoacr', { networkRuleSet: { defaultAction: 'Allow' } }, lro),
    );
    assert.equal(err.message, 'The long-running operation has failed. RegistryUpdateFailed. The registry update failed.');
    assert.deepEqual(arm.state.registry('contosoacr').network, before, 'a failed PATCH changes nothing');

    arm.failNextOperation('managedClusters');
    const client = aks('owner');
    const c = await client.managedClusters.get('rg-prod', 'aks-legacy');
    const failed = await rejection(client.managedClusters.createOrUpdate('rg-prod', 'aks-legacy', c, { ...lro, ifMatch: c.eTag }));
    assert.match(failed.message, /^The long-running operation has failed\. InternalOperationError\./);
    assert.equal((await client.managedClusters.get('rg-prod', 'aks-legacy')).provisioningState, 'Failed');
  });

  it('updates authorized IP ranges with PUT + If-Match, and answers 412 to a stale eTag', async () => {
    const client = aks('owner');
    const c = await client.managedClusters.get('rg-prod', 'aks-legacy');
    const staleEtag = c.eTag!;
    const changedBefore = arm.state.cluster('aks-legacy').lastNetworkChangeAt.getTime();
    c.apiServerAccessProfile = { ...c.apiServerAccessProfile, authorizedIPRanges: ['203.0.113.0/24', '198.51.100.7/32'] };
    const updated = await client.managedClusters.createOrUpdate('rg-prod', 'aks-legacy', c, { ...lro, ifMatch: staleEtag });
    assert.deepEqual(updated.apiServerAccessProfile?.authorizedIPRanges, ['203.0.113.0/24', '198.51.100.7/32']);
    assert.equal(updated.provisioningState, 'Succeeded');
    assert.notEqual(updated.eTag, staleEtag);
    assert.ok(arm.state.cluster('aks-legacy').lastNetworkChangeAt.getTime() >= changedBefore);
    const put = sandbox.requests.for('arm', '/managedClusters/aks-legacy').find((r) => r.method === 'PUT');
    assert.equal(put?.status, 200);
    assert.ok(sandbox.requests.count('arm', '/providers/Microsoft.ContainerService/locations/eastus/operations/') >= 2);

    const stale = await rejection(client.managedClusters.createOrUpdate('rg-prod', 'aks-legacy', c, { ...lro, ifMatch: staleEtag }));
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.code, 'PreconditionFailed');
    const denied = await rejection(aks('deployer').managedClusters.createOrUpdate('rg-prod', 'aks-legacy', c, lro));
    assert.equal(denied.statusCode, 403);
  });

  it('has eTag and If-Match only at the api-versions that define them (eTag from 2024-09-01, If-Match from 2024-10-01)', async () => {
    const url = (v: string) =>
      `${arm.origin}/subscriptions/${sandbox.scenario.subscriptionId}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-legacy?api-version=${v}`;
    const ownerToken = await token('owner');
    const read = async (v: string) => {
      const res = await raw(sandbox, url(v), { token: ownerToken });
      assert.equal(res.status, 200);
      assert.equal(res.headers.etag, undefined, 'ManagedClusters_Get defines no ETag response header');
      return res.json() as Record<string, unknown> & { eTag?: string };
    };
    const put = async (v: string, body: Record<string, unknown>, ifMatch: string) => {
      const res = await raw(sandbox, url(v), { method: 'PUT', token: ownerToken, body, headers: { 'If-Match': ifMatch } });
      for (let i = 0; i < 20 && arm.state.cluster('aks-legacy').provisioningState !== 'Succeeded'; i++) {
        await raw(sandbox, String(res.headers['azure-asyncoperation']), { token: ownerToken });
      }
      return res;
    };

    assert.equal((await read('2024-08-01')).eTag, undefined);
    const old = await read('2024-05-01');
    assert.equal(old.eTag, undefined, 'the 2024-05-01 ManagedCluster has no eTag');
    // At 2024-05-01 the PUT has no If-Match: a stale precondition is not checked, the write lands.
    const landed = await put('2024-05-01', old, 'stale-etag');
    assert.equal(landed.status, 200);

    const current = await read('2024-10-01');
    assert.equal(current.eTag, arm.state.cluster('aks-legacy').eTag);
    const refused = await put('2024-10-01', current, 'stale-etag');
    assert.equal(refused.status, 412);
    assert.equal(refused.json().error.code, 'PreconditionFailed');
    assert.equal(
      sandbox.requests
        .for('arm', '/managedClusters/aks-legacy')
        .filter((r) => r.method === 'PUT')
        .at(-1)?.note?.ifMatch,
      'stale-etag',
    );
    const accepted = await put('2024-10-01', current, current.eTag!);
    assert.equal(accepted.status, 200);
  });

  it('serves a registry at 2019-05-01 with that model only, and ignores on PATCH what its update model lacks', async () => {
    const armToken = await token('owner');
    const url = (v: string) => `${arm.origin}${arm.state.registry('contosobasic').id}?api-version=${v}`;
    const legacy = (await raw(sandbox, url('2019-05-01'), { token: armToken })).json();
    assert.deepEqual(Object.keys(legacy.properties).sort(), [
      'adminUserEnabled',
      'creationDate',
      'loginServer',
      'policies',
      'provisioningState',
    ]);
    assert.deepEqual(Object.keys(legacy.properties.policies).sort(), ['quarantinePolicy', 'retentionPolicy', 'trustPolicy']);
    assert.equal(legacy.systemData, undefined);
    const current = (await raw(sandbox, url('2025-11-01'), { token: armToken })).json();
    assert.equal(current.properties.publicNetworkAccess, 'Enabled');

    // publicNetworkAccess is not in the 2019-05-01 RegistryPropertiesUpdateParameters: nothing changes.
    const patch = async (v: string) => {
      const res = await raw(sandbox, url(v), {
        method: 'PATCH',
        token: armToken,
        body: { properties: { publicNetworkAccess: 'Disabled' } },
      });
      assert.equal(res.status, 201);
      await raw(sandbox, String(res.headers['azure-asyncoperation']), { token: armToken });
      await raw(sandbox, String(res.headers['azure-asyncoperation']), { token: armToken });
    };
    await patch('2019-05-01');
    assert.equal(arm.state.registry('contosobasic').network.publicNetworkAccess, 'Enabled');
    await patch('2025-11-01');
    assert.equal(arm.state.registry('contosobasic').network.publicNetworkAccess, 'Disabled');
  });

  it('answers permissions and role definitions without dataActions before Microsoft.Authorization 2018-01-01-preview', async () => {
    const deployerToken = await token('deployer');
    const scope = `${arm.origin}${arm.state.cluster('aks-prod').id}/namespaces/web/providers/Microsoft.Authorization`;
    const current = (await raw(sandbox, `${scope}/permissions?api-version=2022-04-01`, { token: deployerToken })).json().value as Array<
      Record<string, unknown>
    >;
    assert.ok(
      current.some((p) => Array.isArray(p.dataActions) && (p.dataActions as string[]).length > 0),
      'the RBAC Writer role grants data actions',
    );
    const old = (await raw(sandbox, `${scope}/permissions?api-version=2015-07-01`, { token: deployerToken })).json().value as Array<
      Record<string, unknown>
    >;
    assert.equal(old.length, current.length);
    for (const p of old) assert.deepEqual(Object.keys(p).sort(), ['actions', 'notActions']);
    const ownerToken = await token('owner');
    const writer = `${arm.origin}/subscriptions/${sandbox.scenario.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.aksRbacWriter}`;
    const oldDefinition = (await raw(sandbox, `${writer}?api-version=2015-07-01`, { token: ownerToken })).json();
    assert.deepEqual(Object.keys(oldDefinition.properties.permissions[0]).sort(), ['actions', 'notActions']);
    const definition = (await raw(sandbox, `${writer}?api-version=2022-04-01`, { token: ownerToken })).json();
    assert.ok(definition.properties.permissions[0].dataActions.length > 0);
  });

  it('refuses api-versions the resource provider does not have, even with a plausible date, as ARM does', async () => {
    const readerToken = await token('reader');
    const sub = sandbox.scenario.subscriptionId;
    const aksUrl = (v: string) =>
      `${arm.origin}/subscriptions/${sub}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod?api-version=${v}`;
    const made = await raw(sandbox, aksUrl('2024-10-15'), { token: readerToken });
    assert.equal(made.status, 400);
    assert.equal(made.json().error.code, 'NoRegisteredProviderFound');
    assert.match(
      made.json().error.message,
      /^No registered resource provider found for location 'eastus' and API version '2024-10-15' for type 'managedClusters'\. The supported api-versions are '2017-08-31, 2018-03-31, .*, 2026-04-01'\. The supported locations are '/,
    );
    assert.equal((await raw(sandbox, aksUrl('2024-10-01'), { token: readerToken })).status, 200);
    const acrMade = await raw(sandbox, `${arm.origin}${arm.state.registry('contosoacr').id}?api-version=2025-11-15`, {
      token: readerToken,
    });
    assert.equal(acrMade.json().error.code, 'NoRegisteredProviderFound');
    const definitions = await raw(
      sandbox,
      `${arm.origin}/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-15`,
      { token: readerToken },
    );
    assert.equal(definitions.status, 400);
    assert.match(
      definitions.json().error.message,
      /^No registered resource provider found for location 'eastus' and API version '2022-04-15' for type 'roleDefinitions'\. The supported api-versions are '2014-04-01-preview, .*'\. The supported locations are ''\.$/,
    );
    const assignments = await raw(
      sandbox,
      `${arm.origin}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-15`,
      { token: readerToken },
    );
    assert.equal(assignments.status, 404);
    assert.deepEqual(assignments.json().error.code, 'InvalidResourceType');
    assert.match(
      assignments.json().error.message,
      /^The resource type 'roleAssignments' could not be found in the namespace 'Microsoft.Authorization' for api version '2022-04-15'\. The supported api-versions are '2014-04-01-preview,2014-07-01-preview,.*,2022-05-01-preview'\.$/,
    );
  });

  it('runs commands through runCommand / commandResults, and refuses when run command is disabled', async () => {
    runCalls.length = 0;
    const client = aks('owner');
    const result = await client.managedClusters.runCommand(
      'rg-prod',
      'aks-prod',
      { command: 'kubectl get ns', context: 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', clusterToken: 'eyJ.fake.token' },
      lro,
    );
    assert.equal(result.provisioningState, 'succeeded');
    assert.equal(result.exitCode, 0);
    assert.equal(result.logs, 'ran: kubectl get ns\n');
    assert.match(result.id ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(runCalls, [
      {
        name: 'aks-prod',
        request: { command: 'kubectl get ns', context: 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', clusterToken: 'eyJ.fake.token' },
      },
    ]);
    const polls = sandbox.requests.for('arm', '/commandResults/').map((r) => r.status);
    assert.deepEqual(polls, [202, 200]);

    const failing = await client.managedClusters.runCommand('rg-prod', 'aks-prod', { command: 'exit 3' }, lro);
    assert.equal(failing.exitCode, 3);

    arm.failNextOperation('runCommand', { code: 'PodFailed', message: 'command pod could not be scheduled' });
    const broken = await client.managedClusters.runCommand('rg-prod', 'aks-prod', { command: 'kubectl version' }, lro);
    assert.equal(broken.provisioningState, 'failed');
    assert.equal(broken.reason, 'command pod could not be scheduled');

    const disabled = await rejection(client.managedClusters.runCommand('rg-other', 'aks-locked', { command: 'kubectl get ns' }, lro));
    assert.equal(disabled.statusCode, 400);
    // Cluster User Role does not include runcommand/action.
    const denied = await rejection(aks('deployer').managedClusters.runCommand('rg-prod', 'aks-prod', { command: 'kubectl get ns' }, lro));
    assert.equal(denied.statusCode, 403);
    assert.ok(denied.message.includes("'Microsoft.ContainerService/managedClusters/runcommand/action'"));
  });

  it('authenticates like ARM: missing token, wrong audience, missing api-version', async () => {
    const url = `${arm.origin}/subscriptions/${sandbox.scenario.subscriptionId}/providers/Microsoft.ContainerService/managedClusters?api-version=${API_VERSIONS.containerService}`;
    const none = await raw(sandbox, url);
    assert.equal(none.status, 401);
    assert.deepEqual(none.json(), {
      error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." },
    });
    assert.match(String(none.headers['www-authenticate']), /^Bearer authorization_uri=/);

    // The ARM SDKs default their token scope to `${endpoint}/.default`: with a non-ARM endpoint and
    // no explicit scopes the token is for the wrong audience.
    const wrong = await raw(sandbox, url, { token: await token('reader', `${arm.origin}/.default`) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json().error.code, 'InvalidAuthenticationTokenAudience');
    assert.ok(
      wrong
        .json()
        .error.message.includes(
          "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
        ),
    );
    const defaultScopes = new ContainerRegistryManagementClient(credential('reader'), sandbox.scenario.subscriptionId, {
      endpoint: arm.origin,
      tlsOptions: sandbox.tlsOptions(),
    });
    const err = await rejection(defaultScopes.registries.get('rg-prod', 'contosoacr'));
    assert.equal(err.statusCode, 401);

    const legacyAudience = await raw(sandbox, url, { token: await token('reader', 'https://management.core.windows.net/.default') });
    assert.equal(legacyAudience.status, 200);

    const noVersion = await raw(sandbox, url.replace(/\?.*$/, ''), { token: await token('reader') });
    assert.equal(noVersion.status, 400);
    assert.deepEqual(noVersion.json(), {
      error: {
        code: 'MissingApiVersionParameter',
        message: 'The api-version query parameter (?api-version=) is required for all requests.',
      },
    });
    const future = await raw(sandbox, url.replace(API_VERSIONS.containerService, '2099-01-01'), { token: await token('reader') });
    assert.equal(future.status, 400);
    assert.equal(future.json().error.code, 'NoRegisteredProviderFound');
    const older = await raw(sandbox, url.replace(API_VERSIONS.containerService, '2024-05-01'), { token: await token('reader') });
    assert.equal(older.status, 200);
  });
});

describe('sandbox: RBAC evaluation (authorization.ts)', () => {
  const SUB = '/subscriptions/11111111-1111-1111-1111-111111111111';
  const CLUSTER = `${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`;

  it('matches action patterns with * across segments, case-insensitively', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', 'Microsoft.ContainerService/managedClusters/read', true],
      ['*/read', 'Microsoft.ContainerService/managedClusters/read', true],
      ['*/read', 'Microsoft.ContainerService/managedClusters/write', false],
      ['Microsoft.ContainerService/*/read', 'Microsoft.ContainerService/managedClusters/read', true],
      ['Microsoft.ContainerService/*/read', 'Microsoft.ContainerService/managedClusters/agentPools/read', true],
      ['Microsoft.ContainerService/*/read', 'Microsoft.ContainerRegistry/registries/read', false],
      ['Microsoft.ContainerService/*', 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action', true],
      ['microsoft.containerservice/MANAGEDCLUSTERS/READ', 'Microsoft.ContainerService/managedClusters/read', true],
      ['Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write', true],
      ['Microsoft.ContainerService/managedClusters/read', 'Microsoft.ContainerService/managedClusters/read/extra', false],
      [
        'Microsoft.ContainerService/managedClusters/*Credential/action',
        'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
        true,
      ],
      ['Microsoft.Network/virtualNetworks/subnets/read', 'Microsoft.Network/virtualNetworks/subnets/read', true],
      ['Microsoft.Network/virtualNetworks.subnets/read', 'Microsoft.Network/virtualNetworksXsubnets/read', false],
    ];
    for (const [pattern, operation, expected] of cases) {
      assert.equal(authz.matchesOperation(pattern, operation), expected, `${pattern} vs ${operation}`);
    }
  });

  const role = (id: string, permissions: authz.RolePermission[]): authz.RoleDefinitionLike => ({ id, permissions });
  const p = (
    actions: string[],
    notActions: string[] = [],
    dataActions: string[] = [],
    notDataActions: string[] = [],
  ): authz.RolePermission => ({ actions, notActions, dataActions, notDataActions });
  const assign = (principalId: string, roleId: string, scope: string): authz.RoleAssignmentLike => ({
    properties: { principalId, roleDefinitionId: `${SUB}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`, scope },
  });

  const state: authz.AuthorizationState = {
    roleDefinitions: [
      ...BUILT_IN_ROLES,
      role('00000000-0000-0000-0000-00000000000a', [
        p(['Microsoft.ContainerService/*'], ['Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action']),
      ]),
      role('00000000-0000-0000-0000-00000000000b', [
        p(['Microsoft.ContainerService/managedClusters/read'], ['*/read']),
        p(['Microsoft.ContainerService/managedClusters/read']),
      ]),
    ],
    roleAssignments: [
      assign('user-contrib', BUILT_IN_ROLE_IDS.contributor, SUB),
      assign('user-custom', '00000000-0000-0000-0000-00000000000a', `${SUB}/resourceGroups/RG`),
      assign('user-custom', BUILT_IN_ROLE_IDS.aksClusterAdmin, `${CLUSTER}/namespaces/other`),
      assign('user-entries', '00000000-0000-0000-0000-00000000000b', CLUSTER),
      assign('group-outer', BUILT_IN_ROLE_IDS.aksRbacAdmin, CLUSTER),
      assign('user-ns', BUILT_IN_ROLE_IDS.aksRbacWriter, `${CLUSTER}/namespaces/web`),
      assign('user-root', BUILT_IN_ROLE_IDS.reader, '/'),
    ],
    groups: [
      { objectId: 'group-outer', memberObjectIds: ['group-inner'] },
      { objectId: 'group-inner', memberObjectIds: ['USER-NESTED'] },
    ],
  };

  it('evaluates notActions per permission entry, inheritance downwards, groups transitively, and data actions by namespace', () => {
    const cases: Array<[string, string, string, authz.PermissionKind, boolean, string]> = [
      [
        'user-contrib',
        'Microsoft.ContainerService/managedClusters/write',
        CLUSTER,
        'action',
        true,
        'subscription assignment covers resources',
      ],
      ['user-contrib', 'Microsoft.Authorization/roleAssignments/write', SUB, 'action', false, 'Contributor notActions'],
      ['user-contrib', 'microsoft.authorization/ROLEASSIGNMENTS/write', CLUSTER, 'action', false, 'notActions are case-insensitive'],
      [
        'user-contrib',
        'Microsoft.ContainerService/managedClusters/pods/read',
        CLUSTER,
        'dataAction',
        false,
        'actions never grant data actions',
      ],
      [
        'user-custom',
        'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
        CLUSTER,
        'action',
        true,
        'rg scope (other case) covers the cluster',
      ],
      [
        'user-custom',
        'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
        CLUSTER,
        'action',
        false,
        'custom role notAction, and the Cluster Admin Role is only on a namespace below',
      ],
      ['user-custom', 'Microsoft.ContainerService/managedClusters/read', SUB, 'action', false, 'no upward inheritance'],
      [
        'user-entries',
        'Microsoft.ContainerService/managedClusters/read',
        CLUSTER,
        'action',
        true,
        'second entry grants what the first entry excludes',
      ],
      [
        'user-nested',
        'Microsoft.ContainerService/managedClusters/pods/write',
        `${CLUSTER}/namespaces/web`,
        'dataAction',
        true,
        'nested group, cluster scope covers namespaces',
      ],
      [
        'user-nested',
        'Microsoft.ContainerService/managedClusters/namespaces/write',
        CLUSTER,
        'dataAction',
        false,
        'RBAC Admin notDataActions',
      ],
      [
        'user-nested',
        'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
        CLUSTER,
        'action',
        true,
        'RBAC Admin action via group',
      ],
      [
        'user-ns',
        'Microsoft.ContainerService/managedClusters/apps/deployments/write',
        `${CLUSTER}/namespaces/web`,
        'dataAction',
        true,
        'namespace assignment',
      ],
      [
        'user-ns',
        'Microsoft.ContainerService/managedClusters/apps/deployments/write',
        `${CLUSTER}/namespaces/Web/`,
        'dataAction',
        true,
        'scope compare is case-insensitive',
      ],
      [
        'user-ns',
        'Microsoft.ContainerService/managedClusters/apps/deployments/write',
        `${CLUSTER}/namespaces/prod`,
        'dataAction',
        false,
        'other namespace',
      ],
      [
        'user-ns',
        'Microsoft.ContainerService/managedClusters/namespaces/read',
        CLUSTER,
        'dataAction',
        false,
        'cluster-scoped check is not covered by a namespace assignment',
      ],
      [
        'user-ns',
        'Microsoft.ContainerService/managedClusters/rbac.authorization.k8s.io/roles/write',
        `${CLUSTER}/namespaces/web`,
        'dataAction',
        false,
        'RBAC Writer cannot manage roles',
      ],
      ['user-root', 'Microsoft.ContainerRegistry/registries/read', CLUSTER, 'action', true, 'root scope covers everything'],
      ['nobody', 'Microsoft.ContainerService/managedClusters/read', CLUSTER, 'action', false, 'no assignments'],
    ];
    for (const [principal, operation, scope, kind, expected, why] of cases) {
      assert.equal(authz.isAllowed(state, principal, operation, scope, kind), expected, `${principal} ${operation} @ ${scope}: ${why}`);
    }
  });

  it('returns the permissions of every applicable assignment, one entry per role permission entry', () => {
    assert.deepEqual(authz.permissionsAt(state, 'user-entries', CLUSTER), [
      p(['Microsoft.ContainerService/managedClusters/read'], ['*/read']),
      p(['Microsoft.ContainerService/managedClusters/read']),
    ]);
    assert.deepEqual(authz.permissionsAt(state, 'user-root', CLUSTER), [p(['*/read'])]);
    assert.equal(
      authz.permissionsAt(state, 'user-custom', `${SUB}/resourceGroups/rg`).length,
      1,
      'the namespace assignment below does not count',
    );
    assert.equal(
      authz.permissionsAt(state, 'user-custom', `${CLUSTER}/namespaces/other`).length,
      2,
      'rg assignment above + namespace assignment at the scope',
    );
    assert.deepEqual(
      authz.permissionsAt(state, 'user-nested', CLUSTER),
      BUILT_IN_ROLES.find((r) => r.id === BUILT_IN_ROLE_IDS.aksRbacAdmin)!.permissions,
    );
  });

  it('resolves scope shorthands', () => {
    const ctx = {
      subscriptionId: 'sub',
      clusters: [{ name: 'aks', resourceGroup: 'rg' }],
      registries: [{ name: 'acr1', resourceGroup: 'rg2' }],
    };
    assert.equal(authz.resolveScope('subscription', ctx), '/subscriptions/sub');
    assert.equal(authz.resolveScope('resourceGroup:rg', ctx), '/subscriptions/sub/resourceGroups/rg');
    assert.equal(
      authz.resolveScope('cluster:AKS', ctx),
      '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
    );
    assert.equal(
      authz.resolveScope('cluster:aks/namespaces/web', ctx),
      '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/namespaces/web',
    );
    assert.equal(
      authz.resolveScope('registry:acr1', ctx),
      '/subscriptions/sub/resourceGroups/rg2/providers/Microsoft.ContainerRegistry/registries/acr1',
    );
    assert.equal(authz.resolveScope('/subscriptions/sub/resourceGroups/x/', ctx), '/subscriptions/sub/resourceGroups/x');
    assert.throws(() => authz.resolveScope('cluster:missing', ctx), /unknown cluster/);
    assert.throws(() => authz.resolveScope('everything', ctx), /Unknown scope/);
  });

  it('knows the built-in roles by their real GUIDs', () => {
    assert.equal(findBuiltInRole('azure kubernetes service cluster user role')?.id, '4abbcc35-e782-43d8-92c5-2d3f1bd2253f');
    assert.equal(findBuiltInRole('7f951dda-4ed3-4680-a7ca-43fe172d538d')?.roleName, 'AcrPull');
    assert.equal(new Set(BUILT_IN_ROLES.map((r) => r.id)).size, BUILT_IN_ROLES.length);
    for (const r of BUILT_IN_ROLES) assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
