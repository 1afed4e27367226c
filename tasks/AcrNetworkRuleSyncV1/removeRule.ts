import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { leasesOf, type RemovalTrust, type RuleState } from '../../shared/firewall/ruleLeases';
import { converge, ipsLeasedBy, planRemoveAll, readRules, reportConverge } from '../../shared/firewall/ruleSync';
import { sameIpRule } from '../../shared/net/ipv4';
import { detectAgentIp } from './agentIp';
import type { RuleSyncOptions } from './inputs';
import { nowSeconds } from './lease';
import { logRemoved, type KeptRule, type RuleSyncResult } from './report';

/** The lease to release: its key, the principal's namespace, and what the job itself saw (RemovalTrust). */
export interface Release {
  key: string;
  ns: string;
  trust: RemovalTrust;
}

/** The `remove` action: the named or detected addresses, or else every address the run's lease holds. */
export async function removeAction(target: FirewallTarget, o: RuleSyncOptions, key: string, ns: string): Promise<RuleSyncResult> {
  const ips = o.explicitIps ?? (await detectAgentIp(target, o.echoUrl, o.action));
  const current = await readRules(target.store);
  // Only a range the input names may go; a detected address is a single one.
  return removeRule(target, ips ?? ipsLeasedBy(current.rules.tags, key, ns), { key, ns, trust: { namedRanges: o.explicitIps ?? [] } });
}

/** Releases the lease on the addresses, removing each rule no other live job holds (the remove action and the post-job step). */
export async function removeRule(target: FirewallTarget, ips: string[], { key, ns, trust }: Release): Promise<RuleSyncResult> {
  const result = { action: 'remove' as const, targetKind: target.kind, targetName: target.name, ruleAdded: false, secondsToAccess: 0 };
  if (ips.length === 0) {
    console.log(`No rule on ${target.store.label} is held by this lease; nothing to remove.`);
    return { ...result, ips: [], agentIp: '', result: 'nothing held', retries: 0 };
  }
  const before = await readRules(target.store);
  const plan = planRemoveAll(ips, key, ns, trust);
  // Three reads without an eTag: a lease brought back by a concurrent job's older write would keep the rule until it expires.
  const outcome = await converge(target.store, `Removing ${ips.join(', ')} from ${target.store.label}`, plan, { confirmingReads: 3 });
  reportConverge('lease released', outcome);
  const removed = ips.filter((ip) => has(before.rules, ip) && !has(outcome.rules, ip));
  logRemoved(target.store.label, removed, keptRules(target, ips, removed, before.rules, outcome.rules, ns));
  return {
    ...result,
    ips,
    agentIp: ips.join(','),
    result: removed.length ? `removed ${removed.join(', ')}` : 'lease released; rule kept',
    retries: outcome.retries,
  };
}

const has = (s: RuleState, ip: string) => s.ipRules.some((r) => sameIpRule(r, ip));

/** Why each address that still has a rule kept it. */
function keptRules(target: FirewallTarget, ips: string[], removed: string[], before: RuleState, after: RuleState, ns: string): KeptRule[] {
  const scope = { ns, now: nowSeconds() };
  return ips
    .filter((ip) => !removed.includes(ip) && has(after, ip))
    .map((ip): KeptRule => {
      const leases = leasesOf(after.tags, ip, scope);
      const markedBefore = leasesOf(before.tags, ip, scope)?.addedAt !== undefined;
      const lastRule = target.store.emptyMeansOpen && after.ipRules.length === 1;
      if (leases) return { ip, why: 'otherLeases', holders: leases.leases.size };
      if (markedBefore && lastRule) return { ip, why: 'lastRule' };
      if (markedBefore) return { ip, why: 'markedLater' };
      return { ip, why: 'notOurs' };
    });
}
