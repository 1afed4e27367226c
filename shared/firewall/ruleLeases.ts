import { sameIpRule } from '../net/ipv4';

/**
 * Which firewall rules this extension added and which jobs still need them, kept on the resource
 * itself as tags so that every agent sees the same truth. One tag per address (Azure allows 50 tags
 * on a resource, the owner's own among them):
 *   `privateaksdeploy.<ip>`    = `ours;<jobKey>:<expiry>;<jobKey>:<expiry>…`
 *   `privateaksdeploy.<ip>.2`  = `<jobKey>:<expiry>;…`   more leases when one tag value (256
 *                                                       characters) is full: about 10 per tag
 * `ours` says the rule was added by this extension (we may remove it); `kept` says it was there
 * before (never removed, whatever the leases say). Expiry in epoch seconds; `/` in a range becomes `_`.
 */
export const TAG_PREFIX = 'privateaksdeploy.';
/** Azure allows 50 tags on a resource. */
export const MAX_TAGS = 50;
/** Azure's limit on a tag value's length. */
const MAX_TAG_VALUE = 256;

export interface RuleState {
  ipRules: string[];
  tags: Record<string, string>;
}

export interface IpLeases {
  owned: boolean;
  /** jobKey → expiry (epoch seconds). */
  leases: Map<string, number>;
}

const tagIp = (ip: string) => ip.replace('/', '_');
const ipOfTag = (s: string) => s.replace('_', '/');
const KEY = /^(\d+\.\d+\.\d+\.\d+(?:_\d+)?)(?:\.(\d+))?$/;
const LEASE = /^([0-9a-f]{8,32}):(\d+)$/;

/** Reads the lease tags: per IP, whether we own its rule and the jobs that hold it. */
export function readLeases(tags: Record<string, string>): Map<string, IpLeases> {
  const result = new Map<string, IpLeases>();
  for (const [key, value] of Object.entries(tags)) {
    if (!key.startsWith(TAG_PREFIX)) continue;
    const m = KEY.exec(key.slice(TAG_PREFIX.length));
    if (!m) continue;
    const ip = ipOfTag(m[1]);
    let entry = result.get(ip);
    if (!entry) result.set(ip, (entry = { owned: false, leases: new Map() }));
    for (const part of value.split(';')) {
      if (part === 'ours' && !m[2]) entry.owned = true;
      const lease = LEASE.exec(part);
      if (lease) entry.leases.set(lease[1], Number(lease[2]));
    }
  }
  return result;
}

/** The tags with `ip`'s lease tags replaced by `leases` (none when undefined), everything else as it was. */
function withIpLeases(tags: Record<string, string>, ip: string, leases: IpLeases | undefined): Record<string, string> {
  const first = `${TAG_PREFIX}${tagIp(ip)}`;
  const next = Object.fromEntries(Object.entries(tags).filter(([k]) => k !== first && !(k.startsWith(`${first}.`) && /^\d+$/.test(k.slice(first.length + 1)))));
  if (!leases) return next;
  const parts = [leases.owned ? 'ours' : 'kept', ...[...leases.leases].sort(([a], [b]) => a.localeCompare(b)).map(([k, exp]) => `${k}:${exp}`)];
  let n = 1;
  let value = '';
  for (const part of parts) {
    if (value && value.length + 1 + part.length > MAX_TAG_VALUE) {
      next[n === 1 ? first : `${first}.${n}`] = value;
      n++;
      value = '';
    }
    value = value ? `${value};${part}` : part;
  }
  next[n === 1 ? first : `${first}.${n}`] = value;
  return next;
}

/**
 * Adds this job's lease on `ip`, adding the rule (and marking it ours) only if it is not there.
 * Everything else in the rule set and the tags is kept as it is.
 */
export function planAdd(current: RuleState, ip: string, jobKey: string, expiresAt: number): RuleState {
  const present = current.ipRules.some((r) => sameIpRule(r, ip));
  const existing = readLeases(current.tags).get(ip);
  // A rule we did not add stays not ours, even while our jobs hold leases on it.
  const owned = !present || (existing?.owned ?? false);
  const leases = new Map(existing?.leases ?? []);
  leases.set(jobKey, expiresAt);
  return { ipRules: present ? [...current.ipRules] : [...current.ipRules, ip], tags: withIpLeases(current.tags, ip, { owned, leases }) };
}

/**
 * Drops this job's lease on `ip`; removes the rule only if we added it and no other job holds a
 * live lease on it.
 */
export function planRemove(current: RuleState, ip: string, jobKey: string, nowSeconds: number): RuleState {
  const existing = readLeases(current.tags).get(ip);
  if (!existing) return { ipRules: [...current.ipRules], tags: { ...current.tags } };
  const leases = new Map(existing.leases);
  leases.delete(jobKey);
  const liveOthers = [...leases.values()].some((exp) => exp > nowSeconds);
  if (liveOthers) return { ipRules: [...current.ipRules], tags: withIpLeases(current.tags, ip, { owned: existing.owned, leases }) };
  const ipRules = existing.owned ? current.ipRules.filter((r) => !sameIpRule(r, ip)) : [...current.ipRules];
  return { ipRules, tags: withIpLeases(current.tags, ip, undefined) };
}

/** Removes the rules we own whose every lease expired (a crashed agent's), and their tags; drops expired leases on rules still held. */
export function planPrune(current: RuleState, nowSeconds: number): { state: RuleState; removed: string[] } {
  let state: RuleState = { ipRules: [...current.ipRules], tags: { ...current.tags } };
  const removed: string[] = [];
  for (const [ip, entry] of readLeases(current.tags)) {
    const live = new Map([...entry.leases].filter(([, exp]) => exp > nowSeconds));
    if (live.size > 0) {
      // Still held: only the expired leases of other (lost) jobs go.
      if (live.size < entry.leases.size) state = { ipRules: state.ipRules, tags: withIpLeases(state.tags, ip, { owned: entry.owned, leases: live }) };
      continue;
    }
    if (entry.owned && state.ipRules.some((r) => sameIpRule(r, ip))) removed.push(ip);
    state = { ipRules: entry.owned ? state.ipRules.filter((r) => !sameIpRule(r, ip)) : state.ipRules, tags: withIpLeases(state.tags, ip, undefined) };
  }
  return { state, removed };
}

/** Whether the job's lease and (when it needs one) the rule are in the state read back. */
export function holdsLease(state: RuleState, ip: string, jobKey: string): boolean {
  return state.ipRules.some((r) => sameIpRule(r, ip)) && (readLeases(state.tags).get(ip)?.leases.has(jobKey) ?? false);
}
