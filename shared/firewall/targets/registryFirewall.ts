import * as tl from 'azure-pipelines-task-lib/task';
import type { ContainerRegistryManagementClient, Registry } from '@azure/arm-containerregistry';
import { registryIdOf } from '../../azure/arm/resourceId';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import { ExplainedError, messageOf } from '../../pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../pipeline/loggingCommands';
import type { FirewallTarget } from '../firewallTarget';
import { quotaFix, storeExplainer, type RuleStore } from '../ruleSync';
import { askLoginServer } from '../../azure/acr/loginServerAccess';
import { RegistryNetworkClient, ipRuleValues, withIpRules, type RegistryNetworkState } from '../../azure/acr/registryNetwork';

export interface RegistryTargetOptions {
  sdk: ContainerRegistryManagementClient;
  resourceManagerUrl: string;
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  principalObjectId?: string;
  /** Let the task switch a registry with public access Disabled to selected networks. */
  allowEnablingSelectedNetworks: boolean;
}

/** A registry's network rule set and tags as a firewall rule store (no eTag: writes are verified by reading). */
export function registryRuleStore(
  net: RegistryNetworkClient,
  registryName: string,
  explain: RuleStore<unknown>['explain'],
): RuleStore<RegistryNetworkState> {
  return {
    label: `the registry '${registryName}'`,
    listCommand: `az acr network-rule list --name ${registryName}`,
    maxRules: Number.MAX_SAFE_INTEGER, // listUsages tells the real quota before adding
    conditionalWrites: false,
    async read() {
      const raw = await net.read();
      // Another job's update in flight: its rule set replaces this one when it ends.
      return { raw, rules: { ipRules: ipRuleValues(raw), tags: { ...raw.tags } }, busy: /^updating$/i.test(raw.provisioningState) };
    },
    write: (raw, next) => net.write(withIpRules(raw, next.ipRules), next.tags),
    explain,
  };
}

/** Reads the registry (SKU, login server, public access) and returns it as a firewall target. */
export async function registryTarget(o: RegistryTargetOptions): Promise<FirewallTarget> {
  const registryId = registryIdOf(o.subscriptionId, o.resourceGroup, o.registryName);
  const explain = storeExplainer({
    scope: registryId,
    resourceLabel: `the registry '${o.registryName}'`,
    principalObjectId: o.principalObjectId,
    read: { action: 'Microsoft.ContainerRegistry/registries/read', role: 'Reader' },
    write: {
      action: 'Microsoft.ContainerRegistry/registries/write',
      role: 'Container Registry Contributor and Data Access Configuration Administrator',
    },
  });
  const registry: Registry = await withDeadline(
    30_000,
    (abortSignal) => o.sdk.registries.get(o.resourceGroup, o.registryName, { abortSignal }),
    () => new DeadlineExceededError('Reading the registry', 30_000),
  ).catch((err) => {
    throw explain(err, `Reading the registry '${o.registryName}'`, 'read');
  });
  const loginServer = registry.loginServer ?? `${o.registryName.toLowerCase()}.azurecr.io`;
  console.log(
    `Registry ${o.registryName}: ${registry.sku?.name ?? '?'} SKU, public network access ${registry.publicNetworkAccess ?? 'Enabled'}, default action ${registry.networkRuleSet?.defaultAction ?? '?'}, ${registry.networkRuleSet?.ipRules?.length ?? 0} IP rule(s).`,
  );
  const net = new RegistryNetworkClient(o.sdk, o.resourceManagerUrl, registryId);
  const store = registryRuleStore(net, o.registryName, explain);

  return {
    kind: 'registry',
    name: o.registryName,
    endpoint: loginServer,
    store: store as RuleStore<unknown>,
    async posture() {
      if (registry.sku?.name !== 'Premium') {
        throw new ExplainedError({
          what: `Opening ${o.registryName}'s firewall`,
          reason: `The registry is on the ${registry.sku?.name} SKU; network rules need Premium.`,
          fix: 'az acr update --name <registry> --sku Premium, or reach the registry without a firewall.',
          code: 'ACR_SKU_NOT_PREMIUM',
        });
      }
      const publicAccess = registry.publicNetworkAccess ?? 'Enabled';
      // IP rules only apply when public network access is on and the default action denies.
      if (publicAccess === 'Enabled' && registry.networkRuleSet?.defaultAction === 'Allow') return 'open';
      if (publicAccess === 'Disabled') {
        if (!o.allowEnablingSelectedNetworks) {
          throw new ExplainedError({
            what: `Opening ${o.registryName}'s firewall`,
            reason:
              'Public network access is Disabled, so IP rules do not apply: only private endpoints reach the registry. Nothing was changed.',
            fix: 'Run the agent inside the VNet (private endpoint), or set allowEnablingSelectedNetworks: true to let the task switch the registry to selected networks.',
            code: 'ACR_PUBLIC_ACCESS_DISABLED',
          });
        }
        await enableSelectedNetworks(o, net, explain);
      }
      console.log(
        'Note: ACR Tasks (az acr build) run on Azure-hosted machines, not from this agent: the rule added here does not let them in.',
      );
      return 'filtered';
    },
    async ipFromEndpoint() {
      const answer = await askLoginServer(loginServer);
      if (answer.kind === 'denied') return { ip: answer.ip, why: `from ${loginServer}'s firewall refusal`, through: false };
      if (answer.kind === 'allowed')
        return {
          why: `${loginServer} already lets the agent in (HTTP ${answer.status}), so its answer does not name the IP`,
          through: true,
        };
      return { why: `${loginServer} could not be asked (${answer.detail})`, through: false };
    },
    beforeAdd: (count) => checkQuota(o, count),
    async ask(deadlineMs) {
      const answer = await askLoginServer(loginServer, deadlineMs);
      if (answer.kind === 'allowed') return { through: true, detail: `/v2/ answers HTTP ${answer.status}` };
      if (answer.kind === 'denied') return { through: false, detail: `403, client IP ${answer.ip} not allowed yet`, seenIp: answer.ip };
      return { through: false, detail: answer.detail };
    },
  };
}

