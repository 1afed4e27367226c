/**
 * npm run bench: the figures of the README's Performance section, each a median over several runs
 * on this machine, ratios measured side by side in the same run. Loopback and our own network
 * namespaces only; nothing reaches Azure.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { ClientSecretCredential } from '@azure/identity';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { parse, stringify } from 'yaml';
import { startSandbox, type Sandbox } from '../../tests/sandbox';
import { createTestCa } from '../../tests/sandbox/testCa';
import { probeEndpoint } from '../../shared/lineOfSight/lineOfSight';
import { DEPLOY_INPUTS, writeDemoManifests } from '../../tests/support/deployInputs';
import { sandboxJobEnv } from '../../tests/support/sandboxAgent';
import { ALL_TASKS, REPO_ROOT, parseTaskOutput, runTask, type TaskName } from '../../tests/support/taskRun';
import type { Env } from '../../tests/support/agentEnvironment';
import { parseTimingsLine } from '../../shared/pipeline/phaseTimings';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../../tests/support/deployerAccess';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/**
 * BENCH_PARTS=apply (or a comma-separated list of sizes, start, preflight, requests, blackhole,
 * apply, acr) runs only those parts; BENCH_SIZES=1000 (comma-separated) the apply ratio's sizes.
 */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'sizes,start,preflight,requests,blackhole,apply,acr').split(',').map((p) => p.trim()));
const SIZES = (process.env.BENCH_SIZES ?? '50,200,1000').split(',').map(Number);
const TASK_RUNS = Number(process.env.BENCH_TASK_RUNS ?? 3);
/** Another build's PrivateAksDeployV1 folder (e.g. main's), run alternately with this one in the apply ratio: before/after under the same load. */
const BASELINE = process.env.BENCH_BASELINE;
/** A delay on every Entra ID and Resource Manager request in the apply ratio: what a real network adds to each round trip (0 = loopback). */
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 0);
/** A folder: the apply ratio's task runs write a V8 CPU profile there (node --cpu-prof); with BENCH_TASK_DIR=build/tasks/PrivateAksDeployV1 (tsc's output) it names packages and functions. */
const CPU_PROF = process.env.BENCH_CPU_PROF;
const TASK_DIR = path.resolve(REPO_ROOT, process.env.BENCH_TASK_DIR ?? path.join('tasks', 'PrivateAksDeployV1'));
const rows: Array<[string, string]> = [];
const row = (what: string, figure: string) => {
  rows.push([what, figure]);
  console.error(`  ${what}: ${figure}`);
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${Math.round(x)} ms`;
const mb = (bytes: number) => (bytes < 100 * 1024 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1024 / 1024).toFixed(2)} MB`);

async function repeat(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return median(xs);
}

function sizes(): void {
  const dist = path.join(REPO_ROOT, 'dist');
  const vsix = fs.existsSync(dist)
    ? fs
        .readdirSync(dist)
        .filter((f) => f.endsWith('.vsix'))
        .map((f) => path.join(dist, f))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
    : undefined;
  row('.vsix', vsix ? mb(fs.statSync(vsix).size) : 'n/a (run npm run package)');
  for (const task of ALL_TASKS) {
    for (const f of fs.readdirSync(path.join(REPO_ROOT, 'tasks', task)).filter((f) => f.endsWith('.js'))) {
      row(`bundle ${task}/${f}`, mb(fs.statSync(path.join(REPO_ROOT, 'tasks', task, f)).size));
    }
  }
}

/** From spawning node on a bundle to its first line on stdout. */
function firstLineMs(task: TaskName): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'tasks', task, 'index.js')], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let done = false;
    child.stdout.on('data', () => {
      if (done) return;
      done = true;
      resolve(Number(process.hrtime.bigint() - started) / 1e6);
      child.kill();
    });
    child.on('error', reject);
  });
}

async function preflightHealthy(): Promise<number> {
  const ca = createTestCa();
  const cert = ca.issueServerCertificate(['localhost'], []);
  const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => res.writeHead(401).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await repeat(RUNS, async () => {
      const t = Date.now();
      const r = await probeEndpoint(
        { label: 'AKS API server', host: 'localhost', port, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401] },
        3_000,
      );
      if (!r.ok) throw new Error('the healthy endpoint failed its preflight');
      return Date.now() - t;
    });
  } finally {
    server.close();
  }
}

