import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { ConnectionCredential } from '../identity/connectionCredential';
import { scopeFor } from '../identity/connectionCredential';
import { agentHttpSettingsFor } from '../../net/agentHttpSettings';
import { ExplainedError } from '../../pipeline/explainedError';

/**
 * Refuses a URL that is not on Resource Manager's own origin. A long-running operation's
 * Azure-AsyncOperation / Location URL and a list's nextLink come from the response, and the SDK
 * pollers and pagers send them through the client's pipeline with the ARM token: one pointing
 * elsewhere would hand the token to that host. Nothing is sent.
 */
export function assertArmUrl(url: string, resourceManagerUrl: string, what: string): void {
  const armOrigin = new URL(resourceManagerUrl).origin;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    origin = url.slice(0, 100);
  }
  if (origin === armOrigin) return;
  throw new ExplainedError({
    what,
    reason: `Resource Manager's answer pointed the next request at ${origin}, not at ${armOrigin}; it was not sent, so the token did not leave for that host.`,
    fix: "Check the connection's environment (Resource Manager URL) and any proxy or TLS-inspecting device between the agent and Azure, then run again.",
    code: 'ARM_FOREIGN_URL',
  });
}

/** The pipeline policy form of assertArmUrl, for every request a Resource Manager client sends. */
export function armOriginOnlyPolicy(resourceManagerUrl: string): PipelinePolicy {
  return {
    name: 'armOriginOnly',
    sendRequest(request, next) {
      assertArmUrl(request.url, resourceManagerUrl, `Calling Resource Manager (${request.method})`);
      return next(request);
    },
  };
}

/**
 * Options every Resource Manager client gets: the connection's cloud (endpoint and token scope),
 * the agent's proxy and CA, one retry policy (429 with Retry-After and 5xx, bounded), and no
 * request (poll URL, nextLink) leaving Resource Manager's origin.
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
    // perCall: once per request, before the retry policy; whatever the order with the token policy, it throws before anything is sent.
    additionalPolicies: [{ policy: armOriginOnlyPolicy(endpoint), position: 'perCall' as const }],
  };
}

export function containerServiceClient(cc: ConnectionCredential, subscriptionId: string): ContainerServiceClient {
  return new ContainerServiceClient(cc.credential, subscriptionId, armClientOptions(cc));
}

export function containerRegistryClient(cc: ConnectionCredential, subscriptionId: string): ContainerRegistryManagementClient {
  return new ContainerRegistryManagementClient(cc.credential, subscriptionId, armClientOptions(cc));
}
