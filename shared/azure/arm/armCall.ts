import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import { explainArmCallFailure, type ArmFailureContext } from './armErrors';

/** How long one Resource Manager read through an SDK client may take, its retries included. */
export const ARM_DEADLINE_MS = 60_000;

/**
 * One Resource Manager call through an SDK client, with a deadline; any failure comes out of the one
 * ARM failure path (explainArmCallFailure) naming the action, the scope and the role that grants it.
 */
export async function armCall<T>(
  what: string,
  ctx: ArmFailureContext,
  call: (abortSignal: AbortSignal) => Promise<T>,
  deadlineMs = ARM_DEADLINE_MS,
): Promise<T> {
  try {
    return await withDeadline(deadlineMs, call, () => new DeadlineExceededError(what, deadlineMs));
  } catch (err) {
    throw explainArmCallFailure(err, what, ctx);
  }
}

/** A read at a scope (the scope is its label): armCall for the checks that ask about a scope rather than a named resource. */
export function armRead<T>(
  what: string,
  scope: string,
  action: string,
  principalObjectId: string | undefined,
  call: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  return armCall(what, { action, scope, principalObjectId, resourceLabel: scope }, call);
}
