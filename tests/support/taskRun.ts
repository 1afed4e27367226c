import { spawn } from 'child_process';
import * as path from 'path';
import type { Env } from './agentEnvironment';
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
}

/** Undoes the agent's escaping of logging-command data (%0D, %0A, %25, %3B, %5D). */
function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%5D/g, ']').replace(/%3B/g, ';').replace(/%25/g, '%');
}

export function parseTaskOutput(stdout: string): Pick<TaskRun, 'lines' | 'result' | 'resultMessage' | 'errors' | 'warnings' | 'outputs' | 'registeredSecrets' | 'taskVariables'> {
  const parsed: ReturnType<typeof parseTaskOutput> = { lines: [], errors: [], warnings: [], outputs: {}, registeredSecrets: [], taskVariables: {} };
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
  timeoutMs?: number;
  cwd?: string;
  /** Run through another command, e.g. `ip netns exec <ns>` to place the agent inside or outside the VNet. */
  wrap?: (command: string, args: string[]) => { command: string; args: string[] };
}

/** Runs a task entry point as a child process with exactly the given environment (plus PATH and HOME). */
export function runTask(task: TaskName, env: Env, options: RunOptions = {}): Promise<TaskRun> {
  const entry =
    options.artifact === 'compiled'
      ? path.join(REPO_ROOT, 'build', 'tasks', task, 'index.js')
      : path.join(REPO_ROOT, 'tasks', task, 'index.js');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const { command, args } = options.wrap ? options.wrap(process.execPath, [entry]) : { command: process.execPath, args: [entry] };
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      // Every run, whatever the spec asserts: nothing a sandbox issued in the log or left in the temp dir.
      const leaks = leaksOfRun(stdout, stderr, env);
      if (leaks.length > 0) {
        reject(new Error(`${task} leaked secrets the sandbox issued (output withheld, it holds them):\n  ${leaks.join('\n  ')}`));
        return;
      }
      resolve({ exitCode, stdout, stderr, durationMs: Date.now() - started, timedOut, ...parseTaskOutput(stdout) });
    });
  });
}

/**
 * The environment the agent gives a task's post-job step for the task variables its main step set:
 * `VSTS_TASKVARIABLE_<NAME>` (dots and spaces as underscores, upper case), as task-lib reads them.
 */
export function taskVariablesEnv(vars: Record<string, string>): Env {
  return Object.fromEntries(Object.entries(vars).map(([name, value]) => [`VSTS_TASKVARIABLE_${name.replace(/[. ]/g, '_').toUpperCase()}`, value]));
}
