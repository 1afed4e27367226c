import { createHash } from 'crypto';
import { sameIpRule } from '../net/ipv4';

/**
 * Which firewall rules this extension added and which jobs still hold them, kept on the resource
 * itself as tags so that every agent sees the same truth.
 *
 * Azure's limits ("Tag resources", Limitations: learn.microsoft.com/azure/azure-resource-manager/
 * management/tag-resources#limitations, MicrosoftDocs/azure-docs articles/azure-resource-manager/
 * management/tag-resources.md): at most 50 tag name-value pairs per resource, a name of at most 512
 * characters (case-insensitive) and a value of at most 256; names may not hold `< > % & \ ? /`.
 * The ARM specs' `tags` is a plain string map (e.g. Azure/azure-rest-api-specs
 * specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/stable/2019-05-01/
 * containerregistry.json, Resource.tags), so both name and value can carry data.
 *
 * One tag per address (the old layout) capped the number of addresses at 50 less the resource's own
 * tags, far below the registry's 200 IP rules. Now the leases of many addresses are packed into
 * as few tags as they need, in a namespace of the connection's principal:
 *   `privateaksdeploy.<principal>.<n>[.<records>]` = `<records>`
 * `<principal>` is 8 hex characters of a hash of the principal's object id, `<n>` the tag's index;
 * records fill the value first (256 characters), then the name (512 with the prefix). A record is
 *   `<address>[.o<addedAt>]{-<jobKey>.<start>.<minutes>}` , records joined by `_`
 * with the address as 8 hex digits (`m<prefix>` after it for a range), times in epoch seconds and
 * minutes in base 36, the job key 12 hex digits. Only `[0-9a-z._-]`: valid in names and values, and
 * the same in any case. An address's leases may continue in a later record. About 18 addresses
 * with one lease fit in one tag, so 200 addresses take about 12 tags; every write packs the
 * records again, so the tags fold back as leases end.
 *
 * What a tag writer (Tag Contributor, who can write any tag but not the rule set) can do, and
 * what bounds it, is in overview.md's security section:
 * - `o<addedAt>` marks a rule this principal's task added (it saw it absent and wrote it). Only a
 *   single address is ever removed on that word; a wider range only when an input names it.
 * - A lease counts only if its start is not in the future and it lasts at most MAX_LEASE_MINUTES
 *   (the longest `leaseMinutes` allows), so a forged lease cannot hold a rule open for good.
 * - Anything that does not parse is dropped when the task next writes its namespace.
 */
export const TAG_PREFIX = 'privateaksdeploy.';
/** Azure allows 50 tags on a resource (tag-resources.md, Limitations). */
export const MAX_TAGS = 50;
/** Azure's limits on a tag's name and value (tag-resources.md, Limitations). */
export const MAX_TAG_NAME = 512;
export const MAX_TAG_VALUE = 256;
/** The longest lease the task grants: `leaseMinutes`' maximum (task.json), 7 days. */
export const MAX_LEASE_MINUTES = 7 * 24 * 60;
/** Clock difference between agents tolerated on a lease's start. */
const CLOCK_SKEW_SECONDS = 300;

export interface RuleState {
  ipRules: string[];
  tags: Record<string, string>;
}

export interface Lease {
  /** Epoch seconds the job took it. */
  start: number;
  minutes: number;
}

export interface AddressLeases {
  /** Set when this principal's task added the rule (epoch seconds it saw it absent and wrote it). */
  addedAt?: number;
  /** jobKey → lease. */
  leases: Map<string, Lease>;
}

/** Where the plans run: whose namespace, and when. */
export interface LeaseScope {
  /** `leaseNamespace(principalObjectId)`. */
  ns: string;
  /** Epoch seconds. */
  now: number;
}

/** What the releasing job itself knows, beyond the tags, before a rule may go. */
export interface RemovalTrust {
  /** Ranges wider than one address the job's own input names: only those may be removed. */
  namedRanges?: string[];
  /**
   * From the job's hand-over: per address, the earliest owner mark (`addedAt`, epoch seconds) the
   * job can vouch for: when it saw the rule absent before adding it, or the mark the rule carried
   * when the job confirmed its lease. When given, a rule goes only if its mark is that recent: a
   * mark a tag writer put on a rule the job found there unmarked does not make the job remove it.
   */
  markSince?: Record<string, number>;
}

export const expiryOf = (l: Lease) => l.start + l.minutes * 60;

