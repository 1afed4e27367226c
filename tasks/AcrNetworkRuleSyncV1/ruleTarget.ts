import { containerRegistryClient, containerServiceClient } from '../../shared/azure/arm/armClient';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { clusterTarget } from '../../shared/firewall/targets/authorizedRangesTarget';
import { registryTarget } from '../../shared/firewall/targets/registryFirewall';
import { subscriptionOf } from '../../shared/azure/connection/azureRmConnection';
import type { RuleSyncOptions, TargetType } from './inputs';

/** Which firewall: enough to open it again in the post-job step. */
export interface TargetRef {
  targetType: TargetType;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export function targetRefOf(o: RuleSyncOptions, cc: ConnectionCredential): TargetRef {
  return { targetType: o.targetType, subscriptionId: subscriptionOf(cc.connection), resourceGroup: o.resourceGroup, name: o.name };
}

/** The registry's network rule set or the cluster's authorized IP ranges, behind the firewall engine's interface. */
export async function openTarget(
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
