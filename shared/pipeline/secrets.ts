import { Writable } from 'stream';
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

const discard = new Writable({ write: (_chunk, _encoding, done) => done() });

/**
 * Reads a secret pipeline variable (e.g. Agent.ProxyPassword) and registers it. task-lib's getter
 * writes every value it returns to the debug log, secrets included, so its output is discarded
 * for the duration of the call.
 */
export function readSecretVariable(name: string): string | undefined {
  tl.setStdStream(discard);
  let value: string | undefined;
  try {
    value = tl.getVariable(name);
  } finally {
    tl.setStdStream(process.stdout);
  }
  registerSecret(value);
  return value || undefined;
}
