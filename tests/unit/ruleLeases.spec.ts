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

  it('takes one tag per address, whatever the number of jobs on it, and spills past 256 characters', () => {
    let s = base;
    const keys = Array.from({ length: 25 }, (_, i) => `${i.toString(16).padStart(2, '0')}aabbccddee`);
    for (const k of keys) s = planAdd(s, '203.0.113.7', k, NOW + 600);
    s = planAdd(s, '203.0.113.8', 'ffffffffffff', NOW + 600);
    const ours = Object.keys(s.tags).filter((k) => k.startsWith('privateaksdeploy.'));
    assert.deepStrictEqual(ours.sort(), ['privateaksdeploy.203.0.113.7', 'privateaksdeploy.203.0.113.7.2', 'privateaksdeploy.203.0.113.7.3', 'privateaksdeploy.203.0.113.8']);
    for (const k of ours) assert.ok(s.tags[k].length <= 256, `${k} is ${s.tags[k].length} characters`);
    assert.ok(s.tags['privateaksdeploy.203.0.113.7'].startsWith('ours;'));
    for (const k of keys) assert.ok(holdsLease(s, '203.0.113.7', k), `lease ${k} lost in the packing`);
    // Releasing all but one folds the spill tags back into one.
    for (const k of keys.slice(1)) s = planRemove(s, '203.0.113.7', k, NOW);
    assert.deepStrictEqual(Object.keys(s.tags).filter((k) => k.startsWith('privateaksdeploy.203.0.113.7')), ['privateaksdeploy.203.0.113.7']);
    assert.ok(holdsLease(s, '203.0.113.7', keys[0]));
    s = planRemove(planRemove(s, '203.0.113.7', keys[0], NOW), '203.0.113.8', 'ffffffffffff', NOW);
    assert.deepStrictEqual(s, base);
  });

  it('ignores tags it cannot read instead of taking them for leases', () => {
    const tags = { 'privateaksdeploy.203.0.113.7': 'ours;not-a-lease;0123456789ab:99', 'privateaksdeploy.note': 'x', 'privateaksdeploy.203.0.113.7.x': 'ours' };
    const leases = readLeases(tags).get('203.0.113.7')!;
    assert.strictEqual(leases.owned, true);
    assert.deepStrictEqual([...leases.leases], [['0123456789ab', 99]]);
  });

  it('handles ranges in tag keys', () => {
    const s = planAdd(base, '203.0.113.0/28', 'aaaaaaaa', NOW + 60);
    assert.ok(Object.keys(s.tags).every((k) => !k.includes('/')), 'a tag key may not hold a slash');
    assert.strictEqual(readLeases(s.tags).get('203.0.113.0/28')?.owned, true);
  });
});
