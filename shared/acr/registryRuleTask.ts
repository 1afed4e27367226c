import * as tl from 'azure-pipelines-task-lib/task';
import { containerRegistryClient } from '../arm/armClient';
import { validateResourceGroupName, validateResourceName } from '../arm/resourceId';
import { signInWithTaskConnection } from '../identity/signIn';
import type { ConnectionCredential } from '../identity/connectionCredential';
import { DeadlineExceededError, withDeadline } from '../net/deadline';
import { parseIpv4Range, sameIpRule } from '../net/ipv4';
import { ExplainedError, messageOf } from '../pipeline/explainedError';
import { booleanInput, choiceInput, integerInput, linesInput, optionalInput, requiredInput } from '../pipeline/taskInputs';
import { agentGet, askLoginServer } from './loginServerAccess';
import { ArmCallError, RegistryNetworkClient, ipRuleValues } from './registryNetwork';
import { holdsLease, readLeases } from './ruleLeases';
import { finish } from './ruleSyncSummary';
import { armExplained, converge, ipsLeasedBy, ruleStateOf, jobKeyOf, planAddAll, planPruneAt, planRemoveAll, reportConverge, waitForAccess, type SyncTarget } from './ruleSync';

/** Task variables the main step hands to its post-job step (scoped to this task instance). */
export const PHASE_VARIABLE = 'AcrNetworkRuleSync.Phase';
export const LEASE_VARIABLE = 'AcrNetworkRuleSync.Lease';

type Action = 'addForJob' | 'add' | 'remove' | 'prune';

