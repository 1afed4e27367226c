import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { clusterTargetOf } from '../../shared/azure/aks/clusterAccess';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { readDeployInputs } from '../../tasks/PrivateAksDeployV1/inputs';
import { agentJobEnv, taskInputsEnv } from '../support/agentEnvironment';
import { agentInputsEnv } from '../support/agentStep';

const SUB = '11111111-2222-3333-4444-555555555555';
const OTHER_SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const CLUSTER = { resourceGroupName: 'rg-web', clusterName: 'aks1' };

/**
 * PrivateAksDeploy's inputs as the agent hands them over (every input of task.json, defaulted, filePath
 * inputs rooted: tests/support/agentStep.ts; INPUT_<NAME> loaded into task-lib's vault: node/internal.ts
 * _loadData), read by the task's one input reader.
 */
describe('PrivateAksDeploy inputs: one validated options object, each refusal naming its input', () => {
  let work: string;
  let given: string[] = [];
  function asTheAgent(inputs: Record<string, string>): void {
    for (const key of given) delete process.env[key];
    const env = agentInputsEnv('PrivateAksDeployV1', {
      ...agentJobEnv({ tempDirectory: path.join(work, '_temp'), workFolder: work, collectionUri: 'https://dev.azure.com/contoso/' }),
      ...taskInputsEnv(inputs),
    });
    given = Object.keys(env).filter((k) => !(k in process.env));
    Object.assign(process.env, env);
    taskLibInternal._loadData();
  }
  const refused = (code: string, input: string, reason: RegExp) => (err: unknown) =>
    err instanceof ExplainedError && err.code === code && err.what === `Reading the input '${input}'` && reason.test(err.reason);

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-inputs-'));
    fs.mkdirSync(path.join(work, '_temp'));
    tl.setStdStream(new Writable({ write: (_chunk, _encoding, done) => done() }));
  });
  after(() => {
    fs.rmSync(work, { recursive: true, force: true });
    for (const key of given) delete process.env[key];
    taskLibInternal._loadData();
    tl.setStdStream(process.stdout);
  });

  it("task.json's defaults: route auto, built-in credential helper, 10 s probes, rollout wait 300 s, no kustomization", () => {
    asTheAgent({ ...CLUSTER, manifests: 'k8s/*.yaml' });
    const o = readDeployInputs();
    assert.deepStrictEqual(
      {
        route: o.route,
        credentialHelper: o.credentialHelper,
        kubeloginMode: o.kubeloginMode,
        useAdmin: o.useAdmin,
        probeTimeoutMs: o.probeTimeoutMs,
        waitForRollout: o.waitForRollout,
        rolloutTimeoutSeconds: o.rolloutTimeoutSeconds,
        manifests: o.manifests,
        kustomizationPath: o.kustomizationPath,
        pruneSelector: o.pruneSelector,
        images: o.images,
        cluster: o.cluster,
      },
      {
        route: 'auto',
        credentialHelper: 'builtIn',
        kubeloginMode: 'azurepipelines',
        useAdmin: false,
        probeTimeoutMs: 10_000,
        waitForRollout: true,
        rolloutTimeoutSeconds: 300,
        manifests: ['k8s/*.yaml'],
        kustomizationPath: undefined,
        pruneSelector: undefined,
        images: [],
        cluster: { resourceGroup: 'rg-web', name: 'aks1' },
      },
    );
    assert.strictEqual(o.tempDir, path.join(work, '_temp'));
  });

  it('containers are parsed, prune takes its selector', () => {
    asTheAgent({ ...CLUSTER, manifests: 'k8s', containers: 'contoso.azurecr.io/shop:1.2', prune: 'true', pruneSelector: 'app=shop' });
    const o = readDeployInputs();
    assert.deepStrictEqual(
      o.images.map((i) => i.full),
      ['contoso.azurecr.io/shop:1.2'],
    );
    assert.strictEqual(o.pruneSelector, 'app=shop');
  });

  const refusals: { name: string; inputs: Record<string, string>; code: string; input: string; reason: RegExp }[] = [
    { name: 'neither manifests nor a kustomization', inputs: { ...CLUSTER }, code: 'NO_MANIFESTS', input: 'manifests', reason: /Neither/ },
    {
      name: 'prune without a selector',
      inputs: { ...CLUSTER, manifests: 'k8s', prune: 'true' },
      code: 'INVALID_INPUT',
      input: 'pruneSelector',
      reason: /empty/,
    },
    {
      name: 'a namespace that is no DNS label',
      inputs: { ...CLUSTER, manifests: 'k8s', namespace: 'Web_1' },
      code: 'INVALID_INPUT',
      input: 'namespace',
      reason: /Web_1/,
    },
    {
      name: 'an image reference with a shell metacharacter',
      inputs: { ...CLUSTER, manifests: 'k8s', containers: 'shop:1;rm' },
      code: 'INVALID_INPUT',
      input: 'containers',
      reason: /./,
    },
    {
      name: 'a route that does not exist',
      inputs: { ...CLUSTER, manifests: 'k8s', route: 'vpn' },
      code: 'INVALID_INPUT',
      input: 'route',
      reason: /'vpn'/,
    },
    {
      name: 'a registry name with a dash',
      inputs: { ...CLUSTER, manifests: 'k8s', registryName: 'my-acr' },
      code: 'INVALID_INPUT',
      input: 'registryName',
      reason: /'my-acr'/,
    },
    {
      name: 'a probe timeout out of range',
      inputs: { ...CLUSTER, manifests: 'k8s', probeTimeoutSeconds: '0' },
      code: 'INVALID_INPUT',
      input: 'probeTimeoutSeconds',
      reason: /between 1 and 120/,
    },
    // The cluster, as the agent hands it over: by name in the connection's subscription, or by resource id.
    {
      name: 'an empty cluster name',
      inputs: { resourceGroupName: 'rg-web', manifests: 'k8s' },
      code: 'INVALID_INPUT',
      input: 'clusterName',
      reason: /^It is empty\.$/,
    },
    {
      name: 'a cluster name with a shell metacharacter',
      inputs: { resourceGroupName: 'rg-web', clusterName: 'aks1;rm', manifests: 'k8s' },
      code: 'INVALID_INPUT',
      input: 'clusterName',
      reason: /'aks1;rm'/,
    },
    {
      name: 'a resource group ending in a period',
      inputs: { resourceGroupName: 'rg.', clusterName: 'aks1', manifests: 'k8s' },
      code: 'INVALID_INPUT',
      input: 'resourceGroupName',
      reason: /'rg\.'/,
    },
    {
      name: "a registry's id where a cluster's is expected",
      inputs: {
        manifests: 'k8s',
        clusterSpecifiedBy: 'resourceId',
        clusterResourceId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1`,
      },
      code: 'INVALID_INPUT',
      input: 'clusterResourceId',
      reason: /./,
    },
  ];
  for (const c of refusals) {
    it(`refused: ${c.name} (${c.input})`, () => {
      asTheAgent(c.inputs);
      assert.throws(() => readDeployInputs(), refused(c.code, c.input, c.reason));
    });
  }

  it('a kubectlPath that is not there is refused with the inputs, before anything signs in', () => {
    asTheAgent({ ...CLUSTER, manifests: 'k8s', kubectlPath: path.join(work, 'no-kubectl') });
    assert.throws(() => readDeployInputs(), refused('KUBECTL_MISSING', 'kubectlPath', /no-kubectl/));
  });

  it("a resource id names its own subscription, whatever the connection's; without one, resource group and name need the connection's", () => {
    asTheAgent({
      manifests: 'k8s',
      clusterSpecifiedBy: 'resourceId',
      clusterResourceId: `/subscriptions/${OTHER_SUB}/resourceGroups/rg-2/providers/Microsoft.ContainerService/managedClusters/aks-2`,
    });
    const byId = readDeployInputs().cluster;
    assert.deepStrictEqual(clusterTargetOf(byId, SUB), { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' });
    assert.deepStrictEqual(clusterTargetOf(byId, undefined), { subscriptionId: OTHER_SUB, resourceGroup: 'rg-2', name: 'aks-2' });
    asTheAgent({ ...CLUSTER, manifests: 'k8s' });
    const byName = readDeployInputs().cluster;
    assert.deepStrictEqual(clusterTargetOf(byName, SUB), { subscriptionId: SUB, resourceGroup: 'rg-web', name: 'aks1' });
    assert.throws(
      () => clusterTargetOf(byName, undefined),
      (err: unknown) => err instanceof ExplainedError && err.code === 'NO_SUBSCRIPTION',
    );
  });
});
