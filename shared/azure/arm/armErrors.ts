import type { PipelineResponse } from '@azure/core-rest-pipeline';
import { DeadlineExceededError } from '../../net/deadline';
import { ExplainedError, messageOf, type Explanation } from '../../pipeline/explainedError';

/**
 * The one path from a Resource Manager failure to an ExplainedError, whichever way the call went: an
 * SDK client's RestError, a raw call's answer (rawArmCall), a deadline, or no answer at all.
 */

/** The parts of an Azure SDK RestError the explanation needs. */
export interface ArmFailure {
  statusCode?: number;
  code?: string;
  message: string;
}

export interface ArmCallFailure extends ArmFailure {
  statusCode: number;
  /** What a 429 or 503 asked for in Retry-After. */
  retryAfterMs?: number;
  /** The request was accepted but its long-running operation ended Failed or Canceled. */
  operationFailed?: boolean;
}

/** A Resource Manager answer that is a failure (HTTP status, ARM error code and message). */
export class ArmCallError extends Error {
  constructor(readonly failure: ArmCallFailure) {
    super(`HTTP ${failure.statusCode}${failure.code ? ` ${failure.code}` : ''}: ${failure.message}`);
    this.name = 'ArmCallError';
  }
}

/** A raw answer's failure: its ARM error body (`{ error: { code, message } }`) and Retry-After. */
export function failureOf(res: PipelineResponse): ArmCallFailure {
  let code: string | undefined;
  let message = res.bodyAsText ?? '';
  try {
    const body = JSON.parse(res.bodyAsText ?? '{}') as { error?: { code?: string; message?: string } };
    code = body.error?.code;
    message = body.error?.message ?? message;
  } catch {
    /* not JSON */
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  return { statusCode: res.status, code, message: message.split('\n')[0].slice(0, 500), retryAfterMs };
}

/** The SDK's RestError (or anything with a statusCode) as an ArmCallError; other errors as they are. */
export function asArmCallError(err: unknown): unknown {
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (typeof e?.statusCode === 'number') return new ArmCallError({ statusCode: e.statusCode, code: e.code, message: e.message ?? '' });
  return err;
}

export interface ArmFailureContext {
  /** The ARM action the call needed, e.g. Microsoft.ContainerService/managedClusters/listClusterUserCredential/action. */
  action: string;
  scope: string;
  principalObjectId?: string;
  /** The least-privileged built-in role that grants the action, when known. */
  role?: string;
  resourceLabel: string;
}

/**
 * Turns a Resource Manager failure into what the pipeline author can act on. Pure.
 */
export function explainArmFailure(f: ArmFailure, ctx: ArmFailureContext): Omit<Explanation, 'what'> {
  const code = f.code ?? '';
  // Also a 403, but a policy's deny effect: no role assignment changes it (azure-docs,
  // azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy.md).
  if (code === 'RequestDisallowedByPolicy') {
    const assignments = policyAssignmentsIn(f.message);
    const first = assignments[0];
    return {
      code: 'ARM_POLICY_DENIED',
      reason: `Azure Policy denies ${ctx.action} on ${ctx.resourceLabel}${assignments.length ? ` (policy assignment ${assignments.map((a) => `'${a.name}'`).join(', ')})` : ''}: no role assignment changes that.`,
      fix: first?.id
        ? `See what it requires with az policy assignment show --name ${first.id.split('/').pop()} --scope ${first.id.split('/providers/Microsoft.Authorization/')[0] || '/'}; change the request to comply, or ask the policy's owner for an exemption.`
        : "Find the assignment with az policy assignment list --disable-scope-strict-match; change the request to comply, or ask the policy's owner for an exemption.",
    };
  }
  if (code === 'AuthorizationFailed' || f.statusCode === 403) {
    const role = ctx.role ?? 'a role that grants it';
    return {
      code: 'ARM_AUTHORIZATION_FAILED',
      reason: `The connection's identity may not perform ${ctx.action} on ${ctx.resourceLabel}.`,
      fix: `az role assignment create --assignee-object-id ${ctx.principalObjectId ?? '<object id>'} --assignee-principal-type ServicePrincipal --role "${role}" --scope ${ctx.scope}`,
    };
  }
  if (/disable local accounts/i.test(f.message)) {
    return {
      code: 'LOCAL_ACCOUNTS_DISABLED',
      reason: `${ctx.resourceLabel} disables local accounts, so AKS hands out no admin (static) credential.`,
      fix: 'Leave useAdminCredentials off: the task deploys with an Entra ID token and the cluster user credential.',
    };
  }
  if (code === 'ResourceGroupNotFound' || code === 'ResourceNotFound' || f.statusCode === 404) {
    return {
      code: 'ARM_NOT_FOUND',
      reason: `${ctx.resourceLabel} was not found (${code || 'HTTP 404'}): a wrong name or resource group, or the connection's subscription is not the one that holds it.`,
      fix: 'Check the names, or give the full resource id (which names the subscription).',
    };
  }
  if (code === 'InvalidAuthenticationToken' || code === 'InvalidAuthenticationTokenTenant' || f.statusCode === 401) {
    return {
      code: 'ARM_TOKEN_REFUSED',
      reason: `Resource Manager refused the token (${code || 'HTTP 401'}): the connection's tenant does not own the subscription, or the token was for another cloud.`,
      fix: "Check the connection's tenant, subscription and environment.",
    };
  }
  if (f.statusCode === 429) {
    return {
      code: 'ARM_THROTTLED',
      reason: 'Resource Manager kept throttling the requests (HTTP 429) beyond the retry budget.',
      fix: 'Run again later, or spread the jobs that use this subscription.',
    };
  }
  return {
    code: 'ARM_FAILED',
    reason: `Resource Manager answered ${f.statusCode ? `HTTP ${f.statusCode} ` : ''}${code ? `${code}: ` : ''}${f.message.split('\n')[0]}`,
    fix: `Check ${ctx.resourceLabel} in the portal; run again with system.debug for the request id.`,
  };
}

/** The policy assignments a RequestDisallowedByPolicy message lists in its "Policy identifiers" JSON. */
function policyAssignmentsIn(message: string): { name: string; id?: string }[] {
  const found: { name: string; id?: string }[] = [];
  for (const m of message.matchAll(/"policyAssignment"\s*:\s*\{([^}]*)\}/g)) {
    const name = /"name"\s*:\s*"([^"]+)"/.exec(m[1])?.[1];
    if (name) found.push({ name, id: /"id"\s*:\s*"([^"]+)"/.exec(m[1])?.[1] });
  }
  return found;
}

/**
 * Any failure of a Resource Manager call (raw or through an SDK client) as an ExplainedError: an
 * HTTP answer by what it means for the action, the deadline passed as ARM_TIMEOUT, no answer at all
 * as Resource Manager unreachable. An ExplainedError (e.g. ARM_FOREIGN_URL) goes through as it is.
 */
export function explainArmCallFailure(err: unknown, what: string, ctx: ArmFailureContext): Error {
  if (err instanceof ExplainedError) return err;
  if (err instanceof DeadlineExceededError) {
    return new ExplainedError(
      {
        what,
        reason: `Resource Manager did not answer within ${Math.round(err.ms / 1000)} s.`,
        fix: "Check the agent's outbound access to Resource Manager (proxy, firewall) and run again.",
        code: 'ARM_TIMEOUT',
      },
      { cause: err },
    );
  }
  const e = asArmCallError(err);
  if (!(e instanceof ArmCallError)) {
    return new ExplainedError(
      { what, reason: messageOf(err), fix: 'Check the agent can reach Resource Manager, then run again.', code: 'ARM_UNREACHABLE' },
      { cause: err },
    );
  }
  return new ExplainedError({ what, ...explainArmFailure(e.failure, ctx) }, { cause: err });
}
