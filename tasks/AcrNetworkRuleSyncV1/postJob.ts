import * as tl from 'azure-pipelines-task-lib/task';
import { ArmCallError, asArmCallError } from '../../shared/azure/arm/rawArmCall';
import { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { leaseNamespace } from '../../shared/firewall/ruleLeases';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { handedOverLease } from './lease';
import { removeRule } from './removeRule';
import { reportRuleSync } from './report';
import { openTarget } from './ruleTarget';

/**
 * The post-job step (task.json postjobexecution: post.js): releases this job's lease, removing the
 * rule when no other live job holds it. The agent runs it at the end of every job that has the task,
 * with condition always (azure-pipelines-agent src/Agent.Worker/JobExtension.cs), also when the main
 * step was skipped or never started: it acts only on the lease the main step handed over, and without
 * one it signs in to nothing and changes nothing.
 */
export async function runPostJob(): Promise<void> {
  const status = tl.getVariable('Agent.JobStatus') ?? 'unknown';
  const lease = handedOverLease();
  if (!lease) {
    console.log(
      `Post-job (job status ${status}): the main step took no lease for this job (it did not run, failed or was cancelled before adding a rule, or its action keeps the rule); nothing to remove.`,
    );
    return;
  }
  console.log(`Post-job (job status ${status}): releasing lease ${lease.jobKey} on ${lease.ips.join(', ')} at ${lease.name}.`);
  const { cc, identity } = await signInWithTaskConnection();
  let target: FirewallTarget;
  try {
    target = await openTarget(cc, lease, identity.objectId);
  } catch (err) {
    const cause = err instanceof ExplainedError ? asArmCallError(err.cause) : undefined;
    if (cause instanceof ArmCallError && cause.failure.statusCode === 404) {
      tl.warning(`${lease.name} no longer exists; nothing to remove.`);
      return;
    }
    throw err;
  }
  const release = { key: lease.jobKey, ns: leaseNamespace(identity.objectId), trust: lease.trust ?? { markSince: {} } };
  reportRuleSync(await removeRule(target, lease.ips, release));
}
