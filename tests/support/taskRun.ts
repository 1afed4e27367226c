import { spawn } from 'child_process';
import * as path from 'path';
import { jobStatusEnv, type Env } from './agentEnvironment';
import { agentInputsEnv, envName, stageTarget, type TaskStage } from './agentStep';
import { leaksOfRun } from './leakScan';

export { leakedSecrets, loggedText } from './leakScan';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export type TaskName = 'PrivateAksDeployV1' | 'AcrNetworkRuleSyncV1' | 'ServiceConnectionRoleCheckV1';
export const ALL_TASKS: TaskName[] = ['PrivateAksDeployV1', 'AcrNetworkRuleSyncV1', 'ServiceConnectionRoleCheckV1'];

/** A task run as the agent runs it, with the logging commands it printed, parsed. */
export interface TaskRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Plain output lines (not ##vso commands). */
  lines: string[];
  result?: string;
  resultMessage?: string;
  errors: string[];
  warnings: string[];
  /** Output variables set with isOutput=true. */
  outputs: Record<string, string>;
  /** Values registered with task.setsecret. */
  registeredSecrets: string[];
  /** Task variables set with task.settaskvariable (carried by the agent to the task's post-job step). */
  taskVariables: Record<string, string>;
  durationMs: number;
  timedOut: boolean;
  stage: TaskStage;
  /** Set when the harness cancelled the step (cancelWhen). */
  cancel?: Cancellation;
}

/** Undoes the agent's escaping of logging-command data (%0D, %0A, %25, %3B, %5D). */
function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%5D/g, ']').replace(/%3B/g, ';').replace(/%25/g, '%');
}

export function parseTaskOutput(
  stdout: string,
): Pick<TaskRun, 'lines' | 'result' | 'resultMessage' | 'errors' | 'warnings' | 'outputs' | 'registeredSecrets' | 'taskVariables'> {
  const parsed: ReturnType<typeof parseTaskOutput> = {
    lines: [],
    errors: [],
    warnings: [],
    outputs: {},
    registeredSecrets: [],
    taskVariables: {},
  };
  for (const line of stdout.split(/\r?\n/)) {
    // Anywhere in the line, as the agent looks for it (Command.cs TryParse: IndexOf("##vso[")).
    const m = /##vso\[([\w.]+)([^\]]*)\](.*)$/.exec(line);
    if (!m) {
      if (line) parsed.lines.push(line);
      continue;
    }
    const [, command, rawProps, rawData] = m;
    const props: Record<string, string> = {};
    for (const kv of rawProps.trim().split(';')) {
      const i = kv.indexOf('=');
      if (i > 0) props[kv.slice(0, i)] = unescapeData(kv.slice(i + 1));
    }
    const data = unescapeData(rawData);
    if (command === 'task.complete') {
      parsed.result = props.result;
      parsed.resultMessage = data;
    } else if (command === 'task.issue' && props.type === 'error') parsed.errors.push(data);
    else if (command === 'task.issue' && props.type === 'warning') parsed.warnings.push(data);
    else if (command === 'task.setvariable' && props.isOutput === 'true') parsed.outputs[props.variable] = data;
    else if (command === 'task.setsecret') parsed.registeredSecrets.push(data);
    else if (command === 'task.settaskvariable') parsed.taskVariables[props.variable] = data;
  }
  return parsed;
}

export interface RunOptions {
  /** Run the esbuild bundle (what ships) or the tsc output (for debugging). Default: bundle. */
  artifact?: 'bundle' | 'compiled';
  /** The main step (task.json `execution`) or the post-job step (`postjobexecution`). Default: main. */
  stage?: TaskStage;
  timeoutMs?: number;
  cwd?: string;
  /** Run through another command, e.g. `ip netns exec <ns>` to place the agent inside or outside the VNet. */
  wrap?: (command: string, args: string[]) => { command: string; args: string[] };
  /** Cancel the step as the agent does once its output matches (or after so many ms): see cancelStep. */
  cancelWhen?: RegExp | number;
}

/**
 * Agent.Sdk/ProcessInvoker.cs CancelAndKillProcessTree, on a cancelled job (NodeHandler runs tasks
 * with killProcessOnCancel: false): SIGINT to the task's process (ProcessInvoker.MacLinux.cs
 * SendPosixSignal, the process only, not its group), up to 7.5 s to exit; then SIGTERM, up to
 * 2.5 s; then NixKillProcessTree kills the process itself.
 */
export const SIGINT_TIMEOUT_MS = 7_500;
export const SIGTERM_TIMEOUT_MS = 2_500;

/**
 * Runs a task step as a child process, as the agent runs it: the stage's target from task.json,
 * the inputs the agent would pass (agentInputsEnv: defaults, aliases, filePath inputs rooted),
 * exactly the given environment otherwise (plus PATH and HOME).
 */
