import { validateResourceGroupName, validateResourceName } from '../../shared/azure/arm/resourceId';
import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { parseIpv4Range, sameIpRule } from '../../shared/net/ipv4';
import { invalidInput } from '../../shared/pipeline/explainedError';
import { booleanInput, choiceInput, integerInput, linesInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';

export type Action = 'addForJob' | 'add' | 'remove' | 'prune';
export type TargetType = FirewallTarget['kind'];

/** What AcrNetworkRuleSync is asked to do: the only place the task reads its inputs. */
export interface RuleSyncOptions {
  targetType: TargetType;
  action: Action;
  resourceGroup: string;
  /** The registry or the cluster, as targetType says. */
  name: string;
  /** The addresses `ipAddresses` names (ipSource: explicit), deduplicated; undefined: the agent's own, detected (and always for prune). */
  explicitIps?: string[];
  waitForAccess: boolean;
  accessTimeoutSeconds: number;
  leaseMinutes: number;
  allowEnablingSelectedNetworks: boolean;
  echoUrl?: string;
}

/** The inputs in the order the task has always read them: the first wrong one is the one named. */
export function readRuleSyncInputs(): RuleSyncOptions {
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
  const waitForAccess = booleanInput('waitForAccess', true);
  const accessTimeoutSeconds = integerInput('accessTimeoutSeconds', 300, 1, 3600);
  const leaseMinutes = integerInput('leaseMinutes', 120, 1, 7 * 24 * 60);
  const allowEnablingSelectedNetworks = booleanInput('allowEnablingSelectedNetworks', false);
  const echoUrl = optionalInput('echoUrl');
  if (echoUrl && !/^https:\/\/[^/\s]+/i.test(echoUrl)) {
    throw invalidInput(
      'echoUrl',
      `'${echoUrl}' is not an HTTPS URL: an IP answer over plain HTTP could be altered on the way.`,
      'Give an https:// URL that answers with the caller IP as plain text.',
    );
  }
  return {
    targetType,
    action,
    resourceGroup,
    name,
    explicitIps,
    waitForAccess,
    accessTimeoutSeconds,
    leaseMinutes,
    allowEnablingSelectedNetworks,
    echoUrl,
  };
}

function explicitAddresses(): string[] {
  const lines = linesInput('ipAddresses');
  if (lines.length === 0) {
    throw invalidInput(
      'ipAddresses',
      'It is empty while ipSource is explicit.',
      'List IPv4 addresses or CIDR ranges, one per line, or set ipSource: auto.',
    );
  }
  const values = lines.map((l) => parseIpv4Range('ipAddresses', l).value);
  return values.filter((v, i) => values.findIndex((w) => sameIpRule(v, w)) === i);
}
