import type { ChildProcess } from 'child_process';
import * as tl from 'azure-pipelines-task-lib/task';
import { ExplainedError, isExplainedError, messageOf } from './explainedError';
import { neutralizeLoggingCommands } from './loggingCommands';

declare const __TASK_VERSION__: string | undefined;

/** The task.json version, stamped into the bundle at build time. */
function taskVersion(): string {
  return typeof __TASK_VERSION__ === 'string' ? __TASK_VERSION__ : 'dev';
}

type Cleanup = () => void | Promise<void>;
const cleanups: Cleanup[] = [];

/** Registers work that must run when the task ends, whatever the outcome (temp kubeconfigs, key files). */
export function onTaskEnd(cleanup: Cleanup): void {
  cleanups.push(cleanup);
}

/** Grace period after the result is set before a lingering socket or child may no longer keep the task alive. */
const EXIT_GRACE_MS = 2_000;

/**
 * On a cancelled job the agent sends the task's process SIGINT, then SIGTERM 7.5 s later, then kills
 * it 2.5 s after that, the process only: its children would live on (azure-pipelines-agent
 * src/Agent.Sdk/ProcessInvoker.cs CancelAndKillProcessTree, ProcessInvoker.MacLinux.cs). Children get
 * this long to stop before they are killed, so the cleanups still run well inside the 7.5 s.
 */
const CHILD_STOP_MS = 2_000;

const children = new Set<ChildProcess>();
let ended = false;

/** The task is ending (the agent cancelled it): start nothing new, such as a diagnosis of what the cancellation cut short. */
export function taskEnding(): boolean {
  return ended;
}

/**
 * A child process (kubectl) the task must not leave behind when the job is cancelled. Started with
 * `detached: true`, it leads its own process group, so that stopping it also stops what it started
 * (kubectl's exec credential plugin).
 */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Gone already, or not a group leader: the process itself.
    child.kill(signal);
  }
}

async function stopChildren(): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          const killer = setTimeout(() => signalGroup(child, 'SIGKILL'), CHILD_STOP_MS);
          child.once('exit', () => {
            clearTimeout(killer);
            resolve();
          });
          signalGroup(child, 'SIGTERM');
        }),
    ),
  );
}

async function runCleanups(taskName: string): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      tl.warning(neutralizeLoggingCommands(`Cleanup after ${taskName} failed: ${messageOf(err)}`));
    }
  }
}

/**
 * The agent cancelled the step (job cancelled, or the step's timeout): stop the children, run the
 * cleanups, say so, and end, whatever the body is waiting for. The result is Failed: the agent records
 * the step as Canceled anyway (StepsRunner.cs), and does not parse task-lib's `result=Cancelled`, which
 * is not a name of its TaskResult (Canceled); the message says what was undone.
 */
async function cancel(taskName: string, signal: NodeJS.Signals): Promise<void> {
  if (ended) return;
  ended = true;
  console.log(`${taskName}: ${signal} from the agent (the job was cancelled or the step timed out); stopping.`);
  await stopChildren();
  await runCleanups(taskName);
  const explained = new ExplainedError({
    what: taskName,
    reason: `The agent cancelled the step (${signal}) before it finished.`,
    fix: 'Nothing to undo on this agent: child processes were stopped and temporary files removed. Run the job again; see the step log for what was done before the cancellation.',
    code: 'CANCELLED',
  });
  process.exitCode = 1;
  tl.setResult(tl.TaskResult.Failed, explained.message, true);
  process.exit();
}

/**
 * The boundary of every task: runs its body, reports an explained failure in one line (stack only
 * with system.debug), runs the cleanups, and makes sure the process ends. A cancellation from the
 * agent (SIGINT, then SIGTERM) stops the children and runs the same cleanups first.
 */
export async function runTask(taskName: string, body: () => Promise<void>): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cancel(taskName, signal));
  console.log(`${taskName} ${taskVersion()}`);
  try {
    await body();
    if (ended) return;
    tl.setResult(tl.TaskResult.Succeeded, '', true);
  } catch (err) {
    if (ended) return;
    const explained = isExplainedError(err)
      ? err
      : new ExplainedError({
          what: taskName,
          reason: messageOf(err),
          fix: 'Run again with system.debug set to true for details, and report it if it persists.',
          code: 'UNEXPECTED',
        });
    if (!isExplainedError(err) && err instanceof Error && err.stack) tl.debug(neutralizeLoggingCommands(err.stack));
    process.exitCode = 1;
    tl.setResult(tl.TaskResult.Failed, explained.message, true);
  } finally {
    if (!ended) {
      ended = true;
      await runCleanups(taskName);
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    }
  }
}
