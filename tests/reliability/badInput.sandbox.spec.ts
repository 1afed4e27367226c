import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_INPUTS } from '../support/deployInputs';
import { sandboxJobEnv, type SandboxJobOptions } from '../support/sandboxAgent';
import { REPO_ROOT, runPostJobStep, runTask, type TaskName } from '../support/taskRun';

/**
 * Hostile or mistaken inputs, one row each: refused with an explained error whose message names
 * the input, and no child process started at all (a preloaded recorder sees every spawn/exec).
 *
 * Covered elsewhere, not repeated here:
 * | Input                                        | Where                                                          |
 * |----------------------------------------------|----------------------------------------------------------------|
 * | clusterResourceId of the wrong resource type | tests/tasks/privateAksDeploy.sandbox.spec.ts                   |
 * | IPv6 address in ipAddresses                  | tests/tasks/acrNetworkRuleSync.sandbox.spec.ts                 |
 * | unknown intent, registry intent without name | tests/tasks/roleCheck.sandbox.spec.ts                          |
 * | wrong connection type, no System.AccessToken | tests/tasks/signIn.sandbox.spec.ts (PrivateAksDeploy)          |
 * | manifest parsing limits, names, namespaces   | tests/unit/manifests.spec.ts, tests/unit/resourceId.spec.ts    |
 */
