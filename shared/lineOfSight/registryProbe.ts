import * as tl from 'azure-pipelines-task-lib/task';
import { containerRegistryClient } from '../azure/arm/armClient';
import { acrLoginServerSuffix } from '../azure/connection/cloud';
import type { ConnectionCredential } from '../azure/identity/connectionCredential';
import { DeadlineExceededError, withDeadline } from '../net/deadline';
import { agentTrustedCas } from '../net/agentHttpSettings';
import type { PreflightTarget } from './lineOfSightDiagnosis';
import { neutralizeLoggingCommands } from '../pipeline/loggingCommands';

/**
 * The registry's login server as the agent will reach it (docker push, helm pull): an anonymous
 * GET /v2/ answers 401 when the agent gets through, 403 with the IP it saw when ACR's firewall
 * refuses it. Needs no permission on the registry.
 */
export function registryProbe(registryName: string, environment: string, loginServer?: string): PreflightTarget {
  const suffix = acrLoginServerSuffix(environment);
  return {
    probe: {
      label: 'ACR login server',
      host: loginServer ?? `${registryName.toLowerCase()}.${suffix}`,
      port: 443,
      ca: agentTrustedCas(),
      path: '/v2/',
      reachableStatuses: [200, 401],
    },
    context: { kind: 'acrLoginServer', resourceName: registryName },
  };
}

/** A dedicated data endpoint, where layers download from: the same firewall answers there. */
export function registryDataEndpointProbe(registryName: string, host: string): PreflightTarget {
  return {
    probe: { label: 'ACR data endpoint', host, port: 443, ca: agentTrustedCas(), path: '/v2/', reachableStatuses: [200, 401] },
    context: { kind: 'acrDataEndpoint', resourceName: registryName },
  };
}

/**
 * The registry's login server and data endpoints from Resource Manager, when the identity may read
 * the registry (AcrPull and AcrPush alone do not allow it): then the probes need no guess.
 */
export async function registryEndpoints(
  cc: ConnectionCredential,
  subscriptionId: string,
  resourceGroup: string,
  registryName: string,
): Promise<{ loginServer?: string; dataEndpoints: string[] }> {
  try {
    const registry = await withDeadline(
      30_000,
      (abortSignal) => containerRegistryClient(cc, subscriptionId).registries.get(resourceGroup, registryName, { abortSignal }),
      () => new DeadlineExceededError('registry read', 30_000),
    );
    return { loginServer: registry.loginServer, dataEndpoints: registry.dataEndpointEnabled ? (registry.dataEndpointHostNames ?? []) : [] };
  } catch (err) {
    tl.debug(
      `Registry ${registryName} not readable through Resource Manager (${neutralizeLoggingCommands((err as Error).message)}); probing its login server only.`,
    );
    return { dataEndpoints: [] };
  }
}
