import * as assert from 'assert';
import { agentJobEnv, taskInputsEnv } from '../support/agentEnvironment';
import { agentInputsEnv, stageTarget } from '../support/agentStep';
import { jobStatusAfter, type TaskRun } from '../support/taskRun';

/** The harness's agent rules (each cited in tests/support/agentStep.ts, agentEnvironment.ts, taskRun.ts). */
describe('the harness plays the agent', () => {
  const job = (hostType?: 'build' | 'release') =>
    agentJobEnv({ tempDirectory: '/w/_temp', workFolder: '/w', collectionUri: 'https://dev.azure.com/contoso/', hostType });

  it('gives every task.json input, defaulted, and resolves an alias to the input name', () => {
    const env = agentInputsEnv('PrivateAksDeployV1', {
      ...job(),
      ...taskInputsEnv({ azureSubscription: 'conn', manifests: ' deploy/*.yaml ' }),
    });
    assert.strictEqual(env.INPUT_CONNECTEDSERVICENAMEARM, 'conn');
    assert.strictEqual(env.INPUT_AZURESUBSCRIPTION, undefined, 'the task sees only the input name');
    assert.strictEqual(env.INPUT_MANIFESTS, 'deploy/*.yaml', 'instance inputs are trimmed');
    assert.strictEqual(env.INPUT_ROUTE, 'auto');
    assert.strictEqual(env.INPUT_ROLLOUTTIMEOUTSECONDS, '300');
    assert.strictEqual(env.INPUT_NAMESPACE, '');
  });

  it('roots filePath inputs, an empty one as the sources folder (build) or the artifacts folder (release)', () => {
    assert.strictEqual(agentInputsEnv('PrivateAksDeployV1', job()).INPUT_KUSTOMIZATIONPATH, '/w/1/s');
    assert.strictEqual(
      agentInputsEnv('PrivateAksDeployV1', { ...job(), ...taskInputsEnv({ kustomizationPath: 'overlay/' }) }).INPUT_KUSTOMIZATIONPATH,
      '/w/1/s/overlay',
    );
    assert.strictEqual(agentInputsEnv('PrivateAksDeployV1', job('release')).INPUT_KUSTOMIZATIONPATH, '/w/r1/a');
    assert.strictEqual(
      agentInputsEnv('PrivateAksDeployV1', { ...job('release'), ...taskInputsEnv({ kustomizationPath: '/abs/k' }) })
        .INPUT_KUSTOMIZATIONPATH,
      '/abs/k',
    );
  });

  it('expands $(variable) macros in inputs once, secret variables included, unknown names left as written', () => {
    const vars = agentJobEnv({
      tempDirectory: '/t',
      workFolder: '/w',
      collectionUri: 'u',
      variables: { 'Build.BuildId': '4711', Loop: '$(Build.BuildId)' },
      secretVariables: { 'Registry.Password': 'pw' },
    });
    const env = agentInputsEnv('PrivateAksDeployV1', {
      ...vars,
      ...taskInputsEnv({
        containers: 'acr.azurecr.io/web:$(build.buildid)',
        namespace: '$(Loop)',
        pruneSelector: '$(Registry.Password)-$(Nope)',
      }),
    });
    assert.strictEqual(env.INPUT_CONTAINERS, 'acr.azurecr.io/web:4711');
    assert.strictEqual(env.INPUT_NAMESPACE, '$(Build.BuildId)', 'expanded once, not recursively');
    assert.strictEqual(env.INPUT_PRUNESELECTOR, 'pw-$(Nope)');
  });

  it('passes variables by env name with their names listed, secret ones only as SECRET_', () => {
    const env = agentJobEnv({
      tempDirectory: '/t',
      workFolder: '/w',
      collectionUri: 'u',
      variables: { 'System.JobId': 'j1' },
      secretVariables: { 'Agent.ProxyPassword': 'pw' },
    });
    assert.strictEqual(env.SYSTEM_JOBID, 'j1');
    assert.ok(JSON.parse(env.VSTS_PUBLIC_VARIABLES).includes('System.JobId'));
    assert.strictEqual(env.SECRET_AGENT_PROXYPASSWORD, 'pw');
    assert.strictEqual(env.AGENT_PROXYPASSWORD, undefined);
    assert.deepStrictEqual(JSON.parse(env.VSTS_SECRET_VARIABLES), ['Agent.ProxyPassword']);
    assert.strictEqual(env.AGENT_JOBSTATUS, 'Succeeded');
    assert.strictEqual(env['agent.jobstatus'], 'Succeeded');
  });

  it('runs each stage from its own task.json target, and gives the post-job step the job status', () => {
    assert.strictEqual(stageTarget('AcrNetworkRuleSyncV1', 'main'), 'index.js');
    assert.strictEqual(stageTarget('AcrNetworkRuleSyncV1', 'post'), 'post.js');
    assert.strictEqual(stageTarget('PrivateAksDeployV1', 'post'), undefined);
    const run = (over: Partial<TaskRun>) => ({ exitCode: 0, result: 'Succeeded', ...over }) as TaskRun;
    assert.strictEqual(jobStatusAfter('skipped'), 'Succeeded');
    assert.strictEqual(jobStatusAfter(run({ result: 'Failed', exitCode: 1 })), 'Failed');
    assert.strictEqual(jobStatusAfter(run({ result: 'Failed', cancel: { signals: ['SIGINT'], sigintAfterMs: 1 } })), 'Canceled');
    assert.strictEqual(jobStatusAfter(run({ result: undefined, exitCode: 1 })), 'Failed');
  });
});
