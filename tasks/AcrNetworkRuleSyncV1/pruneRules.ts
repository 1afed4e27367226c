import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { planPrune } from '../../shared/firewall/ruleLeases';
import { converge, planPruneAt, readRules, reportConverge } from '../../shared/firewall/ruleSync';
import { sameIpRule } from '../../shared/net/ipv4';
import { nowSeconds } from './lease';
import { logPruned, type RuleSyncResult } from './report';

/** The `prune` action: removes the rules of this extension whose every lease ran out. */
export async function pruneRules(target: FirewallTarget, ns: string): Promise<RuleSyncResult> {
  const before = await readRules(target.store);
  const legacyLeft = planPrune(before.rules, { ns, now: nowSeconds() }).legacyLeft;
  const plan = planPruneAt(ns);
  const outcome = await converge(target.store, `Pruning expired rules from ${target.store.label}`, plan);
  reportConverge('expired leases pruned', outcome);
  const removed = before.rules.ipRules.filter((r) => !outcome.rules.ipRules.some((v) => sameIpRule(v, r)));
  logPruned(removed, legacyLeft);
  return {
    action: 'prune',
    targetKind: target.kind,
    targetName: target.name,
    ips: removed,
    agentIp: '',
    ruleAdded: false,
    secondsToAccess: 0,
    result: removed.length ? `pruned ${removed.join(', ')}` : 'nothing expired',
    retries: outcome.retries,
  };
}
