import * as assert from 'assert';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { clusterResourceId, clusterTargetFromInputs } from '../../shared/azure/aks/clusterAccess';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { taskInputsEnv } from '../support/agentEnvironment';

/** The inputs as the agent hands them over (INPUT_<NAME>, loaded into task-lib's vault: node/internal.ts _loadData). */
function asTheAgent(inputs: Record<string, string>): void {
  Object.assign(process.env, taskInputsEnv(inputs));
  taskLibInternal._loadData();
}

const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
const SUB = '11111111-2222-3333-4444-555555555555';
const OTHER_SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

/** The pure part of clusterAccess: which cluster the inputs name. (ClusterAccess itself calls Resource Manager: sandbox specs.) */
describe('clusterAccess: the cluster the inputs name', () => {
  before(() => tl.setStdStream(quiet));
  after(() => {
    taskLibInternal._loadData();
    tl.setStdStream(process.stdout);
  });

  const cases: {
    name: string;
    inputs: Record<string, string>;
    subscription?: string;
    target?: { subscriptionId: string; resourceGroup: string; name: string };
    refused?: { code: string; reason: RegExp };
  }[] = [
    {
      name: "resource group and name, in the connection's subscription (clusterSpecifiedBy defaults to name)",
      inputs: { resourceGroupName: 'rg-web', clusterName: 'aks1' },
      subscription: SUB,
      target: { subscriptionId: SUB, resourceGroup: 'rg-web', name: 'aks1' },
    },
    {
      name: "a resource id names its own subscription, whatever the connection's",
      inputs: {
        clusterSpecifiedBy: 'resourceId',
        clusterResourceId: `/subscriptions/${OTHER_SUB}/resourceGroups/rg-2/providers/Microsoft.ContainerService/managedClusters/aks-2`,
      },
      subscription: SUB,
      target: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
    },
    {
      name: 'a resource id works for a connection scoped to a management group (no subscription)',
      inputs: {
        clusterSpecifiedBy: 'resourceId',
        clusterResourceId: `/subscriptions/${OTHER_SUB}/resourceGroups/rg-2/providers/Microsoft.ContainerService/managedClusters/aks-2`,
      },
      target: { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' },
    },
    {
      name: 'resource group and name without a subscription: refused, pointing at the resource id',
      inputs: { resourceGroupName: 'rg-web', clusterName: 'aks1' },
      refused: { code: 'NO_SUBSCRIPTION', reason: /not scoped to a subscription/ },
    },
    {
      name: "a registry's id where a cluster's is expected",
      inputs: {
        clusterSpecifiedBy: 'resourceId',
        clusterResourceId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1`,
      },
      subscription: SUB,
      refused: { code: 'INVALID_INPUT', reason: /./ },
    },
    {
      name: 'an empty cluster name',
      inputs: { resourceGroupName: 'rg-web' },
      subscription: SUB,
      refused: { code: 'INVALID_INPUT', reason: /^It is empty\.$/ },
    },
    {
      name: 'a cluster name with a shell metacharacter',
      inputs: { resourceGroupName: 'rg-web', clusterName: 'aks1;rm' },
      subscription: SUB,
      refused: { code: 'INVALID_INPUT', reason: /'aks1;rm'/ },
    },
    {
      name: 'a resource group ending in a period',
      inputs: { resourceGroupName: 'rg.', clusterName: 'aks1' },
      subscription: SUB,
      refused: { code: 'INVALID_INPUT', reason: /'rg\.'/ },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      asTheAgent(c.inputs);
      if (c.target) {
        assert.deepStrictEqual(clusterTargetFromInputs(c.subscription), c.target);
        return;
      }
      assert.throws(
        () => clusterTargetFromInputs(c.subscription),
        (err: unknown) => err instanceof ExplainedError && err.code === c.refused!.code && c.refused!.reason.test(err.reason),
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
