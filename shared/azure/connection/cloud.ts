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
  /**
   * An Azure Stack Hub AD FS authority (`https://adfs.<region>.<fqdn>/adfs/`): its `/adfs` path is
   * kept in authorityHost and the credential asks tenant `adfs`, as @azure/identity expects for AD FS.
   */
  adfs?: boolean;
}

/** The AKS Entra ID server application, the audience of every AKS API server token (all clouds). */
export const AKS_SERVER_APPLICATION_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

/** What is known of a named cloud, for what a connection does not say. */
export interface KnownCloud {
  /** Entra ID authority host, no trailing slash (azure-cli, src/azure-cli-core/azure/cli/core/cloud.py: endpoints.active_directory). */
  authorityHost: string;
  /** Its container registries' login server suffix (cloud.py: suffixes.acr_login_server_endpoint, without the leading dot). */
  acrLoginServerSuffix?: string;
  /** kubelogin's `--environment` name for it (Azure/kubelogin, pkg/internal/token/options.go: AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud). */
  kubeloginEnvironment?: string;
}

/**
 * The one per-cloud table, keyed by the connection's environment name in lower case (AzureCloud,
 * AzureUSGovernment, AzureChinaCloud, AzureGermanCloud as Azure DevOps names them). The values are
 * azure-cli's cloud.py (AZURE_PUBLIC_CLOUD, AZURE_US_GOV_CLOUD, AZURE_CHINA_CLOUD, AZURE_GERMAN_CLOUD)
 * and kubelogin's environment names; the German cloud (closed) has no registry suffix or kubelogin name.
 */
const KNOWN_CLOUDS: Record<string, KnownCloud> = {
  azurecloud: {
    authorityHost: 'https://login.microsoftonline.com',
    acrLoginServerSuffix: 'azurecr.io',
    kubeloginEnvironment: 'AzurePublicCloud',
  },
  azureusgovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    acrLoginServerSuffix: 'azurecr.us',
    kubeloginEnvironment: 'AzureUSGovernmentCloud',
  },
  azurechinacloud: {
    authorityHost: 'https://login.chinacloudapi.cn',
    acrLoginServerSuffix: 'azurecr.cn',
    kubeloginEnvironment: 'AzureChinaCloud',
  },
  azuregermancloud: { authorityHost: 'https://login.microsoftonline.de' },
};

/** The table's row for a connection's environment name (any case), if it is a named cloud. */
export function knownCloud(environment: string): KnownCloud | undefined {
  return KNOWN_CLOUDS[environment.toLowerCase()];
}

/** A registry's login server suffix in a cloud: the public cloud's for a cloud the table does not know. */
export function acrLoginServerSuffix(environment: string): string {
  return knownCloud(environment)?.acrLoginServerSuffix ?? 'azurecr.io';
}

export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The authority host of an authority URL that may carry a tenant or path (`https://login.windows.net/` → host only);
 * an AD FS authority keeps its `/adfs` path (it is no tenant: AD FS has none).
 */
export function authorityHostOf(authorityUrl: string): string {
  const u = new URL(authorityUrl);
  return isAdfsAuthority(authorityUrl) ? `${u.protocol}//${u.host}/adfs` : `${u.protocol}//${u.host}`;
}

/** `…/adfs` or `…/adfs/`: how the platform tells AD FS (azure-arm-endpoint.ts: `loginEndpoint.endsWith('/adfs/')`). */
export function isAdfsAuthority(authorityUrl: string): boolean {
  return /^\/adfs\/?$/i.test(new URL(authorityUrl).pathname);
}

export const AZURE_STACK = 'AzureStack';

/**
 * Azure Stack Hub publishes its endpoints at `<Resource Manager>/metadata/endpoints?api-version=2015-01-01`,
 * unauthenticated; the platform's AzureRM endpoint (microsoft/azure-pipelines-tasks-common-packages,
 * common-npm-packages/azure-arm-rest/azure-arm-endpoint.ts, _updateAzureStackData) asks it when an
 * Azure Stack connection lacks its authority or audience.
 */
export function azureStackMetadataUrl(resourceManagerUrl: string): string {
  return `${withTrailingSlash(resourceManagerUrl)}metadata/endpoints?api-version=2015-01-01`;
}

/** The authority and audience in an Azure Stack metadata document (authentication.loginEndpoint, authentication.audiences[0]). */
export function parseAzureStackMetadata(body: string): { authorityUrl: string; audience?: string } {
  const doc = JSON.parse(body) as { authentication?: { loginEndpoint?: string; audiences?: string[] } };
  const login = doc.authentication?.loginEndpoint;
  if (!login) throw new Error('the Azure Stack metadata names no authentication.loginEndpoint');
  return { authorityUrl: withTrailingSlash(login), audience: doc.authentication?.audiences?.[0] };
}

export function resolveCloudEndpoints(raw: {
  environment?: string;
  resourceManagerUrl?: string;
  authorityUrl?: string;
  resourceManagerAudience?: string;
}): CloudEndpoints {
  const environment = raw.environment || 'AzureCloud';
  const resourceManagerUrl = withTrailingSlash(raw.resourceManagerUrl || 'https://management.azure.com/');
  const knownAuthority = knownCloud(environment)?.authorityHost;
  const authorityHost = raw.authorityUrl ? authorityHostOf(raw.authorityUrl) : knownAuthority;
  if (!authorityHost) {
    throw new Error(`the connection names environment '${environment}' but gives no Entra ID authority URL`);
  }
  return {
    environment,
    resourceManagerUrl,
    authorityHost,
    resourceManagerAudience: withTrailingSlash(raw.resourceManagerAudience || resourceManagerUrl),
    ...(raw.authorityUrl && isAdfsAuthority(raw.authorityUrl) ? { adfs: true } : {}),
  };
}

/** The `.default` scope of a resource: `https://management.core.windows.net/` → `https://management.core.windows.net//.default`. */
export function defaultScopeOf(resource: string): string {
  return `${resource}/.default`;
}
