import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { startSandbox, type Sandbox } from '../sandbox';
import { PrivateNetwork } from '../sandbox/network/network';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { dockerRegistryConnectionEnv } from '../support/agentEnvironment';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { REPO_ROOT, runPostJobStep, runTask, type TaskName, type TaskRun } from '../support/taskRun';

/** A step of one of our tasks in a YAML example of the docs, with exactly the inputs it shows. */
interface DocsStep {
  where: string;
  task: TaskName;
  inputs: Record<string, string>;
}

const TASKS: Record<string, TaskName> = {
  'PrivateAksDeploy@1': 'PrivateAksDeployV1',
  'AcrNetworkRuleSync@1': 'AcrNetworkRuleSyncV1',
  'ServiceConnectionRoleCheck@1': 'ServiceConnectionRoleCheckV1',
};

/** Every ```yaml block of the Marketplace page and the README, and the steps of our tasks in it. */
function docsSteps(): DocsStep[] {
  const steps: DocsStep[] = [];
  for (const file of ['overview.md', 'README.md']) {
    const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
    let n = 0;
    for (const block of text.matchAll(/```ya?ml\n([\s\S]*?)```/g)) {
      n++;
      const doc: unknown = parse(block[1]);
      const list = Array.isArray(doc) ? doc : ((doc as { steps?: unknown[] })?.steps ?? []);
      for (const step of list as Array<{ task?: string; inputs?: Record<string, unknown> }>) {
        if (!step?.task) continue;
        const task = TASKS[step.task];
        assert.ok(task, `${file}, YAML example ${n}: unknown task ${step.task}`);
        const inputs = Object.fromEntries(Object.entries(step.inputs ?? {}).map(([k, v]) => [k, String(v)]));
        steps.push({ where: `${file}, YAML example ${n}`, task, inputs });
      }
    }
  }
  return steps;
}

/**
 * The docs' YAML examples run as written, through the agent harness (task.json defaults, the
 * `azureSubscription` alias, `$(Build.BuildId)` expanded, the post-job step), against a sandbox
 * holding the resources they name: what a user copies from the Marketplace page works.
 */
