import * as assert from 'assert';
import { clusterResourceId, clusterTargetOf, type ClusterSelector } from '../../shared/azure/aks/clusterAccess';
import { ExplainedError } from '../../shared/pipeline/explainedError';

const SUB = '11111111-2222-3333-4444-555555555555';
const OTHER_SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

/**
 * The pure part of clusterAccess: where the cluster a task's inputs name is. (Reading the inputs is
 * each task's inputs.ts: privateAksDeployInputs.spec; ClusterAccess itself calls Resource Manager: sandbox specs.)
 */
describe('clusterAccess: where the named cluster is', () => {
  const cases: {
    name: string;
    cluster: ClusterSelector;
    subscription?: string;
    target?: { subscriptionId: string; resourceGroup: string; name: string };
  }[] = [
    {
      name: "resource group and name: in the connection's subscription",
      cluster: { resourceGroup: 'rg-web', name: 'aks1' },
      subscription: SUB,
      target: { subscriptionId: SUB, resourceGroup: 'rg-web', name: 'aks1' },
    },
    {
      name: "a resource id names its own subscription, whatever the connection's",
      cluster: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
      subscription: SUB,
      target: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
    },
    {
      name: 'a resource id works for a connection scoped to a management group (no subscription)',
      cluster: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
      target: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
    },
    {
      name: 'resource group and name without a subscription: refused, pointing at the resource id',
      cluster: { resourceGroup: 'rg-web', name: 'aks1' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.target) {
        assert.deepStrictEqual(clusterTargetOf(c.cluster, c.subscription), c.target);
        return;
      }
      assert.throws(
        () => clusterTargetOf(c.cluster, c.subscription),
        (err: unknown) =>
          err instanceof ExplainedError &&
          err.code === 'NO_SUBSCRIPTION' &&
          /not scoped to a subscription/.test(err.reason) &&
          /resourceId/.test(err.fix),
      );
    });
  }

  it("clusterResourceId is the managed cluster's ARM id", () => {
    assert.strictEqual(
      clusterResourceId({ subscriptionId: SUB, resourceGroup: 'rg-web', name: 'aks1' }),
      `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.ContainerService/managedClusters/aks1`,
    );
  });
});
