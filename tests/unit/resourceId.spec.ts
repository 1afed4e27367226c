import * as assert from 'assert';
import { parseResourceId, validateResourceGroupName, validateResourceName } from '../../shared/azure/arm/resourceId';

const SUB = '8f1c1f7e-6a3b-4c2d-9e8f-0a1b2c3d4e5f';
const CLUSTER = 'Microsoft.ContainerService/managedClusters' as const;

describe('resource ids and names', () => {
  it('parses a cluster id, case-insensitively, with a trailing slash', () => {
    const id = parseResourceId(
      'clusterResourceId',
      `/subscriptions/${SUB}/resourcegroups/rg-aks/providers/microsoft.containerservice/managedclusters/aks-prod/`,
      CLUSTER,
    );
    assert.deepStrictEqual({ s: id.subscriptionId, rg: id.resourceGroup, n: id.name }, { s: SUB, rg: 'rg-aks', n: 'aks-prod' });
  });

  const bad: [string, RegExp][] = [
    ['', /is not a resource id of the form/],
    ['aks-prod', /is not a resource id of the form/],
    [`/subscriptions/not-a-guid/resourceGroups/rg/providers/${CLUSTER}/aks`, /subscription id \(a GUID\)/],
    [
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr12345`,
      /names a Microsoft\.ContainerRegistry\/registries, not a Microsoft\.ContainerService\/managedClusters/,
    ],
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/${CLUSTER}/aks/agentPools/np1`, /is not a resource id of the form/],
    [`/subscriptions/${SUB}/resourceGroups/rg;rm -rf/providers/${CLUSTER}/aks`, /is not a resource group name/],
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/${CLUSTER}/aks$(whoami)`, /is not a valid AKS cluster name/],
    [`/subscriptions/${SUB}/resourceGroups/../providers/${CLUSTER}/aks`, /is not a resource group name/],
    // A malformed percent-escape made decodeURIComponent throw an unexplained URIError.
    [`/subscriptions/${SUB}/resourceGroups/rg%zz/providers/${CLUSTER}/aks`, /malformed percent-escape in the resource group 'rg%zz'/],
    [`/subscriptions/${SUB}/resourceGroups/rg%E0%A4%A/providers/${CLUSTER}/aks`, /malformed percent-escape/],
  ];
  for (const [value, message] of bad) {
    it(`refuses '${value}' naming the input`, () => {
      assert.throws(
        () => parseResourceId('clusterResourceId', value, CLUSTER),
        (e: Error) => {
          assert.match(e.message, /input 'clusterResourceId'/);
          assert.match(e.message, message);
          assert.match(e.message, /\[INVALID_INPUT\]/);
          return true;
        },
      );
    });
  }

  it('checks names as Azure does', () => {
    assert.strictEqual(validateResourceGroupName('resourceGroupName', 'rg-aks_prod.(eu)'), 'rg-aks_prod.(eu)');
    assert.throws(() => validateResourceGroupName('resourceGroupName', 'rg.'), /not ending in a period/);
    assert.strictEqual(validateResourceName('clusterName', 'cluster', 'aks_prod-1'), 'aks_prod-1');
    assert.throws(() => validateResourceName('clusterName', 'cluster', '-aks'), /input 'clusterName'/);
    assert.strictEqual(validateResourceName('registryName', 'registry', 'contosoprod'), 'contosoprod');
    assert.throws(() => validateResourceName('registryName', 'registry', 'contoso-prod'), /5-50 letters and digits/);
  });
});
