import * as assert from 'assert';
import type { DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { MARK } from '../../tasks/PrivateAksDeployV1/rollback';
import { failedStage, stillRollingOut } from '../../tasks/PrivateAksDeployV1/runCommandRoute';
import { DRY_RUN_PASSED } from '../../tasks/PrivateAksDeployV1/runCommandScript';

const plan: DeployPlan = {
  objects: [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'b' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
  ],
  namespace: 'web',
  createNamespace: false,
  serverSideApply: false,
  waitForRollout: true,
  rolloutTimeoutSeconds: 60,
};

describe('runCommandRoute', () => {
  it('the rollout diagnosis is about the workloads the log does not mark rolled out, not every workload', () => {
    const logs = `deployment.apps/a configured\n${MARK.rolledOut} deployment/a web\nerror: deployment "b" exceeded its progress deadline\n`;
    assert.deepStrictEqual(
      stillRollingOut(plan, logs).map((w) => `${w.kind}/${w.name}`),
      ['Deployment/b'],
    );
  });

  it('which step failed, from the log: the dry run, or the namespace created before it, or the apply', () => {
    const dry = { ...plan, serverDryRunFirst: true };
    const announced = "serverDryRunFirst: creating the namespace 'web' first (a dry run of objects in it needs it to exist).";
    assert.strictEqual(failedStage(plan, 'anything'), 'apply');
    assert.strictEqual(failedStage(dry, 'Error from server (Forbidden): …'), 'dryRun');
    assert.strictEqual(failedStage(dry, `${announced}\nnamespace/web created\nError from server (Forbidden): …`), 'dryRun');
    assert.strictEqual(failedStage(dry, `${announced}\nError from server (Forbidden): namespaces is forbidden`), 'apply');
    assert.strictEqual(failedStage(dry, `${DRY_RUN_PASSED}\nError from server (Invalid): …`), 'apply');
  });
});
