import * as assert from 'assert';
import {
  holdsLease,
  leaseNamespace,
  leasesOf,
  planAdd,
  planPrune,
  planRemove,
  readLeaseBook,
  withLeaseBook,
  MAX_LEASE_MINUTES,
  type RuleState,
} from '../../shared/firewall/ruleLeases';
import { ipv4RangeContains, parseIpv4Range, sameIpRule } from '../../shared/net/ipv4';

const NOW = 1_800_000_000;
const base: RuleState = { ipRules: ['198.51.100.0/24'], tags: { env: 'prod' } };
const NS = leaseNamespace('11111111-2222-3333-4444-555555555555');
const at = (now = NOW) => ({ ns: NS, now });
const lease = (minutes = 10, start = NOW) => ({ start, minutes });
const key = (i: number) => i.toString(16).padStart(12, '0');
const ours = (s: RuleState) => Object.keys(s.tags).filter((k) => k.startsWith('privateaksdeploy.'));
const marked = (s: RuleState, ip: string, now = NOW) => leasesOf(s.tags, ip, at(now))?.addedAt !== undefined;

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
      assert.throws(
        () => parseIpv4Range('ipAddresses', value),
        (e: Error) => /input 'ipAddresses'/.test(e.message) && message.test(e.message),
      );
    });
  }
});

