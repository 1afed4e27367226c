import * as assert from 'assert';
import type { ManagedCluster } from '@azure/arm-containerservice';
import type { Registry } from '@azure/arm-containerregistry';
import {
  clusterChecklist,
  hardeningChecklist,
  postureScore,
  registryChecklist,
  type ChecklistItem,
} from '../../shared/azure/aks/hardeningChecklist';

const hardenedCluster: ManagedCluster = {
  name: 'aks-prod',
  location: 'eastus',
  aadProfile: { managed: true, enableAzureRbac: true },
  disableLocalAccounts: true,
  apiServerAccessProfile: { enablePrivateCluster: true },
  oidcIssuerProfile: { enabled: true },
  securityProfile: { workloadIdentity: { enabled: true }, defender: { securityMonitoring: { enabled: true } } },
  addonProfiles: { azurepolicy: { enabled: true }, azureKeyvaultSecretsProvider: { enabled: true } },
  networkProfile: { networkPolicy: 'cilium' },
} as ManagedCluster;

const defaultCluster: ManagedCluster = {
  name: 'aks-dev',
  location: 'eastus',
  disableLocalAccounts: false,
  networkProfile: { networkPolicy: 'none' },
} as ManagedCluster;

const hardenedRegistry = {
  name: 'contosoprod',
  location: 'eastus',
  sku: { name: 'Premium' },
  adminUserEnabled: false,
  publicNetworkAccess: 'Disabled',
  networkRuleBypassOptions: 'AzureServices',
  privateEndpointConnections: [{ name: 'pe1', privateLinkServiceConnectionState: { status: 'Approved' } }],
} as unknown as Registry;

const statuses = (items: ChecklistItem[]) => Object.fromEntries(items.map((i) => [i.id, i.status]));

