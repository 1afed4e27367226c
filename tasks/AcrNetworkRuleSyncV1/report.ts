import * as tl from 'azure-pipelines-task-lib/task';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { STATUS_ICON, code, factTable, uploadSummaryPage, type Status } from '../../shared/pipeline/buildSummary';
import type { Action, TargetType } from './inputs';

/** What one run of an action did: the task's outputs, its result log lines and its build summary page come from it. */
export interface RuleSyncResult {
  action: Action;
  targetKind: TargetType;
  targetName: string;
  /** The addresses the page lists (for prune, those it removed). */
  ips: string[];
  /** The `agentIp` output. */
  agentIp: string;
  ruleAdded: boolean;
  secondsToAccess: number;
  /** One line; "nothing changed", "nothing held" and "nothing expired" make the page informational. */
  result: string;
  /** Concurrent-write retries. */
  retries: number;
  lease?: Lease;
  waitedForAccess?: boolean;
  /** addForJob took a lease: its post-job step releases it. */
  postJobRemoves?: boolean;
}

export interface Lease {
  minutes: number;
  expiresOn: Date;
}

/** A rule the remove step kept, and why. */
export interface KeptRule {
  ip: string;
  why: 'otherLeases' | 'lastRule' | 'markedLater' | 'notOurs';
  /** For otherLeases: how many other jobs hold it. */
  holders?: number;
}

const TITLE: Record<Action, string> = {
  addForJob: 'Firewall opened to this agent for the job',
  add: 'Firewall opened to this agent until a remove step',
  remove: "Firewall rule for this agent's addresses removed",
  prune: 'Expired firewall rules pruned',
};

function statusOf(result: string): Status {
  return /nothing changed|nothing held|nothing expired/.test(result) ? 'info' : 'pass';
}

/** How long the rule stays, in the words of the action that ran. */
export function ruleLifetime(action: Action, lease?: Lease): string {
  const leaseText = lease
    ? `lease ${lease.minutes} min, until about ${lease.expiresOn.toISOString().slice(0, 16).replace('T', ' ')} UTC`
    : 'lease';
  switch (action) {
    case 'addForJob':
      return `Until this job ends: the task's post-job step removes it, even when the job fails or is cancelled. Backstop: ${leaseText}; a later \`prune\` removes rules whose lease ran out.`;
    case 'add':
      return `Until a \`remove\` step in this run, or the ${leaseText}; a later \`prune\` removes rules whose lease ran out.`;
    case 'remove':
      return 'Removed now, unless another job still holds a lease on the same address: the rule then stays until that lease ends.';
    case 'prune':
      return 'Rules whose leases ran out are removed; rules the task did not add are never touched.';
  }
}

/** The build summary page (markdown). */
export function summaryPage(r: RuleSyncResult): string {
  // A wait that ran measured something; 0 means the task did not wait.
  const waited = r.waitedForAccess ?? r.secondsToAccess > 0;
  const status = statusOf(r.result);
  return [
    `### ${STATUS_ICON[status]} ${TITLE[r.action]}`,
    '',
    ...factTable([
      [
        'Target',
        r.targetKind === 'registry'
          ? `container registry ${code(r.targetName)}: IP rules`
          : `AKS cluster ${code(r.targetName)}: API server authorized IP ranges`,
      ],
      ['Action', code(r.action)],
      ['Addresses', r.ips.length ? r.ips.map(code).join(', ') : '—'],
      ['Result', `${STATUS_ICON[status]} ${r.result}`],
      ['Rule lifetime', ruleLifetime(r.action, r.lease)],
      [
        'Access from the agent',
        r.ruleAdded
          ? waited
            ? `${STATUS_ICON.pass} got through ${r.secondsToAccess} s after the change`
            : 'not waited for (waitForAccess: false)'
          : undefined,
      ],
      [
        'Concurrent changes',
        r.retries
          ? `${STATUS_ICON.warn} ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}: other writers changed the rules at the same time; the task re-read and re-applied`
          : 'none',
      ],
    ]),
    '',
    `Outputs: \`agentIp\` = ${r.agentIp ? code(r.agentIp) : '—'}, \`ruleAdded\` = ${r.ruleAdded}, \`secondsToAccess\` = ${r.secondsToAccess}`,
  ].join('\n');
}

/** The output variables and the build summary page. */
export function reportRuleSync(r: RuleSyncResult): void {
  tl.setVariable('agentIp', r.agentIp, false, true);
  tl.setVariable('ruleAdded', String(r.ruleAdded), false, true);
  tl.setVariable('secondsToAccess', String(r.secondsToAccess), false, true);
  uploadSummaryPage('acr-network-rule-sync', 'Agent firewall rule', summaryPage(r));
  if (r.postJobRemoves) console.log("The post-job step removes this job's lease, and the rule when no other job holds it.");
}

/** A firewall that accepts every network needs no rule. */
export function logOpenFirewall(target: FirewallTarget): void {
  const why =
    target.kind === 'registry'
      ? 'public network access Enabled, default action Allow'
      : 'no authorized IP ranges: adding one would shut out every other network';
  console.log(`${target.store.label} accepts every network (${why}): no rule is needed, nothing changed.`);
}

export function warnNoLeaseTaken(target: FirewallTarget): void {
  tl.warning(
    `${target.endpoint} already lets the agent in, and the task cannot tell which IP it sees for the agent without an echo URL: no lease was taken, so another job's post-job step may remove the rule this job relies on. Set echoUrl, or ipSource: explicit with the agent's egress IP.`,
  );
}

export function logAdded(ips: string[], added: string[]): void {
  console.log(added.length ? `Added ${added.join(', ')}.` : `${ips.join(', ')} already had a rule; this job holds a lease on it.`);
}

export function logRemoved(label: string, removed: string[], kept: KeptRule[]): void {
  if (removed.length) console.log(`Removed ${removed.join(', ')}.`);
  for (const k of kept) {
    const line = keptLine(label, k);
    if (line.warning) tl.warning(line.text);
    else console.log(line.text);
  }
}

/** Why a rule stays after this job let go of it; a warning when a person has to act. */
export function keptLine(label: string, { ip, why, holders }: KeptRule): { warning: boolean; text: string } {
  switch (why) {
    case 'otherLeases':
      return { warning: false, text: `Kept ${ip}: ${holders} other job(s) still hold it.` };
    case 'lastRule':
      return {
        warning: true,
        text: `Kept ${ip} on ${label}: it is the last rule, and an empty list turns IP filtering off (every network would get in). It is no longer marked as this extension's; remove it by hand when the cluster gets other ranges.`,
      };
    case 'markedLater':
      return {
        warning: false,
        text: `Kept ${ip}: it is marked as added by this extension, but ${ip.includes('/') ? 'it is a range the input does not name' : 'not in a way this job saw itself (the mark appeared after it took its lease)'}, so it is left for a person to check.`,
      };
    case 'notOurs':
      return { warning: false, text: `Kept ${ip}: the rule was not added by this extension (or another job still holds it).` };
  }
}

export function logPruned(removed: string[], legacyLeft: string[]): void {
  console.log(removed.length ? `Pruned ${removed.join(', ')} (every lease expired).` : 'No expired rule of this extension found.');
  if (legacyLeft.length)
    tl.warning(
      `Dropped the expired leases of an earlier version of this task on ${legacyLeft.join(', ')}; those rules were left in place (its marks cannot be told from anyone's tag). Remove them by hand if no one needs them.`,
    );
}
