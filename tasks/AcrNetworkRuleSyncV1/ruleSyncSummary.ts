import * as tl from 'azure-pipelines-task-lib/task';
import { STATUS_ICON, code, factTable, uploadSummaryPage, type Status } from '../../shared/pipeline/buildSummary';

/** The task's outputs and its build summary page. */
export interface Outputs {
  agentIp: string;
  ruleAdded: boolean;
  secondsToAccess: number;
}

/** What the page says beyond the outputs; the lease falls back to the task's input when not given. */
export interface SummaryDetails {
  targetKind: 'registry' | 'aksAuthorizedIpRanges';
  leaseMinutes?: number;
  /** When the lease expires; else about now + leaseMinutes. */
  leaseExpiresOn?: Date;
  waitedForAccess?: boolean;
}

const TITLE: Record<string, string> = {
  addForJob: 'Firewall opened to this agent for the job',
  add: 'Firewall opened to this agent until a remove step',
  remove: "Firewall rule for this agent's addresses removed",
  prune: 'Expired firewall rules pruned',
};

function statusOf(result: string): Status {
  return /nothing changed|nothing held|nothing expired/.test(result) ? 'info' : 'pass';
}

function inputNumber(name: string, fallback: number): number {
  const n = Number(tl.getInput(name, false));
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** How long the rule stays, in the words of the action that ran. */
export function ruleLifetime(action: string, leaseMinutes: number, expiresOn: Date): string {
  const lease = `lease ${leaseMinutes} min, until about ${expiresOn.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  switch (action) {
    case 'addForJob':
      return `Until this job ends: the task's post-job step removes it, even when the job fails or is cancelled. Backstop: ${lease}; a later \`prune\` removes rules whose lease ran out.`;
    case 'add':
      return `Until a \`remove\` step in this run, or the ${lease}; a later \`prune\` removes rules whose lease ran out.`;
    case 'remove':
      return 'Removed now, unless another job still holds a lease on the same address: the rule then stays until that lease ends.';
    case 'prune':
      return 'Rules whose leases ran out are removed; rules the task did not add are never touched.';
    default:
      return lease;
  }
}

export function finish(
  o: Outputs,
  registryName: string,
  action: string,
  ips: string[],
  result: string,
  retries: number,
  details: SummaryDetails,
): void {
  tl.setVariable('agentIp', o.agentIp, false, true);
  tl.setVariable('ruleAdded', String(o.ruleAdded), false, true);
  tl.setVariable('secondsToAccess', String(o.secondsToAccess), false, true);
  const kind = details.targetKind;
  const leaseMinutes = details.leaseMinutes ?? inputNumber('leaseMinutes', 120);
  const expiresOn = details.leaseExpiresOn ?? new Date(Date.now() + leaseMinutes * 60_000);
  // A wait that ran measured something; 0 means the task did not wait.
  const waited = details.waitedForAccess ?? o.secondsToAccess > 0;
  const status = statusOf(result);
  const page = [
    `### ${STATUS_ICON[status]} ${TITLE[action] ?? `Firewall: ${action}`}`,
    '',
    ...factTable([
      [
        'Target',
        kind === 'registry'
          ? `container registry ${code(registryName)}: IP rules`
          : `AKS cluster ${code(registryName)}: API server authorized IP ranges`,
      ],
      ['Action', code(action)],
      ['Addresses', ips.length ? ips.map(code).join(', ') : '—'],
      ['Result', `${STATUS_ICON[status]} ${result}`],
      ['Rule lifetime', ruleLifetime(action, leaseMinutes, expiresOn)],
      [
        'Access from the agent',
        o.ruleAdded
          ? waited
            ? `${STATUS_ICON.pass} got through ${o.secondsToAccess} s after the change`
            : 'not waited for (waitForAccess: false)'
          : undefined,
      ],
      [
        'Concurrent changes',
        retries
          ? `${STATUS_ICON.warn} ${retries} retr${retries === 1 ? 'y' : 'ies'}: other writers changed the rules at the same time; the task re-read and re-applied`
          : 'none',
      ],
    ]),
    '',
    `Outputs: \`agentIp\` = ${o.agentIp ? code(o.agentIp) : '—'}, \`ruleAdded\` = ${o.ruleAdded}, \`secondsToAccess\` = ${o.secondsToAccess}`,
  ].join('\n');
  uploadSummaryPage('acr-network-rule-sync', 'Agent firewall rule', page);
}
