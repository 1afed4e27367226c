import * as assert from 'assert';
import { randomUUID } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { ALL_SCHEMES, SCHEME_PRINCIPAL } from '../support/agentEnvironment';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { ALL_TASKS, runTask, type TaskName } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

/**
 * One token request per scope a run uses: every part of a task (sign-in, the Azure SDK clients,
 * raw ARM calls, run command's cluster token) shares the connection credential's cache. The Azure
 * SDK asks with CAE enabled, which @azure/identity caches apart from plain requests; a task that
 * mixed the two asked Entra twice for the same Resource Manager token.
 */
describe('tasks ask Entra ID (or IMDS) once per scope', function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  const WIF = randomUUID();
  const principalFor = SCHEME_PRINCIPAL;

  before(async () => {
    sandbox = await startSandbox({
      principals: [
        { name: 'wif', federated: [{ subject: 'sc://contoso/web/prod-wif' }] },
        { name: 'secret' },
        { name: 'cert', certificate: true },
        { name: 'msi', managedIdentity: true, systemAssigned: true },
      ],
      serviceConnections: [{ id: WIF, name: 'prod-wif', principal: 'wif' }],
      azureDevOps: { organization: 'contoso', projectName: 'web' },
      groups: [{ name: 'deployers', members: ['wif', 'secret', 'cert', 'msi'] }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [...deployerAssignments('deployers'), { principal: 'deployers', role: 'Reader', scope: 'registry:contosoprod' }],
      clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', namespaces: ['web'], rolloutDelaySeconds: 0 }],
      registries: [{ name: 'contosoprod', resourceGroup: 'rg-aks', defaultAction: 'Allow' }],
    });
    writeDemoManifests(sandbox);
  });

  after(async () => {
    await sandbox?.stop();
  });

  const inputsFor: Record<TaskName, Record<string, string>> = {
    PrivateAksDeployV1: { ...DEPLOY_INPUTS, route: 'runCommand' },
    AcrNetworkRuleSyncV1: {
      targetType: 'registry',
      resourceGroupName: 'rg-aks',
      registryName: 'contosoprod',
      ipSource: 'explicit',
      ipAddresses: '203.0.113.9',
      waitForAccess: 'false',
    },
    ServiceConnectionRoleCheckV1: {
      resourceGroupName: 'rg-aks',
      clusterName: 'aks-prod',
      registryName: 'contosoprod',
      namespace: 'web',
      intents: 'deploy',
      failOn: 'never',
    },
  };

  for (const scheme of ALL_SCHEMES) {
    for (const task of ALL_TASKS) {
      it(`${task} with ${scheme}`, async () => {
        const before = sandbox.requests.length;
        const connectionId = scheme === 'WorkloadIdentityFederation' ? WIF : `sc-${scheme}`;
        const r = await runTask(
          task,
          sandboxJobEnv(sandbox, { connectionId, scheme, principal: principalFor[scheme], inputs: inputsFor[task] }),
        );
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        // Tokens issued, by audience: Entra's token endpoint, or IMDS for a managed identity.
        const issued = sandbox.requests
          .slice(before)
          .filter((q) => (q.service === 'entra' || q.service === 'imds') && q.status === 200 && q.note?.resource);
        const perResource = new Map<string, number>();
        for (const q of issued) perResource.set(q.note!.resource, (perResource.get(q.note!.resource) ?? 0) + 1);
        assert.ok(perResource.size > 0, 'the run asked for no token at all');
        for (const [resource, count] of perResource) assert.strictEqual(count, 1, `${count} token requests for ${resource}`);
      });
    }
  }
});
