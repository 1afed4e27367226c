import * as path from 'path';

/** The four ways an Azure Resource Manager connection signs in, as the tests name them. */
export type ConnectionScheme =
  | 'WorkloadIdentityFederation'
  | 'ServicePrincipalSecret'
  | 'ServicePrincipalCertificate'
  | 'ManagedServiceIdentity';

export const ALL_SCHEMES: ConnectionScheme[] = [
  'WorkloadIdentityFederation',
  'ServicePrincipalSecret',
  'ServicePrincipalCertificate',
  'ManagedServiceIdentity',
];

export type Env = Record<string, string>;

/** What the agent knows about the connection's principal, as the sandbox issued it. */
export interface ConnectionPrincipal {
  clientId: string;
  secret?: string;
  certificatePem?: string;
}

export interface ConnectionOptions {
  id: string;
  scheme: ConnectionScheme;
  tenantId: string;
  principal: ConnectionPrincipal;
  resourceManagerUrl: string;
  authorityUrl: string;
  environment?: string;
  subscriptionId?: string;
  subscriptionName?: string;
  federated?: { issuer?: string; subject?: string };
}

/**
 * The ENDPOINT_* variables the agent sets for an Azure Resource Manager connection: URL, data
 * and authorization, including the JSON blob and the per-parameter variables task-lib reads.
 */
export function azureRmConnectionEnv(c: ConnectionOptions): Env {
  const id = c.id;
  const parameters: Record<string, string> = { tenantid: c.tenantId };
  let scheme: string;
  switch (c.scheme) {
    case 'WorkloadIdentityFederation':
      scheme = 'WorkloadIdentityFederation';
      parameters.serviceprincipalid = c.principal.clientId;
      if (c.federated?.issuer) parameters.workloadIdentityFederationIssuer = c.federated.issuer;
      if (c.federated?.subject) parameters.workloadIdentityFederationSubject = c.federated.subject;
      break;
    case 'ServicePrincipalSecret':
      scheme = 'ServicePrincipal';
      parameters.serviceprincipalid = c.principal.clientId;
      parameters.authenticationType = 'spnKey';
      parameters.serviceprincipalkey = c.principal.secret ?? '';
      break;
    case 'ServicePrincipalCertificate':
      scheme = 'ServicePrincipal';
      parameters.serviceprincipalid = c.principal.clientId;
      parameters.authenticationType = 'spnCertificate';
      parameters.servicePrincipalCertificate = c.principal.certificatePem ?? '';
      break;
    case 'ManagedServiceIdentity':
      scheme = 'ManagedServiceIdentity';
      break;
  }
  const env: Env = {
    [`ENDPOINT_URL_${id}`]: c.resourceManagerUrl,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters, scheme }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: scheme,
    [`ENDPOINT_DATA_${id}_ENVIRONMENT`]: c.environment ?? 'AzureCloud',
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`]: c.subscriptionId ?? '00000000-0000-0000-0000-000000000000',
    [`ENDPOINT_DATA_${id}_SUBSCRIPTIONNAME`]: c.subscriptionName ?? 'Sandbox subscription',
    [`ENDPOINT_DATA_${id}_ENVIRONMENTAUTHORITYURL`]: c.authorityUrl,
    [`ENDPOINT_DATA_${id}_ACTIVEDIRECTORYSERVICEENDPOINTRESOURCEID`]: 'https://management.core.windows.net/',
    [`ENDPOINT_DATA_${id}_SCOPELEVEL`]: 'Subscription',
  };
  if (c.scheme === 'ManagedServiceIdentity' && c.principal.clientId) {
    env[`ENDPOINT_DATA_${id}_MSICLIENTID`] = c.principal.clientId;
  }
  for (const [key, value] of Object.entries(parameters)) {
    env[`ENDPOINT_AUTH_PARAMETER_${id}_${key.toUpperCase()}`] = value;
  }
  return env;
}

export interface JobOptions {
  tempDirectory: string;
  workFolder: string;
  collectionUri: string;
  oidcRequestUri?: string;
  systemAccessToken?: string;
  caFile?: string;
  proxyUrl?: string;
  proxyBypassList?: string[];
  debug?: boolean;
}

/** The job-level variables the agent sets for every task: directories, the job's access token, proxy and CA. */
export function agentJobEnv(j: JobOptions): Env {
  const env: Env = {
    AGENT_TEMPDIRECTORY: j.tempDirectory,
    AGENT_WORKFOLDER: j.workFolder,
    AGENT_BUILDDIRECTORY: path.join(j.workFolder, '1'),
    SYSTEM_DEFAULTWORKINGDIRECTORY: path.join(j.workFolder, '1', 's'),
    BUILD_SOURCESDIRECTORY: path.join(j.workFolder, '1', 's'),
    SYSTEM_COLLECTIONURI: j.collectionUri,
    SYSTEM_TEAMFOUNDATIONCOLLECTIONURI: j.collectionUri,
    SYSTEM_HOSTTYPE: 'build',
    SYSTEM_TEAMPROJECT: 'sandbox-project',
    AGENT_NAME: 'sandbox-agent',
    AGENT_OS: 'Linux',
    SYSTEM_DEBUG: j.debug ? 'true' : 'false',
    ENDPOINT_URL_SYSTEMVSSCONNECTION: j.collectionUri,
  };
  if (j.oidcRequestUri) env.SYSTEM_OIDCREQUESTURI = j.oidcRequestUri;
  if (j.systemAccessToken) {
    env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION = JSON.stringify({ parameters: { AccessToken: j.systemAccessToken }, scheme: 'OAuth' });
    env.ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION = 'OAuth';
    env.ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN = j.systemAccessToken;
  }
  if (j.caFile) env.AGENT_CAINFO = j.caFile;
  if (j.proxyUrl) {
    env.AGENT_PROXYURL = j.proxyUrl;
    env.AGENT_PROXYBYPASSLIST = JSON.stringify(j.proxyBypassList ?? []);
  }
  return env;
}

/** Task inputs as the agent passes them: INPUT_<NAME>. */
export function taskInputsEnv(inputs: Record<string, string>): Env {
  const env: Env = {};
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  return env;
}