describe('reliability: bad input is refused, naming the input, before any process starts', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let sources: string;
  const WIF = randomUUID();
  const recorder = path.join(REPO_ROOT, 'build', 'tests', 'reliability', 'spawnRecorder.js');

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'wif', federated: [{ subject: 'sc://contoso/web/bad-input' }] }, { name: 'secret' }],
      serviceConnections: [{ id: WIF, name: 'bad-input', principal: 'wif' }],
      azureDevOps: { organization: 'contoso', projectName: 'web' },
      roleAssignments: [{ principal: 'secret', role: 'Reader', scope: 'resourceGroup:rg-aks' }],
      clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', namespaces: ['web'] }],
      registries: [{ name: 'contosoprod', resourceGroup: 'rg-aks' }],
    });
    sources = path.join(sandbox.tempDir, 'agent', '_work', '1', 's');
    const bad = path.join(sources, 'bad');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'notyaml.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n');
    // A billion laughs: nine levels of ten aliases each.
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    fs.writeFileSync(
      path.join(bad, 'bomb.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  ${levels.join('\n  ')}\n`,
    );
    fs.mkdirSync(path.join(sources, 'deploy'), { recursive: true });
    fs.writeFileSync(path.join(sources, 'deploy', 'app.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n');
    fs.writeFileSync(
      path.join(bad, 'huge.yaml'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: "${'x'.repeat(9 * 1024 * 1024)}"\n`,
    );
  });

  after(async () => {
    await sandbox?.stop();
  });

  interface Row {
    input: string;
    task: TaskName;
    inputs?: Record<string, string>;
    job?: Partial<SandboxJobOptions>;
    code: string;
    /** What the message must say besides naming the input. */
    message: RegExp;
    /** The name the message must carry (defaults to the input). */
    names?: string;
  }

  const PAD: TaskName = 'PrivateAksDeployV1';
  const ACR: TaskName = 'AcrNetworkRuleSyncV1';
  const RC: TaskName = 'ServiceConnectionRoleCheckV1';
  const wrongType = (id: string): Partial<SandboxJobOptions> => ({
    connectionId: id,
    extraEnv: {
      [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ scheme: 'Token', parameters: { apitoken: 'kube-static-token-value' } }),
      [`ENDPOINT_AUTH_SCHEME_${id}`]: 'Token',
    },
  });
  const noAccessToken: Partial<SandboxJobOptions> = {
    scheme: 'WorkloadIdentityFederation',
    connectionId: WIF,
    principal: 'wif',
    withoutSystemAccessToken: true,
  };

  const rows: Row[] = [
    {
      input: 'clusterResourceId',
      task: PAD,
      inputs: {
        clusterSpecifiedBy: 'resourceId',
        clusterResourceId: '/subscriptions/../resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
      },
      code: 'INVALID_INPUT',
      message: /resource id|subscription/i,
    },
    {
      input: 'clusterResourceId',
      task: PAD,
      inputs: { clusterSpecifiedBy: 'resourceId', clusterResourceId: 'aks-prod' },
      code: 'INVALID_INPUT',
      message: /resource id/i,
    },
    { input: 'clusterName', task: PAD, inputs: { clusterName: 'aks;curl evil|sh' }, code: 'INVALID_INPUT', message: /aks;curl evil\|sh/ },
    {
      input: 'resourceGroupName',
      task: PAD,
      inputs: { resourceGroupName: '../../etc' },
      code: 'INVALID_INPUT',
      message: /\.\.\/\.\.\/etc/,
    },
    { input: 'registryName', task: PAD, inputs: { registryName: '$(id)' }, code: 'INVALID_INPUT', message: /\$\(id\)/ },
    {
      input: 'namespace',
      task: PAD,
      inputs: { namespace: 'Web_Prod' },
      code: 'INVALID_INPUT',
      message: /not a valid namespace: it must be a DNS label/,
    },
    { input: 'namespace', task: PAD, inputs: { namespace: 'web/../kube-system' }, code: 'INVALID_INPUT', message: /DNS label/ },
    {
      input: 'manifests',
      task: PAD,
      inputs: { manifests: 'bad/notyaml.yaml' },
      code: 'INVALID_MANIFEST',
      message: /notyaml\.yaml \(document 1\) is not valid YAML/,
    },
    { input: 'manifests', task: PAD, inputs: { manifests: 'bad/bomb.yaml' }, code: 'INVALID_MANIFEST', message: /YAML bomb/ },
    {
      input: 'manifests',
      task: PAD,
      inputs: { manifests: 'bad/huge.yaml' },
      code: 'MANIFEST_TOO_LARGE',
      message: /huge\.yaml is too large/,
    },
    { input: 'manifests', task: PAD, inputs: { manifests: 'nothing-here/**/*.yaml' }, code: 'NO_MANIFESTS', message: /match no file/ },
    {
      input: 'containers',
      task: PAD,
      inputs: { containers: 'contosoprod.azurecr.io/web:1;rm -rf /' },
      code: 'INVALID_INPUT',
      message: /rm -rf/,
    },
    {
      input: 'kubectlPath',
      task: PAD,
      inputs: { kubectlPath: '/usr/bin/kubectl; rm -rf /' },
      code: 'KUBECTL_MISSING',
      message: /No kubectl at \/usr\/bin\/kubectl; rm -rf \//,
    },
    {
      input: 'clusterName',
      task: ACR,
      inputs: { targetType: 'aksAuthorizedIpRanges', clusterName: 'aks|nc -l 4444' },
      code: 'INVALID_INPUT',
      message: /aks\|nc -l 4444/,
    },
    {
      input: 'probeTimeoutSeconds',
      task: PAD,
      inputs: { probeTimeoutSeconds: '1e9' },
      code: 'INVALID_INPUT',
      message: /whole number between 1 and 120/,
    },
    {
      input: 'ipAddresses',
      task: ACR,
      inputs: { ipSource: 'explicit', ipAddresses: '203.0.113.0/33' },
      code: 'INVALID_INPUT',
      message: /203\.0\.113\.0\/33/,
    },
    {
      input: 'ipAddresses',
      task: ACR,
      inputs: { ipSource: 'explicit', ipAddresses: '300.1.2.3' },
      code: 'INVALID_INPUT',
      message: /300\.1\.2\.3/,
    },
    {
      input: 'ipAddresses',
      task: ACR,
      inputs: { ipSource: 'explicit', ipAddresses: '::ffff:203.0.113.9/128' },
      code: 'INVALID_INPUT',
      message: /IPv6/,
    },
    { input: 'registryName', task: ACR, inputs: { registryName: 'contoso prod`id`' }, code: 'INVALID_INPUT', message: /contoso prod`id`/ },
    { input: 'echoUrl', task: ACR, inputs: { echoUrl: 'http://ifconfig.example/ip' }, code: 'INVALID_INPUT', message: /not an HTTPS URL/ },
    { input: 'clusterName', task: RC, inputs: { clusterName: 'aks-prod && reboot' }, code: 'INVALID_INPUT', message: /aks-prod && reboot/ },
    { input: 'namespace', task: RC, inputs: { namespace: '-rf' }, code: 'INVALID_INPUT', message: /DNS label/ },
    {
      input: 'connectedServiceNameARM',
      task: ACR,
      job: wrongType('sc-kube-acr'),
      code: 'WRONG_CONNECTION_TYPE',
      message: /not an Azure Resource Manager connection/,
      names: 'sc-kube-acr',
    },
    {
      input: 'connectedServiceNameARM',
      task: RC,
      job: wrongType('sc-kube-rc'),
      code: 'WRONG_CONNECTION_TYPE',
      message: /not an Azure Resource Manager connection/,
      names: 'sc-kube-rc',
    },
    { input: 'System.AccessToken', task: ACR, job: noAccessToken, code: 'MISSING_SYSTEM_ACCESS_TOKEN', message: /System\.AccessToken/ },
    { input: 'System.AccessToken', task: RC, job: noAccessToken, code: 'MISSING_SYSTEM_ACCESS_TOKEN', message: /System\.AccessToken/ },
  ];

  const baseInputs: Record<TaskName, Record<string, string>> = {
    PrivateAksDeployV1: DEPLOY_INPUTS,
    AcrNetworkRuleSyncV1: {
      targetType: 'registry',
      resourceGroupName: 'rg-aks',
      registryName: 'contosoprod',
      ipSource: 'explicit',
      ipAddresses: '203.0.113.9',
      waitForAccess: 'false',
    },
    ServiceConnectionRoleCheckV1: { resourceGroupName: 'rg-aks', clusterName: 'aks-prod', namespace: 'web', intents: 'deploy' },
  };

  rows.forEach((row, i) => {
    const shown = Object.values(row.inputs ?? {}).pop() ?? row.code;
    it(`${row.task}: ${row.input} = ${JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}…` : shown)} → ${row.code}`, async () => {
      const spawns = path.join(sandbox.tempDir, `spawns-${i}.jsonl`);
      // Each row changes one input of an otherwise valid set.
      const inputs = { ...baseInputs[row.task], ...row.inputs };
      const env = sandboxJobEnv(sandbox, {
        connectionId: 'sc-bad-input',
        scheme: 'ServicePrincipalSecret',
        principal: 'secret',
        debug: true,
        inputs,
        ...row.job,
        extraEnv: { ...row.job?.extraEnv, NODE_OPTIONS: `--require ${recorder}`, SPAWN_RECORD: spawns },
      });
      const r = await runTask(row.task, env, { timeoutMs: 30_000 });
      assert.strictEqual(r.result, 'Failed', r.lines.slice(-10).join('\n'));
      const message = r.resultMessage ?? '';
      assert.ok(message.includes(`[${row.code}]`), `expected ${row.code}: ${message}`);
      assert.ok(message.includes(row.names ?? row.input), `the message does not name '${row.names ?? row.input}': ${message}`);
      assert.match(message, row.message);
      const started = fs.existsSync(spawns) ? fs.readFileSync(spawns, 'utf8').trim().split('\n') : [];
      assert.deepStrictEqual(started, [], 'a process was started for a refused input');
      // The job's post-job step runs all the same (AcrNetworkRuleSync): with nothing added, it succeeds doing nothing.
      const post = await runPostJobStep(row.task, env, r, { timeoutMs: 30_000 });
      if (post) assert.strictEqual(post.result, 'Succeeded', post.lines.slice(-10).join('\n'));
    });
  });

  it('the recorder sees what a task starts (so the empty lists above mean something)', async () => {
    const spawns = path.join(sandbox.tempDir, 'spawns-control.jsonl');
    const kustomization = path.join(sources, 'overlay');
    fs.mkdirSync(kustomization, { recursive: true });
    fs.writeFileSync(path.join(kustomization, 'kustomization.yaml'), 'resources: []\n');
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-bad-input',
      scheme: 'ServicePrincipalSecret',
      principal: 'secret',
      // Renders the kustomization with kubectl (a child process), then fails on the empty result.
      inputs: { ...DEPLOY_INPUTS, manifests: '', kustomizationPath: 'overlay' },
      extraEnv: { NODE_OPTIONS: `--require ${recorder}`, SPAWN_RECORD: spawns },
    });
    const r = await runTask(PAD, env, { timeoutMs: 30_000 });
    assert.strictEqual(r.result, 'Failed');
    const started = fs
      .readFileSync(spawns, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { api: string; file: string; args: string[]; viaShell: boolean });
    assert.ok(
      started.some((s) => /kubectl$/.test(s.file) && s.args[0] === 'kustomize'),
      JSON.stringify(started),
    );
    assert.ok(
      started.every((s) => !s.viaShell),
      `started through a shell: ${JSON.stringify(started.filter((s) => s.viaShell))}`,
    );
  });
});
