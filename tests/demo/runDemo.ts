/**
 * `npm run demo`: starts the local Azure sandbox with the demo scenario and runs the tasks exactly
 * as the agent would (environment, working and temp directories), printing what a pipeline author
 * sees in the job log, then stops everything. No Azure needed. As root, the agent runs in network
 * namespaces outside and inside the cluster's VNet; otherwise only the outside story is told.
 */
import * as fs from 'fs';
import { startSandbox, type Sandbox, type Scenario } from '../sandbox';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskName, type TaskRun } from '../support/taskRun';
import { DEMO_CONNECTION, demoScenario } from './demoScenario';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function printRun(title: string, run: TaskRun): void {
  console.log(bold(`\n━━ ${title} ━━ ${run.result ?? 'no result'} in ${(run.durationMs / 1000).toFixed(1)} s`));
  for (const line of run.lines) console.log(`  ${line}`);
  for (const w of run.warnings) console.log(`  ⚠ ${w}`);
  for (const e of run.errors) console.log(`  ✖ ${e}`);
  for (const [name, value] of Object.entries(run.outputs)) console.log(`  output ${name} = ${value}`);
}

async function runAsAgent(sandbox: Sandbox, task: TaskName, inside: boolean | undefined): Promise<TaskRun> {
  const env = sandboxJobEnv(sandbox, {
    connectionId: DEMO_CONNECTION.id,
    scheme: 'WorkloadIdentityFederation',
    principal: 'pipeline',
    inputs: {
      ...DEPLOY_INPUTS,
      resourceGroupName: 'rg-aks-prod',
      registryName: 'contosoprod',
      intents: 'deploy,deployRunCommand,acrPush',
      // Without the private network the login server's public name does not resolve: name the agent's IP instead.
      ...(task === 'AcrNetworkRuleSyncV1' && inside === undefined ? { ipSource: 'explicit', ipAddresses: sandbox.azure.state.network.agentEgressIp, waitForAccess: 'false' } : {}),
    },
  });
  const network = sandbox.network;
  return runTask(task, env, { timeoutMs: 120_000, wrap: network && inside !== undefined ? (c, a) => network.spawnArgs(inside, c, a) : undefined });
}

async function main(): Promise<number> {
  const started = Date.now();
  // `npm run demo -- --scenario my-scenario.json` tells the same story against another world.
  const i = process.argv.indexOf('--scenario');
  const scenario = i > 0 ? (JSON.parse(fs.readFileSync(process.argv[i + 1], 'utf8')) as Scenario) : demoScenario();
  const sandbox = await startSandbox(scenario, { privateNetwork: true });
  console.log(`Sandbox up in ${Date.now() - started} ms: Entra ID ${sandbox.authorityHost}, Resource Manager ${sandbox.resourceManagerUrl}, Azure DevOps ${sandbox.collectionUri}`);
  console.log(sandbox.network ? 'Private network: agent namespaces inside and outside the VNet.' : `Private network unavailable (${sandbox.networkUnavailable}): the agent runs outside the VNet only.`);
  writeDemoManifests(sandbox);
  const runs: [string, TaskName, boolean | undefined][] = [
    ['ServiceConnectionRoleCheck', 'ServiceConnectionRoleCheckV1', undefined],
    ['AcrNetworkRuleSync', 'AcrNetworkRuleSyncV1', sandbox.network ? false : undefined],
    ['PrivateAksDeploy from a Microsoft-hosted agent (outside the VNet)', 'PrivateAksDeployV1', false],
  ];
  if (sandbox.network) runs.push(['PrivateAksDeploy from a self-hosted agent inside the VNet', 'PrivateAksDeployV1', true]);
  let failures = 0;
  try {
    for (const [title, task, inside] of runs) {
      const run = await runAsAgent(sandbox, task, inside);
      printRun(title, run);
      if (run.result !== 'Succeeded' && run.result !== 'SucceededWithIssues') failures++;
    }
  } finally {
    await sandbox.stop();
  }
  console.log(failures === 0 ? '\nDemo passed: every task ran as on an agent.' : `\nDemo failed: ${failures} task run(s) did not succeed.`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
