import * as assert from 'assert';
import type { DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { MARK } from '../../tasks/PrivateAksDeployV1/rollback';
import { stillRollingOut } from '../../tasks/PrivateAksDeployV1/runCommandRoute';

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
});