interface LeaseHandOver {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  ips: string[];
  jobKey: string;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The agent runs the post-job step only for a task whose main step ran, with the task variables
 * that step set (VSTS_TASKVARIABLE_*): the phase marker, set first thing in the main step, tells
 * the two apart.
 */
export function isPostJobStep(): boolean {
  return tl.getTaskVariable(PHASE_VARIABLE) === 'main';
}

export async function runAcrNetworkRuleSync(): Promise<void> {
  if (isPostJobStep()) return postJob();
  tl.setTaskVariable(PHASE_VARIABLE, 'main');
  await mainStep();
}

function jobKey(): string {
  return jobKeyOf([tl.getVariable('System.PlanId'), tl.getVariable('System.JobId'), tl.getVariable('System.TaskInstanceId'), tl.getVariable('System.JobAttempt')]);
}

/** `add` and `remove` pair up across the jobs of one run: their lease belongs to the run. */
function runKey(): string {
  return jobKeyOf(['run', tl.getVariable('System.PlanId')]);
}

function subscriptionOf(cc: ConnectionCredential): string {
  const id = cc.connection.subscriptionId;
  if (!id) {
    throw new ExplainedError({ what: 'Reading the service connection', reason: 'The connection names no subscription (scope level other than Subscription).', fix: 'Use an Azure Resource Manager connection scoped to the subscription that holds the registry.', code: 'NO_SUBSCRIPTION' });
  }
  return id;
}

function registryIdOf(subscriptionId: string, resourceGroup: string, registryName: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
}

function targetFor(cc: ConnectionCredential, subscriptionId: string, resourceGroup: string, registryName: string, principalObjectId?: string): SyncTarget {
  const registryId = registryIdOf(subscriptionId, resourceGroup, registryName);
  const net = new RegistryNetworkClient(containerRegistryClient(cc, subscriptionId), cc.connection.cloud.resourceManagerUrl, registryId);
  return { net, registryName, registryId, principalObjectId };
}

async function mainStep(): Promise<void> {
  // Who we are first, so a wrong connection or tenant shows before anything else.
  const { cc, identity } = await signInWithTaskConnection();
  const targetType = choiceInput('targetType', ['registry', 'aksAuthorizedIpRanges'] as const, 'registry');
  if (targetType !== 'registry') {
    throw new ExplainedError({
      what: 'Opening the AKS API server authorized IP ranges',
      reason: 'This version of AcrNetworkRuleSync supports container registries only (targetType: registry).',
      fix: 'Set targetType to registry, or add the agent IP to the cluster with: az aks update --api-server-authorized-ip-ranges.',
      code: 'TARGET_NOT_SUPPORTED',
    });
  }
  const action = choiceInput<Action>('action', ['addForJob', 'add', 'remove', 'prune'], 'addForJob');
  const resourceGroup = validateResourceGroupName('resourceGroupName', requiredInput('resourceGroupName'));
  const registryName = validateResourceName('registryName', 'registry', requiredInput('registryName'));
  const ipSource = choiceInput('ipSource', ['auto', 'explicit'] as const, 'auto');
  // Explicit addresses are checked before anything is read or changed.
  const explicitIps = action !== 'prune' && ipSource === 'explicit' ? explicitAddresses() : undefined;
  const waitForIt = booleanInput('waitForAccess', true);
  const accessTimeoutSeconds = integerInput('accessTimeoutSeconds', 300, 1, 3600);
  const leaseMinutes = integerInput('leaseMinutes', 120, 1, 7 * 24 * 60);
  const allowEnabling = booleanInput('allowEnablingSelectedNetworks', false);
  const echoUrl = optionalInput('echoUrl');
  if (echoUrl && !/^https:\/\/[^/\s]+/i.test(echoUrl)) {
    throw new ExplainedError({ what: "Reading the input 'echoUrl'", reason: `'${echoUrl}' is not an HTTPS URL: an IP answer over plain HTTP could be altered on the way.`, fix: 'Give an https:// URL that answers with the caller IP as plain text.', code: 'INVALID_INPUT' });
  }

  const subscriptionId = subscriptionOf(cc);
  const target = targetFor(cc, subscriptionId, resourceGroup, registryName, identity.objectId);
  const sdk = containerRegistryClient(cc, subscriptionId);

  const registry = await withDeadline(30_000, (abortSignal) => sdk.registries.get(resourceGroup, registryName, { abortSignal }), () => new DeadlineExceededError('Reading the registry', 30_000)).catch((err) => {
    throw armExplained(toCallError(err), target, `Reading the registry '${registryName}'`, 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  });
  const loginServer = registry.loginServer ?? `${registryName.toLowerCase()}.azurecr.io`;
  console.log(`Registry ${registryName}: ${registry.sku?.name ?? '?'} SKU, public network access ${registry.publicNetworkAccess ?? 'Enabled'}, default action ${registry.networkRuleSet?.defaultAction ?? '?'}, ${registry.networkRuleSet?.ipRules?.length ?? 0} IP rule(s).`);

  if (action === 'prune') return prune(target);

  if (registry.sku?.name !== 'Premium') {
    throw new ExplainedError({ what: `Opening ${registryName}'s firewall`, reason: `The registry is on the ${registry.sku?.name} SKU; network rules need Premium.`, fix: 'az acr update --name <registry> --sku Premium, or reach the registry without a firewall.', code: 'ACR_SKU_NOT_PREMIUM' });
  }

  const key = action === 'addForJob' ? jobKey() : runKey();
  if (action === 'remove') {
    const ips = explicitIps ?? (await detectAgentIp(loginServer, echoUrl, action));
    const current = await target.net.read().catch((err) => {
      throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
    });
    return remove(target, ips ?? ipsLeasedBy(current.tags, key), key);
  }

  // Posture first: IP rules only apply when public network access is on and the default action denies.
  const publicAccess = registry.publicNetworkAccess ?? 'Enabled';
  if (publicAccess === 'Enabled' && registry.networkRuleSet?.defaultAction === 'Allow') {
    console.log(`${registryName} allows all networks (public network access Enabled, default action Allow): no IP rule is needed, nothing changed.`);
    finish({ agentIp: explicitIps?.join(',') ?? '', ruleAdded: false, secondsToAccess: 0 }, registryName, action, explicitIps ?? [], 'all networks allowed; nothing changed');
    return;
  }
  const ips = explicitIps ?? (await detectAgentIp(loginServer, echoUrl, action));
  if (publicAccess === 'Disabled') {
    if (!allowEnabling) {
      throw new ExplainedError({
        what: `Opening ${registryName}'s firewall${ips ? ` to ${ips.join(', ')}` : ''}`,
        reason: 'Public network access is Disabled, so IP rules do not apply: only private endpoints reach the registry. Nothing was changed.',
        fix: 'Run the agent inside the VNet (private endpoint), or set allowEnablingSelectedNetworks: true to let the task switch the registry to selected networks.',
        code: 'ACR_PUBLIC_ACCESS_DISABLED',
      });
    }
  }
  if (!ips) {
    tl.warning(`${loginServer} already lets the agent in, and the task cannot tell which IP the registry sees for it without an echo URL: no lease was taken, so another job's post-job step may remove the rule this job relies on. Set echoUrl, or ipSource: explicit with the agent's egress IP.`);
    finish({ agentIp: '', ruleAdded: false, secondsToAccess: 0 }, registryName, action, [], 'already allowed; nothing changed');
    return;
  }
  if (publicAccess === 'Disabled') await enableSelectedNetworks(target, sdk, resourceGroup, registryName);

  const before = await target.net.read().catch((err) => {
    throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  });
  const missing = ips.filter((ip) => !ipRuleValues(before).some((r) => sameIpRule(r, ip)));
  await checkQuota(sdk, resourceGroup, registryName, missing.length);

  if (action === 'addForJob') {
    // Handed over before the write: a job cancelled mid-write still has its post-job step remove the lease.
    const handOver: LeaseHandOver = { subscriptionId, resourceGroup, registryName, ips, jobKey: key };
    tl.setTaskVariable(LEASE_VARIABLE, JSON.stringify(handOver));
  }
  const expiresAt = nowSeconds() + leaseMinutes * 60;
  console.log(`Adding ${ips.join(', ')} to ${registryName} (lease ${key} until ${new Date(expiresAt * 1000).toISOString()}).`);
  const writtenAt = Date.now();
  const outcome = await converge(target, `Adding ${ips.join(', ')} to ${registryName}'s network rules`, planAddAll(ips, key, expiresAt));
  reportConverge('rule and lease', outcome);
  const added = missing.filter((ip) => ipRuleValues(outcome.state).some((r) => sameIpRule(r, ip)) && readLeases(outcome.state.tags).get(ip)?.owned);
  console.log(added.length ? `Added ${added.join(', ')}.` : `${ips.join(', ')} already had a rule; this job holds a lease on it.`);

  let secondsToAccess = 0;
  if (waitForIt) {
    console.log(`Waiting up to ${accessTimeoutSeconds} s for ${loginServer} to let the agent in…`);
    // A rule this job wrote counts from its write; a rule that was there already from now.
    const access = await waitForAccess(loginServer, accessTimeoutSeconds, added.length ? writtenAt : Date.now());
    secondsToAccess = access.seconds;
    // A write planned by another job before ours landed could still have replaced the rule set:
    // look once more, and take the lease again if it is gone.
    const check = planAddAll(ips, key, expiresAt);
    const now = ruleStateOf(await target.net.read().catch((err) => {
      throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
    }));
    if (!ips.every((ip) => holdsLease(now, ip, key)) || JSON.stringify(check(now)) !== JSON.stringify(now)) {
      const again = await converge(target, `Adding ${ips.join(', ')} to ${registryName}'s network rules again`, check);
      console.log(`  the lease had been overwritten by a concurrent change and was written again (${again.writes} write(s)).`);
      outcome.retries += again.retries + again.writes;
    }
  }
  finish({ agentIp: ips.join(','), ruleAdded: added.length > 0, secondsToAccess }, registryName, action, ips, added.length ? `added ${added.join(', ')}` : 'rule already present; lease taken', outcome.retries);
  if (action === 'addForJob') console.log('The post-job step removes this job\'s lease, and the rule when no other job holds it.');
}

function explicitAddresses(): string[] {
  const lines = linesInput('ipAddresses');
  if (lines.length === 0) {
    throw new ExplainedError({ what: "Reading the input 'ipAddresses'", reason: 'It is empty while ipSource is explicit.', fix: 'List IPv4 addresses or CIDR ranges, one per line, or set ipSource: auto.', code: 'INVALID_INPUT' });
  }
  const values = lines.map((l) => parseIpv4Range('ipAddresses', l).value);
  return values.filter((v, i) => values.findIndex((w) => sameIpRule(v, w)) === i);
}

/**
 * The agent's egress IP as the registry sees it: the 403 names it. When the registry lets the
 * agent in already (or cannot be asked), the echo URL tells it; otherwise undefined.
 */
async function detectAgentIp(loginServer: string, echoUrl: string | undefined, action: Action): Promise<string[] | undefined> {
  const answer = await askLoginServer(loginServer);
  if (answer.kind === 'denied') {
    console.log(`Agent egress IP: ${answer.ip} (from ${loginServer}'s firewall refusal).`);
    return [parseIpv4Range('agent IP', answer.ip).value];
  }
  const why = answer.kind === 'allowed' ? `${loginServer} already lets the agent in (HTTP ${answer.status}), so its answer does not name the IP` : `${loginServer} could not be asked (${answer.detail})`;
  if (echoUrl) {
    const res = await agentGet(echoUrl, 15_000).catch((err) => {
      throw new ExplainedError({ what: `Asking ${echoUrl} for the agent's egress IP`, reason: `${why}, and the echo URL failed: ${messageOf(err)}.`, fix: 'Check the echo URL, or set ipSource: explicit.', code: 'AGENT_IP_UNKNOWN' });
    });
    const text = res.body.trim();
    if (res.status !== 200 || !/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
      throw new ExplainedError({ what: `Asking ${echoUrl} for the agent's egress IP`, reason: `${why}; the echo URL answered HTTP ${res.status} with no plain IPv4 address.`, fix: 'Use an echo URL that answers with the caller IP as plain text, or set ipSource: explicit.', code: 'AGENT_IP_UNKNOWN' });
    }
    console.log(`Agent egress IP: ${text} (from ${echoUrl}; ${why}).`);
    return [parseIpv4Range('agent IP', text).value];
  }
  if (answer.kind === 'allowed' || action === 'remove') return undefined;
  throw new ExplainedError({ what: "Detecting the agent's egress IP", reason: `${why}.`, fix: 'Set echoUrl to an HTTPS URL that answers with the caller IP, or set ipSource: explicit with the agent\'s egress IPs.', code: 'AGENT_IP_UNKNOWN' });
}

async function checkQuota(sdk: ReturnType<typeof containerRegistryClient>, resourceGroup: string, registryName: string, adding: number): Promise<void> {
  if (adding === 0) return;
  let usage: { limit?: number; currentValue?: number } | undefined;
  try {
    const usages = await withDeadline(30_000, (abortSignal) => sdk.registries.listUsages(resourceGroup, registryName, { abortSignal }), () => new DeadlineExceededError('listUsages', 30_000));
    usage = usages.value?.find((u) => u.name === 'IPRules');
  } catch (err) {
    tl.warning(`Could not read ${registryName}'s IP rule quota (listUsages: ${messageOf(err).split('\n')[0]}); adding the rule anyway. The Reader role grants listUsages.`);
    return;
  }
  if (usage?.limit !== undefined && usage.currentValue !== undefined) {
    console.log(`IP rules: ${usage.currentValue} of ${usage.limit} used.`);
    if (usage.currentValue + adding > usage.limit) {
      throw new ExplainedError({
        what: `Adding ${adding} IP rule(s) to ${registryName}`,
        reason: `The registry has ${usage.currentValue} of its ${usage.limit} IP rules (listUsages IPRules); ${adding} more would exceed the quota. Nothing was changed.`,
        fix: `Remove IP rules you no longer need (az acr network-rule list --name ${registryName}), run the task with action 'prune', or give the agents a NAT gateway with one fixed outbound IP.`,
        code: 'ACR_IP_RULE_QUOTA',
      });
    }
  }
}

async function enableSelectedNetworks(target: SyncTarget, sdk: ReturnType<typeof containerRegistryClient>, resourceGroup: string, registryName: string): Promise<void> {
  console.log(`Public network access on ${registryName} is Disabled; switching it to selected networks (default action Deny) as allowEnablingSelectedNetworks permits.`);
  // Deny by default first, so that enabling public access never opens the registry to every network.
  const state = await target.net.read().catch((err) => {
    throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  });
  if (state.networkRuleSet.defaultAction !== 'Deny') {
    await target.net.write({ ...state.networkRuleSet, defaultAction: 'Deny' }, state.tags).catch((err) => {
      throw armExplained(err, target, `Setting ${registryName}'s default action to Deny`, 'Microsoft.ContainerRegistry/registries/write', 'Container Registry Contributor and Data Access Configuration Administrator');
    });
  }
  await withDeadline(120_000, (abortSignal) => sdk.registries.beginUpdateAndWait(resourceGroup, registryName, { publicNetworkAccess: 'Enabled' }, { abortSignal, updateIntervalInMs: 500 }), () => new DeadlineExceededError('Enabling public network access', 120_000)).catch((err) => {
    throw armExplained(toCallError(err), target, `Enabling public network access on ${registryName}`, 'Microsoft.ContainerRegistry/registries/write', 'Container Registry Contributor and Data Access Configuration Administrator');
  });
  tl.warning(`${registryName} now accepts public traffic from its IP rules (selected networks); it was Disabled before this task. Switch it back with: az acr update --name ${registryName} --public-network-enabled false`);
}

async function remove(target: SyncTarget, ips: string[], key: string): Promise<void> {
  if (ips.length === 0) {
    console.log(`No rule on ${target.registryName} is held by this run's lease; nothing to remove.`);
    finish({ agentIp: '', ruleAdded: false, secondsToAccess: 0 }, target.registryName, 'remove', [], 'nothing held');
    return;
  }
  const before = await target.net.read().catch((err) => {
    throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  });
  // Three reads: a lease brought back by a concurrent job's older write would keep the rule until it expires.
  const outcome = await converge(target, `Removing ${ips.join(', ')} from ${target.registryName}'s network rules`, planRemoveAll(ips, key, nowSeconds()), { confirmingReads: 3 });
  reportConverge('lease released', outcome);
  const removed = ips.filter((ip) => ipRuleValues(before).some((r) => sameIpRule(r, ip)) && !ipRuleValues(outcome.state).some((r) => sameIpRule(r, ip)));
  const kept = ips.filter((ip) => !removed.includes(ip) && ipRuleValues(outcome.state).some((r) => sameIpRule(r, ip)));
  if (removed.length) console.log(`Removed ${removed.join(', ')}.`);
  for (const ip of kept) {
    const leases = readLeases(outcome.state.tags).get(ip);
    console.log(leases?.owned ? `Kept ${ip}: ${leases.leases.size} other job(s) still hold it.` : `Kept ${ip}: the rule was not added by this extension.`);
  }
  finish({ agentIp: ips.join(','), ruleAdded: false, secondsToAccess: 0 }, target.registryName, 'remove', ips, removed.length ? `removed ${removed.join(', ')}` : 'lease released; rule kept', outcome.retries);
}

async function prune(target: SyncTarget): Promise<void> {
  const at = nowSeconds();
  const before = await target.net.read().catch((err) => {
    throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  });
  const outcome = await converge(target, `Pruning expired rules from ${target.registryName}`, planPruneAt(at));
  reportConverge('expired leases pruned', outcome);
  const removed = ipRuleValues(before).filter((r) => !ipRuleValues(outcome.state).some((v) => sameIpRule(v, r)));
  console.log(removed.length ? `Pruned ${removed.join(', ')} (every lease expired).` : 'No expired rule of this extension found.');
  finish({ agentIp: '', ruleAdded: false, secondsToAccess: 0 }, target.registryName, 'prune', removed, removed.length ? `pruned ${removed.join(', ')}` : 'nothing expired', outcome.retries);
}

/** The post-job step: releases this job's lease, removing the rule when no other live job holds it. */
async function postJob(): Promise<void> {
  const status = tl.getVariable('Agent.JobStatus') ?? 'unknown';
  const raw = tl.getTaskVariable(LEASE_VARIABLE);
  if (!raw) {
    console.log(`Post-job (job status ${status}): the main step took no lease; nothing to remove.`);
    return;
  }
  const lease = JSON.parse(raw) as LeaseHandOver;
  console.log(`Post-job (job status ${status}): releasing lease ${lease.jobKey} on ${lease.ips.join(', ')} at ${lease.registryName}.`);
  const { cc, identity } = await signInWithTaskConnection();
  const target = targetFor(cc, lease.subscriptionId, lease.resourceGroup, lease.registryName, identity.objectId);
  try {
    await target.net.read();
  } catch (err) {
    if (err instanceof ArmCallError && err.failure.statusCode === 404) {
      tl.warning(`${lease.registryName} no longer exists; nothing to remove.`);
      return;
    }
    throw armExplained(err, target, 'Reading the registry', 'Microsoft.ContainerRegistry/registries/read', 'Reader');
  }
  await remove(target, lease.ips, lease.jobKey);
}

/** The SDK's RestError as the raw failure the explanations take. */
function toCallError(err: unknown): unknown {
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (typeof e?.statusCode === 'number') return new ArmCallError({ statusCode: e.statusCode, code: e.code, message: e.message ?? '' });
  return err;
}
