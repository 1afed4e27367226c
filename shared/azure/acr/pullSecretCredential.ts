import { ExplainedError } from '../../pipeline/explainedError';

/**
 * A Docker registry service connection as the agent hands it to a task (ENDPOINT_AUTH_SCHEME_<id>,
 * ENDPOINT_AUTH_PARAMETER_<id>_<KEY>, ENDPOINT_DATA_<id>_REGISTRYTYPE), read the way docker-common
 * reads it (microsoft/azure-pipelines-tasks common-npm-packages/docker-common/registryauthenticationprovider/
 * registryauthenticationtoken.ts getDockerRegistryEndpointAuthenticationToken): registry type `ACR`
 * → acrauthenticationtokenprovider.ts (loginServer; user serviceprincipalid, password serviceprincipalkey,
 * email "ServicePrincipal@AzureRM"), any other → genericauthenticationtokenprovider.ts (the
 * parameters registry, username, password, email).
 */
export interface RegistryConnection {
  id: string;
  /** ENDPOINT_DATA_<id>_REGISTRYTYPE: `ACR` for an Azure Container Registry connection, else `Others`. */
  registryType?: string;
  /** ENDPOINT_AUTH_SCHEME_<id>: UsernamePassword, ServicePrincipal, WorkloadIdentityFederation, ManagedServiceIdentity. */
  scheme?: string;
  parameter: (key: string) => string | undefined;
  /** ENDPOINT_URL_<id>, the registry's URL when the parameters name none. */
  url?: string;
}

export interface PullSecretLogin {
  server: string;
  username: string;
  password: string;
  email?: string;
  /** A notice for the log: the registry is an ACR, where the kubelet identity's AcrPull is the better answer. */
  notice?: string;
}

const ACR_HOST = /^([a-z0-9]+)(?:-[a-z0-9]+)?\.azurecr\.(io|cn|us)$/i;

/** The host of a registry server given as a host or a URL. */
function hostOf(server: string): string {
  try {
    return new URL(/^[a-z]+:\/\//i.test(server) ? server : `https://${server}`).hostname;
  } catch {
    return server;
  }
}

function acrNotice(server: string): string | undefined {
  const m = ACR_HOST.exec(hostOf(server));
  if (!m) return undefined;
  return (
    `${hostOf(server)} is an Azure Container Registry: granting AcrPull to the cluster's kubelet identity ` +
    `(az aks update --attach-acr ${m[1]}) lets the nodes pull without any pull secret to keep or rotate.`
  );
}

const what = (c: RegistryConnection) => `Reading the Docker registry service connection '${c.id}' (input 'dockerRegistryEndpoint')`;

/**
 * The login a docker-registry pull secret will hold, or a refusal. A pull secret is read by the
 * kubelet at every image pull, hours or months later (a pod restarting, a node added): it needs a
 * credential that lasts. An ACR connection that signs in with workload identity federation or a
 * managed identity has no password, only tokens: the ACR refresh token it would be exchanged for
 * expires after about three hours (Azure/acr docs/AAD-OAuth.md, "refresh token ... valid for 3
 * hours"), and then every pull fails with 401. Refused, pointing to AcrPull on the kubelet identity.
 */
export function pullSecretLogin(c: RegistryConnection): PullSecretLogin {
  const isAcr = (c.registryType ?? '').toUpperCase() === 'ACR';
  if (isAcr) {
    const server = (c.parameter('loginServer') ?? c.url ?? '').toLowerCase();
    const scheme = c.scheme ?? '';
    const key = c.parameter('serviceprincipalkey');
    if (!/^ServicePrincipal$/i.test(scheme) || !key) {
      const name = ACR_HOST.exec(hostOf(server))?.[1] ?? '<registry>';
      throw new ExplainedError({
        what: what(c),
        reason:
          `It is an Azure Container Registry connection signing in with ${scheme || 'no secret'}: it gives only short-lived tokens ` +
          '(about three hours), so a pull secret made from it would stop working when a pod restarts or a node is added later.',
        fix:
          `Let the cluster pull with its own identity: grant AcrPull to the kubelet identity (az aks update -n <cluster> -g <group> --attach-acr ${name}) ` +
          'and drop the pull secret; or use a Docker registry connection with a long-lived credential (an ACR token or a service principal secret).',
        code: 'SHORT_LIVED_PULL_SECRET',
      });
    }
    const username = c.parameter('serviceprincipalid') ?? '';
    return { server, username, password: key, email: 'ServicePrincipal@AzureRM', notice: acrNotice(server) };
  }
  const server = c.parameter('registry') || c.url || '';
  const username = c.parameter('username') ?? '';
  const password = c.parameter('password') ?? '';
  if (!server || !username || !password) {
    const missing = [!server && 'registry', !username && 'username', !password && 'password'].filter(Boolean).join(', ');
    throw new ExplainedError({
      what: what(c),
      reason: `The connection has no ${missing}.`,
      fix: 'Edit the Docker registry service connection: give the registry URL, a user name and a password (or token).',
      code: 'INVALID_INPUT',
    });
  }
  return { server, username, password, email: c.parameter('email') || undefined, notice: acrNotice(server) };
}
