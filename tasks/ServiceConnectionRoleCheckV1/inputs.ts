import { validateResourceGroupName, validateResourceName } from '../../shared/azure/arm/resourceId';
import { validateNamespace } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { booleanInput, choiceInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';
import { parseIntents, resourceOf, type IntentName } from '../../shared/azure/rbac/intents';

/** What ServiceConnectionRoleCheck is asked to check: the only place the task reads its inputs. */
export interface RoleCheckOptions {
  resourceGroup: string;
  clusterName?: string;
  registryName?: string;
  namespace: string;
  intents: IntentName[];
  checkHardening: boolean;
  failOn: 'missingPermissions' | 'postureFailures' | 'never';
}

function invalid(name: string, reason: string, fix: string): ExplainedError {
  return new ExplainedError({ what: `Reading the input '${name}'`, reason, fix, code: 'INVALID_INPUT' });
}

export function readRoleCheckInputs(): RoleCheckOptions {
  const resourceGroup = validateResourceGroupName('resourceGroupName', requiredInput('resourceGroupName'));
  const clusterInput = optionalInput('clusterName');
  const registryInput = optionalInput('registryName');
  const clusterName = clusterInput ? validateResourceName('clusterName', 'cluster', clusterInput) : undefined;
  const registryName = registryInput ? validateResourceName('registryName', 'registry', registryInput) : undefined;
  const namespace = validateNamespace('namespace', optionalInput('namespace') ?? 'default');
  const { intents, unknown } = parseIntents(optionalInput('intents') ?? 'deploy');
  if (unknown.length)
    throw invalid(
      'intents',
      `'${unknown.join("', '")}' is not an intent.`,
      'Use a comma-separated list of deploy, deployRunCommand, adminCredentials, acrPull, acrPush, acrNetworkRules, aksAuthorizedIpRanges.',
    );
  if (intents.length === 0) throw invalid('intents', 'No intent is selected.', 'Choose at least one intent, e.g. deploy.');
  const needCluster = intents.filter((i) => resourceOf(i) === 'cluster');
  const needRegistry = intents.filter((i) => resourceOf(i) === 'registry');
  if (needCluster.length && !clusterName)
    throw invalid(
      'clusterName',
      `The intent(s) ${needCluster.join(', ')} concern an AKS cluster, and none is named.`,
      "Set 'clusterName', or drop those intents.",
    );
  if (needRegistry.length && !registryName)
    throw invalid(
      'registryName',
      `The intent(s) ${needRegistry.join(', ')} concern a container registry, and none is named.`,
      "Set 'registryName', or drop those intents.",
    );
  return {
    resourceGroup,
    clusterName,
    registryName,
    namespace,
    intents,
    checkHardening: booleanInput('checkHardening', true),
    failOn: choiceInput('failOn', ['missingPermissions', 'postureFailures', 'never'] as const, 'missingPermissions'),
  };
}
