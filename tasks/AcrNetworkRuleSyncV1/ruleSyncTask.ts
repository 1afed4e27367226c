import * as tl from 'azure-pipelines-task-lib/task';
import { containerRegistryClient, containerServiceClient } from '../../shared/azure/arm/armClient';
import { ArmCallError, asArmCallError } from '../../shared/azure/arm/rawArmCall';
import { validateResourceGroupName, validateResourceName } from '../../shared/azure/arm/resourceId';
import { registryTarget } from '../../shared/firewall/targets/registryFirewall';
import { agentGet } from '../../shared/net/agentGet';
import { finish } from './ruleSyncSummary';
import { clusterTarget } from '../../shared/firewall/targets/authorizedRangesTarget';
import { signInWithTaskConnection } from '../../shared/azure/identity/signIn';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { parseIpv4Range, sameIpRule } from '../../shared/net/ipv4';
import { subscriptionOf } from '../../shared/azure/connection/azureRmConnection';
import { ExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import { booleanInput, choiceInput, integerInput, linesInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';
import { waitForAccess } from '../../shared/firewall/accessWait';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { leaseNamespace, leasesOf, planPrune, type RemovalTrust, type RuleState } from '../../shared/firewall/ruleLeases';
import {
  converge,
  ipsLeasedBy,
  jobKeyOf,
  planAddAll,
  planPruneAt,
  planRemoveAll,
  readRules,
  reconfirmLease,
  reportConverge,
} from '../../shared/firewall/ruleSync';

/** The task variable the main step hands to its post-job step (scoped to this task instance). */
export const LEASE_VARIABLE = 'AcrNetworkRuleSync.Lease';

type Action = 'addForJob' | 'add' | 'remove' | 'prune';
type TargetType = FirewallTarget['kind'];

/** What the post-job step needs to find the lease again, without reading the inputs a second time. */
interface LeaseHandOver {
  targetType: TargetType;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  ips: string[];
  jobKey: string;
  /** What the job itself saw, so that a tag writer cannot steer its removal (RemovalTrust). */
  trust: RemovalTrust;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function jobKey(): string {
  return jobKeyOf([
    tl.getVariable('System.PlanId'),
    tl.getVariable('System.JobId'),
    tl.getVariable('System.TaskInstanceId'),
    tl.getVariable('System.JobAttempt'),
  ]);
}

/** `add` and `remove` pair up across the jobs of one run: their lease belongs to the run. */
function runKey(): string {
  return jobKeyOf(['run', tl.getVariable('System.PlanId')]);
}

interface TargetRef {
  targetType: TargetType;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

async function openTarget(
  cc: ConnectionCredential,
  ref: TargetRef,
  principalObjectId: string | undefined,
  allowEnablingSelectedNetworks = false,
): Promise<FirewallTarget> {
  const common = {
    resourceManagerUrl: cc.connection.cloud.resourceManagerUrl,
    subscriptionId: ref.subscriptionId,
    resourceGroup: ref.resourceGroup,
    principalObjectId,
  };
  if (ref.targetType === 'registry') {
    return registryTarget({
      ...common,
      sdk: containerRegistryClient(cc, ref.subscriptionId),
      registryName: ref.name,
      allowEnablingSelectedNetworks,
    });
  }
  return clusterTarget({ ...common, sdk: containerServiceClient(cc, ref.subscriptionId), clusterName: ref.name });
}

/** The main step (task.json execution: index.js). */
export async function runAcrNetworkRuleSync(): Promise<void> {
  // Who we are first, so a wrong connection or tenant shows before anything else.
  const { cc, identity } = await signInWithTaskConnection();
  const targetType = choiceInput('targetType', ['registry', 'aksAuthorizedIpRanges'] as const, 'registry');
  const action = choiceInput<Action>('action', ['addForJob', 'add', 'remove', 'prune'], 'addForJob');
  const resourceGroup = validateResourceGroupName('resourceGroupName', requiredInput('resourceGroupName'));
  const name =
    targetType === 'registry'
      ? validateResourceName('registryName', 'registry', requiredInput('registryName'))
      : validateResourceName('clusterName', 'cluster', requiredInput('clusterName'));
  const ipSource = choiceInput('ipSource', ['auto', 'explicit'] as const, 'auto');
  // Explicit addresses are checked before anything is read or changed.
  const explicitIps = action !== 'prune' && ipSource === 'explicit' ? explicitAddresses() : undefined;
  const waitForIt = booleanInput('waitForAccess', true);
  const accessTimeoutSeconds = integerInput('accessTimeoutSeconds', 300, 1, 3600);
  const leaseMinutes = integerInput('leaseMinutes', 120, 1, 7 * 24 * 60);
  const allowEnabling = booleanInput('allowEnablingSelectedNetworks', false);
  const echoUrl = optionalInput('echoUrl');
  if (echoUrl && !/^https:\/\/[^/\s]+/i.test(echoUrl)) {
    throw new ExplainedError({
      what: "Reading the input 'echoUrl'",
      reason: `'${echoUrl}' is not an HTTPS URL: an IP answer over plain HTTP could be altered on the way.`,
      fix: 'Give an https:// URL that answers with the caller IP as plain text.',
      code: 'INVALID_INPUT',
    });
  }

  const ref: TargetRef = { targetType, subscriptionId: subscriptionOf(cc.connection), resourceGroup, name };
  const target = await openTarget(cc, ref, identity.objectId, allowEnabling);
  // Leases live in a namespace of the connection's principal: another connection's marks are not ours.
  const ns = leaseNamespace(identity.objectId);
  if (action === 'prune') return prune(target, ns);

  const key = action === 'addForJob' ? jobKey() : runKey();
  if (action === 'remove') {
    const ips = explicitIps ?? (await detectAgentIp(target, echoUrl, action));
    const current = await readRules(target.store);
    // Only a range the input names may go; a detected address is a single one.
    return remove(target, ips ?? ipsLeasedBy(current.rules.tags, key, ns), key, ns, { namedRanges: explicitIps ?? [] });
  }

  if ((await target.posture()) === 'open') {
    const why =
      target.kind === 'registry'
        ? 'public network access Enabled, default action Allow'
        : 'no authorized IP ranges: adding one would shut out every other network';
    console.log(`${target.store.label} accepts every network (${why}): no rule is needed, nothing changed.`);
    finish(
      { agentIp: explicitIps?.join(',') ?? '', ruleAdded: false, secondsToAccess: 0 },
      target.name,
      action,
      explicitIps ?? [],
      'all networks allowed; nothing changed',
      0,
      { targetKind: target.kind },
    );
    return;
  }
  const ips = explicitIps ?? (await detectAgentIp(target, echoUrl, action));
  if (!ips) {
    tl.warning(
      `${target.endpoint} already lets the agent in, and the task cannot tell which IP it sees for the agent without an echo URL: no lease was taken, so another job's post-job step may remove the rule this job relies on. Set echoUrl, or ipSource: explicit with the agent's egress IP.`,
    );
    finish({ agentIp: '', ruleAdded: false, secondsToAccess: 0 }, target.name, action, [], 'already allowed; nothing changed', 0, {
      targetKind: target.kind,
    });
    return;
  }
  await add(target, ref, ips, key, ns, action, { leaseMinutes, waitForIt, accessTimeoutSeconds, namedRanges: explicitIps ?? [] });
}

async function add(
  target: FirewallTarget,
  ref: TargetRef,
  ips: string[],
  key: string,
  ns: string,
  action: Action,
  o: { leaseMinutes: number; waitForIt: boolean; accessTimeoutSeconds: number; namedRanges: string[] },
): Promise<void> {
  const readAt = nowSeconds();
  const before = await readRules(target.store);
  const missing = ips.filter((ip) => !before.rules.ipRules.some((r) => sameIpRule(r, ip)));
  await target.beforeAdd?.(missing.length);

  // What this job saw itself: the addresses it found absent (any mark from now on is its own or a later job's).
  const markSince: Record<string, number> = Object.fromEntries(missing.map((ip) => [ip, readAt]));
  const handOver = (): void => {
    if (action !== 'addForJob') return;
    const lease: LeaseHandOver = { ...ref, ips, jobKey: key, trust: { namedRanges: o.namedRanges, markSince } };
    tl.setTaskVariable(LEASE_VARIABLE, JSON.stringify(lease));
  };
  // Handed over before the write: a job cancelled mid-write still has its post-job step remove the lease.
  handOver();
  const lease = { start: nowSeconds(), minutes: o.leaseMinutes };
  const expiresAt = lease.start + lease.minutes * 60;
  console.log(`Adding ${ips.join(', ')} to ${target.store.label} (lease ${key} until ${new Date(expiresAt * 1000).toISOString()}).`);
  const writtenAt = Date.now();
  const plan = planAddAll(ips, key, lease, ns);
  const outcome = await converge(target.store, `Adding ${ips.join(', ')} to ${target.store.label}`, plan);
  reportConverge('rule and lease', outcome);
  const scope = { ns, now: nowSeconds() };
  // The marks this job confirmed with its lease: a mark written later (by a tag writer) will not count.
  for (const ip of ips) {
    const mark = leasesOf(outcome.rules.tags, ip, scope)?.addedAt;
    if (mark !== undefined && markSince[ip] === undefined) markSince[ip] = mark;
  }
  handOver();
  const added = missing.filter(
    (ip) => outcome.rules.ipRules.some((r) => sameIpRule(r, ip)) && leasesOf(outcome.rules.tags, ip, scope)?.addedAt !== undefined,
  );
  console.log(added.length ? `Added ${added.join(', ')}.` : `${ips.join(', ')} already had a rule; this job holds a lease on it.`);

  let secondsToAccess = 0;
  let retries = outcome.retries;
  if (o.waitForIt) {
    console.log(`Waiting up to ${o.accessTimeoutSeconds} s for ${target.endpoint} to let the agent in…`);
    // A rule this job wrote counts from its write; a rule that was there already from now.
    const access = await waitForAccess(
      target.endpoint,
      (ms) => target.ask(ms),
      o.accessTimeoutSeconds,
      added.length ? writtenAt : Date.now(),
    );
    secondsToAccess = access.seconds;
    const again = await reconfirmLease(target.store, `Adding ${ips.join(', ')} to ${target.store.label} again`, ips, key, ns, plan);
    retries += again.retries;
  }
  finish(
    { agentIp: ips.join(','), ruleAdded: added.length > 0, secondsToAccess },
    target.name,
    action,
    ips,
    added.length ? `added ${added.join(', ')}` : 'rule already present; lease taken',
    retries,
    {
      targetKind: target.kind,
      leaseMinutes: o.leaseMinutes,
      leaseExpiresOn: new Date(expiresAt * 1000),
      waitedForAccess: o.waitForIt,
    },
  );
  if (action === 'addForJob') console.log("The post-job step removes this job's lease, and the rule when no other job holds it.");
}

function explicitAddresses(): string[] {
  const lines = linesInput('ipAddresses');
  if (lines.length === 0) {
    throw new ExplainedError({
      what: "Reading the input 'ipAddresses'",
      reason: 'It is empty while ipSource is explicit.',
      fix: 'List IPv4 addresses or CIDR ranges, one per line, or set ipSource: auto.',
      code: 'INVALID_INPUT',
    });
  }
  const values = lines.map((l) => parseIpv4Range('ipAddresses', l).value);
  return values.filter((v, i) => values.findIndex((w) => sameIpRule(v, w)) === i);
}

/**
 * The agent's egress IP: the endpoint's own refusal names it where it can (ACR's 403); otherwise
 * the echo URL tells it. Undefined when the endpoint lets the agent in already and no echo URL is set.
 */
async function detectAgentIp(target: FirewallTarget, echoUrl: string | undefined, action: Action): Promise<string[] | undefined> {
  const seen = await target.ipFromEndpoint();
  if (seen.ip) {
    console.log(`Agent egress IP: ${seen.ip} (${seen.why}).`);
    return [parseIpv4Range('agent IP', seen.ip).value];
  }
  if (echoUrl) {
    const res = await agentGet(echoUrl, 15_000).catch((err) => {
      throw new ExplainedError({
        what: `Asking ${echoUrl} for the agent's egress IP`,
        reason: `${seen.why}, and the echo URL failed: ${messageOf(err)}.`,
        fix: 'Check the echo URL, or set ipSource: explicit.',
        code: 'AGENT_IP_UNKNOWN',
      });
    });
    const text = res.body.trim();
    if (res.status !== 200 || !/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
      throw new ExplainedError({
        what: `Asking ${echoUrl} for the agent's egress IP`,
        reason: `${seen.why}; the echo URL answered HTTP ${res.status} with no plain IPv4 address.`,
        fix: 'Use an echo URL that answers with the caller IP as plain text, or set ipSource: explicit.',
        code: 'AGENT_IP_UNKNOWN',
      });
    }
    console.log(`Agent egress IP: ${text} (from ${echoUrl}; ${seen.why}).`);
    return [parseIpv4Range('agent IP', text).value];
  }
  if (seen.through || action === 'remove') return undefined;
  throw new ExplainedError({
    what: "Detecting the agent's egress IP",
    reason: `${seen.why}.`,
    fix: "Set echoUrl to an HTTPS URL that answers with the caller IP, or set ipSource: explicit with the agent's egress IPs.",
    code: 'AGENT_IP_UNKNOWN',
  });
}

async function remove(target: FirewallTarget, ips: string[], key: string, ns: string, trust: RemovalTrust): Promise<void> {
  if (ips.length === 0) {
    console.log(`No rule on ${target.store.label} is held by this lease; nothing to remove.`);
    finish({ agentIp: '', ruleAdded: false, secondsToAccess: 0 }, target.name, 'remove', [], 'nothing held', 0, {
      targetKind: target.kind,
    });
    return;
  }
  const before = await readRules(target.store);
  const plan = planRemoveAll(ips, key, ns, trust);
  // Three reads without an eTag: a lease brought back by a concurrent job's older write would keep the rule until it expires.
  const outcome = await converge(target.store, `Removing ${ips.join(', ')} from ${target.store.label}`, plan, { confirmingReads: 3 });
  reportConverge('lease released', outcome);
  const has = (s: RuleState, ip: string) => s.ipRules.some((r) => sameIpRule(r, ip));
  const removed = ips.filter((ip) => has(before.rules, ip) && !has(outcome.rules, ip));
  if (removed.length) console.log(`Removed ${removed.join(', ')}.`);
  const scope = { ns, now: nowSeconds() };
  for (const ip of ips.filter((i) => !removed.includes(i) && has(outcome.rules, i))) {
    const leases = leasesOf(outcome.rules.tags, ip, scope);
    const markedBefore = leasesOf(before.rules.tags, ip, scope)?.addedAt !== undefined;
    const lastRule = target.store.emptyMeansOpen && outcome.rules.ipRules.length === 1;
    if (leases) console.log(`Kept ${ip}: ${leases.leases.size} other job(s) still hold it.`);
    else if (markedBefore && lastRule)
      tl.warning(
        `Kept ${ip} on ${target.store.label}: it is the last rule, and an empty list turns IP filtering off (every network would get in). It is no longer marked as this extension's; remove it by hand when the cluster gets other ranges.`,
      );
    else if (markedBefore)
      console.log(
        `Kept ${ip}: it is marked as added by this extension, but ${ip.includes('/') ? 'it is a range the input does not name' : 'not in a way this job saw itself (the mark appeared after it took its lease)'}, so it is left for a person to check.`,
      );
    else console.log(`Kept ${ip}: the rule was not added by this extension (or another job still holds it).`);
  }
  finish(
    { agentIp: ips.join(','), ruleAdded: false, secondsToAccess: 0 },
    target.name,
    'remove',
    ips,
    removed.length ? `removed ${removed.join(', ')}` : 'lease released; rule kept',
    outcome.retries,
    { targetKind: target.kind },
  );
}

async function prune(target: FirewallTarget, ns: string): Promise<void> {
  const before = await readRules(target.store);
  const legacyLeft = planPrune(before.rules, { ns, now: nowSeconds() }).legacyLeft;
  const plan = planPruneAt(ns);
  const outcome = await converge(target.store, `Pruning expired rules from ${target.store.label}`, plan);
  reportConverge('expired leases pruned', outcome);
  const removed = before.rules.ipRules.filter((r) => !outcome.rules.ipRules.some((v) => sameIpRule(v, r)));
  console.log(removed.length ? `Pruned ${removed.join(', ')} (every lease expired).` : 'No expired rule of this extension found.');
  if (legacyLeft.length)
    tl.warning(
      `Dropped the expired leases of an earlier version of this task on ${legacyLeft.join(', ')}; those rules were left in place (its marks cannot be told from anyone's tag). Remove them by hand if no one needs them.`,
    );
  finish(
    { agentIp: '', ruleAdded: false, secondsToAccess: 0 },
    target.name,
    'prune',
    removed,
    removed.length ? `pruned ${removed.join(', ')}` : 'nothing expired',
    outcome.retries,
    { targetKind: target.kind },
  );
}

/**
 * The post-job step (task.json postjobexecution: post.js): releases this job's lease, removing the
 * rule when no other live job holds it. The agent runs it at the end of every job that has the task,
 * with condition always (azure-pipelines-agent src/Agent.Worker/JobExtension.cs), also when the main
 * step was skipped or never started: it acts only on the lease the main step handed over, and without
 * one it signs in to nothing and changes nothing.
 */
export async function runAcrNetworkRuleSyncPostJob(): Promise<void> {
  const status = tl.getVariable('Agent.JobStatus') ?? 'unknown';
  const raw = tl.getTaskVariable(LEASE_VARIABLE);
  if (!raw) {
    console.log(
      `Post-job (job status ${status}): the main step took no lease for this job (it did not run, failed or was cancelled before adding a rule, or its action keeps the rule); nothing to remove.`,
    );
    return;
  }
  const lease = JSON.parse(raw) as LeaseHandOver;
  console.log(`Post-job (job status ${status}): releasing lease ${lease.jobKey} on ${lease.ips.join(', ')} at ${lease.name}.`);
  const { cc, identity } = await signInWithTaskConnection();
  let target: FirewallTarget;
  try {
    target = await openTarget(cc, lease, identity.objectId);
  } catch (err) {
    const cause = err instanceof ExplainedError ? asArmCallError(err.cause) : undefined;
    if (cause instanceof ArmCallError && cause.failure.statusCode === 404) {
      tl.warning(`${lease.name} no longer exists; nothing to remove.`);
      return;
    }
    throw err;
  }
  await remove(target, lease.ips, lease.jobKey, leaseNamespace(identity.objectId), lease.trust ?? { markSince: {} });
}
