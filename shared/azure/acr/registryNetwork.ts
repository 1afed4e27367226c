import type { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { RawArmResource } from '../arm/rawArmCall';

/**
 * The registry's network rule set and tags, read and written as raw JSON at an api-version whose
 * model carries `virtualNetworkRules` (GA 2019-05-01, field `id`). The installed SDK (2025-11-01)
 * has no such field, and ACR replaces the whole rule set on PATCH: a PATCH through the SDK would
 * drop every VNet rule. So the rule set goes back whole (defaultAction, ipRules and
 * virtualNetworkRules as read), with the tags in the same PATCH.
 */
export const NETWORK_API_VERSION = '2019-05-01';

const LRO_DEADLINE_MS = 120_000;

export interface RegistryNetworkState {
  id: string;
  sku: string;
  loginServer: string;
  /**
   * `Updating` while an update is in flight (Registries_Update's 201 answers with it:
   * Azure/azure-rest-api-specs specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/
   * stable/2019-05-01/examples/RegistryUpdate.json), `Succeeded` once it ended.
   */
  provisioningState: string;
  /** As served at 2019-05-01; kept verbatim so nothing we do not model is lost. */
  networkRuleSet: {
    defaultAction?: string;
    ipRules?: { action?: string; value: string }[];
    virtualNetworkRules?: unknown[];
    [k: string]: unknown;
  };
  tags: Record<string, string>;
}

export class RegistryNetworkClient {
  private readonly resource: RawArmResource;

  constructor(client: ContainerRegistryManagementClient, resourceManagerUrl: string, registryId: string) {
    this.resource = new RawArmResource(client.pipeline, resourceManagerUrl, registryId, NETWORK_API_VERSION, 'the registry');
  }

  async read(): Promise<RegistryNetworkState> {
    const res = await this.resource.get();
    return stateOf(JSON.parse(res.bodyAsText ?? '{}'));
  }

  /** PATCHes the whole rule set and the tags, and waits for the operation to finish. */
  async write(networkRuleSet: RegistryNetworkState['networkRuleSet'], tags: Record<string, string>): Promise<void> {
    await this.resource.write('PATCH', { tags, properties: { networkRuleSet } }, LRO_DEADLINE_MS);
  }
}

function stateOf(json: Record<string, unknown>): RegistryNetworkState {
  const properties = (json.properties ?? {}) as Record<string, unknown>;
  const set = (properties.networkRuleSet ?? {}) as RegistryNetworkState['networkRuleSet'];
  return {
    id: String(json.id ?? ''),
    sku: String((json.sku as { name?: string } | undefined)?.name ?? ''),
    loginServer: String(properties.loginServer ?? ''),
    provisioningState: String(properties.provisioningState ?? ''),
    networkRuleSet: { ...set, ipRules: [...(set.ipRules ?? [])], virtualNetworkRules: [...(set.virtualNetworkRules ?? [])] },
    tags: Object.fromEntries(Object.entries((json.tags ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
  };
}

/** The plain IP rule values of a rule set (Allow rules). */
export function ipRuleValues(state: RegistryNetworkState): string[] {
  return (state.networkRuleSet.ipRules ?? []).map((r) => r.value);
}

/** The rule set with new IP rule values, everything else (VNet rules, defaultAction) as read. */
export function withIpRules(state: RegistryNetworkState, values: string[]): RegistryNetworkState['networkRuleSet'] {
  return { ...state.networkRuleSet, ipRules: values.map((value) => ({ action: 'Allow', value })) };
}
