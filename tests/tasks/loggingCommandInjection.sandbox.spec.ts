import * as assert from 'assert';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';

/**
 * The commands the agent would run from a task's stdout, parsed as it parses them:
 * microsoft/azure-pipelines-agent src/Microsoft.VisualStudio.Services.Agent/Command.cs `TryParse`
 * finds `##vso[` anywhere in a line (IndexOf), takes the command info up to the next `]`, the
 * name up to the first space, and needs it to be `area.event`. Lines are what the agent's
 * process reader splits on (\r, \n, \r\n).
 */
export function agentCommands(stdout: string): { name: string; properties: Record<string, string>; data: string }[] {
  const commands = [];
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const prefix = line.indexOf('##vso[');
    if (prefix < 0) continue;
    const rb = line.indexOf(']', prefix);
    if (rb < 0) continue;
    const info = line.slice(prefix + '##vso['.length, rb);
    const space = info.indexOf(' ');
    const name = space < 0 ? info : info.slice(0, space);
    if (name.split('.').filter(Boolean).length !== 2) continue;
    const properties: Record<string, string> = {};
    if (space > 0) {
      for (const pair of info.slice(space + 1).split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) properties[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    }
    commands.push({ name: name.toLowerCase(), properties, data: line.slice(rb + 1) });
  }
  return commands;
}

/** What an attacker who controls a webhook's message, a pod's log or an error body would print. */
const INJECTED = ['##vso[task.setvariable variable=x]evil', '##vso[task.complete result=Succeeded]pwned', '##[group]hidden'];

/** Nothing the outside text carried became a command: only the task's own result, Failed. */
function assertNoInjectedCommand(r: TaskRun): void {
  const commands = agentCommands(r.stdout);
  assert.deepStrictEqual(
    commands.filter((c) => c.name === 'task.setvariable' && c.properties.variable === 'x'),
    [],
    'an injected task.setvariable reached the agent',
  );
  assert.deepStrictEqual(
    commands.filter((c) => c.name === 'task.complete').map((c) => c.properties.result),
    ['Failed'],
    "the result is the task's own, once",
  );
  assert.strictEqual(r.result, 'Failed');
  assert.ok(!('x' in r.outputs));
  // The log's formatting tags and the agent's command prefix appear only where the task wrote them.
  for (const line of r.stdout.split(/\r\n|\r|\n/)) {
    const at = line.indexOf('##vso[');
    assert.ok(at <= 0, `a ##vso[ inside a line: ${line}`);
    assert.ok(!/##\[/i.test(line), `a formatting command: ${line}`);
  }
}

describe('Outside text cannot become an agent logging command', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }],
        customRoles: [
          {
            name: 'AKS Run Command Invoker',
            actions: [
              'Microsoft.ContainerService/managedClusters/runcommand/action',
              'Microsoft.ContainerService/managedClusters/commandResults/read',
              'Microsoft.ContainerService/managedClusters/read',
            ],
          },
        ],
        roleAssignments: [
          { principal: 'deployer', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployer', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'deployer', role: 'AKS Run Command Invoker', scope: 'cluster:aks-prod' },
        ],
        clusters: [
          {
            name: 'aks-prod',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
        ],
      },
      { privateNetwork: true },
    );
    writeDemoManifests(sandbox);
  });

  afterEach(() => sandbox.faults.clear());
  after(async () => sandbox?.stop());

  function deploy(inputs: Record<string, string>, inside = false, extraEnv: Record<string, string> = {}): Promise<TaskRun> {
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal: 'deployer',
      debug: true,
      inputs: { ...DEPLOY_INPUTS, ...inputs },
      extraEnv,
    });
    const network = sandbox.network;
    return runTask('PrivateAksDeployV1', env, { timeoutMs: 90_000, wrap: network ? (c, a) => network.spawnArgs(inside, c, a) : undefined });
  }

  /**
   * A validating admission webhook's denial, as the API server returns it: k8s.io/apiserver
   * pkg/admission/plugin/webhook/errors ToStatusErr prefixes the webhook's own message with
   * `admission webhook "<name>" denied the request: ` (HTTP 400 when the webhook sets no code).
   * The message is the webhook's, newlines included; kubectl prints it as it comes.
   */
  function denyConfigMapsByWebhook(): void {
    const body = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `admission webhook "policy.contoso.io" denied the request: settings are frozen\n${INJECTED.join('\n')}`,
      code: 400,
    };
    for (const method of ['POST', 'PATCH'])
      sandbox.faults.inject('aks', { status: 400, method, pathIncludes: '/namespaces/web/configmaps', body, times: 5 });
  }

  it('a webhook denial inside AKS run command: the logs are printed neutralised, the task fails', async () => {
    denyConfigMapsByWebhook();
    const r = await deploy({ route: 'runCommand' });
    assertNoInjectedCommand(r);
    assert.match(r.stdout, /\[run command\] ## vso\[task\.setvariable variable=x\]evil/);
    assert.match(r.stdout, /\[run command\] ## \[group\]hidden/);
  });

  it('a webhook denial to kubectl on the agent: its output and the failure are neutralised', async function () {
    if (!sandbox.network) this.skip();
    denyConfigMapsByWebhook();
    const r = await deploy({ route: 'direct' }, true);
    assertNoInjectedCommand(r);
    assert.match(r.stdout, /^ {2}## vso\[task\.complete result=Succeeded\]pwned$/m);
  });

  it('an ARM error body: the explained failure quotes it neutralised', async () => {
    sandbox.faults.inject('arm', {
      status: 400,
      method: 'GET',
      pathIncludes: '/managedClusters/aks-prod',
      times: 1,
      body: { error: { code: 'InvalidParameter', message: `Bad request ${INJECTED.join(' ')}` } },
    });
    const r = await deploy({ route: 'runCommand' });
    assertNoInjectedCommand(r);
    assert.match(r.resultMessage ?? '', /Bad request ## vso\[task\.setvariable variable=x\]evil ## vso\[task\.complete/);
  });

  it('a subscription display name, echoed in the sign-in report', async () => {
    // Whoever may rename the subscription controls this text; the agent hands it over as the connection's data.
    sandbox.faults.inject('arm', { status: 400, method: 'POST', pathIncludes: '/runCommand', times: 1 });
    const r = await deploy({ route: 'runCommand' }, false, { 'ENDPOINT_DATA_sc-secret_SUBSCRIPTIONNAME': `Prod ${INJECTED[0]}` });
    assertNoInjectedCommand(r);
    assert.match(r.stdout, /Subscription +: Prod ## vso\[task\.setvariable variable=x\]evil/);
  });

  it('an Entra ID error body: the explained sign-in failure quotes it neutralised', async () => {
    sandbox.faults.inject('entra', {
      status: 400,
      pathIncludes: '/oauth2/v2.0/token',
      times: 1,
      body: {
        error: 'invalid_request',
        error_description: `AADSTS9999999: Policy ${INJECTED.join(' ')} Trace ID: 0 Correlation ID: 0 Timestamp: 2026-01-01 00:00:00Z`,
        error_codes: [9999999],
      },
    });
    const r = await deploy({ route: 'runCommand' });
    assertNoInjectedCommand(r);
    assert.match(r.resultMessage ?? '', /Policy ## vso\[task/);
  });
});
