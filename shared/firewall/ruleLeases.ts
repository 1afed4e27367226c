import { sameIpRule } from '../net/ipv4';

/**
 * Which firewall rules this extension added and which jobs still need them, kept on the registry
 * itself as tags so that every agent sees the same truth:
 *   `privateaksdeploy.<ip>`            = `owned`      the rule was added by us (we may remove it)
 *   `privateaksdeploy.<ip>.<jobKey>`   = <epoch s>    a job holds the rule until then (its lease)
 * A rule present before we came has no `owned` tag and is never removed, whatever the leases say.
 */
export const TAG_PREFIX = 'privateaksdeploy.';
/** Azure allows 50 tags on a resource. */
export const MAX_TAGS = 50;

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
const ownedKey = (ip: string) => `${TAG_PREFIX}${tagIp(ip)}`;
const leaseKey = (ip: string, jobKey: string) => `${TAG_PREFIX}${tagIp(ip)}.${jobKey}`;

/** Reads the lease tags: per IP, whether we own its rule and the jobs that hold it. */
export function readLeases(tags: Record<string, string>): Map<string, IpLeases> {
  const result = new Map<string, IpLeases>();
  const entry = (ip: string) => {
    let e = result.get(ip);
    if (!e) result.set(ip, (e = { owned: false, leases: new Map() }));
    return e;
  };
  for (const [key, value] of Object.entries(tags)) {
    if (!key.startsWith(TAG_PREFIX)) continue;
    const rest = key.slice(TAG_PREFIX.length);
    const m = /^(\d+\.\d+\.\d+\.\d+(?:_\d+)?)(?:\.([0-9a-f]{8,32}))?$/.exec(rest);
    if (!m) continue;
    const ip = ipOfTag(m[1]);
    if (m[2]) entry(ip).leases.set(m[2], Number(value) || 0);
    else if (value === 'owned') entry(ip).owned = true;
  }
  return result;
}

function withoutIpTags(tags: Record<string, string>, ip: string): Record<string, string> {
  const prefix = ownedKey(ip);
  return Object.fromEntries(Object.entries(tags).filter(([k]) => k !== prefix && !k.startsWith(`${prefix}.`)));
}

/**
 * Adds this job's lease on `ip`, adding the rule (and marking it ours) only if it is not there.
 * Everything else in the rule set and the tags is kept as it is.
 */
export function planAdd(current: RuleState, ip: string, jobKey: string, expiresAt: number): RuleState {
  const present = current.ipRules.some((r) => sameIpRule(r, ip));
  const existing = readLeases(current.tags).get(ip);
  const tags = { ...current.tags, [leaseKey(ip, jobKey)]: String(expiresAt) };
  // A rule we did not add stays not ours, even while our jobs hold leases on it.
  if (!present || existing?.owned) tags[ownedKey(ip)] = 'owned';
  return { ipRules: present ? [...current.ipRules] : [...current.ipRules, ip], tags };
}

/**
 * Drops this job's lease on `ip`; removes the rule only if we added it and no other job holds a
 * live lease on it.
 */
export function planRemove(current: RuleState, ip: string, jobKey: string, nowSeconds: number): RuleState {
  const tags = { ...current.tags };
  delete tags[leaseKey(ip, jobKey)];
  const leases = readLeases(tags).get(ip);
  const liveOthers = leases ? [...leases.leases.values()].some((exp) => exp > nowSeconds) : false;
  if (leases?.owned && !liveOthers) {
    return { ipRules: current.ipRules.filter((r) => !sameIpRule(r, ip)), tags: withoutIpTags(tags, ip) };
  }
  if (!leases?.owned && !liveOthers) return { ipRules: [...current.ipRules], tags: withoutIpTags(tags, ip) };
  return { ipRules: [...current.ipRules], tags };
}

/** Removes the rules we own whose every lease expired (a crashed agent's), and their tags; drops expired leases on rules still held. */
export function planPrune(current: RuleState, nowSeconds: number): { state: RuleState; removed: string[] } {
  let state: RuleState = { ipRules: [...current.ipRules], tags: { ...current.tags } };
  const removed: string[] = [];
  for (const [ip, leases] of readLeases(current.tags)) {
    if ([...leases.leases.values()].some((exp) => exp > nowSeconds)) {
      // Still held: only the expired leases of other (lost) jobs go.
      const expired = [...leases.leases].filter(([, exp]) => exp <= nowSeconds).map(([jobKey]) => leaseKey(ip, jobKey));
      if (expired.length) state = { ipRules: state.ipRules, tags: Object.fromEntries(Object.entries(state.tags).filter(([k]) => !expired.includes(k))) };
      continue;
    }
    if (leases.owned && state.ipRules.some((r) => sameIpRule(r, ip))) removed.push(ip);
    state = { ipRules: leases.owned ? state.ipRules.filter((r) => !sameIpRule(r, ip)) : state.ipRules, tags: withoutIpTags(state.tags, ip) };
  }
  return { state, removed };
}

/** Whether the job's lease and (when it needs one) the rule are in the state read back. */
export function holdsLease(state: RuleState, ip: string, jobKey: string): boolean {
  return state.ipRules.some((r) => sameIpRule(r, ip)) && state.tags[leaseKey(ip, jobKey)] !== undefined;
}
