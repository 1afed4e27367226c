import * as tl from 'azure-pipelines-task-lib/task';

/**
 * Registers a value with the agent's log masking before it can reach any log line. The agent
 * masks line by line (and task-lib refuses multi-line secrets), so a PEM is registered per line.
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    // Armour lines (-----BEGIN …-----) are public and shared by every PEM: masking them hides nothing.
    if (trimmed.length >= 8 && !trimmed.startsWith('-----')) tl.setSecret(trimmed);
  }
}