/**
 * Refuses an add the registry's IP rule quota cannot take, before anything is written. The quota is
 * the registry's own, as `listUsages` reports it (`IPRules`: 200 on Premium; Azure/azure-rest-api-specs
 * specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/stable/2019-05-01/
 * containerregistry.json, Registries_ListUsages).
 */
export async function checkQuota(o: Pick<RegistryTargetOptions, 'sdk' | 'resourceGroup' | 'registryName'>, adding: number): Promise<void> {
  if (adding === 0) return;
  let usage: { limit?: number; currentValue?: number } | undefined;
  try {
    const usages = await withDeadline(
      30_000,
      (abortSignal) => o.sdk.registries.listUsages(o.resourceGroup, o.registryName, { abortSignal }),
      () => new DeadlineExceededError('listUsages', 30_000),
    );
    usage = usages.value?.find((u) => u.name === 'IPRules');
  } catch (err) {
    tl.warning(
      `Could not read ${o.registryName}'s IP rule quota (listUsages: ${neutralizeLoggingCommands(messageOf(err).split('\n')[0])}); adding the rule anyway. The Reader role grants listUsages.`,
    );
    return;
  }
  if (usage?.limit === undefined || usage.currentValue === undefined) return;
  console.log(`IP rules: ${usage.currentValue} of ${usage.limit} used.`);
  if (usage.currentValue + adding > usage.limit) {
    throw new ExplainedError({
      what: `Adding ${adding} IP rule(s) to ${o.registryName}`,
      reason: `The registry has ${usage.currentValue} of its ${usage.limit} IP rules (listUsages IPRules); ${adding} more would exceed the quota, which is the registry's own limit, not the task's. Nothing was changed.`,
      fix: quotaFix(`az acr network-rule list --name ${o.registryName}`),
      code: 'FIREWALL_RULE_QUOTA',
    });
  }
}

async function enableSelectedNetworks(
  o: RegistryTargetOptions,
  net: RegistryNetworkClient,
  explain: RuleStore<unknown>['explain'],
): Promise<void> {
  console.log(
    `Public network access on ${o.registryName} is Disabled; switching it to selected networks (default action Deny) as allowEnablingSelectedNetworks permits.`,
  );
  // Deny by default first, so that enabling public access never opens the registry to every network.
  const state = await net.read().catch((err) => {
    throw explain(err, 'Reading the registry', 'read');
  });
  if (state.networkRuleSet.defaultAction !== 'Deny') {
    await net.write({ ...state.networkRuleSet, defaultAction: 'Deny' }, state.tags).catch((err) => {
      throw explain(err, `Setting ${o.registryName}'s default action to Deny`, 'write');
    });
  }
  await withDeadline(
    120_000,
    (abortSignal) =>
      o.sdk.registries.beginUpdateAndWait(
        o.resourceGroup,
        o.registryName,
        { publicNetworkAccess: 'Enabled' },
        { abortSignal, updateIntervalInMs: 500 },
      ),
    () => new DeadlineExceededError('Enabling public network access', 120_000),
  ).catch((err) => {
    throw explain(err, `Enabling public network access on ${o.registryName}`, 'write');
  });
  tl.warning(
    `${o.registryName} now accepts public traffic from its IP rules (selected networks); it was Disabled before this task. Switch it back with: az acr update --name ${o.registryName} --public-network-enabled false`,
  );
}
