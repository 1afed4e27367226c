import { createHash } from 'crypto';
import * as tl from 'azure-pipelines-task-lib/task';
import { ArmCallError } from '../azure/arm/rawArmCall';
import { explainArmCallFailure } from '../azure/arm/armErrors';
import { ExplainedError } from '../pipeline/explainedError';
import {
  addressesLeasedBy,
  holdsLease,
  planAdd,
  planPrune,
  planRemove,
  MAX_TAGS,
  TAG_PREFIX,
  type Lease,
  type LeaseScope,
  type RemovalTrust,
  type RuleState,
} from './ruleLeases';

/**
 * Where a firewall's allow-list and our lease tags live: a registry's network rule set, or a
 * cluster's authorized IP ranges. `raw` is the resource as read, written back with only the rules
 * and tags changed.
 */
export interface RuleStore<Raw> {
  /** "the registry 'acr1'", for messages. */
  label: string;
  /** What the user can run to list the rules by hand. */
  listCommand: string;
  /** Rules the resource accepts at most. */
  maxRules: number;
  /**
   * Writes are conditional (If-Match on the eTag): a write planned from an older read is refused
   * (412) instead of overwriting, so one read after a write confirms it. Without that (ACR has no
   * eTag on registries) a later write planned before ours can still land, and confirming takes two
   * reads some time apart.
   */
  conditionalWrites: boolean;
  /** An empty list turns the filter off (AKS: every network gets in): a plan never empties a non-empty list. */
  emptyMeansOpen?: boolean;
  /**
   * `busy`: the read shows another update of the resource in flight (provisioningState `Updating`),
   * whose outcome is about to replace what was read.
   */
  read(): Promise<{ rules: RuleState; raw: Raw; busy?: boolean }>;
  write(raw: Raw, next: RuleState): Promise<void>;
  /** The read's or write's failure explained (permission, not found, …). */
  explain(err: unknown, what: string, operation: 'read' | 'write'): Error;
}

/** What a store's read and write need on Azure, for the explanation of their failures. */
export interface StoreAccess {
  scope: string;
  resourceLabel: string;
  principalObjectId?: string;
  read: { action: string; role: string };
  write: { action: string; role: string };
}

/** A store's `explain`: the Resource Manager failure with the action and the role that grants it. */
export function storeExplainer(access: StoreAccess): RuleStore<unknown>['explain'] {
  return (err, what, operation) =>
    explainArmCallFailure(err, what, {
      ...access[operation],
      scope: access.scope,
      principalObjectId: access.principalObjectId,
      resourceLabel: access.resourceLabel,
    });
}

/** Reads the store, a failure explained. */
export async function readRules<Raw>(
  store: RuleStore<Raw>,
  what = `Reading ${store.label}`,
): Promise<{ rules: RuleState; raw: Raw; busy?: boolean }> {
  try {
    return await store.read();
  } catch (err) {
    throw store.explain(err, what, 'read');
  }
}

export interface ConvergeOutcome<Raw> {
  rules: RuleState;
  raw: Raw;
  /** Writes that went through. */
  writes: number;
  /** Times the wanted state was missing after our write, or a write was refused as stale or busy. */
  retries: number;
}

const CONVERGE_DEADLINE_MS = 180_000;
/** How long a resource may stay busy before its state is taken as it is (a stuck update must not stall the job). */
const MAX_BUSY_WAIT_MS = 30_000;
/** Busy, throttled or failed writes in a row before giving up. */
const MAX_BUSY_ANSWERS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (minMs: number, maxMs: number) => minMs + Math.random() * (maxMs - minMs);

function sameRuleState(a: RuleState, b: RuleState): boolean {
  const sorted = (t: Record<string, string>) => Object.entries(t).sort(([x], [y]) => x.localeCompare(y));
  return JSON.stringify(a.ipRules) === JSON.stringify(b.ipRules) && JSON.stringify(sorted(a.tags)) === JSON.stringify(sorted(b.tags));
}

