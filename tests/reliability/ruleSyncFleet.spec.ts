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
  const SUBNET = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub/subnets/agents';
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'fleet' }],
      roleAssignments: [{ principal: 'fleet', role: 'Container Registry Contributor and Data Access Configuration Administrator', scope: `resourceGroup:${RG}` }],
      registries: [{ name: 'acrfleet', resourceGroup: RG, defaultAction: 'Deny', ipRules: [...PRE_EXISTING], virtualNetworkRules: [SUBNET], tags: { env: 'prod' } }],
    });
  });
  after(async () => sandbox?.stop());

  it('50 jobs, mixed add/remove/crash, through 429s and a failed update: 0 rules lost, exactly the original rules at the end', async () => {
    sandbox.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 2, method: 'PATCH', pathIncludes: '/registries/acrfleet' });
    sandbox.faults.inject('arm', { status: 503, times: 1, method: 'GET', pathIncludes: '/registries/acrfleet' });
    sandbox.azure.arm.failNextOperation('registries');
    const r = await runFleet(sandbox, { registryName: 'acrfleet', resourceGroup: RG, principal: 'fleet', jobs: 50, natJobs: 30, natIps: 3, crashJobs: 5, crashLeaseSeconds: 20, arrivalWindowMs: 8_000, holdMs: 2_000 });
    console.log(`      fleet: ${r.jobs} jobs, ${r.lost} lost, ${r.rewritten} leases re-taken after the access wait, ${r.refused.length} refused (${[...new Set(r.refused)].join(', ') || 'none'}), ${r.writes} writes (${(r.writes / r.jobs).toFixed(1)} per job), ${r.retries} retries, ${r.seconds.toFixed(1)} s`);
    assert.strictEqual(r.lost, 0, 'a job lost its rule or lease while it held it');
    // One tag per address (leases packed into it): 18 addresses fit well within Azure's 50 tags.
    assert.deepStrictEqual(r.refused, []);
    assert.deepStrictEqual(r.finalIpRules, PRE_EXISTING);
    assert.deepStrictEqual(r.finalOurTags, []);
    const registry = sandbox.azure.state.findRegistry('acrfleet', RG)!;
    assert.deepStrictEqual(registry.network.virtualNetworkRules, [SUBNET]);
    assert.strictEqual(registry.tags.env, 'prod');
  });
});
