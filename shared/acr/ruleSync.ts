import { createHash } from 'crypto';
import * as tl from 'azure-pipelines-task-lib/task';
import { ExplainedError, messageOf } from '../pipeline/explainedError';
import { explainArmFailure } from '../arm/armErrors';
import { planAdd, planPrune, planRemove, readLeases, MAX_TAGS, TAG_PREFIX, type RuleState } from './ruleLeases';
import { ArmCallError, ipRuleValues, withIpRules, type RegistryNetworkClient, type RegistryNetworkState } from './registryNetwork';
import { askLoginServer } from './loginServerAccess';

/** Where the rules live and who we are, for explanations. */
export interface SyncTarget {
  net: RegistryNetworkClient;
  registryName: string;
  registryId: string;
  principalObjectId?: string;
}

export interface ConvergeOutcome {
  state: RegistryNetworkState;
  /** PATCHes sent. */
  writes: number;
  /** Reads that found the wanted state missing after a write (another job's write won). */
  retries: number;
}

const CONVERGE_DEADLINE_MS = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (minMs: number, maxMs: number) => minMs + Math.random() * (maxMs - minMs);

export function ruleStateOf(s: RegistryNetworkState): RuleState {
  return { ipRules: ipRuleValues(s), tags: { ...s.tags } };
}

function sameRuleState(a: RuleState, b: RuleState): boolean {
  const tagsA = Object.entries(a.tags).sort(([x], [y]) => x.localeCompare(y));
  const tagsB = Object.entries(b.tags).sort(([x], [y]) => x.localeCompare(y));
  return JSON.stringify(a.ipRules) === JSON.stringify(b.ipRules) && JSON.stringify(tagsA) === JSON.stringify(tagsB);
}

/** Short, stable key of this job's use of the rule (lease tag suffix): plan, job, task instance, attempt. */
export function jobKeyOf(parts: (string | undefined)[]): string {
  return createHash('sha256').update(parts.map((p) => p ?? '').join('|')).digest('hex').slice(0, 16);
}

/**
 * Read-modify-write until the registry holds what `plan` wants. ACR has no ETag on registries,
 * so concurrent jobs can overwrite each other's PATCH (last writer wins): after every write the
 * rule set is read again, and a state that lacks our change is planned and written again after a
 * jittered backoff. A state is accepted only when two reads, three times the slowest write
 * apart, both show it, so a slower PATCH planned from an older read that lands after ours is
 * caught too.
 */
export async function converge(target: SyncTarget, what: string, plan: (current: RuleState) => RuleState, options: { confirmingReads?: number } = {}): Promise<ConvergeOutcome> {
  const confirmingReads = options.confirmingReads ?? 2;
  const started = Date.now();
  let writes = 0;
  let retries = 0;
  let confirmations = 0;
  let backedOff = false;
  let busyAnswers = 0;
  // The slowest write seen (PATCH until its operation finished): a stale write planned by another
  // job before ours landed can arrive about that much later, so the confirming read waits three times that.
  let slowestWriteMs = 0;
  for (let attempt = 0; ; attempt++) {
    if (Date.now() - started > CONVERGE_DEADLINE_MS) {
      throw new ExplainedError({
        what,
        reason: `Other writers kept replacing the network rule set for ${CONVERGE_DEADLINE_MS / 1000} s (${writes} writes, ${retries} retries).`,
        fix: 'Run again; if many jobs open this registry at once, give them a shared NAT IP and one explicit rule instead.',
        code: 'ACR_RULE_CONTENTION',
      });
    }
    const state = await readOrExplain(target, what);
    const current = ruleStateOf(state);
    const next = plan(current);
    if (sameRuleState(current, next)) {
      if (++confirmations >= confirmingReads) return { state, writes, retries };
      const settleMs = Math.min(8_000, Math.max(1_500, 3 * slowestWriteMs));
      await sleep(jitter(settleMs, settleMs * 1.3));
      continue;
    }
    confirmations = 0;
    if ((writes > 0 || retries > 0) && !backedOff) {
      // Another job's write replaced ours: back off, then read again. The wait comes before the
      // read, never between the read and the write, so what is written is as fresh as it can be.
      retries++;
      backedOff = true;
      await sleep(jitter(150, Math.min(3_000, 250 * 2 ** Math.min(retries, 4))));
      continue;
    }
    backedOff = false;
    const tagCount = Object.keys(next.tags).length;
    if (tagCount > MAX_TAGS) {
      throw new ExplainedError({
        what,
        reason: `The registry would carry ${tagCount} tags; Azure allows ${MAX_TAGS}. The task keeps its leases in tags (${TAG_PREFIX}…).`,
        fix: `Remove unused tags from ${target.registryName}, or run the task with action 'prune' to drop expired leases.`,
        code: 'ACR_TAG_LIMIT',
      });
    }
    const writeStarted = Date.now();
    if (!(await writeOrExplain(target, what, state, next, busyAnswers++))) {
      // Busy or throttled: waited as asked; read again before writing, since the rule set may have moved.
      backedOff = true;
      continue;
    }
    busyAnswers = 0;
    slowestWriteMs = Math.max(slowestWriteMs, Date.now() - writeStarted);
    writes++;
  }
}

