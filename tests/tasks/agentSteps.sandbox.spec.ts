import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEMO_MANIFEST, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { sandboxJobEnv, type SandboxJobOptions } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runPostJobStep, runTask, SIGINT_TIMEOUT_MS, type RunOptions, type TaskRun } from '../support/taskRun';

/**
 * What the agent does that the tasks must live with (tests/support/agentStep.ts and taskRun.ts cite
 * the agent's source for each rule): every filePath input rooted, empty ones too; the post-job step
 * run with condition always, also when its main step never ran; cancellation as SIGINT, then SIGTERM.
 */
describe('the tasks as the agent runs them', function () {
  this.timeout(120_000);
  const RG = 'rg-aks';
  const EGRESS = '203.0.113.77';
  const PRE_EXISTING = ['198.51.100.0/24'];
  let sandbox: Sandbox;
  let proxy: RecordingProxy;
  const runs: TaskRun[] = [];
  let jobCount = 0;

  before(async () => {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }, { name: 'syncer' }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: [
          ...deployerAssignments('deployer'),
          {
            principal: 'syncer',
            role: 'Container Registry Contributor and Data Access Configuration Administrator',
            scope: `resourceGroup:${RG}`,
          },
          { principal: 'syncer', role: 'Reader', scope: `resourceGroup:${RG}` },
        ],
        clusters: [
          { name: 'aks-prod', resourceGroup: RG, private: true, disableLocalAccounts: true, namespaces: ['web'], rolloutDelaySeconds: 0 },
        ],
        registries: [
          { name: 'acrpost', resourceGroup: RG, defaultAction: 'Deny', ipRules: [...PRE_EXISTING], firewallPropagationSeconds: 0 },
          // Slow to let the agent in: a job is cancelled while it waits.
          { name: 'acrslow', resourceGroup: RG, defaultAction: 'Deny', ipRules: [...PRE_EXISTING], firewallPropagationSeconds: 60 },
        ],
        network: { agentEgressIp: EGRESS },
      },
      { privateNetwork: true },
    );
    const hosts: Record<string, { host: string; port: number }> = {};
    for (const [name, endpoint] of sandbox.azure.registries)
      hosts[`${name.toLowerCase()}.azurecr.io:443`] = { host: '127.0.0.1', port: endpoint.port };
    proxy = await startRecordingProxy({ hosts });
    writeDemoManifests(sandbox);
  });

  after(async () => {
    if (!sandbox) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await proxy?.close();
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  /** A job of its own: its own Agent.TempDirectory and job id, as on an agent. */
  function job(principal: string, inputs: Record<string, string>, extra: Partial<SandboxJobOptions> = {}) {
    const jobId = `job-${++jobCount}`;
    const tempDirectory = path.join(sandbox.tempDir, 'jobs', jobId);
    fs.mkdirSync(tempDirectory, { recursive: true });
    const env = sandboxJobEnv(sandbox, {
      connectionId: `sc-${principal}`,
      scheme: 'ServicePrincipalSecret',
      principal,
      inputs,
      // The registries' public login servers are reached through the agent's proxy; the deploys run
      // inside the VNet, where that loopback proxy is not, without one.
      ...(principal === 'syncer' ? { proxyUrl: proxy.url, proxyBypassList: ['^https?://127\\.0\\.0\\.1'] } : {}),
      variables: {
        'System.PlanId': 'a1b2c3d4-0000-4000-8000-000000000002',
        'System.JobId': jobId,
        'System.TaskInstanceId': '5e6f7a8b-0000-4000-8000-00000000000b',
        'System.JobAttempt': '1',
      },
      tempDirectory,
      ...extra,
    });
    return { env, tempDirectory };
  }

  async function run(
    env: Record<string, string>,
    task: 'PrivateAksDeployV1' | 'AcrNetworkRuleSyncV1',
    options: RunOptions = {},
  ): Promise<TaskRun> {
    const r = await runTask(task, env, { timeoutMs: 90_000, ...options });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  async function post(env: Record<string, string>, main: TaskRun | 'skipped', jobStatus?: string): Promise<TaskRun> {
    const r = (await runPostJobStep('AcrNetworkRuleSyncV1', env, main, { timeoutMs: 90_000, jobStatus }))!;
    runs.push(r);
    assert.ok(!r.timedOut, `the post-job step hung:\n${r.stdout}`);
    return r;
  }

  const inside = (): Pick<RunOptions, 'wrap'> => ({ wrap: (c, a) => sandbox.network!.spawnArgs(true, c, a) });
  const needsNetwork = (ctx: Mocha.Context) => {
    if (!sandbox.network) {
      console.log(`      skipped: the private network needs network namespaces (${sandbox.networkUnavailable})`);
      ctx.skip();
    }
  };
  const succeeded = (r: TaskRun) => assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.stdout}`);
  const registryState = (name: string) => {
    const r = sandbox.azure.state.findRegistry(name, RG)!;
    return {
      ipRules: [...r.network.ipRules],
      tags: { ...r.tags },
      defaultAction: r.network.defaultAction,
      publicNetworkAccess: r.network.publicNetworkAccess,
    };
  };
  const store = () => sandbox.azure.clusters.get('aks-prod')!.store;

  describe('an empty filePath input arrives as a folder (defect 1)', () => {
    const sources = () => path.join(sandbox.tempDir, 'agent', '_work', '1', 's');

    it('a manifests-only deploy in a build applies the manifests, not a kustomization at the root of the sources', async function () {
      needsNetwork(this);
      // A root kustomization nobody asked for: kustomizationPath is not set, so it arrives as this folder.
      fs.writeFileSync(path.join(sources(), 'kustomization.yaml'), 'resources:\n  - unasked.yaml\n');
      fs.writeFileSync(
        path.join(sources(), 'unasked.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nobody-asked\n  namespace: web\ndata:\n  a: b\n',
      );
      try {
        const { env } = job('deployer', { ...DEPLOY_INPUTS, route: 'direct' });
        assert.strictEqual(
          env.INPUT_KUSTOMIZATIONPATH,
          undefined,
          'the test gives no kustomizationPath; the harness adds it as the agent does',
        );
        const r = await run(env, 'PrivateAksDeployV1', inside());
        succeeded(r);
        assert.deepStrictEqual(
          JSON.parse(r.outputs.appliedObjects).map((o: { kind: string; name: string }) => `${o.kind}/${o.name}`),
          ['ConfigMap/settings', 'Deployment/shop', 'Service/shop'],
        );
        assert.strictEqual(store().get('ConfigMap', 'web', 'nobody-asked'), undefined, 'the root kustomization was applied');
        assert.doesNotMatch(r.lines.join('\n'), /kustomiz/);
      } finally {
        fs.rmSync(path.join(sources(), 'kustomization.yaml'), { force: true });
        fs.rmSync(path.join(sources(), 'unasked.yaml'), { force: true });
      }
    });

    it('a manifests-only deploy in a classic release (the artifacts folder) applies the manifests', async function () {
      needsNetwork(this);
      const artifacts = path.join(sandbox.tempDir, 'agent', '_work', 'r1', 'a');
      fs.mkdirSync(path.join(artifacts, 'deploy'), { recursive: true });
      fs.writeFileSync(path.join(artifacts, 'deploy', 'app.yaml'), DEMO_MANIFEST);
      const { env } = job('deployer', { ...DEPLOY_INPUTS, route: 'direct' }, { hostType: 'release' });
      const r = await run(env, 'PrivateAksDeployV1', inside());
      succeeded(r);
      assert.strictEqual(JSON.parse(r.outputs.appliedObjects).length, 3);
    });

    it('a kustomization folder that was given is still rendered', async function () {
      needsNetwork(this);
      const overlay = path.join(sources(), 'overlay');
      fs.mkdirSync(overlay, { recursive: true });
      fs.writeFileSync(path.join(overlay, 'kustomization.yaml'), 'resources:\n  - extra.yaml\n');
      fs.writeFileSync(
        path.join(overlay, 'extra.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-overlay\ndata:\n  a: b\n',
      );
      const { env, tempDirectory } = job('deployer', { ...DEPLOY_INPUTS, manifests: '', kustomizationPath: 'overlay', route: 'direct' });
      const r = await run(env, 'PrivateAksDeployV1', inside());
      succeeded(r);
      assert.ok(store().get('ConfigMap', 'web', 'from-overlay'));
      assert.deepStrictEqual(
        fs.readdirSync(tempDirectory).filter((f) => f.startsWith('kustomize-')),
        [],
        'kustomize output left behind',
      );
    });
  });

  describe('the post-job step runs whether or not its main step did (defect 2)', () => {
    const inputs = {
      targetType: 'registry',
      resourceGroupName: RG,
      registryName: 'acrpost',
      ipSource: 'explicit',
      ipAddresses: '203.0.113.90',
      waitForAccess: 'false',
    };
    const entraOrArm = (from: number) => sandbox.requests.slice(from).filter((e) => e.service === 'entra' || e.service === 'arm');

    for (const [why, jobStatus] of [
      ['its main step was skipped by a condition', 'Succeeded'],
      ['the job failed before the main step', 'Failed'],
      ['the job was cancelled before the main step', 'Canceled'],
    ] as const) {
      it(`${why}: the post-job step changes nothing and signs in to nothing`, async () => {
        const before = registryState('acrpost');
        const from = sandbox.requests.length;
        const r = await post(job('syncer', inputs).env, 'skipped', jobStatus);
        assert.deepStrictEqual(
          entraOrArm(from).map((e) => `${e.service} ${e.method} ${e.path}`),
          [],
        );
        assert.deepStrictEqual(registryState('acrpost'), before);
        succeeded(r);
        assert.match(r.lines.join('\n'), new RegExp(`Post-job \\(job status ${jobStatus}\\): the main step took no lease for this job`));
      });
    }

    it('its main step failed before its first write: the post-job step changes nothing and signs in to nothing', async () => {
      const before = registryState('acrpost');
      const { env } = job('syncer', { ...inputs, ipAddresses: '2001:db8::7' });
      const main = await run(env, 'AcrNetworkRuleSyncV1');
      assert.strictEqual(main.result, 'Failed', main.stdout);
      const from = sandbox.requests.length;
      const r = await post(env, main);
      succeeded(r);
      assert.match(r.lines.join('\n'), /Post-job \(job status Failed\): the main step took no lease/);
      assert.deepStrictEqual(
        entraOrArm(from).map((e) => `${e.service} ${e.method} ${e.path}`),
        [],
      );
      assert.deepStrictEqual(registryState('acrpost'), before);
    });

    it('the post-job step of a Canceled job removes the rule its main step added', async () => {
      const before = registryState('acrpost');
      const { env } = job('syncer', inputs);
      const main = await run(env, 'AcrNetworkRuleSyncV1');
      succeeded(main);
      assert.deepStrictEqual(registryState('acrpost').ipRules, [...PRE_EXISTING, '203.0.113.90']);
      const r = await post(env, main, 'Canceled');
      succeeded(r);
      assert.match(r.lines.join('\n'), /Post-job \(job status Canceled\): releasing lease/);
      assert.deepStrictEqual(registryState('acrpost'), before);
    });
  });

  describe('cancel: SIGINT, then SIGTERM 7.5 s later (defect 5)', () => {
    /** Processes still running with a KUBECONFIG under this job's temp directory (kubectl, its plugin). */
    function processesUsing(tempDirectory: string): string[] {
      const found: string[] = [];
      for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
          if (environ.some((v) => v.startsWith('KUBECONFIG=') && v.includes(tempDirectory)))
            found.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`);
        } catch {
          // Gone meanwhile, or not ours to read.
        }
      }
      return found;
    }

    it('PrivateAksDeploy cancelled mid-rollout stops kubectl, removes its kubeconfig folder and kustomize output, and says so in time', async function () {
      needsNetwork(this);
      const cluster = sandbox.azure.clusters.get('aks-prod')!.cluster;
      cluster.rolloutDelaySeconds = 'never';
      const overlay = path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'cancel-overlay');
      fs.mkdirSync(overlay, { recursive: true });
      fs.writeFileSync(path.join(overlay, 'kustomization.yaml'), 'resources:\n  - extra.yaml\n');
      fs.writeFileSync(
        path.join(overlay, 'extra.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-cancel-overlay\ndata:\n  a: b\n',
      );
      try {
        const { env, tempDirectory } = job('deployer', {
          ...DEPLOY_INPUTS,
          kustomizationPath: 'cancel-overlay',
          route: 'direct',
          rolloutTimeoutSeconds: '120',
        });
        const r = await run(env, 'PrivateAksDeployV1', { ...inside(), cancelWhen: /kubectl rollout status/ });
        assert.ok(r.cancel, `never reached the rollout:\n${r.stdout}`);
        assert.deepStrictEqual(r.cancel.signals, ['SIGINT'], `the task did not end within ${SIGINT_TIMEOUT_MS} ms of SIGINT`);
        assert.ok(r.cancel.endedAfterSigintMs! < SIGINT_TIMEOUT_MS, `${r.cancel.endedAfterSigintMs} ms`);
        assert.strictEqual(r.result, 'Failed', r.stdout);
        assert.match(r.resultMessage!, /\[CANCELLED\].*cancelled the step \(SIGINT\)/);
        assert.deepStrictEqual(processesUsing(tempDirectory), [], 'kubectl left running');
        assert.deepStrictEqual(
          fs.readdirSync(tempDirectory).filter((f) => f.startsWith('private-aks-deploy-') || f.startsWith('kustomize-')),
          [],
          'kubeconfig folder or kustomize output left behind',
        );
      } finally {
        cluster.rolloutDelaySeconds = 0;
      }
    });

    it('AcrNetworkRuleSync cancelled while it waits for access, then its post-job step: the registry as it was', async () => {
      const before = registryState('acrslow');
      const { env } = job('syncer', {
        targetType: 'registry',
        resourceGroupName: RG,
        registryName: 'acrslow',
        ipSource: 'explicit',
        ipAddresses: EGRESS,
        accessTimeoutSeconds: '120',
      });
      const main = await run(env, 'AcrNetworkRuleSyncV1', { cancelWhen: /Waiting up to 120 s/ });
      assert.ok(main.cancel, `never reached the access wait:\n${main.stdout}`);
      assert.deepStrictEqual(main.cancel.signals, ['SIGINT'], `the task did not end within ${SIGINT_TIMEOUT_MS} ms of SIGINT`);
      assert.match(main.resultMessage ?? '', /\[CANCELLED\]/, main.stdout);
      assert.deepStrictEqual(registryState('acrslow').ipRules, [...PRE_EXISTING, EGRESS], 'the rule was added before the wait');
      const r = await post(env, main);
      succeeded(r);
      assert.match(r.lines.join('\n'), /Post-job \(job status Canceled\): releasing lease/);
      assert.deepStrictEqual(registryState('acrslow'), before);
    });
  });
});