describe('hardening checklist', () => {
  it('a hardened cluster passes every item, without fix commands', () => {
    const items = clusterChecklist(hardenedCluster, 'rg');
    assert.ok(
      items.every((i) => i.status === 'pass' && !i.fix),
      JSON.stringify(items, null, 1),
    );
    assert.strictEqual(items.length, 9);
  });

  it('a default cluster: fails and warnings, each with why and an az command for this cluster', () => {
    const items = clusterChecklist(defaultCluster, 'rg');
    assert.deepStrictEqual(statuses(items), {
      entraIntegration: 'fail',
      azureRbac: 'warn',
      localAccounts: 'fail',
      apiServerExposure: 'fail',
      workloadIdentity: 'warn',
      azurePolicy: 'warn',
      keyVaultSecretsProvider: 'warn',
      networkPolicy: 'warn',
      defender: 'warn',
    });
    for (const i of items) {
      assert.ok(i.why.length > 30, i.id);
      assert.match(i.fix ?? '', /^az aks (update|enable-addons) --resource-group rg --name aks-dev /, i.id);
    }
  });

  it('partial states: legacy Entra ID warns, Kubernetes RBAC warns, authorized IP ranges pass, OIDC without workload identity warns', () => {
    const items = clusterChecklist(
      {
        ...defaultCluster,
        aadProfile: { managed: false, enableAzureRbac: false },
        apiServerAccessProfile: { authorizedIPRanges: ['203.0.113.0/24'] },
        oidcIssuerProfile: { enabled: true },
      } as ManagedCluster,
      'rg',
    );
    const s = statuses(items);
    assert.strictEqual(s.entraIntegration, 'warn');
    assert.strictEqual(s.azureRbac, 'warn');
    assert.strictEqual(s.apiServerExposure, 'pass');
    assert.strictEqual(s.workloadIdentity, 'warn');
    assert.match(items.find((i) => i.id === 'apiServerExposure')!.found, /1 authorized IP range/);
  });

  it('a hardened registry passes; a default one fails admin user and public access', () => {
    assert.ok(registryChecklist(hardenedRegistry, 'rg').every((i) => i.status === 'pass'));
    const items = registryChecklist(
      { name: 'contosodev', sku: { name: 'Basic' }, adminUserEnabled: true, publicNetworkAccess: 'Enabled' } as unknown as Registry,
      'rg',
    );
    assert.deepStrictEqual(statuses(items), {
      adminUser: 'fail',
      publicNetworkAccess: 'fail',
      privateEndpoints: 'warn',
      trustedServices: 'pass',
    });
    assert.strictEqual(items[0].fix, 'az acr update --resource-group rg --name contosodev --admin-enabled false');
  });

  it('selected networks warn; public access off without a private endpoint fails; a pending endpoint warns with its approve command', () => {
    const selected = registryChecklist(
      {
        ...hardenedRegistry,
        publicNetworkAccess: 'Enabled',
        networkRuleSet: { defaultAction: 'Deny', ipRules: [{ ipAddressOrRange: '1.2.3.4' }] },
      } as unknown as Registry,
      'rg',
    );
    assert.strictEqual(statuses(selected).publicNetworkAccess, 'warn');
    const noEndpoint = registryChecklist({ ...hardenedRegistry, privateEndpointConnections: [] } as unknown as Registry, 'rg');
    assert.strictEqual(statuses(noEndpoint).privateEndpoints, 'fail');
    const pending = registryChecklist(
      {
        ...hardenedRegistry,
        privateEndpointConnections: [
          { name: 'pe1', privateLinkServiceConnectionState: { status: 'Approved' } },
          { name: 'pe2', privateLinkServiceConnectionState: { status: 'Pending' } },
        ],
      } as unknown as Registry,
      'rg',
    );
    const item = pending.find((i) => i.id === 'privateEndpoints')!;
    assert.strictEqual(item.status, 'warn');
    assert.strictEqual(item.fix, 'az acr private-endpoint-connection approve --registry-name contosoprod --name pe2');
    assert.strictEqual(
      statuses(registryChecklist({ ...hardenedRegistry, networkRuleBypassOptions: 'None' } as unknown as Registry, 'rg')).trustedServices,
      'warn',
    );
  });

  it('the kubelet item: granted passes, missing fails with --attach-acr, unknown warns with why', () => {
    const base = {
      cluster: { model: hardenedCluster, resourceGroup: 'rg' },
      registry: { model: hardenedRegistry, resourceGroup: 'rg' },
      registryId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoprod',
    };
    const kubelet = (k: Parameters<typeof hardeningChecklist>[0]['kubeletPull']) =>
      hardeningChecklist({ ...base, kubeletPull: k }).find((i) => i.id === 'kubeletAcrPull')!;
    assert.strictEqual(kubelet({ state: 'granted', role: 'AcrPull' }).status, 'pass');
    const missing = kubelet({ state: 'missing' });
    assert.strictEqual(missing.status, 'fail');
    assert.strictEqual(missing.fix, `az aks update --resource-group rg --name aks-prod --attach-acr ${base.registryId}`);
    const unknown = kubelet({ state: 'unknown', reason: 'no roleAssignments/read' });
    assert.strictEqual(unknown.status, 'warn');
    assert.match(unknown.found, /not known: no roleAssignments\/read/);
  });

  it('an unreadable resource is one warning, not a score of zero', () => {
    const items = hardeningChecklist({ cluster: { unreadable: 'AuthorizationFailed', name: 'aks-prod' } });
    assert.deepStrictEqual(
      items.map((i) => [i.id, i.status]),
      [['clusterReadable', 'warn']],
    );
  });

  it('score: pass 1, warn ½, fail 0, rounded; 100 when nothing was checked', () => {
    const mk = (status: ChecklistItem['status']) => ({ status }) as ChecklistItem;
    assert.strictEqual(postureScore([mk('pass'), mk('warn'), mk('fail')]), 50);
    assert.strictEqual(postureScore([mk('pass'), mk('pass'), mk('warn')]), 83);
    assert.strictEqual(postureScore([]), 100);
  });
});
