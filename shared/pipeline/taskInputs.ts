import * as tl from 'azure-pipelines-task-lib/task';
import { invalidInput } from './explainedError';

/** A trimmed input, or undefined when empty. */
export function optionalInput(name: string): string | undefined {
  return tl.getInput(name, false)?.trim() || undefined;
}

export function requiredInput(name: string): string {
  const value = optionalInput(name);
  if (!value) throw invalidInput(name, 'It is empty.', `Set '${name}'.`);
  return value;
}

export function booleanInput(name: string, fallback: boolean): boolean {
  const value = optionalInput(name);
  if (value === undefined) return fallback;
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalidInput(name, `'${value}' is not true or false.`, `Set '${name}' to true or false.`);
}

/** A whole number within bounds (seconds, minutes), with a default when empty. */
export function integerInput(name: string, fallback: number, min: number, max: number): number {
  const value = optionalInput(name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw invalidInput(name, `'${value}' is not a whole number between ${min} and ${max}.`, `Set '${name}' to a number in that range.`);
  }
  return Number(value);
}

/** One of a fixed set of values. */
export function choiceInput<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const value = optionalInput(name);
  if (value === undefined) return fallback;
  const match = choices.find((c) => c.toLowerCase() === value.toLowerCase());
  if (!match) throw invalidInput(name, `'${value}' is not one of ${choices.join(', ')}.`, `Set '${name}' to one of them.`);
  return match;
}

/** Non-empty lines of a multi-line input (comments with # skipped). */
export function linesInput(name: string): string[] {
  return (tl.getInput(name, false) ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