/** The namespace of a connection's principal: 8 hex characters, the same for every job of that connection. */
export function leaseNamespace(principalObjectId: string | undefined): string {
  return createHash('sha256')
    .update(`privateaksdeploy|${(principalObjectId ?? '').toLowerCase()}`)
    .digest('hex')
    .slice(0, 8);
}

/** `203.0.113.7` → `cb007107`, `203.0.113.0/28` → `cb007100m28`; undefined when not an IPv4 rule. */
export function addressCode(ip: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(ip.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  return octets.map((o) => o.toString(16).padStart(2, '0')).join('') + (prefix < 32 ? `m${prefix}` : '');
}

function addressOfCode(code: string): string {
  const octets = [0, 2, 4, 6].map((i) => parseInt(code.slice(i, i + 2), 16)).join('.');
  const m = /m(\d+)$/.exec(code);
  return m ? `${octets}/${m[1]}` : octets;
}

const isSingle = (code: string) => !code.includes('m');

const NEW_KEY = /^([0-9a-f]{8})\.(\d{1,2})(?:\.(.*))?$/;
const LEGACY_KEY = /^(\d+\.\d+\.\d+\.\d+(?:_\d+)?)(?:\.(\d+))?$/;
const RECORD = /^([0-9a-f]{8}(?:m\d{1,2})?)(?:\.o([0-9a-z]{1,8}))?((?:-[0-9a-f]{12}\.[0-9a-z]{1,8}\.[0-9a-z]{1,3})*)$/;
const LEASE = /-([0-9a-f]{12})\.([0-9a-z]{1,8})\.([0-9a-z]{1,3})/g;

const validLease = (l: Lease, now: number) => l.start <= now + CLOCK_SKEW_SECONDS && l.minutes >= 1 && l.minutes <= MAX_LEASE_MINUTES;

export interface LeaseBook {
  /** This principal's records, by address code. */
  mine: Map<string, AddressLeases>;
  /** Expiries of other holders' leases (other principals, and the old one-tag-per-address layout), by address code. */
  others: Map<string, number[]>;
  /** Tags of the old layout, by address code. */
  legacyTags: Map<string, string[]>;
}

/** Parses the lease tags as seen at `now`: leases that break the bounds are left out, as is whatever does not parse. */
export function readLeaseBook(tags: Record<string, string>, scope: LeaseScope): LeaseBook {
  const book: LeaseBook = { mine: new Map(), others: new Map(), legacyTags: new Map() };
  const other = (code: string) => book.others.get(code) ?? (book.others.set(code, []), book.others.get(code)!);
  for (const [name, value] of Object.entries(tags)) {
    if (name.length > MAX_TAG_NAME || value.length > MAX_TAG_VALUE || name.slice(0, TAG_PREFIX.length).toLowerCase() !== TAG_PREFIX)
      continue;
    const rest = name.slice(TAG_PREFIX.length).toLowerCase();
    const key = NEW_KEY.exec(rest);
    if (key) {
      const payloads = [value.toLowerCase(), key[3] ?? ''];
      for (const record of payloads.flatMap((p) => p.split('_'))) {
        const r = RECORD.exec(record);
        if (!r) continue;
        const addedAt = r[2] === undefined ? undefined : parseInt(r[2], 36);
        const leases = [...r[3].matchAll(LEASE)]
          .map((l) => ({ key: l[1], lease: { start: parseInt(l[2], 36), minutes: parseInt(l[3], 36) } }))
          .filter((l) => validLease(l.lease, scope.now));
        if (key[1] === scope.ns) {
          const entry = book.mine.get(r[1]) ?? (book.mine.set(r[1], { leases: new Map() }), book.mine.get(r[1])!);
          if (addedAt !== undefined && addedAt <= scope.now + CLOCK_SKEW_SECONDS) entry.addedAt = addedAt;
          for (const l of leases) entry.leases.set(l.key, l.lease);
        } else {
          other(r[1]).push(...leases.map((l) => expiryOf(l.lease)));
        }
      }
      continue;
    }
    // The old layout (`privateaksdeploy.<ip>` = `ours;<jobKey>:<expiry>;…`): its leases still keep a
    // rule while they run, bounded like ours; its `ours` is not trusted (anyone could have written it).
    const legacy = LEGACY_KEY.exec(rest);
    const code = legacy && addressCode(legacy[1].replace('_', '/'));
    if (!code) continue;
    book.legacyTags.set(code, [...(book.legacyTags.get(code) ?? []), name]);
    for (const part of value.split(';')) {
      const l = /^[0-9a-f]{8,32}:(\d+)$/.exec(part);
      if (l && Number(l[1]) <= scope.now + MAX_LEASE_MINUTES * 60 + CLOCK_SKEW_SECONDS) other(code).push(Number(l[1]));
    }
  }
  return book;
}

function recordPieces(code: string, entry: AddressLeases): { header: string; continuation: string; leases: string[] } {
  const leases = [...entry.leases]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, l]) => `-${k}.${l.start.toString(36)}.${l.minutes.toString(36)}`);
  return { header: entry.addedAt === undefined ? code : `${code}.o${entry.addedAt.toString(36)}`, continuation: code, leases };
}

