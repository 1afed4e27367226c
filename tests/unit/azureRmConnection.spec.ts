import * as assert from 'assert';
import { subscriptionOf } from '../../shared/azure/connection/azureRmConnection';
import { ExplainedError } from '../../shared/pipeline/explainedError';

// The connection's subscription, one refusal for every task when it names none (scopeLevel
// ManagementGroup or AzureMLWorkspace: the agent hands no subscriptionId then).

describe('azureRmConnection: the subscription a task looks in', () => {
  it("is the connection's subscription when it names one", () => {
    assert.strictEqual(subscriptionOf({ subscriptionId: '00000000-0000-0000-0000-000000000001' }), '00000000-0000-0000-0000-000000000001');
  });

  for (const subscriptionId of [undefined, '']) {
    it(`a connection with subscriptionId ${JSON.stringify(subscriptionId)} is refused as NO_SUBSCRIPTION, saying what to use`, () => {
      assert.throws(
        () => subscriptionOf({ subscriptionId }),
        (err: unknown) =>
          err instanceof ExplainedError &&
          err.code === 'NO_SUBSCRIPTION' &&
          err.what === 'Reading the service connection' &&
          /not scoped to a subscription \(management group or workspace level\)/.test(err.reason) &&
          /scoped to the subscription that holds the cluster or registry/.test(err.fix),
      );
    });
  }
});