describe('rule leases on the registry', () => {
  it('adds the rule and marks it as added by this principal when it was not there', () => {
    const s = planAdd(base, '203.0.113.7', key(1), lease(), at());
    assert.deepStrictEqual(s.ipRules, ['198.51.100.0/24', '203.0.113.7']);
    assert.ok(marked(s, '203.0.113.7'));
    assert.ok(holdsLease(s, '203.0.113.7', key(1), at()));
    assert.strictEqual(s.tags.env, 'prod');
    assert.deepStrictEqual(ours(s), [`privateaksdeploy.${NS}.0`]);
    assert.match(s.tags[`privateaksdeploy.${NS}.0`], /^cb007107\.o[0-9a-z]+-000000000001\.[0-9a-z]+\.a$/);
  });

  it('never marks a rule that was there before', () => {
    let s = planAdd({ ...base, ipRules: [...base.ipRules, '192.0.2.44'] }, '192.0.2.44', key(1), lease(), at());
    assert.strictEqual(marked(s, '192.0.2.44'), false);
    s = planRemove(s, '192.0.2.44', key(1), at());
    assert.deepStrictEqual(s, { ...base, ipRules: [...base.ipRules, '192.0.2.44'] });
  });

  it('keeps a shared rule while another job holds a live lease, removes it with the last', () => {
    let s = planAdd(base, '203.0.113.7', key(1), lease(), at());
    s = planAdd(s, '203.0.113.7', key(2), lease(), at());
    s = planRemove(s, '203.0.113.7', key(1), at());
    assert.ok(s.ipRules.includes('203.0.113.7'), 'removed while job 2 still holds it');
    s = planRemove(s, '203.0.113.7', key(2), at());
    assert.deepStrictEqual(s, base);
  });

  it("another principal's live lease keeps the rule; its marks are not ours", () => {
    const other = { ns: leaseNamespace('99999999-0000-0000-0000-000000000000'), now: NOW };
    let s = planAdd(base, '203.0.113.7', key(1), lease(), at());
    s = planAdd(s, '203.0.113.7', key(2), lease(), other);
    assert.strictEqual(leasesOf(s.tags, '203.0.113.7', other)?.addedAt, undefined, 'the second principal found the rule there');
    s = planRemove(s, '203.0.113.7', key(1), at());
    assert.ok(s.ipRules.includes('203.0.113.7'), 'removed while another connection holds it');
    s = planRemove(s, '203.0.113.7', key(2), other);
    assert.ok(s.ipRules.includes('203.0.113.7'), 'the other principal removed a rule it did not add');
  });

  it('does not wait for a lease that expired (a crashed job)', () => {
    let s = planAdd(base, '203.0.113.7', key(1), lease(10, NOW - 3600), at(NOW - 3600));
    s = planAdd(s, '203.0.113.7', key(2), lease(), at());
    s = planRemove(s, '203.0.113.7', key(2), at());
    assert.deepStrictEqual(s, base);
  });

  it('prunes only our single-address rules whose every lease expired', () => {
    let s = planAdd(base, '203.0.113.7', key(1), lease(10, NOW - 3600), at(NOW - 3600));
    s = planAdd(s, '198.51.100.0/24', key(3), lease(10, NOW - 3600), at(NOW - 3600));
    s = planAdd(s, '203.0.113.8', key(2), lease(), at());
    const pruned = planPrune(s, at());
    assert.deepStrictEqual(pruned.removed, ['203.0.113.7']);
    assert.deepStrictEqual(pruned.state.ipRules, ['198.51.100.0/24', '203.0.113.8']);
    assert.ok(holdsLease(pruned.state, '203.0.113.8', key(2), at()));
    assert.strictEqual(leasesOf(pruned.state.tags, '198.51.100.0/24', at()), undefined);
  });

  it('prune drops the expired leases of a rule another job still holds, and keeps the rule and its mark', () => {
    const s = planAdd(planAdd(base, '203.0.113.9', key(1), lease(10, NOW - 3600), at(NOW - 3600)), '203.0.113.9', key(2), lease(), at());
    const pruned = planPrune(s, at());
    assert.deepStrictEqual(pruned.removed, []);
    assert.ok(holdsLease(pruned.state, '203.0.113.9', key(2), at()));
    assert.strictEqual(holdsLease(pruned.state, '203.0.113.9', key(1), at()), false);
    assert.ok(marked(pruned.state, '203.0.113.9'));
  });

  it('packs 200 addresses into 14 tags at most within 512/256 characters, and folds back as leases end', () => {
    let s: RuleState = { ipRules: [], tags: { env: 'prod' } };
    const ips = Array.from({ length: 200 }, (_, i) => `198.18.${i >> 8}.${i & 255}`);
    ips.forEach((ip, i) => (s = planAdd(s, ip, key(i), lease(120), at())));
    // 30 jobs behind one NAT address: its leases spill over records and tags.
    for (let j = 0; j < 30; j++) s = planAdd(s, '203.0.113.7', key(1000 + j), lease(120), at());
    const tags = ours(s);
    assert.ok(tags.length <= 14, `${tags.length} tags for 201 addresses`);
    for (const k of tags) {
      assert.ok(k.length <= 512 && s.tags[k].length <= 256, `${k.length}/${s.tags[k].length} characters`);
      assert.match(k + s.tags[k], /^[0-9a-z._-]+$/, 'only characters valid in tag names, in any case');
    }
    ips.forEach((ip, i) => assert.ok(holdsLease(s, ip, key(i), at()), `lease on ${ip} lost in the packing`));
    for (let j = 0; j < 30; j++) assert.ok(holdsLease(s, '203.0.113.7', key(1000 + j), at()));
    // Azure treats tag names case-insensitively and may hand them back in another case.
    const upper = Object.fromEntries(Object.entries(s.tags).map(([k, v]) => [k.toUpperCase(), v.toUpperCase()]));
    assert.ok(holdsLease({ ipRules: s.ipRules, tags: upper }, ips[17], key(17), at()));
    ips.slice(1).forEach((ip, i) => (s = planRemove(s, ip, key(i + 1), at())));
    for (let j = 0; j < 30; j++) s = planRemove(s, '203.0.113.7', key(1000 + j), at());
    assert.deepStrictEqual(ours(s), [`privateaksdeploy.${NS}.0`], 'the layout folds back into one tag');
    s = planRemove(s, ips[0], key(0), at());
    assert.deepStrictEqual(s, { ipRules: [], tags: { env: 'prod' } });
  });

  it('handles ranges', () => {
    const s = planAdd(base, '203.0.113.0/28', key(1), lease(), at());
    assert.ok(
      ours(s).every((k) => !k.includes('/')),
      'a tag name may not hold a slash',
    );
    assert.ok(marked(s, '203.0.113.0/28'));
  });
});