async function readOrExplain(target: SyncTarget, what: string): Promise<RegistryNetworkState> {
  try {
    return await target.net.read();
  } catch (err) {
    throw armExplained(err, target, what, 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  }
}

/**
 * Sends one write. A registry busy with another update (409), throttling (429) or failing for a
 * moment (5xx) gets a wait (Retry-After when given) and false, so the caller reads again and plans
 * afresh instead of sending a change planned from an older read.
 */
async function writeOrExplain(target: SyncTarget, what: string, state: RegistryNetworkState, next: RuleState, busyAnswersSoFar: number): Promise<boolean> {
  try {
    await target.net.write(withIpRules(state, next.ipRules), next.tags);
    return true;
  } catch (err) {
    const f = err instanceof ArmCallError ? err.failure : undefined;
    if (f && (f.statusCode === 409 || f.statusCode === 429 || f.statusCode >= 500) && busyAnswersSoFar < 6) {
      const askedMs = f.retryAfterMs !== undefined ? Math.min(f.retryAfterMs, 60_000) : undefined;
      console.log(`  the registry answered HTTP ${f.statusCode}${f.code ? ` ${f.code}` : ''}; trying again in ${((askedMs ?? 1_000 * (busyAnswersSoFar + 1)) / 1000).toFixed(1)} s.`);
      await sleep(askedMs ?? jitter(500, 1500) * (busyAnswersSoFar + 1));
      return false;
    }
    if (f && /quota/i.test(`${f.code} ${f.message}`)) {
      throw new ExplainedError({
        what,
        reason: `The registry refused the rule set: ${f.message} (${f.code}). ${ipRuleValues(state).length} IP rules are already in place.`,
        fix: `Remove IP rules you no longer need (az acr network-rule list --name ${target.registryName}), run the task with action 'prune', or give the agents a NAT gateway with one fixed outbound IP and add that once.`,
        code: 'ACR_IP_RULE_QUOTA',
      });
    }
    throw armExplained(err, target, what, 'Microsoft.ContainerRegistry/registries/write', 'Container Registry Contributor and Data Access Configuration Administrator');
  }
}

export function armExplained(err: unknown, target: SyncTarget, what: string, action: string, role: string): Error {
  if (err instanceof ExplainedError) return err;
  if (!(err instanceof ArmCallError)) {
    return new ExplainedError({ what, reason: messageOf(err), fix: 'Check the agent can reach Resource Manager, then run again.', code: 'ARM_UNREACHABLE' }, { cause: err });
  }
  const explained = explainArmFailure(err.failure, { action, scope: target.registryId, principalObjectId: target.principalObjectId, role, resourceLabel: `the registry '${target.registryName}'` });
  return new ExplainedError({ what, ...explained }, { cause: err });
}

export function planAddAll(ips: string[], jobKey: string, expiresAt: number) {
  return (s: RuleState) => ips.reduce((acc, ip) => planAdd(acc, ip, jobKey, expiresAt), s);
}

export function planRemoveAll(ips: string[], jobKey: string, nowSeconds: number) {
  return (s: RuleState) => ips.reduce((acc, ip) => planRemove(acc, ip, jobKey, nowSeconds), s);
}

export function planPruneAt(nowSeconds: number) {
  return (s: RuleState) => planPrune(s, nowSeconds).state;
}

/** The IPs a lease key holds on the registry (for `remove` without a detectable IP). */
export function ipsLeasedBy(tags: Record<string, string>, jobKey: string): string[] {
  return [...readLeases(tags)].filter(([, l]) => l.leases.has(jobKey)).map(([ip]) => ip);
}

export interface AccessOutcome {
  seconds: number;
  attempts: number;
}

/**
 * Polls the login server's /v2/ from the agent until the firewall lets it through (401), with a
 * deadline and a progress line every few seconds.
 */
export async function waitForAccess(loginServer: string, timeoutSeconds: number, since: number): Promise<AccessOutcome> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let attempts = 0;
  let lastProgress = 0;
  let last = '';
  for (;;) {
    attempts++;
    const answer = await askLoginServer(loginServer, Math.max(1_000, Math.min(15_000, deadline - Date.now())));
    const elapsed = (Date.now() - since) / 1000;
    if (answer.kind === 'allowed') {
      console.log(`  ${loginServer}/v2/ answers HTTP ${answer.status}: the firewall lets the agent in (${elapsed.toFixed(1)} s after the rule was written, ${attempts} request(s)).`);
      return { seconds: Math.round(elapsed * 10) / 10, attempts };
    }
    last = answer.kind === 'denied' ? `403, client IP ${answer.ip} not allowed yet` : answer.detail;
    if (Date.now() - lastProgress >= 3_000) {
      console.log(`  waiting for the rule to take effect: ${last} (${elapsed.toFixed(0)} s)`);
      lastProgress = Date.now();
    }
    if (Date.now() >= deadline) {
      throw new ExplainedError({
        what: `Waiting for ${loginServer} to let the agent in`,
        reason: `After ${timeoutSeconds} s the registry still answers: ${last}. Network rule changes usually take effect within a minute or two${answer.kind === 'denied' ? `; if ${answer.ip} is not the address the rule was written for, the agent's egress IP differs from the one given` : ''}.`,
        fix: "Raise accessTimeoutSeconds, or check the agent's egress IP (ipSource: auto detects the one the registry sees).",
        code: 'ACR_ACCESS_TIMEOUT',
      });
    }
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
  }
}

/** Debug line of a converge outcome, and the figure tests read. */
export function reportConverge(label: string, o: ConvergeOutcome): void {
  console.log(`  ${label}: confirmed on the registry (${o.writes} write(s), ${o.retries} retr${o.retries === 1 ? 'y' : 'ies'} after concurrent changes).`);
  tl.debug(`${label}: writes=${o.writes} retries=${o.retries}`);
}
