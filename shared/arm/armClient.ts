import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import type { ConnectionCredential } from '../identity/connectionCredential';
import { scopeFor } from '../identity/connectionCredential';
import { agentHttpSettingsFor } from '../net/agentHttpSettings';

/**
 * Options every Resource Manager client gets: the connection's cloud (endpoint and token scope),
 * the agent's proxy and CA, and one retry policy (429 with Retry-After and 5xx, bounded).
 */
export function armClientOptions(cc: ConnectionCredential) {
  const endpoint = cc.connection.cloud.resourceManagerUrl;
  return {
    endpoint,
    credentials: { scopes: [scopeFor(cc, 'resourceManager')] },
    credentialScopes: [scopeFor(cc, 'resourceManager')],
    ...agentHttpSettingsFor(endpoint),
    retryOptions: { maxRetries: 4, retryDelayInMs: 1_000, maxRetryDelayInMs: 30_000 },
    userAgentOptions: { userAgentPrefix: 'PrivateAksDeploy' },
  };
}

export function containerServiceClient(cc: ConnectionCredential, subscriptionId: string): ContainerServiceClient {
  return new ContainerServiceClient(cc.credential, subscriptionId, armClientOptions(cc));
}

export function containerRegistryClient(cc: ConnectionCredential, subscriptionId: string): ContainerRegistryManagementClient {
  return new ContainerRegistryManagementClient(cc.credential, subscriptionId, armClientOptions(cc));
}