/** Short, stable key of this job's use of the rule (lease tag suffix): plan, job, task instance, attempt. */
export function jobKeyOf(parts: (string | undefined)[]): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('|'))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Read-modify-write until the resource holds what `plan` wants. After every write the rules are
 * read again; a state that lacks our change (another job's write won) is planned and written again
 * after a jittered backoff, which comes before the read, never between the read and the write.
 * Without conditional writes a state is accepted only when two reads, three times the slowest
 * write apart, both show it, so a slower write planned from an older read is caught too; and a
 * read that shows another update in flight (`busy`) is neither written over nor taken as a
 * confirmation: with many jobs, writes that overlap overwrite each other and each loser pays a
 * rewrite, so jobs take turns instead.
 */
export async function converge<Raw>(
  store: RuleStore<Raw>,
  what: string,
  plan: (current: RuleState) => RuleState,
  options: { confirmingReads?: number; maxBusyWaitMs?: number } = {},
): Promise<ConvergeOutcome<Raw>> {
  const maxBusyWaitMs = options.maxBusyWaitMs ?? MAX_BUSY_WAIT_MS;
  const confirmingReads = store.conditionalWrites ? 1 : (options.confirmingReads ?? 2);
  const started = Date.now();
  let writes = 0;
  let retries = 0;
  let confirmations = 0;
  let backedOff = false;
  let busyAnswers = 0;
  let slowestWriteMs = 0;
  let busySince: number | undefined;
  let busyReads = 0;
  let toldBusy = false;
  for (;;) {
    if (Date.now() - started > CONVERGE_DEADLINE_MS) {
      throw new ExplainedError({
        what,
        reason: `Other writers kept changing ${store.label} for ${CONVERGE_DEADLINE_MS / 1000} s (${writes} writes, ${retries} retries).`,
        fix: 'Run again; if many jobs open this firewall at once, give the agents a NAT gateway with one fixed outbound IP and add that once.',
        code: 'FIREWALL_RULE_CONTENTION',
      });
    }
    const readStarted = Date.now();
    const { rules: current, raw, busy } = await readRules(store, what);
    // A read slower than a second says the registry (or this agent) is loaded: other jobs' writes
    // planned before ours can take as long to land, so confirming waits longer (a fleet near the quota).
    const readMs = Date.now() - readStarted;
    if (readMs > 1_000) slowestWriteMs = Math.max(slowestWriteMs, 2 * readMs);
    // Another job's update is in flight: its whole rule set will replace this one, so a write planned
    // now would be lost (or drop its change) and cost a rewrite, and a state that looks confirmed may
    // not last. Listen before talking: read again shortly, neither writing nor counting a confirmation.
    if (busy && !store.conditionalWrites) {
      busySince ??= readStarted;
      if (readStarted - busySince < maxBusyWaitMs) {
        if (busyReads === 0 && !toldBusy)
          console.log(`  ${store.label} is being updated (another job's change); waiting for that update to finish first.`);
        toldBusy = true;
        busyReads++;
        await sleep(jitter(100, Math.min(1_000, 150 * 2 ** Math.min(busyReads, 3))));
        continue;
      }
      if (busyReads > 0)
        console.log(
          `  ${store.label} has been updating for ${((readStarted - busySince) / 1000).toFixed(0)} s; going on (every write is checked by reading it back).`,
        );
      busyReads = 0;
    } else {
      busySince = undefined;
      busyReads = 0;
    }
    const next = keepFiltering(store, current, plan(current));
    if (sameRuleState(current, next)) {
      if (++confirmations >= confirmingReads) return { rules: current, raw, writes, retries };
      const settleMs = Math.min(8_000, Math.max(1_500, 3 * slowestWriteMs));
      await sleep(jitter(settleMs, settleMs * 1.3));
      continue;
    }
    confirmations = 0;
    if ((writes > 0 || retries > 0) && !backedOff) {
      retries++;
      backedOff = true;
      // Exponential, fully jittered: with many writers (a fleet of agents, each with its own address) a
      // short cap makes every job rewrite the whole set again and again, and no write survives.
      await sleep(jitter(150, Math.min(20_000, 250 * 2 ** Math.min(retries, 7))));
      continue;
    }
    backedOff = false;
    checkLimits(store, what, current, next);
    const writeStarted = Date.now();
    try {
      await store.write(raw, next);
    } catch (err) {
      const waitMs = retryableWait(err, busyAnswers++);
      if (waitMs === undefined) throw explainWrite(store, what, err, current);
      console.log(`  ${store.label} ${answerOf(err)}; reading it again in ${(waitMs / 1000).toFixed(1)} s.`);
      retries++;
      backedOff = true;
      await sleep(waitMs);
      continue;
    }
    busyAnswers = 0;
    slowestWriteMs = Math.max(slowestWriteMs, Date.now() - writeStarted);
    writes++;
  }
}

/**
 * How long to wait before reading again after a failed write, or undefined when the failure is not
 * one that passes: 412 (our read was stale), 409 (another update in progress), 429 (Retry-After
 * honoured, at most a minute), 5xx, and an update whose operation failed.
 */
function retryableWait(err: unknown, busyAnswersSoFar: number): number | undefined {
  if (busyAnswersSoFar >= MAX_BUSY_ANSWERS) return undefined;
  // No answer at all: the write may or may not have landed, and the next read tells which.
  if (noAnswer(err)) return jitter(500, 1500) * (busyAnswersSoFar + 1);
  if (!(err instanceof ArmCallError)) return undefined;
  const f = err.failure;
  if (f.statusCode === 412) return jitter(100, 400);
  if (f.statusCode === 409 || f.statusCode === 429 || f.statusCode >= 500 || f.operationFailed) {
    if (f.retryAfterMs !== undefined) return Math.min(f.retryAfterMs, 60_000);
    return jitter(500, 1500) * (busyAnswersSoFar + 1);
  }
  return undefined;
}

/**
 * A write that got no HTTP answer: the connection reset or timed out (a reused keep-alive socket the
 * server had closed, a network blip). The Azure SDK's own retry policy counts these as transient; a
 * write is not resent blindly here, but read again and re-planned.
 */
const NO_ANSWER_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);
function noAnswer(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  return (
    e?.statusCode === undefined &&
    ((typeof e?.code === 'string' && NO_ANSWER_CODES.has(e.code)) || /socket hang up/i.test(String(e?.message ?? '')))
  );
}

