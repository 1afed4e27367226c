import * as tls from 'tls';
import { agentTrustedCaPem } from '../net/agentHttpSettings';
import type { PreflightTarget } from './preflight';

/** The login server suffix of each cloud's container registries. */
const LOGIN_SERVER_SUFFIX: Record<string, string> = {
  azurecloud: 'azurecr.io',
  azureusgovernment: 'azurecr.us',
  azurechinacloud: 'azurecr.cn',
};

/**
 * The registry's login server as the agent will reach it (docker push, helm pull): an anonymous
 * GET /v2/ answers 401 when the agent gets through, 403 with the IP it saw when ACR's firewall
 * refuses it. Needs no permission on the registry.
 */
export function registryProbe(registryName: string, environment: string): PreflightTarget {
  const suffix = LOGIN_SERVER_SUFFIX[environment.toLowerCase()] ?? 'azurecr.io';
  const agentCa = agentTrustedCaPem();
  return {
    probe: {
      label: 'ACR login server',
      host: `${registryName.toLowerCase()}.${suffix}`,
      port: 443,
      ca: agentCa ? [...tls.rootCertificates, agentCa] : undefined,
      path: '/v2/',
      reachableStatuses: [200, 401],
    },
    context: { kind: 'acrLoginServer', resourceName: registryName },
  };
}
