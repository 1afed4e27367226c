import * as assert from 'assert';
import { leaseNamespace, planAdd, type RuleState } from '../../shared/firewall/ruleLeases';
import { converge, planAddAll, planRemoveAll, type RuleStore } from '../../shared/firewall/ruleSync';

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

/**
 * A registry in memory: no eTag, and an update in flight shows as busy (provisioningState
 * `Updating`) until it ends. `inFlight` is another job's update, sent before ours: it ends after
 * `busyReads` more reads, or at our own write (updates end in the order they were sent).
 */
function registryStore(initial: RuleState, inFlight: RuleState, busyReads: number): RuleStore<null> & { state: RuleState; writes: number } {
  let pending: RuleState | undefined = inFlight;
  const land = () => {
    if (pending) store.state = pending;
    pending = undefined;
  };
  const store = {
    state: initial,
    writes: 0,
    label: 'the registry',
    listCommand: 'az acr network-rule list',
    maxRules: 200,
    conditionalWrites: false,
    read: async () => {
      const read = { rules: store.state, raw: null, busy: pending !== undefined };
      if (pending && --busyReads <= 0) land();
      return read;
    },
    write: async (_raw: null, next: RuleState) => {
      land();
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

  // A write that gets no HTTP answer (the connection reset: a reused keep-alive socket the server had
  // closed, or a network blip) may or may not have landed; the verified read-modify-write reads to find out.
  const connectionReset = () => Object.assign(new Error('read ECONNRESET'), { name: 'RestError', code: 'ECONNRESET' });

  it('a write whose connection was reset before it landed: read again, write again, done', async () => {
    const store = memoryStore({ ipRules: [], tags: { env: 'prod' } }, false);
    const write = store.write;
    let failed = 0;
    store.write = async (raw, next) => {
      if (failed++ === 0) throw connectionReset();
      await write(raw, next);
    };
    const outcome = await converge(store, 'adding', (current) =>
      planAdd(current, '203.0.113.7', 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, at()),
    );
    assert.deepStrictEqual(outcome.rules.ipRules, ['203.0.113.7']);
    assert.strictEqual(store.writes, 1);
  });

  it('a write that landed but whose answer was lost: the read confirms it, nothing written twice', async () => {
    const store = memoryStore({ ipRules: [], tags: { env: 'prod' } }, false);
    const write = store.write;
    store.write = async (raw, next) => {
      await write(raw, next);
      if (store.writes === 1) throw connectionReset();
    };
    const outcome = await converge(store, 'adding', (current) =>
      planAdd(current, '203.0.113.7', 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, at()),
    );
    assert.deepStrictEqual(outcome.rules.ipRules, ['203.0.113.7']);
    assert.strictEqual(store.writes, 1);
  });

  it('empties it where an empty list means no access (a registry)', async () => {
    const store = memoryStore(held, false);
    const outcome = await converge(store, 'removing', planRemoveAll(['203.0.113.7'], 'aaaaaaaaaaaa', ns, {}, at));
    assert.deepStrictEqual(outcome.rules, { ipRules: [], tags: { env: 'prod' } });
  });

  it("refuses with FIREWALL_TAG_LIMIT only when the resource's own tags leave no room for the packed leases", async () => {
    const own = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`team${i}`, 'x']));
    const ips = Array.from({ length: 40 }, (_, i) => `198.18.1.${i}`);
    // 40 addresses take 3 lease tags: with 47 of its own the resource holds 50.
    const roomy = memoryStore({ ipRules: [], tags: own(47) }, false);
    await converge(roomy, 'adding', planAddAll(ips, 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, ns, at));
    assert.strictEqual(Object.keys(roomy.state.tags).length, 50);
    const full = memoryStore({ ipRules: [], tags: own(48) }, false);
    await assert.rejects(
      converge(full, 'adding', planAddAll(ips, 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, ns, at)),
      (e: Error & { code?: string }) => e.code === 'FIREWALL_TAG_LIMIT' && /would carry 51 tags; Azure allows 50/.test(e.message),
    );
    assert.strictEqual(full.writes, 0, 'nothing written');
  });

  it("waits for another job's update in flight instead of writing over it: one write, both jobs' rules kept", async () => {
    const others = planAdd({ ipRules: ['198.51.100.0/24'], tags: {} }, '203.0.113.8', 'bbbbbbbbbbbb', { start: NOW, minutes: 10 }, at());
    const store = registryStore({ ipRules: ['198.51.100.0/24'], tags: {} }, others, 2);
    const outcome = await converge(store, 'adding', planAddAll(['203.0.113.7'], 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, ns, at));
    assert.deepStrictEqual(store.state.ipRules, ['198.51.100.0/24', '203.0.113.8', '203.0.113.7'], "the other job's rule was written over");
    assert.strictEqual(outcome.writes, 1);
    assert.strictEqual(outcome.retries, 0);
  });

  it('does not wait for good on a resource that stays busy: after the limit it writes, checked by reading', async () => {
    const stuck = registryStore({ ipRules: [], tags: {} }, { ipRules: [], tags: {} }, Number.POSITIVE_INFINITY);
    stuck.write = async (_raw: null, next: RuleState) => {
      stuck.state = next;
      stuck.writes++;
    };
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const outcome = await converge(stuck, 'adding', planAddAll(['203.0.113.7'], 'aaaaaaaaaaaa', { start: NOW, minutes: 10 }, ns, at), {
        maxBusyWaitMs: 600,
      });
      assert.deepStrictEqual(outcome.rules.ipRules, ['203.0.113.7']);
      assert.strictEqual(outcome.writes, 1);
    } finally {
      console.log = log;
    }
    assert.match(lines.join('\n'), /the registry is being updated \(another job's change\); waiting for that update to finish first/);
    assert.match(lines.join('\n'), /the registry has been updating for \d+ s; going on \(every write is checked by reading it back\)/);
  });
});