/** The tags with this namespace's tags replaced by `mine`, packed; everything else as it was. */
export function withLeaseBook(tags: Record<string, string>, ns: string, mine: Map<string, AddressLeases>): Record<string, string> {
  const prefix = `${TAG_PREFIX}${ns}.`;
  const next = Object.fromEntries(Object.entries(tags).filter(([k]) => k.slice(0, prefix.length).toLowerCase() !== prefix));
  // Slots alternate: tag n's value (256), then tag n's name after its prefix (512 less the prefix).
  const slots: string[] = [''];
  const capacity = (i: number) => (i % 2 === 0 ? MAX_TAG_VALUE : MAX_TAG_NAME - `${prefix}${i >> 1}.`.length);
  const append = (record: string) => {
    const last = slots.length - 1;
    const joined = slots[last] ? `${slots[last]}_${record}` : record;
    if (joined.length <= capacity(last)) slots[last] = joined;
    else slots.push(record);
  };
  for (const code of [...mine.keys()].sort()) {
    const { header, continuation, leases } = recordPieces(code, mine.get(code)!);
    // A record fits any slot (at most one value's length); an address's leases continue in another record.
    let record = header;
    for (const lease of leases) {
      if ((record + lease).length > MAX_TAG_VALUE && record.length > continuation.length) {
        append(record);
        record = continuation;
      }
      record += lease;
    }
    append(record);
  }
  if (slots.length === 1 && slots[0] === '') return next;
  for (let i = 0; i < slots.length; i += 2) {
    const name = `${prefix}${i >> 1}${slots[i + 1] ? `.${slots[i + 1]}` : ''}`;
    next[name] = slots[i];
  }
  return next;
}

const hasRule = (rules: string[], ip: string) => rules.some((r) => sameIpRule(r, ip));

/** This namespace's records, tidied: records of rules no longer there and expired leases go (the layout folds back). */
function tidy(book: LeaseBook, ipRules: string[], now: number): Map<string, AddressLeases> {
  const mine = new Map<string, AddressLeases>();
  // One pass over the rules: a fleet holds 200 of them, and every read of every job plans.
  const present = new Set(ipRules.map(addressCode));
  for (const [code, entry] of book.mine) {
    if (!present.has(code)) continue;
    mine.set(code, { addedAt: entry.addedAt, leases: new Map([...entry.leases].filter(([, l]) => expiryOf(l) > now)) });
  }
  return mine;
}

function liveHolders(book: LeaseBook, mine: Map<string, AddressLeases>, code: string, now: number): number {
  return (
    [...(mine.get(code)?.leases.values() ?? [])].filter((l) => expiryOf(l) > now).length +
    (book.others.get(code) ?? []).filter((e) => e > now).length
  );
}

/**
 * Adds this job's lease on `ip`, adding the rule (and marking it as added by us) only if it is not
 * there. A rule that was there stays unmarked, whoever holds leases on it.
 */
export function planAdd(current: RuleState, ip: string, jobKey: string, lease: Lease, scope: LeaseScope): RuleState {
  const code = addressCode(ip);
  if (!code) return { ipRules: [...current.ipRules], tags: { ...current.tags } };
  const present = hasRule(current.ipRules, ip);
  const book = readLeaseBook(current.tags, scope);
  const mine = tidy(book, current.ipRules, scope.now);
  const entry: AddressLeases = mine.get(code) ?? { leases: new Map() };
  if (!present) entry.addedAt = scope.now;
  entry.leases.set(jobKey, lease);
  mine.set(code, entry);
  return { ipRules: present ? [...current.ipRules] : [...current.ipRules, ip], tags: withLeaseBook(current.tags, scope.ns, mine) };
}

