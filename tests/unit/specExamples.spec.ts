import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import type { TokenCredential } from '@azure/core-auth';
import {
  createEmptyPipeline,
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { CLUSTER_API_VERSION, AuthorizedRangesClient } from '../../shared/azure/aks/authorizedIpRanges';
import { authorizedRangesStore, clusterTarget } from '../../shared/firewall/targets/authorizedRangesTarget';
import { clusterFactsOf } from '../../shared/azure/aks/clusterFacts';
import { registryTarget } from '../../shared/firewall/targets/registryFirewall';
import { NETWORK_API_VERSION, RegistryNetworkClient, ipRuleValues } from '../../shared/azure/acr/registryNetwork';
import { evaluatePermission } from '../../shared/azure/rbac/permissionEvaluator';
import { REPO_ROOT } from '../support/taskRun';
import { defaultSpecExamplesDir, SPEC_EXAMPLES } from '../../tools/specExamples';

/**
 * The real example responses of azure-rest-api-specs, at the api-versions the tasks send, fed
 * through the product's readers (the SDK clients' deserialisers included). The examples are not
 * committed: `node build/tools/specExamples.js <azure-rest-api-specs git dir>` puts them in
 * SPEC_EXAMPLES_DIR (default ../shared/spec-examples beside the checkout).
 */
const ARM = 'https://management.azure.com';
const SUB = '00000000-0000-0000-0000-000000000000';

interface Example {
  parameters: Record<string, string>;
  responses: Record<string, { body?: unknown }>;
}

const credential: TokenCredential = { getToken: async () => ({ token: 'example-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** An HttpClient (SDK clients) answering every request with `body`, recording what was asked. */
function answering(body: (req: PipelineRequest) => unknown, sent: PipelineRequest[]): HttpClient {
  return {
    async sendRequest(request): Promise<PipelineResponse> {
      sent.push(request);
      return {
        request,
        status: 200,
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        bodyAsText: JSON.stringify(body(request)),
      };
    },
  };
}

/** A pipeline (raw ARM calls) answering every request with `body`. */
function rawClient(body: unknown, sent: PipelineRequest[]): { pipeline: ReturnType<typeof createEmptyPipeline> } {
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy({
    name: 'example',
    async sendRequest(request) {
      sent.push(request);
      return { request, status: 200, headers: createHttpHeaders({ 'content-type': 'application/json' }), bodyAsText: JSON.stringify(body) };
    },
  });
  return { pipeline };
}

const apiVersionOf = (req: PipelineRequest) => new URL(req.url).searchParams.get('api-version');

describe('azure-rest-api-specs examples through the product readers', function () {
  const dir = defaultSpecExamplesDir(REPO_ROOT);
  const load = (key: keyof typeof SPEC_EXAMPLES): Example =>
    JSON.parse(fs.readFileSync(path.join(dir, SPEC_EXAMPLES[key]), 'utf8')) as Example;
  const ok = (e: Example) => e.responses['200'].body as Record<string, unknown>;

  before(function () {
    const missing = Object.values(SPEC_EXAMPLES).filter((p) => !fs.existsSync(path.join(dir, p)));
    if (missing.length) {
      console.log(
        `      skipped: ${missing.length} example(s) missing under ${dir}; put them there with node build/tools/specExamples.js <azure-rest-api-specs git dir> (or set SPEC_EXAMPLES_DIR)`,
      );
      this.skip();
    }
  });

  it('AKS 2024-10-01 ManagedClustersGet → authorized ranges: the eTag for If-Match, no access profile read as an unfiltered public server', async () => {
    const example = load('clusterForRanges');
    assert.strictEqual(example.parameters['api-version'], CLUSTER_API_VERSION, 'the example is for the api-version the task sends');
    const sent: PipelineRequest[] = [];
    const sdk = rawClient(ok(example), sent) as unknown as ContainerServiceClient;
    const clusterId = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1`;
    const ranges = new AuthorizedRangesClient(sdk, ARM, clusterId);
    const doc = await ranges.read();
    assert.strictEqual(doc.eTag, 'beywbwei');
    const store = authorizedRangesStore(ranges, 'clustername1', (err) => err as Error);
    const { rules } = await store.read();
    assert.deepStrictEqual(rules, { ipRules: [], tags: { archv2: '', tier: 'production' } });
    const target = await clusterTarget({
      sdk,
      resourceManagerUrl: ARM,
      subscriptionId: SUB,
      resourceGroup: 'rg1',
      clusterName: 'clustername1',
    });
    assert.strictEqual(target.endpoint, 'dnsprefix1-abcd1234.hcp.eastus.azmk8s.io');
    assert.strictEqual(await target.posture(), 'open', 'no apiServerAccessProfile: every network reaches the API server, nothing to add');
    assert.ok(sent.every((r) => apiVersionOf(r) === CLUSTER_API_VERSION));
  });

  it('AKS 2024-10-01 private cluster (PUT response without eTag) → refused as private; a write without an eTag is not sent', async () => {
    const example = load('privateClusterForRanges');
    assert.strictEqual(example.parameters['api-version'], CLUSTER_API_VERSION);
    const sent: PipelineRequest[] = [];
    const sdk = rawClient(ok(example), sent) as unknown as ContainerServiceClient;
    const target = await clusterTarget({
      sdk,
      resourceManagerUrl: ARM,
      subscriptionId: SUB,
      resourceGroup: 'rg1',
      clusterName: 'clustername1',
    });
    await assert.rejects(target.posture(), /\[AKS_PRIVATE_CLUSTER\]/);
    const ranges = new AuthorizedRangesClient(
      sdk,
      ARM,
      `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1`,
    );
    const doc = await ranges.read();
    assert.strictEqual(doc.eTag, undefined, 'the example carries no eTag: the spec does not promise one');
    await assert.rejects(ranges.write(doc, { ipRules: ['198.51.100.7/32'], tags: {} }), /\[AKS_NO_ETAG\]/);
    assert.ok(
      sent.every((r) => r.method === 'GET'),
      'nothing was written',
    );
  });

  it('AKS 2026-04-01 ManagedClustersGet through @azure/arm-containerservice → cluster facts: public, no Entra, local accounts on', async () => {
    const example = load('clusterForFacts');
    const sent: PipelineRequest[] = [];
    const client = new ContainerServiceClient(credential, SUB, { endpoint: ARM, httpClient: answering(() => ok(example), sent) });
    const cluster = await client.managedClusters.get('rg1', 'clustername1');
    assert.strictEqual(apiVersionOf(sent[0]), example.parameters['api-version'], 'the example is for the api-version the SDK sends');
    const facts = clusterFactsOf(cluster, { subscriptionId: SUB, resourceGroup: 'rg1' });
    assert.deepStrictEqual(facts, {
      id: `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1`,
      name: 'clustername1',
      resourceGroup: 'rg1',
      subscriptionId: SUB,
      location: 'location1',
      kubernetesVersion: '1.9.6',
      privateCluster: false,
      privateFqdn: undefined,
      publicFqdn: 'dnsprefix1-abcd1234.hcp.eastus.azmk8s.io',
      apiServerHost: 'dnsprefix1-abcd1234.hcp.eastus.azmk8s.io',
      entraIntegration: false,
      // The example has no aadProfile: not an AKS-managed Entra ID cluster (run command sends it no token).
      entraManaged: false,
      azureRbac: false,
      localAccountsDisabled: false,
      runCommandDisabled: false,
      authorizedIpRanges: [],
    });
  });

  it('ACR 2019-05-01 RegistryGet → the network rule set: absent on a Standard registry, read as empty, tags kept', async () => {
    const example = load('registryNetwork');
    assert.strictEqual(example.parameters['api-version'], NETWORK_API_VERSION);
    const sent: PipelineRequest[] = [];
    const sdk = rawClient(ok(example), sent) as unknown as ContainerRegistryManagementClient;
    const state = await new RegistryNetworkClient(
      sdk,
      ARM,
      `/subscriptions/${SUB}/resourceGroups/myResourceGroup/providers/Microsoft.ContainerRegistry/registries/myRegistry`,
    ).read();
    assert.deepStrictEqual(
      {
        sku: state.sku,
        loginServer: state.loginServer,
        tags: state.tags,
        ips: ipRuleValues(state),
        vnet: state.networkRuleSet.virtualNetworkRules,
      },
      { sku: 'Standard', loginServer: 'myregistry.azurecr.io', tags: { key: 'value' }, ips: [], vnet: [] },
    );
    assert.strictEqual(apiVersionOf(sent[0]), NETWORK_API_VERSION);
  });

  it('ACR 2025-11-01 RegistryGet + RegistryListUsages through @azure/arm-containerregistry → Standard refused with the reason; no IPRules usage tolerated', async () => {
    const get = load('registry');
    const usages = load('registryUsages');
    const sent: PipelineRequest[] = [];
    const sdk = new ContainerRegistryManagementClient(credential, SUB, {
      endpoint: ARM,
      httpClient: answering((req) => ok(/\/listUsages/i.test(req.url) ? usages : get), sent),
    });
    const target = await registryTarget({
      sdk,
      resourceManagerUrl: ARM,
      subscriptionId: SUB,
      resourceGroup: 'myResourceGroup',
      registryName: 'myRegistry',
      allowEnablingSelectedNetworks: false,
    });
    assert.strictEqual(target.endpoint, 'myRegistry.azurecr.io');
    await assert.rejects(target.posture(), /\[ACR_SKU_NOT_PREMIUM\].*Standard SKU/);
    await target.beforeAdd!(1); // the example lists Size and Webhooks only: no quota known, nothing refused
    assert.deepStrictEqual(sent.map(apiVersionOf), [get.parameters['api-version'], usages.parameters['api-version']]);
  });

  it('Authorization 2022-04-01 GetRoleDefinitionById through @azure/arm-authorization → permissions evaluated per entry', async () => {
    const example = load('roleDefinition');
    const sent: PipelineRequest[] = [];
    const client = new AuthorizationManagementClient(credential, SUB, { endpoint: ARM, httpClient: answering(() => ok(example), sent) });
    const definition = await client.roleDefinitions.getById(
      '/subscriptions/subID/providers/Microsoft.Authorization/roleDefinitions/roleDefinitionId',
    );
    assert.strictEqual(apiVersionOf(sent[0]), example.parameters['api-version']);
    assert.strictEqual(definition.roleName, 'Role name');
    assert.strictEqual(evaluatePermission(definition.permissions ?? [], 'action', 'action').allowed, true);
    assert.strictEqual(evaluatePermission(definition.permissions ?? [], 'dataAction', 'dataAction').allowed, true);
    assert.strictEqual(
      evaluatePermission(definition.permissions ?? [], 'Microsoft.ContainerRegistry/registries/pull/read', 'action').allowed,
      false,
    );
  });
});