/** What the store answered to a write that passes, for the log line. */
function answerOf(err: unknown): string {
  if (!(err instanceof ArmCallError)) return `gave no answer to the update (${(err as { code?: string }).code ?? 'connection closed'})`;
  const f = err.failure;
  return `answered ${f.operationFailed ? `with a failed update (${f.code ?? 'Failed'})` : `HTTP ${f.statusCode}${f.code ? ` ${f.code}` : ''}`}`;
}

/** Keeps the last rule of a store where an empty list would open it to every network; the tags change as planned. */
function keepFiltering(store: RuleStore<unknown>, current: RuleState, next: RuleState): RuleState {
  if (store.emptyMeansOpen && next.ipRules.length === 0 && current.ipRules.length > 0)
    return { ipRules: [...current.ipRules], tags: next.tags };
  return next;
}

function checkLimits(store: RuleStore<unknown>, what: string, current: RuleState, next: RuleState): void {
  const tagCount = Object.keys(next.tags).length;
  if (tagCount > MAX_TAGS && tagCount > Object.keys(current.tags).length) {
    throw new ExplainedError({
      what,
      reason: `${store.label} would carry ${tagCount} tags; Azure allows ${MAX_TAGS}. The task packs its leases into as few tags as they need (${TAG_PREFIX}…, about 18 addresses per tag), but the resource's own tags leave too few.`,
      fix: `Remove unused tags from ${store.label}, or run the task with action 'prune' to drop expired leases.`,
      code: 'FIREWALL_TAG_LIMIT',
    });
  }
  if (next.ipRules.length > store.maxRules && next.ipRules.length > current.ipRules.length) {
    throw quotaError(
      store,
      what,
      `${store.label} would have ${next.ipRules.length} rules; it allows ${store.maxRules}. Nothing was changed.`,
    );
  }
}