describe('the YAML examples of overview.md and README.md', function () {
  this.timeout(180_000);
  const steps = docsSteps();
  const BUILD_ID = '4711';
  const EGRESS = '203.0.113.41';
  const DB_PASSWORD = 'db-password-from-a-secret-variable';
  const DOCKER_PASSWORD = 'docker-hub-access-token-0123456789';
  let sandbox: Sandbox;
  let proxy: RecordingProxy;
  const runs: TaskRun[] = [];

  it('are found: one for each task', () => {
    assert.deepStrictEqual([...new Set(steps.map((s) => s.task))].sort(), Object.values(TASKS).sort());
  });

  before(async function () {
    const availability = await PrivateNetwork.available();
    if (!availability.ok) {
      console.log(`      skipped: the deploy example runs inside the VNet, which needs network namespaces (${availability.reason})`);
      this.skip();
    }
    // The names the examples use. Roles: what ServiceConnectionRoleCheck recommends for the examples'
    // intents (deploy, acrPush) and AcrNetworkRuleSync's (acrNetworkRules), as overview.md's table lists them.
    sandbox = await startSandbox(
      {
        principals: [{ name: 'pipeline' }],
        roleAssignments: [
          { principal: 'pipeline', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-private' },
          { principal: 'pipeline', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-private/namespaces/web' },
          { principal: 'pipeline', role: 'AcrPush', scope: 'registry:myregistry' },
          {
            principal: 'pipeline',
            role: 'Container Registry Contributor and Data Access Configuration Administrator',
            scope: 'registry:myregistry',
          },
        ],
        clusters: [
          {
            name: 'aks-private',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
        ],
        registries: [{ name: 'myregistry', resourceGroup: 'rg-aks', defaultAction: 'Deny', firewallPropagationSeconds: 0 }],
        network: { agentEgressIp: EGRESS },
      },
      { privateNetwork: true },
    );
    // The example's manifests/*.yaml, in the sources folder; its image is the one `containers` pins.
    const manifests = path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'manifests');
    fs.mkdirSync(manifests, { recursive: true });
    fs.writeFileSync(
      path.join(manifests, 'web.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: { app: web }\n  template:\n    metadata:\n      labels: { app: web }\n    spec:\n      containers:\n        - name: web\n          image: myregistry.azurecr.io/shop/web:latest\n',
    );
    // The registry's public login server, reached through the agent's proxy (as a Microsoft-hosted agent would).
    proxy = await startRecordingProxy({
      hosts: { 'myregistry.azurecr.io:443': { host: '127.0.0.1', port: sandbox.azure.registries.get('myregistry')!.port } },
    });
  });

  after(async () => {
    await proxy?.close();
    await sandbox?.stop();
  });

  function env(step: DocsStep) {
    return sandboxJobEnv(sandbox, {
      // In YAML, azureSubscription names the connection; the service resolves the name to its id
      // before the job reaches the agent. Here the sandbox connection's id is that name.
      connectionId: step.inputs.azureSubscription,
      scheme: 'ServicePrincipalSecret',
      principal: 'pipeline',
      inputs: step.inputs,
      variables: {
        'Build.BuildId': BUILD_ID,
        'System.JobId': `docs-${step.task}`,
        'System.PlanId': 'a1b2c3d4-0000-4000-8000-0000000000d0',
      },
      ...(step.task === 'AcrNetworkRuleSyncV1' ? { proxyUrl: proxy.url, proxyBypassList: ['^https?://127\\.0\\.0\\.1'] } : {}),
      // The secret variable and the Docker registry connection the secret examples name.
      secretVariables: { dbPassword: DB_PASSWORD },
      extraEnv: step.inputs.dockerRegistryEndpoint
        ? dockerRegistryConnectionEnv({
            id: step.inputs.dockerRegistryEndpoint,
            kind: 'others',
            registry: 'https://index.docker.io/v1/',
            username: 'contoso',
            password: DOCKER_PASSWORD,
          })
        : undefined,
    });
  }

  for (const step of steps) {
    it(`${step.where}: ${step.task} with ${Object.keys(step.inputs).join(', ')}`, async () => {
      const jobEnv = env(step);
      // The deploy example assumes line of sight to the private cluster: an agent inside its VNet.
      const wrap = step.task === 'PrivateAksDeployV1' ? (c: string, a: string[]) => sandbox.network!.spawnArgs(true, c, a) : undefined;
      const stored = () => JSON.stringify(sandbox.azure.clusters.get('aks-private')!.store.get('Deployment', 'web', 'web')?.spec);
      const before = stored();
      const main = await runTask(step.task, jobEnv, { wrap, timeoutMs: 120_000 });
      // A preview changes nothing, and says what it would change.
      if (step.inputs.action === 'preview') {
        assert.strictEqual(stored(), before, 'the preview changed the cluster');
        assert.ok(
          main.lines.some((l) => /^Preview of \d+ object\(s\) on aks-private .* Nothing was applied\.$/.test(l)),
          main.stdout,
        );
      }
      runs.push(main);
      assert.strictEqual(main.result, 'Succeeded', `${main.resultMessage}\n${main.lines.slice(-20).join('\n')}`);
      const post = await runPostJobStep(step.task, jobEnv, main);
      if (post) assert.strictEqual(post.result, 'Succeeded', `post-job: ${post.resultMessage}\n${post.lines.slice(-20).join('\n')}`);

      if (step.task === 'PrivateAksDeployV1' && step.inputs.action === 'delete') {
        // action: delete removed what the manifests define.
        assert.strictEqual(sandbox.azure.clusters.get('aks-private')!.store.get('Deployment', 'web', 'web'), undefined);
        assert.deepStrictEqual(JSON.parse(main.outputs.deletedObjects), [{ kind: 'Deployment', namespace: 'web', name: 'web' }]);
      } else if (step.task === 'PrivateAksDeployV1') {
        // `containers` with $(Build.BuildId) expanded by the agent pinned the image.
        const deployment = sandbox.azure.clusters.get('aks-private')!.store.get('Deployment', 'web', 'web') as
          { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
        assert.strictEqual(deployment?.spec.template.spec.containers[0].image, `myregistry.azurecr.io/shop/web:${BUILD_ID}`);
        // A secret example's Secret is in the cluster, with the value the connection or secret variable gave.
        if (step.inputs.secretName) {
          const secret = sandbox.azure.clusters.get('aks-private')!.store.get('Secret', 'web', step.inputs.secretName) as
            { data: Record<string, string> } | undefined;
          const data = Object.values(secret?.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
          const expected = step.inputs.secretType === 'generic' ? DB_PASSWORD : DOCKER_PASSWORD;
          assert.ok(
            data.some((d) => d.includes(expected)),
            `${step.inputs.secretName} holds the value`,
          );
        }
      }
      if (step.task === 'AcrNetworkRuleSyncV1') {
        assert.strictEqual(main.outputs.agentIp, EGRESS);
        // Removed again by the post-job step: the registry as the example found it.
        assert.deepStrictEqual(sandbox.azure.state.findRegistry('myregistry', 'rg-aks')!.network.ipRules, []);
      }
    });
  }
});