describe('rule leases against a tag writer (security review, finding 1)', () => {
  const office = '198.51.100.0/24';
  const single = '192.0.2.44';
  const withRules: RuleState = { ipRules: [office, single], tags: { env: 'prod' } };
  /** A Tag Contributor writes our namespace: a mark on a rule the task never added, and an expired lease. */
  const forge = (s: RuleState, ip: string, record: string) => {
    const code = ip === office ? 'c6336400m24' : 'c000022c';
    return { ipRules: s.ipRules, tags: { ...s.tags, [`privateaksdeploy.${NS}.7`]: `${code}${record}` } };
  };

  it('a forged mark on a pre-existing range: neither prune nor a release removes it', () => {
    const forged = forge(withRules, office, `.o${(NOW - 7200).toString(36)}-${key(9)}.${(NOW - 7200).toString(36)}.a`);
    assert.ok(marked(forged, office), 'the forgery parses as a mark');
    assert.deepStrictEqual(planPrune(forged, at()).state.ipRules, withRules.ipRules);
    assert.deepStrictEqual(planRemove(forged, office, key(9), at()).ipRules, withRules.ipRules);
    // Only when the job's own input names the range does a marked range go.
    assert.deepStrictEqual(planRemove(forged, office, key(9), at(), { namedRanges: [office] }).ipRules, [single]);
  });

  it('a forged mark on a pre-existing single address: the job that found it unmarked does not remove it', () => {
    // The job takes its lease on the address it found there, unmarked: it saw no mark (markSince has no entry).
    let s = planAdd(withRules, single, key(1), lease(), at());
    assert.strictEqual(marked(s, single), false);
    s = forge(s, single, `.o${(NOW - 60).toString(36)}-${key(1)}.${NOW.toString(36)}.a`);
    assert.deepStrictEqual(planRemove(s, single, key(1), at(), { markSince: {} }).ipRules, withRules.ipRules);
    // A job that saw the address absent at T vouches only for marks from T on: a mark from before is not its own.
    assert.deepStrictEqual(planRemove(s, single, key(1), at(), { markSince: { [single]: NOW } }).ipRules, withRules.ipRules);
    // Whereas the rule the job added itself goes.
    const own = planAdd(base, '203.0.113.7', key(2), lease(), at());
    assert.deepStrictEqual(planRemove(own, '203.0.113.7', key(2), at(), { markSince: { '203.0.113.7': NOW - 5 } }).ipRules, base.ipRules);
  });

  it('a far-future lease does not count: a rule the task added still goes when its own lease ends', () => {
    let s = planAdd(base, '203.0.113.7', key(1), lease(), at());
    // 100 years, written as a lease of the maximum 'zzz' minutes and as one starting in the future.
    s = {
      ipRules: s.ipRules,
      tags: {
        ...s.tags,
        [`privateaksdeploy.${NS}.3`]: `cb007107-${key(8)}.${NOW.toString(36)}.zzz_cb007107-${key(9)}.${(NOW + 3 * 365 * 86400).toString(36)}.a`,
      },
    };
    assert.strictEqual(leasesOf(s.tags, '203.0.113.7', at())?.leases.size, 1, 'only the genuine lease counts');
    assert.deepStrictEqual(planRemove(s, '203.0.113.7', key(1), at()), base);
    // The longest lease a forger can write is the longest the task grants (7 days from now), and it ends.
    let held = planAdd(base, '203.0.113.7', key(1), lease(), at());
    held = {
      ipRules: held.ipRules,
      tags: { ...held.tags, [`privateaksdeploy.${NS}.3`]: `cb007107-${key(8)}.${NOW.toString(36)}.${MAX_LEASE_MINUTES.toString(36)}` },
    };
    assert.ok(planRemove(held, '203.0.113.7', key(1), at()).ipRules.includes('203.0.113.7'));
    assert.deepStrictEqual(planPrune(planRemove(held, '203.0.113.7', key(1), at()), at(NOW + MAX_LEASE_MINUTES * 60 + 1)).state, base);
  });

  it('malformed and oversized tag values are ignored and dropped at the next write', () => {
    const junk: RuleState = {
      ipRules: [...base.ipRules, '203.0.113.7'],
      tags: {
        ...base.tags,
        [`privateaksdeploy.${NS}.0`]: `cb007107.o${NOW.toString(36)}-zzzz_not-a-record_cb007107-${key(3)}.${NOW.toString(36)}.a;rm -rf`,
        [`privateaksdeploy.${NS}.1`]: `cb007107.o1-${key(4)}.${NOW.toString(36)}.a`.padEnd(300, '-'),
        [`privateaksdeploy.${NS}.2.${'c000022c.o1'.padEnd(600, '_')}`]: '',
        'privateaksdeploy.note': 'x',
      },
    };
    const book = readLeaseBook(junk.tags, at());
    assert.deepStrictEqual([...book.mine.keys()], [], 'nothing here parses as a record');
    const s = planAdd(junk, '203.0.113.8', key(5), lease(), at());
    assert.deepStrictEqual(ours(s).sort(), ['privateaksdeploy.note', `privateaksdeploy.${NS}.0`].sort());
    assert.strictEqual(marked(s, '203.0.113.7'), false);
    assert.ok(holdsLease(s, '203.0.113.8', key(5), at()));
  });

  it('a removal racing a stale write: the records of a rule that is gone are dropped, not revived as a mark', () => {
    const held = planAdd(base, '203.0.113.7', key(1), lease(), at());
    const removed = planRemove(held, '203.0.113.7', key(1), at());
    assert.deepStrictEqual(removed, base);
    // A tag writer (or a job's stale write) puts the old tags back, but not the rule.
    const stale: RuleState = { ipRules: removed.ipRules, tags: held.tags };
    // An admin adds the same address by hand meanwhile: the stale mark must not make it ours.
    const readded = planAdd({ ...stale, ipRules: [...stale.ipRules] }, '203.0.113.8', key(2), lease(), at());
    assert.strictEqual(leasesOf(readded.tags, '203.0.113.7', at()), undefined, 'the stale record of a rule that is gone was dropped');
    assert.deepStrictEqual(planPrune({ ...stale, ipRules: [...stale.ipRules] }, at(NOW + 3600)).state, base);
  });

  it('leases in the layout of earlier versions keep their rule while they run, their `ours` is not trusted, prune drops them', () => {
    const legacy: RuleState = {
      ipRules: [...base.ipRules, '203.0.113.7', '203.0.113.9'],
      tags: {
        ...base.tags,
        'privateaksdeploy.203.0.113.7': `ours;0123456789ab:${NOW + 600}`,
        'privateaksdeploy.203.0.113.9': 'ours;0123456789ab:1000',
        'privateaksdeploy.203.0.113.5': `ours;0123456789ab:${NOW + 400 * 86400}`,
      },
    };
    // A new job shares 203.0.113.7 with an old one: its release keeps the rule for the old job.
    const s = planRemove(planAdd(legacy, '203.0.113.7', key(1), lease(), at()), '203.0.113.7', key(1), at());
    assert.ok(s.ipRules.includes('203.0.113.7'));
    assert.strictEqual(
      s.tags['privateaksdeploy.203.0.113.7'],
      legacy.tags['privateaksdeploy.203.0.113.7'],
      'the old tag is left to the old job',
    );
    const pruned = planPrune(legacy, at());
    assert.deepStrictEqual(pruned.removed, []);
    assert.deepStrictEqual(pruned.legacyLeft, ['203.0.113.9']);
    assert.deepStrictEqual(pruned.state.ipRules, legacy.ipRules, "an old 'ours' is never enough to remove a rule");
    assert.deepStrictEqual(
      Object.keys(pruned.state.tags).sort(),
      ['env', 'privateaksdeploy.203.0.113.7'],
      'expired (or beyond 7 days, forged) old leases are dropped',
    );
  });

  it('writes nothing outside its namespace', () => {
    const tags = { env: 'prod', 'privateaksdeploy.00000000.0': 'c000022c.o1' };
    const s = withLeaseBook(tags, NS, new Map());
    assert.deepStrictEqual(s, tags);
  });
});
