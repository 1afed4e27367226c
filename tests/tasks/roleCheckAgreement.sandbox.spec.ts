import * as assert from 'assert';
import * as path from 'path';
import * as fs from 'fs';
import { startSandbox, type Sandbox } from '../sandbox';
import { INTENT_NAMES, type IntentName } from '../../shared/azure/rbac/intents';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runTask, type TaskName, type TaskRun } from '../support/taskRun';

/**
 * ServiceConnectionRoleCheck and the tasks agree: for each intent, a principal that holds nothing
 * asks the role check what it needs, gets exactly the roles the check recommends (read from its
 * `az role assignment create` lines), passes the check, and then runs the task the intent serves,
 * which must succeed. A negative control drops one recommended role and expects the task's code.
 */
describe('Role check recommendations are enough for the task each intent serves', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  const runs: TaskRun[] = [];
  const EGRESS = '203.0.113.77';

  interface Served {
    /** The intents the check is asked about (route auto needs two). */
    intents: string;
    principal: string;
    task: TaskName;
    inputs: Record<string, string>;
    /** Which side of the VNet the agent sits on. */
    inside: boolean;
    /** The role check's inputs that name the resources. */
    checkInputs: Record<string, string>;
    /** The negative control: this recommended role dropped, the task fails with this code. */
    drop: { role: string; code: string; message?: RegExp };
  }

  const JOB_ENV = {
    SYSTEM_PLANID: 'a1b2c3d4-0000-4000-8000-000000000002',
    SYSTEM_JOBID: 'job-agree',
    SYSTEM_TASKINSTANCEID: '5e6f7a8b-0000-4000-8000-00000000000b',
    SYSTEM_JOBATTEMPT: '1',
  };
  const explicitIp = { action: 'add', ipSource: 'explicit', ipAddresses: EGRESS, waitForAccess: 'false' };

  const TABLE: Served[] = [
    {
      intents: 'deploy',
      principal: 'p-deploy',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { ...DEPLOY_INPUTS, route: 'direct' },
      checkInputs: { clusterName: 'aks-prod' },
      drop: { role: 'Azure Kubernetes Service Cluster User Role', code: 'ARM_AUTHORIZATION_FAILED' },
    },
    {
      intents: 'deployRunCommand',
      principal: 'p-runcmd',
      task: 'PrivateAksDeployV1',
      inside: false,
      inputs: { ...DEPLOY_INPUTS, route: 'runCommand' },
      checkInputs: { clusterName: 'aks-prod' },
      drop: {
        role: 'Reader',
        code: 'ARM_AUTHORIZATION_FAILED',
        message: /custom role with just Microsoft\.ContainerService\/managedClusters\/runcommand\/action and .*commandResults\/read/,
      },
    },
    {
      // route auto tries direct first (the cluster user credential for the line-of-sight check), then run command.
      intents: 'deploy,deployRunCommand',
      principal: 'p-auto',
      task: 'PrivateAksDeployV1',
      inside: false,
      inputs: { ...DEPLOY_INPUTS, route: 'auto' },
      checkInputs: { clusterName: 'aks-prod' },
      drop: { role: 'Azure Kubernetes Service Cluster User Role', code: 'ARM_AUTHORIZATION_FAILED', message: /listClusterUserCredential/ },
    },
    {
      intents: 'adminCredentials',
      principal: 'p-admin',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { ...DEPLOY_INPUTS, clusterName: 'aks-local', route: 'direct', useAdminCredentials: 'true' },
      checkInputs: { clusterName: 'aks-local' },
      drop: { role: 'Azure Kubernetes Service Cluster Admin Role', code: 'ARM_AUTHORIZATION_FAILED' },
    },
    {
      intents: 'acrNetworkRules',
      principal: 'p-acrrules',
      task: 'AcrNetworkRuleSyncV1',
      inside: false,
      inputs: { targetType: 'registry', resourceGroupName: 'rg-aks', registryName: 'acrrules', ...explicitIp },
      checkInputs: { clusterName: '', registryName: 'acrrules' },
      drop: { role: 'Container Registry Contributor and Data Access Configuration Administrator', code: 'ARM_AUTHORIZATION_FAILED' },
    },
    {
      intents: 'aksAuthorizedIpRanges',
      principal: 'p-aksranges',
      task: 'AcrNetworkRuleSyncV1',
      inside: false,
      inputs: { targetType: 'aksAuthorizedIpRanges', resourceGroupName: 'rg-aks', clusterName: 'aks-public', ...explicitIp },
      checkInputs: { clusterName: 'aks-public' },
      drop: { role: 'Azure Kubernetes Service Contributor Role', code: 'ARM_AUTHORIZATION_FAILED' },
    },
  ];
  /** Intents no task of this extension serves: the pipeline's own docker or buildah steps pull and push. */
  const SERVED_ELSEWHERE: IntentName[] = ['acrPull', 'acrPush'];

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [...TABLE.map((t) => ({ name: t.principal })), { name: 'p-noaad' }, { name: 'p-aadrun' }, { name: 'p-norun' }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: [
          { principal: 'p-noaad', role: RUN_COMMAND_INVOKER.name, scope: 'cluster:aks-noaad' },
          { principal: 'p-noaad', role: 'Reader', scope: 'cluster:aks-noaad' },
          { principal: 'p-aadrun', role: RUN_COMMAND_INVOKER.name, scope: 'cluster:aks-prod' },
          { principal: 'p-aadrun', role: 'Reader', scope: 'cluster:aks-prod' },
          { principal: 'p-aadrun', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'p-norun', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'p-norun', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
        ],
        clusters: [
          DEPLOY_CLUSTER,
          {
            name: 'aks-local',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: false,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
          { name: 'aks-public', resourceGroup: 'rg-aks', private: false, authorizedIpRanges: ['198.51.100.0/24'] },
          // Without Entra ID integration: its run command pod uses the cluster's own credential.
          {
            name: 'aks-noaad',
            resourceGroup: 'rg-aks',
            private: true,
            aad: null,
            disableLocalAccounts: false,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
        ],
        registries: [{ name: 'acrrules', resourceGroup: 'rg-aks', defaultAction: 'Deny', ipRules: ['198.51.100.0/24'] }],
        network: { agentEgressIp: EGRESS },
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: the private network needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
    writeDemoManifests(sandbox);
  });

  after(async () => {
    if (!sandbox?.network) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  async function run(task: TaskName, principal: string, inputs: Record<string, string>, inside: boolean): Promise<TaskRun> {
    const tempDirectory = path.join(sandbox.tempDir, 'agent', '_work', '_temp');
    fs.mkdirSync(tempDirectory, { recursive: true });
    const env = sandboxJobEnv(sandbox, {
      connectionId: `sc-${principal}`,
      scheme: 'ServicePrincipalSecret',
      principal,
      inputs,
      extraEnv: JOB_ENV,
    });
    const network = sandbox.network!;
    const r = await runTask(task, env, { wrap: (c, a) => network.spawnArgs(inside, c, a), timeoutMs: 120_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `${task} hung:\n${r.stdout}`);
    return r;
  }

  const check = (t: Served) =>
    run(
      'ServiceConnectionRoleCheckV1',
      t.principal,
      { resourceGroupName: 'rg-aks', namespace: 'web', intents: t.intents, checkHardening: 'false', failOn: 'never', ...t.checkInputs },
      false,
    );

  /** The role check's recommendation: each `az role assignment create` line it printed. */
  function recommended(r: TaskRun): { role: string; scope: string }[] {
    return r.lines
      .map((l) => /az role assignment create .* --role "([^"]+)" --scope (\S+)/.exec(l))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => ({ role: m[1], scope: m[2] }));
  }

  it('covers every intent', () => {
    assert.deepStrictEqual(
      [...new Set([...TABLE.flatMap((t) => t.intents.split(',')), ...SERVED_ELSEWHERE])].sort(),
      [...INTENT_NAMES].sort(),
    );
  });

  for (const t of TABLE) {
    it(`${t.intents}: exactly the recommended roles run ${t.task} (${JSON.stringify(t.inputs.route ?? t.inputs.targetType)}); one role fewer fails with ${t.drop.code}`, async () => {
      const before = await check(t);
      assert.strictEqual(before.result, 'Succeeded', before.stdout);
      const roles = recommended(before);
      assert.ok(roles.length > 0, `no recommendation:\n${before.stdout}`);
      const state = sandbox.azure.state;
      const principalId = sandbox.principal(t.principal).objectId;
      const assignments = roles.map((a) =>
        state.addRoleAssignment({ principalId, roleDefinitionGuid: state.findRoleDefinition(a.role)!.id, scope: a.scope }),
      );

      const after = await check(t);
      assert.strictEqual(after.outputs.missingPermissionCount, '0', after.stdout);

      const served = await run(t.task, t.principal, t.inputs, t.inside);
      assert.strictEqual(
        served.result,
        'Succeeded',
        `roles ${roles.map((a) => a.role).join(', ')}:\n${served.resultMessage}\n${served.stdout}`,
      );

      const dropped = assignments.find((a) => a.properties.roleDefinitionId.endsWith(state.findRoleDefinition(t.drop.role)!.id));
      assert.ok(dropped, `${t.drop.role} was not recommended: ${roles.map((a) => a.role).join(', ')}`);
      state.roleAssignments.splice(state.roleAssignments.indexOf(dropped!), 1);
      // Another address, so that a rule sync has something to write.
      const fewer = await run(
        t.task,
        t.principal,
        t.inputs.ipAddresses ? { ...t.inputs, ipAddresses: '203.0.113.78' } : t.inputs,
        t.inside,
      );
      assert.strictEqual(fewer.result, 'Failed', fewer.stdout);
      assert.ok(fewer.resultMessage?.includes(`[${t.drop.code}]`), `expected ${t.drop.code}: ${fewer.resultMessage}`);
      if (t.drop.message) assert.match(fewer.resultMessage!, t.drop.message);
    });
  }

  describe('run command, as az aks command invoke does it', () => {
    const runCommandRequests = () =>
      sandbox.requests.filter((e) => e.service === 'arm' && e.method === 'POST' && /\/runCommand$/i.test(e.path));

    it('sends no Entra token with the command to a cluster without AKS-managed Entra ID, and deploys', async () => {
      const seen = runCommandRequests().length;
      const r = await run('PrivateAksDeployV1', 'p-noaad', { ...DEPLOY_INPUTS, clusterName: 'aks-noaad', route: 'runCommand' }, false);
      assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.stdout}`);
      const sent = runCommandRequests().slice(seen);
      assert.strictEqual(sent.length, 1);
      assert.strictEqual(sent[0].note?.clusterToken, 'none', 'a clusterToken went to a cluster that does not use it');
    });

    it('sends the Entra token to a cluster with AKS-managed Entra ID', async () => {
      const seen = runCommandRequests().length;
      const r = await run('PrivateAksDeployV1', 'p-aadrun', { ...DEPLOY_INPUTS, route: 'runCommand' }, false);
      assert.strictEqual(runCommandRequests().slice(seen)[0]?.note?.clusterToken, 'sent', r.stdout);
    });

    it('a 403 names the two run command actions and the narrow roles, not Contributor', async () => {
      const r = await run('PrivateAksDeployV1', 'p-norun', { ...DEPLOY_INPUTS, route: 'runCommand' }, false);
      assert.strictEqual(r.result, 'Failed', r.stdout);
      assert.match(r.resultMessage!, /\[ARM_AUTHORIZATION_FAILED\]/);
      assert.match(
        r.resultMessage!,
        /Assign a custom role with just Microsoft\.ContainerService\/managedClusters\/runcommand\/action and Microsoft\.ContainerService\/managedClusters\/commandResults\/read at the cluster/,
      );
      assert.match(
        r.resultMessage!,
        /--role "Azure Kubernetes Service Cluster Admin Role" --scope \S+\/managedClusters\/aks-prod && az role assignment create .* --role "Reader" --scope \S+\/managedClusters\/aks-prod/,
      );
      assert.doesNotMatch(r.resultMessage!, /"Contributor"/);
    });
  });
});
