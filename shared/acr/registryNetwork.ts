import type { Pipeline } from '@azure/core-rest-pipeline';
import type { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ArmCallError, failureOf, sendArm, waitForOperation, withoutRetries } from '../arm/rawArmCall';

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
  /** As served at 2019-05-01; kept verbatim so nothing we do not model is lost. */
  networkRuleSet: { defaultAction?: string; ipRules?: { action?: string; value: string }[]; virtualNetworkRules?: unknown[]; [k: string]: unknown };
  tags: Record<string, string>;
}

export class RegistryNetworkClient {
  readonly resourceUrl: string;
  private readonly readPipeline: Pipeline;
  /**
   * Writes go without the SDK's retry policy: a PATCH resent after a 429 would carry a rule set
   * planned from an older read. The caller reads again and plans afresh instead.
   */
  private readonly writePipeline: Pipeline;

  constructor(
    client: ContainerRegistryManagementClient,
    resourceManagerUrl: string,
    readonly registryId: string,
  ) {
    this.resourceUrl = `${resourceManagerUrl.replace(/\/+$/, '')}${registryId}`;
    this.readPipeline = client.pipeline;
    this.writePipeline = withoutRetries(client.pipeline);
  }

  async read(): Promise<RegistryNetworkState> {
    const res = await sendArm(this.readPipeline, 'GET', `${this.resourceUrl}?api-version=${NETWORK_API_VERSION}`, 'Reading the registry');
    if (res.status !== 200) throw new ArmCallError(failureOf(res));
    return stateOf(JSON.parse(res.bodyAsText ?? '{}'));
  }

  /** PATCHes the whole rule set and the tags, and waits for the operation to finish. */
  async write(networkRuleSet: RegistryNetworkState['networkRuleSet'], tags: Record<string, string>): Promise<void> {
    const res = await sendArm(this.writePipeline, 'PATCH', `${this.resourceUrl}?api-version=${NETWORK_API_VERSION}`, 'Updating the registry', { body: { tags, properties: { networkRuleSet } } });
    if (res.status !== 200 && res.status !== 201 && res.status !== 202) throw new ArmCallError(failureOf(res));
    const asyncUrl = res.headers.get('azure-asyncoperation') ?? res.headers.get('location');
    if (!asyncUrl || res.status === 200) return;
    await waitForOperation(this.readPipeline, asyncUrl, 'Updating the registry network rule set', LRO_DEADLINE_MS);
  }
}

function stateOf(json: Record<string, unknown>): RegistryNetworkState {
  const properties = (json.properties ?? {}) as Record<string, unknown>;
  const set = (properties.networkRuleSet ?? {}) as RegistryNetworkState['networkRuleSet'];
  return {
    id: String(json.id ?? ''),
    sku: String((json.sku as { name?: string } | undefined)?.name ?? ''),
    loginServer: String(properties.loginServer ?? ''),
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
