import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';

/** The task's outputs and its build summary page. */
export interface Outputs {
  agentIp: string;
  ruleAdded: boolean;
  secondsToAccess: number;
}

export function finish(o: Outputs, registryName: string, action: string, ips: string[], result: string, retries = 0): void {
  tl.setVariable('agentIp', o.agentIp, false, true);
  tl.setVariable('ruleAdded', String(o.ruleAdded), false, true);
  tl.setVariable('secondsToAccess', String(o.secondsToAccess), false, true);
  const dir = tl.getVariable('Agent.TempDirectory');
  if (!dir || !fs.existsSync(dir)) return;
  const file = path.join(dir, `acr-network-rule-sync-${process.pid}.md`);
  fs.writeFileSync(
    file,
    [
      `### Registry firewall: \`${registryName}\` (${action})`,
      '',
      '| | |',
      '|---|---|',
      `| Addresses | ${ips.join(', ') || '—'} |`,
      `| Result | ${result} |`,
      `| Rule added | ${o.ruleAdded} |`,
      `| Seconds to access | ${o.secondsToAccess} |`,
      `| Retries after concurrent changes | ${retries} |`,
    ].join('\n'),
  );
  tl.uploadSummary(file);
}

