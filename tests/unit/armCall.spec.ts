import * as assert from 'assert';
import { ARM_DEADLINE_MS, armCall, armRead } from '../../shared/azure/arm/armCall';
import type { ArmFailureContext } from '../../shared/azure/arm/armErrors';
import { ArmCallError } from '../../shared/azure/arm/rawArmCall';
import { DeadlineExceededError } from '../../shared/net/deadline';
import { ExplainedError } from '../../shared/pipeline/explainedError';

// One Resource Manager call through an SDK client: its deadline and its failures, all through the
// one ARM failure path (armErrors.explainArmCallFailure), whichever way the call failed.

const ctx: ArmFailureContext = {
  action: 'Microsoft.ContainerService/managedClusters/read',
  role: 'Azure Kubernetes Service Cluster User Role',
  scope: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1',
  principalObjectId: 'o-1',
  resourceLabel: "cluster 'aks1'",
};
const what = "Reading cluster 'aks1' from Resource Manager";

describe('armCall: one Resource Manager call, its deadline and its failures explained', () => {
  it('returns what the call gives, and hands it an abort signal', async () => {
    assert.strictEqual(await armCall(what, ctx, async (signal) => (signal instanceof AbortSignal ? 7 : 0)), 7);
  });

  it('an SDK RestError (403) is explained with the role assignment to create, the cause kept', async () => {
    const restError = Object.assign(new Error('denied'), { statusCode: 403, code: 'AuthorizationFailed' });
    await assert.rejects(
      armCall(what, ctx, async () => {
        throw restError;
      }),
      (err: unknown) =>
        err instanceof ExplainedError &&
        err.code === 'ARM_AUTHORIZATION_FAILED' &&
        err.what === what &&
        err.fix.includes('--role "Azure Kubernetes Service Cluster User Role"') &&
        err.cause === restError,
    );
  });

  it("a raw call's ArmCallError takes the same path", async () => {
    await assert.rejects(
      armCall(what, ctx, async () => {
        throw new ArmCallError({ statusCode: 404, code: 'ResourceNotFound', message: 'gone' });
      }),
      (err: unknown) => err instanceof ExplainedError && err.code === 'ARM_NOT_FOUND' && /cluster 'aks1' was not found/.test(err.reason),
    );
  });

  it('the deadline ends a call that never answers, as ARM_TIMEOUT', async () => {
    let aborted = false;
    await assert.rejects(
      armCall(
        what,
        ctx,
        (signal) =>
          new Promise(() => {
            signal.addEventListener('abort', () => (aborted = true));
          }),
        30,
      ),
      (err: unknown) =>
        err instanceof ExplainedError && err.code === 'ARM_TIMEOUT' && /did not answer within 0 s/.test(err.reason) && err.what === what,
    );
    assert.ok(aborted, 'the call was told to stop');
  });

  it("another step's deadline is ARM_TIMEOUT with its own length", async () => {
    await assert.rejects(
      armCall(what, ctx, async () => {
        throw new DeadlineExceededError('Reading', 120_000);
      }),
      (err: unknown) => err instanceof ExplainedError && err.code === 'ARM_TIMEOUT' && /within 120 s/.test(err.reason),
    );
  });

  it('no answer at all is ARM_UNREACHABLE; an ExplainedError goes through unchanged', async () => {
    await assert.rejects(
      armCall(what, ctx, async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
      }),
      (err: unknown) => err instanceof ExplainedError && err.code === 'ARM_UNREACHABLE' && /ECONNREFUSED/.test(err.reason),
    );
    const given = new ExplainedError({ what: 'w', reason: 'r', fix: 'f', code: 'ARM_FOREIGN_URL' });
    await assert.rejects(
      armCall(what, ctx, async () => {
        throw given;
      }),
      (err: unknown) => err === given,
    );
  });

  it('armRead labels the failure with the scope it asked at', async () => {
    assert.strictEqual(ARM_DEADLINE_MS, 60_000);
    await assert.rejects(
      armRead('Reading permissions', '/subscriptions/s/resourceGroups/rg', 'Microsoft.Authorization/permissions/read', 'o-1', async () => {
        throw Object.assign(new Error('nope'), { statusCode: 404, code: 'ResourceGroupNotFound' });
      }),
      (err: unknown) =>
        err instanceof ExplainedError &&
        err.code === 'ARM_NOT_FOUND' &&
        err.reason.startsWith('/subscriptions/s/resourceGroups/rg was not found'),
    );
  });
});
