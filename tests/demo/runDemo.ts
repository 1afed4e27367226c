/**
 * `npm run demo`: starts the local Azure sandbox with the demo scenario and runs the three tasks
 * exactly as the agent would (environment, working and temp directories), printing what a
 * pipeline author would see in the job log, then stops everything. No Azure, no root needed.
 */
import { startSandbox } from '../sandbox';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { ALL_TASKS, runTask, type TaskRun } from '../support/taskRun';
import { DEMO_CONNECTION, demoScenario } from './demoScenario';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function printRun(task: string, run: TaskRun): void {
  console.log(bold(`\n━━ ${task} ━━ ${run.result ?? 'no result'} in ${(run.durationMs / 1000).toFixed(1)} s`));
  for (const line of run.lines) console.log(`  ${line}`);
  for (const w of run.warnings) console.log(`  ⚠ ${w}`);
  for (const e of run.errors) console.log(`  ✖ ${e}`);
  for (const [name, value] of Object.entries(run.outputs)) console.log(`  output ${name} = ${value}`);
}

async function main(): Promise<number> {
  const started = Date.now();
  const sandbox = await startSandbox(demoScenario());
  console.log(`Sandbox up in ${Date.now() - started} ms: Entra ID ${sandbox.authorityHost}, Azure DevOps ${sandbox.collectionUri}`);
  let failures = 0;
  try {
    for (const task of ALL_TASKS) {
      const env = sandboxJobEnv(sandbox, {
        connectionId: DEMO_CONNECTION.id,
        scheme: 'WorkloadIdentityFederation',
        principal: 'pipeline',
        inputs: { resourceGroupName: 'rg-aks-prod', clusterName: 'aks-prod', registryName: 'contosoprod' },
      });
      const run = await runTask(task, env);
      printRun(task, run);
      if (run.result !== 'Succeeded' && run.result !== 'SucceededWithIssues') failures++;
    }
  } finally {
    await sandbox.stop();
  }
  console.log(failures === 0 ? '\nDemo passed: every task ran as on an agent.' : `\nDemo failed: ${failures} task(s) did not succeed.`);
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
