import * as assert from 'assert';
import { leaseNamespace, planAdd, type RuleState } from '../../shared/firewall/ruleLeases';
import { converge, planRemoveAll, type RuleStore } from '../../shared/firewall/ruleSync';

/** A rule store in memory with eTag-like writes, as an AKS cluster's ranges behave. */
function memoryStore(initial: RuleState, emptyMeansOpen: boolean): RuleStore<null> & { state: RuleState; writes: number } {
  const store = {
    state: initial,
    writes: 0,
    label: 'the cluster',
    listCommand: 'az aks show',
    maxRules: 200,
    conditionalWrites: true,
    emptyMeansOpen,
    read: async () => ({ rules: store.state, raw: null }),
    write: async (_raw: null, next: RuleState) => {
      store.state = next;
      store.writes++;
    },
    explain: (err: unknown) => err as Error,
  };
  return store;
}

describe('rule convergence', () => {
  const NOW = 1_800_000_000;
  const ns = leaseNamespace('deployer');
  const at = () => ({ ns, now: NOW });
  const held = planAdd({ ipRules: [], tags: { env: 'prod' } }, '203.0.113.7', 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, at());

  it('never empties a list whose emptiness opens the filter: the last rule stays, no longer marked ours', async () => {
    const store = memoryStore(held, true);
    const outcome = await converge(store, 'removing', planRemoveAll(['203.0.113.7'], 'aaaaaaaaaaaa', ns, {}, at));
    assert.deepStrictEqual(outcome.rules, { ipRules: ['203.0.113.7'], tags: { env: 'prod' } });
    assert.strictEqual(store.writes, 1);
  });

  it('empties it where an empty list means no access (a registry)', async () => {
    const store = memoryStore(held, false);
    const outcome = await converge(store, 'removing', planRemoveAll(['203.0.113.7'], 'aaaaaaaaaaaa', ns, {}, at));
    assert.deepStrictEqual(outcome.rules, { ipRules: [], tags: { env: 'prod' } });
  });
});
