import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { startSandbox, type Sandbox } from '../sandbox';
import { ARM_AUDIENCES } from '../sandbox/arm/arm';
import { ALL_SCHEMES, type ConnectionScheme, SCHEME_PRINCIPAL } from '../support/agentEnvironment';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { leaksOfRun } from '../support/leakScan';
import { runTask, type TaskRun } from '../support/taskRun';

const AKS_SERVER_AUDIENCE = '6dae42f8-4368-4678-94ff-3960e28e3630';

/** The audience of a JWT, or undefined for anything else the sandbox handed out (client secrets…). */
function audienceOf(value: string): string | undefined {
  const parts = value.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return (JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { aud?: string }).aud;
  } catch {
    return undefined;
  }
}

/** Index of the stdout line that registers the value with the agent's masking (task-lib's task.setsecret), or -1. */
function registrationLine(lines: string[], value: string): number {
  return lines.indexOf(`##vso[task.setsecret]${value}`);
}

/**
 * Every access token the sandbox issued during a run is registered with the agent's masking, per
 * audience, for every scheme: not "some secret was registered". A token is registered before the
 * first output that follows its use: Resource Manager's before the sign-in report, the AKS API
 * server's before the first line kubectl or run command printed.
 */
describe("Every ARM and AKS token a run gets is registered with the agent's masking, for every scheme", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  const WIF = randomUUID();
  const principalFor = SCHEME_PRINCIPAL;

  before(async () => {
    sandbox = await startSandbox(
      {
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
        roleAssignments: [...deployerAssignments('deployers')],
        clusters: [DEPLOY_CLUSTER],
      },
      { privateNetwork: true },
    );
    writeDemoManifests(sandbox);
  });

  after(async () => sandbox?.stop());

  async function deploy(
    scheme: ConnectionScheme,
    route: 'runCommand' | 'direct',
    inputs: Record<string, string> = {},
  ): Promise<{ run: TaskRun; arm: string[]; aks: string[] }> {
    const before = new Set(sandbox.issuedSecrets());
    const env = sandboxJobEnv(sandbox, {
      connectionId: scheme === 'WorkloadIdentityFederation' ? WIF : `sc-${scheme}`,
      scheme,
      principal: principalFor[scheme],
      debug: true,
      inputs: { ...DEPLOY_INPUTS, route, ...inputs },
    });
    const network = sandbox.network!;
    const run = await runTask('PrivateAksDeployV1', env, {
      timeoutMs: 90_000,
      wrap: route === 'direct' ? (c, a) => network.spawnArgs(true, c, a) : undefined,
    });
    assert.strictEqual(run.result, 'Succeeded', run.stdout);
    const issued = sandbox.issuedSecrets().filter((s) => !before.has(s));
    return {
      run,
      arm: issued.filter((s) => ARM_AUDIENCES.includes(audienceOf(s) ?? '')),
      aks: issued.filter((s) => audienceOf(s) === AKS_SERVER_AUDIENCE),
    };
  }

  function assertRegistered(run: TaskRun, tokens: string[], audience: string, firstUse: RegExp): void {
    assert.ok(tokens.length > 0, `the sandbox issued no ${audience} token to this run`);
    const lines = run.stdout.split(/\r?\n/);
    const use = lines.findIndex((l) => firstUse.test(l));
    assert.ok(use > 0, `no line shows the ${audience} token in use (${firstUse})`);
    tokens.forEach((token, i) => {
      const at = registrationLine(lines, token);
      assert.ok(at >= 0, `${audience} token #${i + 1} of ${tokens.length} was never registered with task.setsecret`);
      if (i === 0) assert.ok(at < use, `${audience} token #1 was registered (line ${at}) only after its first use (line ${use})`);
    });
  }

  for (const scheme of ALL_SCHEMES) {
    it(`${scheme}, run command: the ARM token before sign-in is reported, the AKS token before run command's output`, async () => {
      const { run, arm, aks } = await deploy(scheme, 'runCommand');
      assertRegistered(run, arm, 'Resource Manager', /^Signed in to Azure:/);
      assertRegistered(run, aks, 'AKS API server', /\[run command\] /);
    });

    it(`${scheme}, direct: the AKS token the broker hands kubectl, before kubectl's output`, async function () {
      if (!sandbox.network) this.skip();
      const { run, arm, aks } = await deploy(scheme, 'direct');
      assertRegistered(run, arm, 'Resource Manager', /^Signed in to Azure:/);
      assertRegistered(run, aks, 'AKS API server', /^ {2}configmap\/settings (created|configured|unchanged)/);
    });
  }

  it('the token broker key the task makes for kubectl is registered, and the leak scan looks for it', async function () {
    if (!sandbox.network) this.skip();
    // kubectl as the task runs it, recording the key the task put in its environment (shared/azure/aks/tokenBroker.ts).
    const realKubectl = spawnSync('bash', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
    const record = path.join(sandbox.tempDir, 'broker-key-record');
    const wrapper = path.join(sandbox.tempDir, 'kubectl-broker-key');
    fs.writeFileSync(wrapper, `#!/bin/bash\necho "$PRIVATE_AKS_DEPLOY_TOKEN_BROKER_KEY" >> '${record}'\nexec '${realKubectl}' "$@"\n`, {
      mode: 0o755,
    });
    const { run } = await deploy('ServicePrincipalSecret', 'direct', { kubectlPath: wrapper });
    const keys = [...new Set(fs.readFileSync(record, 'utf8').split('\n').filter(Boolean))];
    assert.strictEqual(keys.length, 1, 'kubectl got one broker key');
    assert.ok(run.registeredSecrets.includes(keys[0]), 'the broker key was not registered with task.setsecret');
    // Were it printed, the scan every run goes through would say so (it takes the registered values as secrets).
    const printed = run.stdout.replace('Signed in to Azure:', `Signed in to Azure: ${keys[0]}`);
    assert.strictEqual(leaksOfRun(printed, '', undefined, []).length, 1);
  });
});
