/**
 * Bench rows for AcrNetworkRuleSync under concurrency: 20 jobs (10 behind one NAT IP) opening and
 * closing one registry's firewall at once, through the task's rule store and convergence against
 * the sandbox (in one process: no node start or sign-in per job). Median over `runs` fresh sandboxes;
 * the same path alone for the ratio; and one run of 190 distinct addresses up to the registry's quota.
 */
import { startSandbox, type Sandbox } from '../../tests/sandbox';
import { runFleet, type FleetResult } from '../../tests/support/ruleSyncFleet';

export interface BenchRow {
  name: string;
  value: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Reads of the registry itself (not the polls of its update operations), per job. */
const registryReadsPerJob = (sandbox: Sandbox, registry: string, jobs: number) =>
  sandbox.requests
    .for('arm', `/registries/${registry}`)
    .filter((r) => r.method === 'GET' && !r.path.includes('/operationStatuses/') && !r.path.endsWith('/listUsages')).length / jobs;

export async function acrConcurrencyRows(runs = 3): Promise<BenchRow[]> {
  const results: FleetResult[] = [];
  const reads: number[] = [];
  for (let i = 0; i < runs; i++) {
    const sandbox = await startSandbox({
      principals: [{ name: 'bench' }],
      roleAssignments: [
        {
          principal: 'bench',
          role: 'Container Registry Contributor and Data Access Configuration Administrator',
          scope: 'resourceGroup:rg-bench',
        },
      ],
      registries: [{ name: 'acrbench', resourceGroup: 'rg-bench', defaultAction: 'Deny', ipRules: ['198.51.100.0/24'] }],
    });
    try {
      results.push(
        await runFleet(sandbox, {
          registryName: 'acrbench',
          resourceGroup: 'rg-bench',
          principal: 'bench',
          jobs: 20,
          natJobs: 10,
          natIps: 1,
          crashJobs: 0,
          crashLeaseSeconds: 0,
          arrivalWindowMs: 0,
          holdMs: 0,
        }),
      );
      reads.push(registryReadsPerJob(sandbox, 'acrbench', 20));
    } finally {
      await sandbox.stop();
    }
  }
  // One sync alone, through the same path, for the ratio.
  const alone: FleetResult[] = [];
  for (let i = 0; i < runs; i++) {
    const sandbox = await startSandbox(scenario('acralone', ['198.51.100.0/24']));
    try {
      alone.push(
        await runFleet(sandbox, {
          registryName: 'acralone',
          resourceGroup: 'rg-bench',
          principal: 'bench',
          jobs: 1,
          natJobs: 0,
          natIps: 1,
          crashJobs: 0,
          crashLeaseSeconds: 0,
          arrivalWindowMs: 0,
          holdMs: 0,
        }),
      );
    } finally {
      await sandbox.stop();
    }
  }
  const fleet = await fleetAtQuota();
  const wall = median(results.map((r) => r.seconds));
  return [
    { name: 'AcrNetworkRuleSync: 20 concurrent jobs (10 behind one NAT IP), add + remove, wall time', value: `${wall.toFixed(1)} s` },
    {
      name: 'AcrNetworkRuleSync: 20 concurrent rule syncs, wall time vs one sync alone',
      value: `${wall.toFixed(1)} s vs ${median(alone.map((r) => r.seconds)).toFixed(1)} s (×${(wall / median(alone.map((r) => r.seconds))).toFixed(2)})`,
    },
    { name: 'AcrNetworkRuleSync: ARM writes per job (add + remove)', value: median(results.map((r) => r.writes / r.jobs)).toFixed(1) },
    // Jobs that find another's update in flight read again instead of writing: fewer writes, more reads.
    { name: 'AcrNetworkRuleSync: ARM reads of the registry per job (add + remove)', value: median(reads).toFixed(1) },
    {
      name: 'AcrNetworkRuleSync: leases re-taken after the access wait (stale writes caught)',
      value: String(median(results.map((r) => r.rewritten))),
    },
    {
      name: 'AcrNetworkRuleSync: rules lost / left behind',
      value: `${Math.max(...results.map((r) => r.lost))} / ${Math.max(...results.map((r) => r.finalIpRules.length - 1 + r.finalOurTags.length))}`,
    },
    {
      name: 'AcrNetworkRuleSync: 190 distinct agent addresses at once on one registry (10 rules there already; 429s, a 503, a failed update), one run',
      value: `${fleet.peakAddresses} held at once in ${fleet.peakTags} tags, ${fleet.lost} lost, ${(fleet.writes / fleet.jobs).toFixed(1)} ARM writes per job, ${fleet.finalIpRules.length - 10 + fleet.finalOurTags.length} left behind, ${fleet.seconds.toFixed(0)} s; the 201st: ${fleet.extra?.code ?? 'not refused'}${fleet.extra?.changed ? ' (changed the registry!)' : ', nothing changed'}`,
    },
  ];
}

function scenario(registry: string, ipRules: string[]) {
  return {
    principals: [{ name: 'bench' }],
    roleAssignments: [
      {
        principal: 'bench',
        role: 'Container Registry Contributor and Data Access Configuration Administrator',
        scope: 'resourceGroup:rg-bench',
      },
      { principal: 'bench', role: 'Reader', scope: 'resourceGroup:rg-bench' },
    ],
    registries: [{ name: registry, resourceGroup: 'rg-bench', defaultAction: 'Deny' as const, ipRules }],
  };
}

/** As tests/reliability/ruleSyncFleet.spec.ts: up to the registry's quota of 200 IP rules, then one more. */
async function fleetAtQuota(): Promise<FleetResult> {
  const sandbox = await startSandbox(
    scenario(
      'acrquota',
      Array.from({ length: 10 }, (_, i) => `192.0.2.${100 + i}`),
    ),
  );
  try {
    // A registry update completes at its first poll: the layout and the convergence are measured, not ARM's latency.
    sandbox.azure.arm.inProgressPolls = 0;
    sandbox.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 2, method: 'PATCH', pathIncludes: '/registries/acrquota' });
    sandbox.faults.inject('arm', { status: 503, times: 1, method: 'PATCH', pathIncludes: '/registries/acrquota' });
    sandbox.azure.arm.failNextOperation('registries');
    return await runFleet(sandbox, {
      registryName: 'acrquota',
      resourceGroup: 'rg-bench',
      principal: 'bench',
      jobs: 190,
      natJobs: 0,
      natIps: 1,
      crashJobs: 0,
      crashLeaseSeconds: 0,
      arrivalWindowMs: 20_000,
      holdMs: 10_000,
      holdTogether: true,
    });
  } finally {
    await sandbox.stop();
  }
}
