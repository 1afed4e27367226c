import * as assert from 'assert';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';

/**
 * A command that fails inside AKS run command fails the task. AKS reports the command's exit code
 * in the commandResults resource: `provisioningState: succeeded` with `exitCode` and `logs` when
 * the command ran, whatever its exit code (Azure/azure-rest-api-specs
 * specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2024-09-01/
 * managedClusters.json `CommandResultProperties`, examples/RunCommandRequest.json), and
 * `provisioningState: failed` with only a `reason` when it never ran (examples/RunCommandResultFailed.json).
 * az aks command invoke prints "finished at … with exitcode=N" for the first and the reason for the second
 * (Azure/azure-cli src/azure-cli/azure/cli/command_modules/acs/custom.py `_print_command_result`).
 */
describe('PrivateAksDeploy through AKS run command: a failing kubectl fails the task', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'deployer' }, { name: 'noDataRole' }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [
        ...deployerAssignments('deployer'),
        { principal: 'noDataRole', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
        { principal: 'noDataRole', role: RUN_COMMAND_INVOKER.name, scope: 'cluster:aks-prod' },
      ],
      clusters: [DEPLOY_CLUSTER],
    });
    writeDemoManifests(sandbox);
  });

  afterEach(() => sandbox.faults.clear());
  after(async () => sandbox?.stop());

  function deploy(principal: string): Promise<TaskRun> {
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal,
      inputs: { ...DEPLOY_INPUTS, route: 'runCommand' },
    });
    return runTask('PrivateAksDeployV1', env, { timeoutMs: 90_000 });
  }

  /** What the task must never say after a failed command: that it applied anything. */
  function assertNothingClaimed(r: TaskRun): void {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.notStrictEqual(r.exitCode, 0);
    assert.ok(!('appliedObjects' in r.outputs), 'appliedObjects set after a failed command');
    assert.ok(!('route' in r.outputs), 'route set after a failed command');
    assert.ok(!r.lines.some((l) => /^Applied \d+ object/.test(l)), 'the log says the objects were applied');
  }

  it('kubectl apply refused inside the command (exit 1): Failed, RUN_COMMAND_FAILED with the exit code', async () => {
    // A refusal no explanation knows (an admission webhook's denial is ADMISSION_DENIED: privateAksDeployPreview.sandbox.spec.ts).
    const body = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'settings are frozen',
      reason: 'BadRequest',
      code: 400,
    };
    for (const method of ['POST', 'PATCH'])
      sandbox.faults.inject('aks', { status: 400, method, pathIncludes: '/namespaces/web/configmaps', body, times: 5 });
    const r = await deploy('deployer');
    assertNothingClaimed(r);
    assert.match(r.resultMessage ?? '', /\[RUN_COMMAND_FAILED\]: The command exited with 1\./);
    assert.match(r.stdout, /\[run command\] .*settings are frozen/);
  });

  it('kubectl forbidden inside the command (no RBAC data role): Failed, explained as KUBECTL_FORBIDDEN', async () => {
    const r = await deploy('noDataRole');
    assertNothingClaimed(r);
    assert.match(r.resultMessage ?? '', /\[KUBECTL_FORBIDDEN\]/);
    assert.match(r.resultMessage ?? '', /Azure Kubernetes Service RBAC Writer/);
  });
});
