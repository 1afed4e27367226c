/**
 * Many jobs syncing one registry's firewall at once, in one process: the task's own rule store and
 * convergence (shared/firewall) against the sandbox's Resource Manager, without a node process
 * and a sign-in per job, so a fleet of 50 fits in the suite and the bench. Jobs arrive over a
 * window, hold their rule for a while, and release it; some crash (never release) and are pruned
 * once their lease expired. What is measured: rules or leases a job lost while it held them (must
 * be 0), jobs refused (quota, tag limit), ARM writes, retries, the most distinct addresses held at
 * once and the tags they took, and the final rule set.
 */
import { ClientSecretCredential } from '@azure/identity';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { RegistryNetworkClient } from '../../shared/azure/acr/registryNetwork';
import { checkQuota, registryRuleStore } from '../../shared/firewall/targets/registryFirewall';
import { registryIdOf } from '../../shared/azure/arm/resourceId';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { addressCode, leaseNamespace, namespaceTags, readLeaseBook } from '../../shared/firewall/ruleLeases';
import { converge, jobKeyOf, planAddAll, planPruneAt, planRemoveAll, reconfirmLease } from '../../shared/firewall/ruleSync';
import type { Sandbox } from '../sandbox';
import { ARM_SCOPE } from '../sandbox/entra/entra';

export interface FleetOptions {
  registryName: string;
  resourceGroup: string;
  principal: string;
  jobs: number;
  /** Jobs whose agents share NAT IPs, spread over `natIps` addresses; the rest have their own. */
  natJobs: number;
  natIps: number;
  /** Jobs that never release their lease (a lost agent); their leases expire after `crashLeaseSeconds`. */
  crashJobs: number;
  crashLeaseSeconds: number;
  /** Jobs start spread over this window, and hold their rule for up to `holdMs`. */
  arrivalWindowMs: number;
  holdMs: number;
  /**
   * Every job that got its rule holds it until all of them have (then up to `holdMs` more): the most
   * addresses at once. At that moment one more agent with its own address asks, as the task does
   * (the quota from listUsages first), and the answer is recorded.
   */
  holdTogether?: boolean;
}

export interface FleetResult {
  jobs: number;
  /** Times a job found its rule or lease gone while it held it. */
  lost: number;
  /** Jobs whose lease a stale concurrent write had removed between their confirmation and the check after the access wait (taken again). */
  rewritten: number;
  /** Jobs refused with an explained error (e.g. the tag limit), and their codes. */
  refused: string[];
  writes: number;
  retries: number;
  seconds: number;
  finalIpRules: string[];
  finalOurTags: string[];
  /** Distinct agent addresses held at once (rule and lease on the registry), at most. */
  peakAddresses: number;
  /** The task's tags on the registry then. */
  peakTags: number;
  /** With holdTogether: the extra agent's answer at the peak, and whether the registry changed. */
  extra?: { code?: string; message?: string; changed: boolean };
}

