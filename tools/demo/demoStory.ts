/**
 * The demo's story: the sandbox with a locked-down world, and the tasks run in it as an agent runs
 * them. `npm run demo` prints each run; `npm run screenshots` renders their build summaries.
 */
import * as fs from 'fs';
import { startSandbox, type Sandbox, type Scenario } from '../../tests/sandbox';
import { DEMO_MANIFEST, DEPLOY_INPUTS, writeDemoManifests } from '../../tests/support/deployInputs';
import { sandboxJobEnv } from '../../tests/support/sandboxAgent';
import { runTask, type TaskName, type TaskRun } from '../../tests/support/taskRun';
import { uploadedSummaries } from '../../tests/support/uploadedSummaries';
import { DEMO_CONNECTION, demoScenario } from './demoScenario';

export interface DemoRun {
  title: string;
  task: TaskName;
  run: TaskRun;
  /** The build summary the task attached (title and Markdown), read before the sandbox goes away. */
  summary?: { title: string; markdown: string };
}

/** Runs `task` as the demo's agent does: the demo's connection and inputs, outside or inside the VNet (undefined: no network namespace). */
export async function runAsAgent(
  sandbox: Sandbox,
  task: TaskName,
  inside: boolean | undefined,
  inputs: Record<string, string> = {},
): Promise<TaskRun> {
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
      ...(task === 'AcrNetworkRuleSyncV1' && inside === undefined
        ? { ipSource: 'explicit', ipAddresses: sandbox.azure.state.network.agentEgressIp, waitForAccess: 'false' }
        : {}),
      ...inputs,
    },
  });
  const network = sandbox.network;
  return runTask(task, env, {
    timeoutMs: 120_000,
    wrap: network && inside !== undefined ? (c, a) => network.spawnArgs(inside, c, a) : undefined,
  });
}

/** The first build summary the run attached, read from its file. */
export function uploadedSummary(run: TaskRun): { title: string; markdown: string } | undefined {
  const s = uploadedSummaries(run.stdout)[0];
  return s && fs.existsSync(s.file) ? { title: s.title, markdown: fs.readFileSync(s.file, 'utf8') } : undefined;
}

/** The scenario named by `--scenario <file>` on the command line, else the demo's own. */
export function scenarioFromArgs(argv: string[]): Scenario {
  const i = argv.indexOf('--scenario');
  return i > 0 ? (JSON.parse(fs.readFileSync(argv[i + 1], 'utf8')) as Scenario) : demoScenario();
}

/** Starts the sandbox, runs every task of the story, hands each run to `onRun`, stops the sandbox. */
export async function runDemoStory(
  scenario: Scenario,
  onStart: (sandbox: Sandbox) => void,
  onRun: (r: DemoRun) => void,
): Promise<DemoRun[]> {
  const sandbox = await startSandbox(scenario, { privateNetwork: true });
  const done: DemoRun[] = [];
  try {
    onStart(sandbox);
    writeDemoManifests(sandbox);
    const runs: [string, TaskName, boolean | undefined][] = [
      ['ServiceConnectionRoleCheck', 'ServiceConnectionRoleCheckV1', undefined],
      ['AcrNetworkRuleSync', 'AcrNetworkRuleSyncV1', sandbox.network ? false : undefined],
      ['PrivateAksDeploy from a Microsoft-hosted agent (outside the VNet)', 'PrivateAksDeployV1', false],
    ];
    if (sandbox.network) runs.push(['PrivateAksDeploy from a self-hosted agent inside the VNet', 'PrivateAksDeployV1', true]);
    const story: [string, TaskName, boolean | undefined, Record<string, string>?][] = [...runs];
    // The next release, previewed for an approval: a new image, the rest as deployed.
    story.push(['PrivateAksDeploy preview of the next release', 'PrivateAksDeployV1', false, { action: 'preview' }]);
    for (const [title, task, inside, inputs] of story) {
      if (inputs?.action === 'preview') writeDemoManifests(sandbox, DEMO_MANIFEST.replace('shop/web:1.0.0', 'shop/web:1.1.0'));
      const run = await runAsAgent(sandbox, task, inside, inputs);
      const r = { title, task, run, summary: uploadedSummary(run) };
      done.push(r);
      onRun(r);
    }
  } finally {
    await sandbox.stop();
  }
  return done;
}

export const succeeded = (r: DemoRun) => r.run.result === 'Succeeded' || r.run.result === 'SucceededWithIssues';