async function withSandbox<T>(work: (s: Sandbox) => Promise<T>): Promise<T> {
  const sandbox = await startSandbox(
    {
      principals: [{ name: 'secret' }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [
        ...deployerAssignments('secret'),
        {
          principal: 'secret',
          role: 'Container Registry Contributor and Data Access Configuration Administrator',
          scope: 'resourceGroup:rg-aks',
        },
        { principal: 'secret', role: 'Reader', scope: 'resourceGroup:rg-aks' },
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
      registries: [{ name: 'contosoprod', resourceGroup: 'rg-aks', defaultAction: 'Deny', firewallPropagationSeconds: 0 }],
    },
    { privateNetwork: true },
  );
  try {
    return await work(sandbox);
  } finally {
    await sandbox.stop();
  }
}

const jobEnv = (s: Sandbox, inputs: Record<string, string>) =>
  sandboxJobEnv(s, { connectionId: 'sc-bench', scheme: 'ServicePrincipalSecret', principal: 'secret', inputs });
const TASK_INPUTS: Record<TaskName, Record<string, string>> = {
  PrivateAksDeployV1: { ...DEPLOY_INPUTS, route: 'runCommand' },
  AcrNetworkRuleSyncV1: {
    targetType: 'registry',
    resourceGroupName: 'rg-aks',
    registryName: 'contosoprod',
    ipSource: 'explicit',
    ipAddresses: '203.0.113.9',
    waitForAccess: 'false',
  },
  ServiceConnectionRoleCheckV1: {
    resourceGroupName: 'rg-aks',
    clusterName: 'aks-prod',
    namespace: 'web',
    intents: 'deploy',
    failOn: 'never',
  },
};

async function requestsPerRun(s: Sandbox): Promise<void> {
  writeDemoManifests(s);
  for (const task of ALL_TASKS) {
    const before = s.requests.length;
    const r = await runTask(task, jobEnv(s, TASK_INPUTS[task]));
    const log = s.requests.slice(before);
    const token = log.filter((q) => q.service === 'entra' && q.path.includes('/token')).length;
    const arm = log.filter((q) => q.service === 'arm').length;
    row(
      `requests per ${task} run (${task === 'PrivateAksDeployV1' ? 'route runCommand' : 'main step'}; ${r.result})`,
      `${token} token, ${arm} ARM`,
    );
  }
}

async function blackholed(s: Sandbox): Promise<void> {
  const network = s.network!;
  const fqdn = s.azure.state.cluster('aks-prod').privateFqdn!;
  network.removeName('private', fqdn);
  await network.addNames('private', [{ fqdn, target: 'blackhole' }]);
  try {
    const tcp: number[] = [];
    const whole: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runTask('PrivateAksDeployV1', jobEnv(s, { ...DEPLOY_INPUTS, route: 'direct', probeTimeoutSeconds: '3' }), {
        wrap: (c, a) => network.spawnArgs(true, c, a),
      });
      tcp.push(Number(/TCP 443\s+FAIL\s+(\d+) ms/.exec(r.lines.join('\n'))?.[1] ?? NaN));
      whole.push(r.durationMs);
    }
    row('diagnosing a blackholed API server (probe deadline 3 s): TCP step / whole task', `${ms(median(tcp))} / ${ms(median(whole))}`);
  } finally {
    network.removeName('private', fqdn);
    await network.addNames('private', [{ fqdn, target: { port: s.azure.clusters.get('aks-prod')!.port } }]);
  }
}

/** The cluster user kubeconfig with a token already in it: what a bare kubectl apply starts from. */
async function readyKubeconfig(s: Sandbox): Promise<string> {
  const p = s.principal('secret');
  const cred = new ClientSecretCredential(s.tenantId, p.clientId, p.secret!, {
    authorityHost: s.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: s.tlsOptions(),
  });
  const client = new ContainerServiceClient(cred, s.scenario.subscriptionId, {
    endpoint: s.azure.arm.origin,
    credentials: { scopes: ['https://management.azure.com/.default'] },
    tlsOptions: s.tlsOptions(),
  });
  const result = await client.managedClusters.listClusterUserCredentials('rg-aks', 'aks-prod');
  const k = parse(Buffer.from(result.kubeconfigs![0].value!).toString('utf8'));
  k.users = [{ name: 'bench', user: { token: (await cred.getToken('6dae42f8-4368-4678-94ff-3960e28e3630/.default'))!.token } }];
  k.contexts[0].context.user = 'bench';
  const file = path.join(s.tempDir, 'bench-kubeconfig');
  fs.writeFileSync(file, stringify(k), { mode: 0o600 });
  return file;
}

/**
 * PrivateAksDeploy from spawn to the process's exit, and the phases of its `Timings:` line: the
 * task process itself, not the harness around it (runTask's figure also holds its scan of the
 * whole output for leaked secrets, which grows with the output).
 */
function timedDeploy(
  env: Env,
  wrap: (c: string, a: string[]) => { command: string; args: string[] },
  taskDir = TASK_DIR,
): Promise<{ ms: number; phases: Map<string, number> }> {
  return new Promise((resolve, reject) => {
    const { command, args } = wrap(process.execPath, [
      ...(CPU_PROF && taskDir === TASK_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`] : []),
      path.join(taskDir, 'index.js'),
    ]);
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('exit', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      child.on('close', () => {
        const run = parseTaskOutput(stdout);
        if (run.result !== 'Succeeded') {
          reject(new Error(`PrivateAksDeploy failed: ${run.resultMessage}\n${stderr}`));
          return;
        }
        const phases = run.lines.map(parseTimingsLine).find((p) => p !== undefined);
        resolve({ ms, phases: phases ?? new Map() });
      });
    });
  });
}

/** A run's time less what kubectl spent applying and waiting (its own phases say how long). */
function ownTime(totalMs: number, phases: Map<string, number>): number {
  return totalMs - (phases.get('apply') ?? 0) - (phases.get('rollouts') ?? 0);
}

/** Each phase's median over the runs, in the order the task printed them. */
function phaseMedians(runs: Array<Map<string, number>>): string {
  const names = [...new Set(runs.flatMap((r) => [...r.keys()]))];
  return names.map((name) => `${name} ${Math.round(median(runs.map((r) => r.get(name) ?? 0)))}`).join(', ');
}

async function applyRatio(s: Sandbox): Promise<void> {
  const network = s.network!;
  const kubeconfig = await readyKubeconfig(s);
  if (LATENCY_MS > 0)
    for (const service of ['entra', 'arm'] as const) s.faults.inject(service, { delayMs: LATENCY_MS, times: Number.MAX_SAFE_INTEGER });
  for (const n of SIZES) {
    const text = Array.from(
      { length: n },
      (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-${i}\ndata:\n  round: "ROUND"\n`,
    ).join('---\n');
    const file = writeDemoManifests(s, text);
    const bare: number[] = [];
    const task: number[] = [];
    const phases: Array<Map<string, number>> = [];
    const baseline: number[] = [];
    const baselinePhases: Array<Map<string, number>> = [];
    for (let i = 0; i < TASK_RUNS; i++) {
      const steps: Array<() => Promise<void>> = [
        async () => {
          const t = Date.now();
          const r = await network.run('kubectl', ['apply', '-f', file, '--namespace', 'web'], {
            inside: true,
            env: { PATH: process.env.PATH ?? '', HOME: s.tempDir, KUBECONFIG: kubeconfig },
            timeoutMs: 300_000,
          });
          if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
          bare.push(Date.now() - t);
        },
        async () => {
          const run = await timedDeploy(jobEnv(s, { ...DEPLOY_INPUTS, route: 'direct', waitForRollout: 'false' }), (c, a) =>
            network.spawnArgs(true, c, a),
          );
          task.push(run.ms);
          phases.push(run.phases);
        },
      ];
      if (BASELINE) {
        steps.push(async () => {
          const run = await timedDeploy(
            jobEnv(s, { ...DEPLOY_INPUTS, route: 'direct', waitForRollout: 'false' }),
            (c, a) => network.spawnArgs(true, c, a),
            BASELINE,
          );
          baseline.push(run.ms);
          baselinePhases.push(run.phases);
        });
      }
      // Each round starts with another of them, so that none always goes first; each run changes every
      // object, so all apply the same writes.
      for (const [j, step] of [...steps.slice(i % steps.length), ...steps.slice(0, i % steps.length)].entries()) {
        fs.writeFileSync(file, text.replace(/ROUND/g, `${i}-${j}`));
        await step();
      }
    }
    row(
      `PrivateAksDeploy vs bare kubectl apply, ${n} manifests${LATENCY_MS ? ` (${LATENCY_MS} ms added to each Entra ID and ARM request)` : ''}`,
      `${ms(median(task))} vs ${ms(median(bare))} (×${(median(task) / median(bare)).toFixed(2)}, overhead ${ms(median(task) - median(bare))})`,
    );
    row(`  its phases, ${n} manifests (ms, medians)`, phaseMedians(phases));
    row(
      `  its own time, ${n} manifests (to its exit, less kubectl's apply and rollouts, which vary most)`,
      ms(median(task.map((t, k) => ownTime(t, phases[k])))),
    );
    if (BASELINE) {
      row(
        `  baseline ${BASELINE}, ${n} manifests`,
        `${ms(median(baseline))} (×${(median(baseline) / median(bare)).toFixed(2)}, overhead ${ms(median(baseline) - median(bare))})`,
      );
      if (baselinePhases.some((p) => p.size > 0)) {
        row(`  baseline's phases, ${n} manifests`, phaseMedians(baselinePhases));
        row(`  baseline's own time, ${n} manifests`, ms(median(baseline.map((t, k) => ownTime(t, baselinePhases[k])))));
      }
    }
  }
  s.faults.clear('entra');
  s.faults.clear('arm');
  writeDemoManifests(s);
}

/** The lead's figure: AcrNetworkRuleSync, 20 concurrent jobs (tools/bench/acrConcurrency.ts when present). */
async function acrConcurrency(): Promise<void> {
  const module = path.join(__dirname, 'acrConcurrency.js');
  if (!fs.existsSync(module)) {
    row('AcrNetworkRuleSync, 20 concurrent jobs: wall time, ARM writes per job', 'n/a');
    return;
  }
  // Loaded only when there: the bench table keeps its place for the lead's rows either way.
  const { acrConcurrencyRows } = require(module) as { acrConcurrencyRows: () => Promise<Array<{ name: string; value: string }>> };
  for (const { name, value } of await acrConcurrencyRows()) row(name, value);
}

async function main(): Promise<void> {
  const started = Date.now();
  if (PARTS.has('sizes')) sizes();
  if (PARTS.has('start'))
    for (const task of ALL_TASKS) row(`node start → first log line, ${task} (bundled)`, ms(await repeat(RUNS, () => firstLineMs(task))));
  if (PARTS.has('preflight')) row('preflight against a healthy endpoint (DNS+TCP+TLS+HTTP)', ms(await preflightHealthy()));
  if (PARTS.has('requests') || PARTS.has('blackhole') || PARTS.has('apply')) {
    await withSandbox(async (s) => {
      if (PARTS.has('requests')) await requestsPerRun(s);
      if (s.network) {
        if (PARTS.has('blackhole')) await blackholed(s);
        if (PARTS.has('apply')) await applyRatio(s);
      } else {
        row('blackholed API server; PrivateAksDeploy vs kubectl apply', `n/a (${s.networkUnavailable})`);
      }
    });
  }
  if (PARTS.has('acr')) await acrConcurrency();
  const width = Math.max(...rows.map(([w]) => w.length));
  console.log(`\n| What | Figure (median of ${RUNS} runs; ${TASK_RUNS} for task runs) |\n|---|---|`);
  for (const [what, figure] of rows) console.log(`| ${what.padEnd(width)} | ${figure} |`);
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
