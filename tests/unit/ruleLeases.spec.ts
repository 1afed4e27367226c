import * as assert from 'assert';
import { holdsLease, planAdd, planPrune, planRemove, readLeases, type RuleState } from '../../shared/firewall/ruleLeases';
import { ipv4RangeContains, parseIpv4Range, sameIpRule } from '../../shared/net/ipv4';

const NOW = 1_800_000_000;
const base: RuleState = { ipRules: ['198.51.100.0/24'], tags: { env: 'prod' } };

describe('IPv4 rules', () => {
  it('parses addresses and ranges as ACR stores them', () => {
    assert.strictEqual(parseIpv4Range('ipAddresses', ' 203.0.113.7 ').value, '203.0.113.7');
    assert.strictEqual(parseIpv4Range('ipAddresses', '203.0.113.7/32').value, '203.0.113.7');
    assert.strictEqual(parseIpv4Range('ipAddresses', '203.0.113.0/24').value, '203.0.113.0/24');
    assert.ok(ipv4RangeContains(parseIpv4Range('x', '203.0.113.0/24'), '203.0.113.200'));
    assert.ok(!ipv4RangeContains(parseIpv4Range('x', '203.0.113.0/24'), '203.0.114.1'));
    assert.ok(sameIpRule('203.0.113.7', '203.0.113.7/32'));
  });

  const refused: [string, RegExp][] = [
    ['2001:db8::1', /IPv6.*IPv4 only/],
    ['203.0.113.7/24', /host bits set.*203\.0\.113\.0/],
    ['203.0.113.0/33', /prefix/],
    ['10.0.0.0/4', /wider than \/8/],
    ['300.1.1.1', /not an IPv4 address/],
    ['1.2.3.4; rm -rf /', /not an IPv4 address/],
    ['', /not an IPv4 address/],
  ];
  for (const [value, message] of refused) {
    it(`refuses '${value}' naming the input`, () => {
      assert.throws(() => parseIpv4Range('ipAddresses', value), (e: Error) => /input 'ipAddresses'/.test(e.message) && message.test(e.message));
    });
  }
});

describe('rule leases on the registry', () => {
  it('adds the rule and marks it ours when it was not there', () => {
    const s = planAdd(base, '203.0.113.7', 'aaaaaaaa', NOW + 600);
    assert.deepStrictEqual(s.ipRules, ['198.51.100.0/24', '203.0.113.7']);
    assert.strictEqual(readLeases(s.tags).get('203.0.113.7')?.owned, true);
    assert.ok(holdsLease(s, '203.0.113.7', 'aaaaaaaa'));
    assert.strictEqual(s.tags.env, 'prod');
  });

  it('never takes ownership of a rule that was there before', () => {
    let s = planAdd(base, '198.51.100.0/24', 'aaaaaaaa', NOW + 600);
    assert.strictEqual(readLeases(s.tags).get('198.51.100.0/24')?.owned, false);
    s = planRemove(s, '198.51.100.0/24', 'aaaaaaaa', NOW);
    assert.deepStrictEqual(s.ipRules, ['198.51.100.0/24']);
    assert.deepStrictEqual(s.tags, { env: 'prod' });
  });

  it('keeps a shared rule while another job holds a live lease, removes it with the last', () => {
    let s = planAdd(base, '203.0.113.7', 'aaaaaaaa', NOW + 600);
    s = planAdd(s, '203.0.113.7', 'bbbbbbbb', NOW + 600);
    assert.deepStrictEqual(s.ipRules.filter((r) => r === '203.0.113.7'), ['203.0.113.7']);
    s = planRemove(s, '203.0.113.7', 'aaaaaaaa', NOW);
    assert.ok(s.ipRules.includes('203.0.113.7'), 'removed while job b still holds it');
    s = planRemove(s, '203.0.113.7', 'bbbbbbbb', NOW);
    assert.deepStrictEqual(s, base);
  });

  it('does not wait for a lease that expired (a crashed job)', () => {
    let s = planAdd(base, '203.0.113.7', 'aaaaaaaa', NOW - 1);
    s = planAdd(s, '203.0.113.7', 'bbbbbbbb', NOW + 600);
    s = planRemove(s, '203.0.113.7', 'bbbbbbbb', NOW);
    assert.deepStrictEqual(s, base);
  });

  it('prunes only our rules whose every lease expired', () => {
    let s = planAdd(base, '203.0.113.7', 'aaaaaaaa', NOW - 10);
    s = planAdd(s, '203.0.113.8', 'bbbbbbbb', NOW + 600);
    s = planAdd(s, '198.51.100.0/24', 'cccccccc', NOW - 10);
    const pruned = planPrune(s, NOW);
    assert.deepStrictEqual(pruned.removed, ['203.0.113.7']);
    assert.deepStrictEqual(pruned.state.ipRules, ['198.51.100.0/24', '203.0.113.8']);
    assert.ok(holdsLease(pruned.state, '203.0.113.8', 'bbbbbbbb'));
    assert.strictEqual(readLeases(pruned.state.tags).has('198.51.100.0/24'), false);
  });

  it('prune drops the expired leases of a rule another job still holds, and keeps the rule', () => {
    const s = planAdd(planAdd(base, '203.0.113.9', 'aaaaaaaa', NOW - 10), '203.0.113.9', 'bbbbbbbb', NOW + 60);
    const pruned = planPrune(s, NOW);
    assert.deepStrictEqual(pruned.removed, []);
    assert.ok(holdsLease(pruned.state, '203.0.113.9', 'bbbbbbbb'));
    assert.strictEqual(holdsLease(pruned.state, '203.0.113.9', 'aaaaaaaa'), false);
    assert.strictEqual(readLeases(pruned.state.tags).get('203.0.113.9')?.owned, true);
  });

  it('handles ranges in tag keys', () => {
    const s = planAdd(base, '203.0.113.0/28', 'aaaaaaaa', NOW + 60);
    assert.ok(Object.keys(s.tags).every((k) => !k.includes('/')), 'a tag key may not hold a slash');
    assert.strictEqual(readLeases(s.tags).get('203.0.113.0/28')?.owned, true);
  });
});
