import { invalidInput } from '../../pipeline/explainedError';

/** An Azure resource id, split into the parts the tasks use. */
export interface AzureResourceId {
  subscriptionId: string;
  resourceGroup: string;
  provider: string;
  type: string;
  name: string;
  /** The id as given, normalised to one leading slash and no trailing slash. */
  id: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Azure's own limits: resource groups 1-90 of letters, digits, _ - . ( ), not ending in a period.
const RESOURCE_GROUP = /^[-\w.()]{1,89}[-\w()]$|^[-\w()]$/;
const NAME_RULES: Record<string, { pattern: RegExp; rule: string }> = {
  'microsoft.containerservice/managedclusters': {
    pattern: /^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$|^[a-zA-Z0-9]$/,
    rule: '1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit',
  },
  'microsoft.containerregistry/registries': { pattern: /^[a-zA-Z0-9]{5,50}$/, rule: '5-50 letters and digits' },
};

export function resourceGroupIdOf(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function clusterIdOf(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupIdOf(subscriptionId, resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${name}`;
}

export function registryIdOf(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${resourceGroupIdOf(subscriptionId, resourceGroup)}/providers/Microsoft.ContainerRegistry/registries/${name}`;
}

/** Checks a resource group name as Azure does, naming the input on failure. */
export function validateResourceGroupName(input: string, value: string): string {
  if (!RESOURCE_GROUP.test(value)) {
    throw invalidInput(
      input,
      `'${value}' is not a resource group name (1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period).`,
      "Enter the resource group's name as the portal shows it.",
    );
  }
  return value;
}

/** Checks a resource name against the rules of its type (AKS cluster, container registry). */
export function validateResourceName(input: string, type: 'cluster' | 'registry', value: string): string {
  const rules = NAME_RULES[type === 'cluster' ? 'microsoft.containerservice/managedclusters' : 'microsoft.containerregistry/registries'];
  if (!rules.pattern.test(value)) {
    throw invalidInput(
      input,
      `'${value}' is not a valid ${type === 'cluster' ? 'AKS cluster' : 'container registry'} name (${rules.rule}).`,
      `Enter the ${type}'s name as the portal shows it.`,
    );
  }
  return value;
}

/**
 * Parses `/subscriptions/<guid>/resourceGroups/<rg>/providers/<Namespace>/<type>/<name>` for the
 * expected provider type (case-insensitive, as ARM is), refusing anything else with a message
 * that names the input and shows the expected shape.
 */
export function parseResourceId(
  input: string,
  value: string,
  expectedType: 'Microsoft.ContainerService/managedClusters' | 'Microsoft.ContainerRegistry/registries',
): AzureResourceId {
  const shape = `/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/${expectedType}/<name>`;
  const trimmed = value.trim().replace(/\/+$/, '');
  const parts = trimmed.replace(/^\/+/, '').split('/');
  const [subs, subscriptionId, rgs, resourceGroup, providers, namespace, type, name, ...rest] = parts;
  if (
    parts.length < 8 ||
    rest.length > 0 ||
    subs.toLowerCase() !== 'subscriptions' ||
    rgs.toLowerCase() !== 'resourcegroups' ||
    providers.toLowerCase() !== 'providers'
  ) {
    throw invalidInput(
      input,
      `'${value}' is not a resource id of the form ${shape}.`,
      "Copy the id from the resource's JSON view in the portal, or use the resource group and name inputs.",
    );
  }
  if (!GUID.test(subscriptionId)) {
    throw invalidInput(input, `'${value}' has '${subscriptionId}' where the subscription id (a GUID) belongs.`, `Use the form ${shape}.`);
  }
  if (`${namespace}/${type}`.toLowerCase() !== expectedType.toLowerCase()) {
    throw invalidInput(
      input,
      `'${value}' names a ${namespace}/${type}, not a ${expectedType}.`,
      `Give the id of a ${expectedType.split('/')[1]} resource.`,
    );
  }
  let decodedGroup: string;
  try {
    decodedGroup = decodeURIComponent(resourceGroup);
  } catch {
    // decodeURIComponent throws a bare URIError on '%zz' or a cut-off UTF-8 sequence.
    throw invalidInput(
      input,
      `'${value}' has a malformed percent-escape in the resource group '${resourceGroup}'.`,
      "Copy the id from the resource's JSON view in the portal, or use the resource group and name inputs.",
    );
  }
  validateResourceGroupName(input, decodedGroup);
  validateResourceName(input, expectedType.endsWith('managedClusters') ? 'cluster' : 'registry', name);
  return { subscriptionId, resourceGroup, provider: namespace, type, name, id: `/${parts.join('/')}` };
}
