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
  return quietly(() => tl.getVariable(name));
}

/**
 * Reads an input that carries secrets (a secret variable the agent expanded into it, e.g.
 * `--from-literal=key=$(dbPassword)`) and registers each of its lines: task-lib's getInput also
 * writes the value to the debug log.
 */
export function readSecretInput(name: string): string | undefined {
  return quietly(() => tl.getInput(name, false));
}

/** An authorization parameter of a service connection (a password), read and registered; task-lib's getter logs it too. */
export function readEndpointSecret(id: string, key: string): string | undefined {
  return quietly(() => tl.getEndpointAuthorizationParameter(id, key, true));
}

function quietly(read: () => string | undefined): string | undefined {
  tl.setStdStream(discard);
  let value: string | undefined;
  try {
    value = read();
  } finally {
    tl.setStdStream(process.stdout);
  }
  registerSecret(value);
  return value || undefined;
}
