import * as assert from 'assert';
import { startSandbox, type Sandbox } from '../sandbox';
import { runFleet } from '../support/ruleSyncFleet';

/**
 * AcrNetworkRuleSync's rule store and convergence under a fleet: 50 jobs (30 behind 3 NAT IPs, 20
 * with their own, 5 of them crashing) arriving over a few seconds at one registry, with Resource
 * Manager throttling and failing updates on the way. No job may lose its rule while it holds it,
 * and the registry must end with exactly the rules it had.
 */
describe('Firewall rule sync at scale', function () {
  this.timeout(240_000);
  const RG = 'rg-fleet';
  const PRE_EXISTING = ['198.51.100.0/24', '192.0.2.44'];
  const SUBNET =
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/agents';
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'fleet' }],
      roleAssignments: [
        {
          principal: 'fleet',
          role: 'Container Registry Contributor and Data Access Configuration Administrator',
          scope: `resourceGroup:${RG}`,
        },
        // listUsages (the IP rule quota) needs Reader.
        { principal: 'fleet', role: 'Reader', scope: `resourceGroup:${RG}` },
      ],
      registries: [
        {
          name: 'acrfleet',
          resourceGroup: RG,
          defaultAction: 'Deny',
          ipRules: [...PRE_EXISTING],
          virtualNetworkRules: [SUBNET],
          tags: { env: 'prod' },
        },
      ],
    });
  });
  after(async () => sandbox?.stop());

  it('50 jobs, mixed add/remove/crash, through 429s and a failed update: 0 rules lost, exactly the original rules at the end', async () => {
    sandbox.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 2, method: 'PATCH', pathIncludes: '/registries/acrfleet' });
    sandbox.faults.inject('arm', { status: 503, times: 1, method: 'GET', pathIncludes: '/registries/acrfleet' });
    sandbox.azure.arm.failNextOperation('registries');
    const r = await runFleet(sandbox, {
      registryName: 'acrfleet',
      resourceGroup: RG,
      principal: 'fleet',
      jobs: 50,
      natJobs: 30,
      natIps: 3,
      crashJobs: 5,
      crashLeaseSeconds: 20,
      arrivalWindowMs: 8_000,
      holdMs: 2_000,
    });
    console.log(
      `      fleet: ${r.jobs} jobs, ${r.lost} lost, ${r.rewritten} leases re-taken after the access wait, ${r.refused.length} refused (${[...new Set(r.refused)].join(', ') || 'none'}), ${r.writes} writes (${(r.writes / r.jobs).toFixed(1)} per job), ${r.retries} retries, ${r.seconds.toFixed(1)} s`,
    );
    assert.strictEqual(r.lost, 0, 'a job lost its rule or lease while it held it');
    assert.deepStrictEqual(r.refused, []);
    assert.deepStrictEqual(r.finalIpRules, PRE_EXISTING);
    assert.deepStrictEqual(r.finalOurTags, []);
    const registry = sandbox.azure.state.findRegistry('acrfleet', RG)!;
    assert.deepStrictEqual(registry.network.virtualNetworkRules, [SUBNET]);
    assert.strictEqual(registry.tags.env, 'prod');
  });

  it('190 distinct agent addresses held at once (with 10 rules already there: the quota of 200), through 429s, a 503 and a failed update: 0 lost; the 201st is refused by the quota, changing nothing', async function () {
    const OWN = Array.from({ length: 8 }, (_, i) => `192.0.2.${100 + i}`);
    const big = sandbox.azure.state.findRegistry('acrfleet', RG)!;
    big.network.ipRules = [...PRE_EXISTING, ...OWN];
    // The fleet measures the lease layout and the convergence, not Resource Manager's latency: a
    // registry update completes at its first poll (the sandbox's default holds it for one more).
    sandbox.azure.arm.inProgressPolls = 0;
    sandbox.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 2, method: 'PATCH', pathIncludes: '/registries/acrfleet' });
    sandbox.faults.inject('arm', { status: 503, times: 1, method: 'PATCH', pathIncludes: '/registries/acrfleet' });
    sandbox.azure.arm.failNextOperation('registries');
    const r = await runFleet(sandbox, {
      registryName: 'acrfleet',
      resourceGroup: RG,
      principal: 'fleet',
      jobs: 190,
      natJobs: 0,
      natIps: 1,
      crashJobs: 0,
      crashLeaseSeconds: 0,
      arrivalWindowMs: 20_000,
      holdMs: 10_000,
      holdTogether: true,
    });
    console.log(
      `      fleet: ${r.jobs} addresses, ${r.peakAddresses} held at once in ${r.peakTags} tags, ${r.lost} lost, ${r.refused.length} refused (${[...new Set(r.refused)].join(', ') || 'none'}), ${r.writes} writes (${(r.writes / r.jobs).toFixed(1)} per job), ${r.retries} retries, ${r.seconds.toFixed(1)} s; the 201st: ${r.extra?.code}; ${sandbox.requests.length} requests`,
    );
    assert.strictEqual(r.lost, 0, 'a job lost its rule or lease while it held it');
    assert.deepStrictEqual(r.refused, []);
    assert.strictEqual(r.peakAddresses, 190);
    assert.ok(r.peakTags + 1 <= 50, `${r.peakTags} lease tags and the registry's own exceed Azure's 50`);
    assert.strictEqual(r.extra?.code, 'FIREWALL_RULE_QUOTA');
    assert.match(r.extra!.message!, /200 of its 200 IP rules/);
    assert.match(r.extra!.message!, /self-hosted agent pool with a fixed egress IP/);
    assert.match(r.extra!.message!, /private endpoint/);
    assert.strictEqual(r.extra!.changed, false, 'the refused agent changed the registry');
    assert.deepStrictEqual(r.finalIpRules, [...PRE_EXISTING, ...OWN]);
    assert.deepStrictEqual(r.finalOurTags, []);
    assert.deepStrictEqual(big.network.virtualNetworkRules, [SUBNET]);
  });
});
