import * as tl from 'azure-pipelines-task-lib/task';
import { containerRegistryClient } from '../azure/arm/armClient';
import { acrLoginServerSuffix } from '../azure/connection/cloud';
import type { ConnectionCredential } from '../azure/identity/connectionCredential';
import { DeadlineExceededError, withDeadline } from '../net/deadline';
import { agentRouteTo, agentTrustedCas } from '../net/agentHttpSettings';
import type { PreflightTarget } from './lineOfSightDiagnosis';
import { neutralizeLoggingCommands } from '../pipeline/loggingCommands';

/** The API server as a kubeconfig names it (shared/kube/kubeconfig apiServerOf). */
export interface ApiServerAddress {
  server: string;
  caPem?: string;
  tlsServerName?: string;
}

/**
 * The AKS API server's probe: an anonymous GET /readyz answers when the agent gets through, 401 with
 * anonymous auth off (AKS) or 200 where anonymous clients may read it (Kubernetes RBAC's
 * system:public-info-viewer). The probe
 * goes the way kubectl will: through the agent's proxy unless its bypass list names the server, chosen
 * by the server URL's host as Go's http.ProxyFromEnvironment does (it matches req.URL, not the TLS
 * name). "Private" is what Resource Manager says of the cluster when it was read; the diagnosis adds
 * a privatelink name (lineOfSightDiagnosis).
 */
export function aksApiServerProbe(
  api: ApiServerAddress,
  cluster: { name: string; privateCluster?: boolean; authorizedIpRanges?: string[] },
): PreflightTarget {
  const url = new URL(api.server);
  const port = Number(url.port) || 443;
  return {
    probe: {
      label: 'AKS API server',
      host: api.tlsServerName ?? url.hostname,
      port,
      ca: api.caPem ? [api.caPem] : undefined,
      path: '/readyz',
      reachableStatuses: [200, 401],
      route: agentRouteTo(url.hostname, port),
    },
    context: {
      kind: 'aksApiServer',
      resourceName: cluster.name,
      privateCluster: cluster.privateCluster,
      ...(cluster.authorizedIpRanges ? { authorizedIpRanges: cluster.authorizedIpRanges.length > 0 } : {}),
    },
  };
}

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
): Promise<{ loginServer?: string; dataEndpoints: string[]; id?: string }> {
  try {
    const registry = await withDeadline(
      30_000,
      (abortSignal) => containerRegistryClient(cc, subscriptionId).registries.get(resourceGroup, registryName, { abortSignal }),
      () => new DeadlineExceededError('registry read', 30_000),
    );
    return {
      id: registry.id,
      loginServer: registry.loginServer,
      dataEndpoints: registry.dataEndpointEnabled ? (registry.dataEndpointHostNames ?? []) : [],
    };
  } catch (err) {
    tl.debug(
      `Registry ${registryName} not readable through Resource Manager (${neutralizeLoggingCommands((err as Error).message)}); probing its login server only.`,
    );
    return { dataEndpoints: [] };
  }
}
