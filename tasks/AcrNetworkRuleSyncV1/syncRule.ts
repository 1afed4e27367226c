import type { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import { leaseNamespace } from '../../shared/firewall/ruleLeases';
import { addRule } from './addRule';
import type { Action, RuleSyncOptions } from './inputs';
import { jobKey, runKey } from './lease';
import { pruneRules } from './pruneRules';
import { removeAction } from './removeRule';
import { reportRuleSync } from './report';
import { openTarget, targetRefOf } from './ruleTarget';

type SignedIn = Awaited<ReturnType<typeof signInWithTaskConnection>>;

/** Which unit an action runs, under whose lease, and whether the post-job step gets the lease. */
export interface ActionStep {
  unit: 'add' | 'remove' | 'prune';
  /** The job's lease (released by the post-job step) or the run's (add and remove pair up across its jobs); prune holds none. */
  lease?: 'job' | 'run';
  handOver: boolean;
}

export function stepOf(action: Action): ActionStep {
  switch (action) {
    case 'addForJob':
      return { unit: 'add', lease: 'job', handOver: true };
    case 'add':
      return { unit: 'add', lease: 'run', handOver: false };
    case 'remove':
      return { unit: 'remove', lease: 'run', handOver: false };
    case 'prune':
      return { unit: 'prune', handOver: false };
  }
}

/** The main step after sign-in and inputs: opens the firewall, runs the action's unit, reports its result. */
export async function syncRule(o: RuleSyncOptions, { cc, identity }: SignedIn): Promise<void> {
  const ref = targetRefOf(o, cc);
  const target = await openTarget(cc, ref, identity.objectId, o.allowEnablingSelectedNetworks);
  // Leases live in a namespace of the connection's principal: another connection's marks are not ours.
  const ns = leaseNamespace(identity.objectId);
  const step = stepOf(o.action);
  const key = step.lease === 'job' ? jobKey() : runKey();
  const result =
    step.unit === 'prune'
      ? await pruneRules(target, ns)
      : step.unit === 'remove'
        ? await removeAction(target, o, key, ns)
        : await addRule({ target, ref, key, ns, handOver: step.handOver }, o);
  reportRuleSync(result);
}
