import * as fs from 'fs';
import * as path from 'path';
import type { Env } from './agentEnvironment';

/**
 * What the agent does to a task's inputs and environment between task.json and the node process.
 * Sources (microsoft/azure-pipelines-agent, src/, read at 42bde98b; microsoft/azure-pipelines-task-lib
 * node/, read at a5e7ee0f):
 *  - Agent.Worker/TaskRunner.cs RunAsyncInternal: LoadDefaultInputs (every input of task.json, its
 *    defaultValue trimmed, '' when none), then the instance inputs over them (trimmed), then every
 *    `filePath` input through TranslateFilePathInput, empty ones included.
 *  - Agent.Worker/Build/BuildJobExtension.cs and Release/ReleaseJobExtension.cs GetRootedPath: a
 *    relative (or empty) path is combined with the repository path (build) or
 *    system.artifactsDirectory (release), so an empty filePath input arrives as that folder.
 *  - Agent.Worker/Handlers/Handler.cs AddInputsToEnvironment: INPUT_<name>, '.' and ' ' as '_',
 *    upper case (Util/VarUtil.cs ConvertToEnvVariableFormat).
 *  - Aliases (task.json `aliases`) are resolved before the job reaches the agent: the agent and
 *    task-lib's getInput (node/task.ts) know only the input's name, INPUT_<NAME>.
 */

export type TaskStage = 'main' | 'post';

interface InputDefinition {
  name: string;
  type: string;
  aliases?: string[];
  defaultValue?: string;
}

interface HandlerTarget {
  target: string;
}

export interface TaskDefinition {
  inputs?: InputDefinition[];
  execution?: Record<string, HandlerTarget>;
  postjobexecution?: Record<string, HandlerTarget>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function taskDefinition(task: string): TaskDefinition {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', task, 'task.json'), 'utf8')) as TaskDefinition;
}

/** Util/VarUtil.cs ConvertToEnvVariableFormat(value, preserveCase: false). */
export function envName(name: string): string {
  return name.replace(/\./g, '_').replace(/ /g, '_').toUpperCase();
}

/**
 * The script a stage runs: JobExtension.cs adds a main step for `execution` and a post-job step
 * for `postjobexecution`; TaskRunner.cs picks one handler of that stage. Every handler of a stage
 * must run the same file here, so the handler the agent prefers does not matter.
 */
export function stageTarget(task: string, stage: TaskStage): string | undefined {
  const def = taskDefinition(task);
  const handlers = Object.values((stage === 'main' ? def.execution : def.postjobexecution) ?? {});
  if (handlers.length === 0) return undefined;
  const targets = new Set(handlers.map((h) => h.target));
  if (targets.size !== 1) throw new Error(`${task}: the ${stage} handlers run different files (${[...targets].join(', ')})`);
  return handlers[0].target;
}

/**
 * TaskRunner.cs expands `$(name)` macros in the inputs with the job's variables, secret ones
 * included (Variables.cs ExpandValues), once and not recursively, names case-insensitive, an
 * unknown name left as written (Microsoft.VisualStudio.Services.Agent/Util/VarUtil.cs ExpandValues).
 * The job's variables are in the environment under their environment names (SECRET_ for secrets).
 */
export function expandMacros(env: Env, value: string): string {
  return value.replace(/\$\(([^)]+)\)/g, (macro, name: string) => env[envName(name)] ?? env[`SECRET_${envName(name)}`] ?? macro);
}

/** GetRootedPath of the job extension for the job's host type (System.HostType). */
function rootedPath(env: Env, value: string): string {
  if (path.isAbsolute(value)) return path.resolve(value);
  // Build: the repository path of a single checkout (BUILD_SOURCESDIRECTORY here); release: system.artifactsDirectory.
  const root = env.SYSTEM_HOSTTYPE === 'release' ? env.SYSTEM_ARTIFACTSDIRECTORY : env.BUILD_SOURCESDIRECTORY;
  return root ? path.resolve(path.join(root, value)) : value;
}

/**
 * The task's inputs as the agent hands them to this task: the inputs the test gave (INPUT_* made
 * by taskInputsEnv, possibly under an alias) merged over task.json's defaults, aliases resolved to
 * the input's name, filePath inputs rooted. Inputs task.json does not know are passed as given,
 * as Handler.cs passes every instance input.
 */
export function agentInputsEnv(task: string, env: Env): Env {
  const out: Env = { ...env };
  for (const input of taskDefinition(task).inputs ?? []) {
    const key = `INPUT_${envName(input.name)}`;
    let value = env[key];
    for (const alias of input.aliases ?? []) {
      const aliasKey = `INPUT_${envName(alias)}`;
      if (aliasKey in env) {
        if (value === undefined) value = env[aliasKey];
        delete out[aliasKey];
      }
    }
    value = expandMacros(env, (value ?? input.defaultValue ?? '').trim());
    if (input.type === 'filePath') value = rootedPath(env, value);
    out[key] = value;
  }
  return out;
}
