import * as tl from 'azure-pipelines-task-lib/task';

/** Registers a value with the agent's log masking before it can reach any log line. */
export function registerSecret(value: string | undefined | null): void {
  if (value) tl.setSecret(value);
}
