/**
 * `npm run demo`: starts the local Azure sandbox with the demo scenario and runs the tasks exactly
 * as the agent would (environment, working and temp directories), printing what a pipeline author
 * sees in the job log, then stops everything. No Azure needed. As root, the agent runs in network
 * namespaces outside and inside the cluster's VNet; otherwise only the outside story is told.
 */
import { runDemoStory, scenarioFromArgs, succeeded, type DemoRun } from './demoStory';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function printRun({ title, run }: DemoRun): void {
  console.log(bold(`\n━━ ${title} ━━ ${run.result ?? 'no result'} in ${(run.durationMs / 1000).toFixed(1)} s`));
  for (const line of run.lines) console.log(`  ${line}`);
  for (const w of run.warnings) console.log(`  ⚠ ${w}`);
  for (const e of run.errors) console.log(`  ✖ ${e}`);
  for (const [name, value] of Object.entries(run.outputs)) console.log(`  output ${name} = ${value}`);
}

async function main(): Promise<number> {
  const started = Date.now();
  // `npm run demo -- --scenario my-scenario.json` tells the same story against another world.
  const runs = await runDemoStory(
    scenarioFromArgs(process.argv),
    (sandbox) => {
      console.log(
        `Sandbox up in ${Date.now() - started} ms: Entra ID ${sandbox.authorityHost}, Resource Manager ${sandbox.resourceManagerUrl}, Azure DevOps ${sandbox.collectionUri}`,
      );
      console.log(
        sandbox.network
          ? 'Private network: agent namespaces inside and outside the VNet.'
          : `Private network unavailable (${sandbox.networkUnavailable}): the agent runs outside the VNet only.`,
      );
    },
    printRun,
  );
  const failures = runs.filter((r) => !succeeded(r)).length;
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
