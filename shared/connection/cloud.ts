/**
 * Where a cloud's Entra ID authority and Resource Manager live. They come from the service
 * connection (so sovereign clouds and Azure Stack work); the table only fills gaps left by
 * connections created before Azure DevOps stored every field.
 */
export interface CloudEndpoints {
  /** The connection's environment name, e.g. AzureCloud, AzureUSGovernment, AzureChinaCloud. */
  environment: string;
  /** Resource Manager base URL, always with a trailing slash. */
  resourceManagerUrl: string;
  /** Entra ID authority host, e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  /** The audience of Resource Manager tokens; the scope asked for is `<audience>/.default`. */
  resourceManagerAudience: string;
}

/** The AKS Entra ID server application, the audience of every AKS API server token (all clouds). */
export const AKS_SERVER_APPLICATION_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

const KNOWN_AUTHORITIES: Record<string, string> = {
  azurecloud: 'https://login.microsoftonline.com',
  azureusgovernment: 'https://login.microsoftonline.us',
  azurechinacloud: 'https://login.chinacloudapi.cn',
  azuregermancloud: 'https://login.microsoftonline.de',
};

export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The authority host of an authority URL that may carry a tenant or path (`https://login.windows.net/` → host only). */
export function authorityHostOf(authorityUrl: string): string {
  const u = new URL(authorityUrl);
  return `${u.protocol}//${u.host}`;
}

export function resolveCloudEndpoints(raw: {
  environment?: string;
  resourceManagerUrl?: string;
  authorityUrl?: string;
  resourceManagerAudience?: string;
}): CloudEndpoints {
  const environment = raw.environment || 'AzureCloud';
  const resourceManagerUrl = withTrailingSlash(raw.resourceManagerUrl || 'https://management.azure.com/');
  const knownAuthority = KNOWN_AUTHORITIES[environment.toLowerCase()];
  const authorityHost = raw.authorityUrl ? authorityHostOf(raw.authorityUrl) : knownAuthority;
  if (!authorityHost) {
    throw new Error(`the connection names environment '${environment}' but gives no Entra ID authority URL`);
  }
  return {
    environment,
    resourceManagerUrl,
    authorityHost,
    resourceManagerAudience: withTrailingSlash(raw.resourceManagerAudience || resourceManagerUrl),
  };
}

/** The `.default` scope of a resource: `https://management.core.windows.net/` → `https://management.core.windows.net//.default`. */
export function defaultScopeOf(resource: string): string {
  return `${resource}/.default`;
}