/** What to do when the target's own rule quota, not the task, is the limit. */
export function quotaFix(listCommand: string): string {
  return `Remove rules you no longer need (${listCommand}) or run the task with action 'prune'. For more agents than the quota allows, use a self-hosted agent pool with a fixed egress IP (a NAT gateway, added once), or reach the resource privately (a registry's private endpoint, an agent inside the cluster's VNet) instead of through its firewall.`;
}

function quotaError(store: RuleStore<unknown>, what: string, reason: string): ExplainedError {
  return new ExplainedError({
    what,
    reason,
    fix: quotaFix(store.listCommand),
    code: 'FIREWALL_RULE_QUOTA',
  });
}

function explainWrite(store: RuleStore<unknown>, what: string, err: unknown, current: RuleState): Error {
  if (err instanceof ArmCallError && /quota|limit/i.test(`${err.failure.code} ${err.failure.message}`)) {
    return quotaError(
      store,
      what,
      `${store.label} refused the rules: ${err.failure.message} (${err.failure.code}). ${current.ipRules.length} rules are already in place; nothing was changed.`,
    );
  }
  return store.explain(err, what, 'write');
}

/**
 * Looks once more after the job waited for access: without an eTag a write planned by another job
 * before ours landed could still have replaced the rules meanwhile. Takes the lease again if it is
 * gone; returns the extra writes and retries (0 when the lease held).
 */
export async function reconfirmLease<Raw>(
  store: RuleStore<Raw>,
  what: string,
  ips: string[],
  jobKey: string,
  ns: string,
  plan: (s: RuleState) => RuleState,
): Promise<{ writes: number; retries: number }> {
  if (store.conditionalWrites) return { writes: 0, retries: 0 };
  const now = await readRules(store, what);
  const scope = { ns, now: Math.floor(Date.now() / 1000) };
  if (ips.every((ip) => holdsLease(now.rules, ip, jobKey, scope)) && sameRuleState(plan(now.rules), now.rules))
    return { writes: 0, retries: 0 };
  const again = await converge(store, what, plan);
  console.log(`  the lease had been overwritten by a concurrent change and was written again (${again.writes} write(s)).`);
  return { writes: again.writes, retries: again.retries + 1 };
}

const scopeAt = (ns: string) => ({ ns, now: Math.floor(Date.now() / 1000) });

/** Each plan reads the clock when it runs: a lease that ended meanwhile no longer counts. */
export function planAddAll(ips: string[], jobKey: string, lease: Lease, ns: string, at: () => LeaseScope = () => scopeAt(ns)) {
  return (s: RuleState) => ips.reduce((acc, ip) => planAdd(acc, ip, jobKey, lease, at()), s);
}

export function planRemoveAll(
  ips: string[],
  jobKey: string,
  ns: string,
  trust: RemovalTrust = {},
  at: () => LeaseScope = () => scopeAt(ns),
) {
  return (s: RuleState) => ips.reduce((acc, ip) => planRemove(acc, ip, jobKey, at(), trust), s);
}

export function planPruneAt(ns: string, at: () => LeaseScope = () => scopeAt(ns)) {
  return (s: RuleState) => planPrune(s, at()).state;
}

/** The IPs a lease key holds (for `remove` without a detectable IP). */
export function ipsLeasedBy(tags: Record<string, string>, jobKey: string, ns: string): string[] {
  return addressesLeasedBy(tags, jobKey, scopeAt(ns));
}

/** Log line of a converge outcome, and the figure tests read. */
export function reportConverge(label: string, o: ConvergeOutcome<unknown>): void {
  console.log(`  ${label}: confirmed (${o.writes} write(s), ${o.retries} retr${o.retries === 1 ? 'y' : 'ies'} after concurrent changes).`);
  tl.debug(`${label}: writes=${o.writes} retries=${o.retries}`);
}
