import { neutralizeLoggingCommands } from './loggingCommands';

/**
 * A failure told the way a pipeline author needs it: what failed, the likely cause, the fix.
 * Every error a task reports to the user is one of these; anything else is wrapped into one
 * at the task boundary so no stack trace or raw response body reaches the log by default.
 */
export interface Explanation {
  /** What failed, in the user's terms ("Getting an Entra ID token for the ARM connection 'prod'"). */
  what: string;
  /** The likely cause, one sentence. */
  reason: string;
  /** What to do about it, one sentence or a command. */
  fix: string;
  /** A stable code for tests, summaries and docs (e.g. "AADSTS700213", "WRONG_CONNECTION_TYPE"). */
  code: string;
}

export class ExplainedError extends Error implements Explanation {
  readonly what: string;
  readonly reason: string;
  readonly fix: string;
  readonly code: string;

  constructor(given: Explanation, options?: { cause?: unknown }) {
    // Reasons quote Azure, Entra ID and Kubernetes messages: none may become an agent command.
    const explanation = {
      what: neutralizeLoggingCommands(given.what),
      reason: neutralizeLoggingCommands(given.reason),
      fix: neutralizeLoggingCommands(given.fix),
      code: given.code,
    };
    super(formatExplanation(explanation), options);
    this.name = 'ExplainedError';
    this.what = explanation.what;
    this.reason = explanation.reason;
    this.fix = explanation.fix;
    this.code = explanation.code;
  }
}

/**
 * The one refusal of a task input: "Reading the input '<name>' failed [INVALID_INPUT]: <reason> Fix:
 * <fix>". `name` is the input's name in task.json (what the pipeline author wrote in YAML); a reason
 * about the value quotes it. A refusal with its own code (an input that names a missing file, a
 * manifest Kubernetes would refuse) passes it.
 */
export function invalidInput(name: string, reason: string, fix: string, code = 'INVALID_INPUT'): ExplainedError {
  return new ExplainedError({ what: `Reading the input '${name}'`, reason, fix, code });
}

export function formatExplanation(e: Explanation): string {
  return `${e.what} failed [${e.code}]: ${e.reason} Fix: ${e.fix}`;
}

export function isExplainedError(err: unknown): err is ExplainedError {
  return err instanceof ExplainedError;
}

/** The message of any thrown value, without its stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
