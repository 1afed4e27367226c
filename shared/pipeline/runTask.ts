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
 * The boundary of every task: runs its body, reports an explained failure in one line (stack only
 * with system.debug), runs the cleanups, and makes sure the process ends.
 */
export async function runTask(taskName: string, body: () => Promise<void>): Promise<void> {
  console.log(`${taskName} ${taskVersion()}`);
  try {
    await body();
    tl.setResult(tl.TaskResult.Succeeded, '', true);
  } catch (err) {
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
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        tl.warning(neutralizeLoggingCommands(`Cleanup after ${taskName} failed: ${messageOf(err)}`));
      }
    }
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  }
}