/** What waiting for the registry's 401 takes at least: its propagation delay (2 s in the sandbox, minutes in Azure). */
const accessWaitMs = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFleet(sandbox: Sandbox, o: FleetOptions): Promise<FleetResult> {
  const p = sandbox.principal(o.principal);
  const credential = new ClientSecretCredential(sandbox.tenantId, p.clientId, p.secret!, {
    authorityHost: sandbox.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: sandbox.tlsOptions(),
  });
  const subscriptionId = sandbox.scenario.subscriptionId;
  const arm = sandbox.azure.arm.origin;
  const sdk = new ContainerRegistryManagementClient(credential, subscriptionId, {
    endpoint: arm,
    credentials: { scopes: [ARM_SCOPE] },
    tlsOptions: sandbox.tlsOptions(),
  });
  const net = new RegistryNetworkClient(sdk, arm, registryIdOf(subscriptionId, o.resourceGroup, o.registryName));
  const explain = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
  const store = registryRuleStore(net, o.registryName, explain);
  const registry = () => sandbox.azure.state.findRegistry(o.registryName, o.resourceGroup)!;
  const ns = leaseNamespace(p.objectId);
  const scope = () => ({ ns, now: Math.floor(Date.now() / 1000) });
  const ipOf = (i: number) => (i < o.natJobs ? `198.18.0.${1 + (i % o.natIps)}` : `198.18.${1 + (i >> 8)}.${i & 255}`);
  const releasing = o.jobs - o.crashJobs;
  let held = 0;
  let lost = 0;
  let peakAddresses = 0;
  let peakTags = 0;
  let extra: FleetResult['extra'];
  let allHeld: () => void = () => undefined;
  const everyoneHeld = new Promise<void>((resolve) => (allHeld = resolve));
  const notePeak = () => {
    const r = registry();
    const addresses = new Set(Array.from({ length: o.jobs }, (_, i) => ipOf(i)).filter((ip) => r.network.ipRules.includes(ip)));
    if (addresses.size > peakAddresses) {
      peakAddresses = addresses.size;
      peakTags = namespaceTags(r.tags, ns).length;
    }
  };
  /** Jobs holding their rule now (key → address); a job whose lease went missing is counted as lost and dropped. */
  const holders = new Map<string, string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const r = registry();
      const book = readLeaseBook(r.tags, scope());
      for (const [key, ip] of [...holders]) {
        const code = addressCode(ip)!;
        if (!r.network.ipRules.includes(ip) || !book.mine.get(code)?.leases.has(key)) {
          lost++;
          holders.delete(key);
        }
      }
      await sleep(100);
    }
  })();
  const atPeak = async () => {
    notePeak();
    if (!o.holdTogether) return;
    const before = JSON.stringify(registry());
    try {
      // One more agent, with its own address, as the task asks: the quota first.
      await checkQuota({ sdk, resourceGroup: o.resourceGroup, registryName: o.registryName }, 1);
      extra = { changed: false };
    } catch (err) {
      extra = { code: (err as ExplainedError).code, message: (err as Error).message, changed: false };
    }
    extra.changed = JSON.stringify(registry()) !== before;
  };

  let rewritten = 0;
  let writes = 0;
  let retries = 0;
  const refused: string[] = [];
  const started = Date.now();
  const now = () => Math.floor(Date.now() / 1000);

  const job = async (i: number): Promise<void> => {
    await sleep(Math.random() * o.arrivalWindowMs);
    const ip = ipOf(i);
    const key = jobKeyOf(['fleet', String(i)]);
    const crash = i >= o.jobs - o.crashJobs;
    let counted = false;
    try {
      if (o.holdTogether)
        await checkQuota(
          { sdk, resourceGroup: o.resourceGroup, registryName: o.registryName },
          registry().network.ipRules.includes(ip) ? 0 : 1,
        );
      // Leases are whole minutes; a crashing job's is dated back so that it ends crashLeaseSeconds from now.
      const plan = planAddAll(
        [ip],
        key,
        crash ? { start: now() - 60 + o.crashLeaseSeconds, minutes: 1 } : { start: now(), minutes: 60 },
        ns,
      );
      const added = await converge(store, `job ${i} adds ${ip}`, plan);
      writes += added.writes;
      retries += added.retries;
      if (crash) return;
      // As the task does: wait for the firewall to let the agent in (simulated), then look once more.
      await sleep(accessWaitMs);
      const again = await reconfirmLease(store, `job ${i} checks ${ip}`, [ip], key, ns, plan);
      writes += again.writes;
      retries += again.retries;
      rewritten += again.writes > 0 ? 1 : 0;
      // While the job works, one watcher checks every held lease on the registry (one parse for all).
      holders.set(key, ip);
      const holding = (async () => {
        let until = Date.now() + Math.random() * o.holdMs;
        if (o.holdTogether) {
          await everyoneHeld;
          // Released over `holdMs` after the peak, as jobs end at different times.
          until = Date.now() + Math.random() * o.holdMs;
        }
        while (Date.now() < until && holders.has(key)) await sleep(50);
      })();
      counted = true;
      if (++held === releasing) void atPeak().then(allHeld);
      else notePeak();
      await holding;
      holders.delete(key);
      const removed = await converge(store, `job ${i} removes ${ip}`, planRemoveAll([ip], key, ns), { confirmingReads: 3 });
      writes += removed.writes;
      retries += removed.retries;
    } catch (err) {
      if (!counted && ++held === releasing) void atPeak().then(allHeld);
      if (err instanceof ExplainedError) refused.push(err.code);
      else throw err;
    }
  };
  await Promise.all(Array.from({ length: o.jobs }, (_, i) => job(i)));
  watching = false;
  await watcher;
  // The crashed jobs' leases expire; a prune (the task's 'prune' action) clears what they held.
  const expiry = o.crashLeaseSeconds * 1000 - (Date.now() - started) + 1_100;
  if (o.crashJobs > 0 && expiry > 0) await sleep(expiry);
  const pruned = await converge(store, 'prune', planPruneAt(ns));
  writes += pruned.writes;
  const r = registry();
  return {
    jobs: o.jobs,
    lost,
    rewritten,
    refused,
    writes,
    retries,
    seconds: (Date.now() - started) / 1000,
    finalIpRules: [...r.network.ipRules],
    finalOurTags: Object.keys(r.tags).filter((k) => k.startsWith('privateaksdeploy.')),
    peakAddresses,
    peakTags,
    extra,
  };
}