/** Whether a rule may be removed on this principal's mark: see RemovalTrust. */
function removable(code: string, entry: AddressLeases | undefined, trust: RemovalTrust): boolean {
  if (entry?.addedAt === undefined) return false;
  if (!isSingle(code) && !(trust.namedRanges ?? []).some((r) => addressCode(r) === code)) return false;
  if (trust.markSince) {
    const since = Object.entries(trust.markSince).find(([ip]) => addressCode(ip) === code)?.[1];
    if (since === undefined || entry.addedAt < since) return false;
  }
  return true;
}

/**
 * Drops this job's lease on `ip`; removes the rule only when no other job holds a live lease on it
 * and it may go (RemovalTrust).
 */
export function planRemove(current: RuleState, ip: string, jobKey: string, scope: LeaseScope, trust: RemovalTrust = {}): RuleState {
  const code = addressCode(ip);
  const book = readLeaseBook(current.tags, scope);
  const mine = tidy(book, current.ipRules, scope.now);
  if (!code) return { ipRules: [...current.ipRules], tags: withLeaseBook(current.tags, scope.ns, mine) };
  const entry = book.mine.get(code);
  mine.get(code)?.leases.delete(jobKey);
  if (liveHolders(book, mine, code, scope.now) > 0)
    return { ipRules: [...current.ipRules], tags: withLeaseBook(current.tags, scope.ns, mine) };
  mine.delete(code);
  const ipRules = removable(code, entry, trust) ? current.ipRules.filter((r) => !sameIpRule(r, ip)) : [...current.ipRules];
  return { ipRules, tags: withLeaseBook(current.tags, scope.ns, mine) };
}

/**
 * Removes the single-address rules this principal added whose every lease ended (a crashed
 * agent's), and their records; drops expired leases of rules still held, and old-layout tags
 * whose leases all ended (their rules are left for a person: the old `ours` cannot be trusted).
 */
export function planPrune(current: RuleState, scope: LeaseScope): { state: RuleState; removed: string[]; legacyLeft: string[] } {
  const book = readLeaseBook(current.tags, scope);
  const mine = tidy(book, current.ipRules, scope.now);
  let ipRules = [...current.ipRules];
  const removed: string[] = [];
  for (const [code, entry] of [...mine]) {
    if (liveHolders(book, mine, code, scope.now) > 0) continue;
    mine.delete(code);
    const ip = addressOfCode(code);
    if (removable(code, entry, {}) && hasRule(ipRules, ip)) {
      removed.push(ip);
      ipRules = ipRules.filter((r) => !sameIpRule(r, ip));
    }
  }
  let tags = withLeaseBook(current.tags, scope.ns, mine);
  const legacyLeft: string[] = [];
  for (const [code, names] of book.legacyTags) {
    if ((book.others.get(code) ?? []).some((e) => e > scope.now)) continue;
    tags = Object.fromEntries(Object.entries(tags).filter(([k]) => !names.includes(k)));
    if (hasRule(ipRules, addressOfCode(code))) legacyLeft.push(addressOfCode(code));
  }
  return { state: { ipRules, tags }, removed, legacyLeft };
}

/** This namespace's record of `ip` (its mark and leases), as read at `scope.now`. */
export function leasesOf(tags: Record<string, string>, ip: string, scope: LeaseScope): AddressLeases | undefined {
  const code = addressCode(ip);
  return code ? readLeaseBook(tags, scope).mine.get(code) : undefined;
}

/** Whether the job's lease and the rule are in the state read back. */
export function holdsLease(state: RuleState, ip: string, jobKey: string, scope: LeaseScope): boolean {
  return hasRule(state.ipRules, ip) && (leasesOf(state.tags, ip, scope)?.leases.has(jobKey) ?? false);
}

/** The addresses a lease key holds in this namespace. */
export function addressesLeasedBy(tags: Record<string, string>, jobKey: string, scope: LeaseScope): string[] {
  return [...readLeaseBook(tags, scope).mine].filter(([, e]) => e.leases.has(jobKey)).map(([code]) => addressOfCode(code));
}

/** Tags of this namespace on a state. */
export function namespaceTags(tags: Record<string, string>, ns: string): string[] {
  return Object.keys(tags).filter((k) => k.toLowerCase().startsWith(`${TAG_PREFIX}${ns}.`));
}
