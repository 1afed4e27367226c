import { waitForAccess } from '../../shared/firewall/accessWait';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { leasesOf, type RuleState } from '../../shared/firewall/ruleLeases';
import { converge, planAddAll, readRules, reconfirmLease, reportConverge } from '../../shared/firewall/ruleSync';
import { sameIpRule } from '../../shared/net/ipv4';
import { detectAgentIp } from './agentIp';
import type { RuleSyncOptions } from './inputs';
import { handOverLease, nowSeconds } from './lease';
import { logAdded, logOpenFirewall, warnNoLeaseTaken, type RuleSyncResult } from './report';
import type { TargetRef } from './ruleTarget';

/** Where the add actions write, and under which lease. */
export interface AddTo {
  target: FirewallTarget;
  ref: TargetRef;
  /** The lease key (the job's for addForJob, the run's for add) and the principal's lease namespace. */
  key: string;
  ns: string;
  /** addForJob: hand the lease to the post-job step. */
  handOver: boolean;
}

/** `addForJob` and `add`: the agent's addresses get a rule (or a lease on the rule that is there), then the task waits for access. */
export async function addRule(to: AddTo, o: RuleSyncOptions): Promise<RuleSyncResult> {
  const { target } = to;
  // The lease the page states is the one an add at the time of the answer would take.
  const nothing = () => ({
    action: o.action,
    targetKind: target.kind,
    targetName: target.name,
    ruleAdded: false,
    secondsToAccess: 0,
    retries: 0,
    lease: { minutes: o.leaseMinutes, expiresOn: new Date(Date.now() + o.leaseMinutes * 60_000) },
  });
  if ((await target.posture()) === 'open') {
    logOpenFirewall(target);
    const ips = o.explicitIps ?? [];
    return { ...nothing(), ips, agentIp: ips.join(','), result: 'all networks allowed; nothing changed' };
  }
  const ips = o.explicitIps ?? (await detectAgentIp(target, o.echoUrl, o.action));
  if (!ips) {
    warnNoLeaseTaken(target);
    return { ...nothing(), ips: [], agentIp: '', result: 'already allowed; nothing changed' };
  }
  return leaseRule(to, ips, o);
}

async function leaseRule({ target, ref, key, ns, handOver }: AddTo, ips: string[], o: RuleSyncOptions): Promise<RuleSyncResult> {
  const readAt = nowSeconds();
  const before = await readRules(target.store);
  const missing = ips.filter((ip) => !before.rules.ipRules.some((r) => sameIpRule(r, ip)));
  await target.beforeAdd?.(missing.length);

  // What this job saw itself: the addresses it found absent (any mark from now on is its own or a later job's).
  const markSince: Record<string, number> = Object.fromEntries(missing.map((ip) => [ip, readAt]));
  const handOverNow = () => handOver && handOverLease({ ...ref, ips, jobKey: key, trust: { namedRanges: o.explicitIps ?? [], markSince } });
  // Handed over before the write: a job cancelled mid-write still has its post-job step remove the lease.
  handOverNow();
  const lease = { start: nowSeconds(), minutes: o.leaseMinutes };
  const expiresOn = new Date((lease.start + lease.minutes * 60) * 1000);
  console.log(`Adding ${ips.join(', ')} to ${target.store.label} (lease ${key} until ${expiresOn.toISOString()}).`);
  const writtenAt = Date.now();
  const plan = planAddAll(ips, key, lease, ns);
  const outcome = await converge(target.store, `Adding ${ips.join(', ')} to ${target.store.label}`, plan);
  reportConverge('rule and lease', outcome);
  const scope = { ns, now: nowSeconds() };
  // The marks this job confirmed with its lease: a mark written later (by a tag writer) will not count.
  for (const ip of ips) {
    const mark = leasesOf(outcome.rules.tags, ip, scope)?.addedAt;
    if (mark !== undefined && markSince[ip] === undefined) markSince[ip] = mark;
  }
  handOverNow();
  const added = missing.filter(
    (ip) => outcome.rules.ipRules.some((r) => sameIpRule(r, ip)) && leasesOf(outcome.rules.tags, ip, scope)?.addedAt !== undefined,
  );
  logAdded(ips, added);
  const access = o.waitForAccess
    ? await waitThenReconfirm({ target, key, ns }, ips, plan, o.accessTimeoutSeconds, added.length ? writtenAt : undefined)
    : { seconds: 0, retries: 0 };
  return {
    action: o.action,
    targetKind: target.kind,
    targetName: target.name,
    ips,
    agentIp: ips.join(','),
    ruleAdded: added.length > 0,
    secondsToAccess: access.seconds,
    result: added.length ? `added ${added.join(', ')}` : 'rule already present; lease taken',
    retries: outcome.retries + access.retries,
    lease: { minutes: o.leaseMinutes, expiresOn },
    waitedForAccess: o.waitForAccess,
    postJobRemoves: handOver,
  };
}

/** Waits until the endpoint lets the agent in, then writes the lease again (a concurrent job's older write may have dropped it). */
async function waitThenReconfirm(
  { target, key, ns }: Pick<AddTo, 'target' | 'key' | 'ns'>,
  ips: string[],
  plan: (s: RuleState) => RuleState,
  timeoutSeconds: number,
  writtenAt: number | undefined,
): Promise<{ seconds: number; retries: number }> {
  console.log(`Waiting up to ${timeoutSeconds} s for ${target.endpoint} to let the agent in…`);
  // A rule this job wrote counts from its write; a rule that was there already from now.
  const access = await waitForAccess(target.endpoint, (ms) => target.ask(ms), timeoutSeconds, writtenAt ?? Date.now());
  const again = await reconfirmLease(target.store, `Adding ${ips.join(', ')} to ${target.store.label} again`, ips, key, ns, plan);
  return { seconds: access.seconds, retries: again.retries };
}
