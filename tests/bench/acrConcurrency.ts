/**
 * Bench rows for AcrNetworkRuleSync under concurrency: 20 jobs (10 behind one NAT IP) opening and
 * closing one registry's firewall at once, through the task's rule store and convergence against
 * the sandbox (in one process: no node start or sign-in per job). Median over `runs` fresh sandboxes.
 */
import { startSandbox } from '../sandbox';
import { runFleet, type FleetResult } from '../support/ruleSyncFleet';

export interface BenchRow {
  name: string;
  value: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function acrConcurrencyRows(runs = 3): Promise<BenchRow[]> {
  const results: FleetResult[] = [];
  for (let i = 0; i < runs; i++) {
    const sandbox = await startSandbox({
      principals: [{ name: 'bench' }],
      roleAssignments: [{ principal: 'bench', role: 'Container Registry Contributor and Data Access Configuration Administrator', scope: 'resourceGroup:rg-bench' }],
      registries: [{ name: 'acrbench', resourceGroup: 'rg-bench', defaultAction: 'Deny', ipRules: ['198.51.100.0/24'] }],
    });
    try {
      results.push(await runFleet(sandbox, { registryName: 'acrbench', resourceGroup: 'rg-bench', principal: 'bench', jobs: 20, natJobs: 10, natIps: 1, crashJobs: 0, crashLeaseSeconds: 0, arrivalWindowMs: 0, holdMs: 0 }));
    } finally {
      await sandbox.stop();
    }
  }
  return [
    { name: 'AcrNetworkRuleSync: 20 concurrent jobs (10 behind one NAT IP), add + remove, wall time', value: `${median(results.map((r) => r.seconds)).toFixed(1)} s` },
    { name: 'AcrNetworkRuleSync: ARM writes per job (add + remove)', value: median(results.map((r) => r.writes / r.jobs)).toFixed(1) },
    { name: 'AcrNetworkRuleSync: leases re-taken after the access wait (stale writes caught)', value: String(median(results.map((r) => r.rewritten))) },
    { name: 'AcrNetworkRuleSync: rules lost / left behind', value: `${Math.max(...results.map((r) => r.lost))} / ${Math.max(...results.map((r) => r.finalIpRules.length - 1 + r.finalOurTags.length))}` },
  ];
}