export function runTask(task: TaskName, env: Env, options: RunOptions = {}): Promise<TaskRun> {
  const stage = options.stage ?? 'main';
  const target = stageTarget(task, stage);
  if (!target) throw new Error(`${task} has no ${stage === 'main' ? 'execution' : 'postjobexecution'} in task.json`);
  const entry =
    options.artifact === 'compiled' ? path.join(REPO_ROOT, 'build', 'tasks', task, target) : path.join(REPO_ROOT, 'tasks', task, target);
  const stepEnv = agentInputsEnv(task, env);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const { command, args } = options.wrap ? options.wrap(process.execPath, [entry]) : { command: process.execPath, args: [entry] };
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...stepEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let cancel: Cancellation | undefined;
    const timers: NodeJS.Timeout[] = [];
    const startCancel = () => {
      if (cancel || child.exitCode !== null || child.signalCode !== null) return;
      cancel = { signals: ['SIGINT'], sigintAfterMs: Date.now() - started };
      child.kill('SIGINT');
      timers.push(
        setTimeout(() => {
          cancel!.signals.push('SIGTERM');
          child.kill('SIGTERM');
          timers.push(setTimeout(() => (cancel!.signals.push('SIGKILL'), child.kill('SIGKILL')), SIGTERM_TIMEOUT_MS));
        }, SIGINT_TIMEOUT_MS),
      );
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      if (options.cancelWhen instanceof RegExp && options.cancelWhen.test(stdout)) startCancel();
    });
    child.stderr.on('data', (d) => (stderr += d));
    if (typeof options.cancelWhen === 'number') timers.push(setTimeout(startCancel, options.cancelWhen));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      for (const t of timers) clearTimeout(t);
      // Every run, whatever the spec asserts: nothing a sandbox issued in the log or left in the temp dir.
      const leaks = leaksOfRun(stdout, stderr, env);
      if (leaks.length > 0) {
        reject(new Error(`${task} leaked secrets the sandbox issued (output withheld, it holds them):\n  ${leaks.join('\n  ')}`));
        return;
      }
      const endedAfterSigintMs = cancel ? Date.now() - started - cancel.sigintAfterMs : undefined;
      resolve({
        exitCode,
        stdout,
        stderr,
        durationMs: Date.now() - started,
        timedOut,
        stage,
        cancel: cancel && { ...cancel, endedAfterSigintMs: endedAfterSigintMs! },
        ...parseTaskOutput(stdout),
      });
    });
  });
}

/** How a cancelled step ended: the signals it took, and how long after SIGINT it exited. */
export interface Cancellation {
  signals: ('SIGINT' | 'SIGTERM' | 'SIGKILL')[];
  sigintAfterMs: number;
  endedAfterSigintMs?: number;
}

/**
 * The job's status as the post-job steps see it (Agent.JobStatus): StepsRunner.cs sets it from the
 * job's result, merged from the steps' results; a step the agent cancelled is Canceled whatever the
 * task reported (StepsRunner.cs catches the OperationCanceledException ProcessInvoker throws), a
 * skipped step leaves it as it was.
 */
export type MainOutcome = TaskRun | 'skipped';
export function jobStatusAfter(main: MainOutcome): 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Canceled' {
  if (main === 'skipped') return 'Succeeded';
  if (main.cancel) return 'Canceled';
  if (main.result === 'Failed' || (main.result === undefined && main.exitCode !== 0)) return 'Failed';
  return main.result === 'SucceededWithIssues' ? 'SucceededWithIssues' : 'Succeeded';
}

/**
 * The post-job step of a task, as the agent runs it at the end of the job: JobExtension.cs adds it
 * with condition Always for every task whose task.json has postjobexecution, whether its main step
 * ran, was skipped or failed; it gets the task variables the main step set (Handler.cs
 * AddTaskVariablesToEnvironment) and Agent.JobStatus. Undefined when the task has no post-job step.
 */
export async function runPostJobStep(
  task: TaskName,
  env: Env,
  main: MainOutcome,
  options: Omit<RunOptions, 'stage'> & { jobStatus?: string } = {},
): Promise<TaskRun | undefined> {
  if (!stageTarget(task, 'post')) return undefined;
  const jobStatus = options.jobStatus ?? jobStatusAfter(main);
  const taskVariables = main === 'skipped' ? {} : main.taskVariables;
  return runTask(task, { ...env, ...taskVariablesEnv(taskVariables), ...jobStatusEnv(jobStatus) }, { ...options, stage: 'post' });
}

/** A job with one task: its main step, then its post-job step when it has one. */
export async function runJob(
  task: TaskName,
  env: Env,
  options: Omit<RunOptions, 'stage'> = {},
): Promise<{ main: TaskRun; post?: TaskRun }> {
  const main = await runTask(task, env, options);
  const post = await runPostJobStep(task, env, main, { ...options, cancelWhen: undefined });
  return { main, post };
}

/**
 * The environment the agent gives a task's post-job step for the task variables its main step set:
 * `VSTS_TASKVARIABLE_<NAME>` (dots and spaces as underscores, upper case), as task-lib reads them.
 */
export function taskVariablesEnv(vars: Record<string, string>): Env {
  return Object.fromEntries(Object.entries(vars).map(([name, value]) => [`VSTS_TASKVARIABLE_${envName(name)}`, value]));
}
