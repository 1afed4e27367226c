import * as path from 'path';
import { envName } from './agentStep';

/** The four ways an Azure Resource Manager connection signs in, as the tests name them. */
export type ConnectionScheme =
  'WorkloadIdentityFederation' | 'ServicePrincipalSecret' | 'ServicePrincipalCertificate' | 'ManagedServiceIdentity';

export const ALL_SCHEMES: ConnectionScheme[] = [
  'WorkloadIdentityFederation',
  'ServicePrincipalSecret',
  'ServicePrincipalCertificate',
  'ManagedServiceIdentity',
];

/** The sandbox principal the task specs give each scheme's connection. */
export const SCHEME_PRINCIPAL: Record<ConnectionScheme, string> = {
  WorkloadIdentityFederation: 'wif',
  ServicePrincipalSecret: 'secret',
  ServicePrincipalCertificate: 'cert',
  ManagedServiceIdentity: 'msi',
};

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
 * and authorization, including the JSON blobs and the per-parameter variables task-lib reads
 * (azure-pipelines-agent src/Agent.Worker/Handlers/Handler.cs AddEndpointsToEnvironment: keyed by the
 * connection's id, parameter and data keys in env format).
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
  // Handler.cs AddEndpointsToEnvironment also passes the whole data dictionary as JSON.
  const data = Object.fromEntries(
    Object.entries(env)
      .filter(([k]) => k.startsWith(`ENDPOINT_DATA_${id}_`))
      .map(([k, v]) => [k.slice(`ENDPOINT_DATA_${id}_`.length).toLowerCase(), v]),
  );
  env[`ENDPOINT_DATA_${id}`] = JSON.stringify(data);
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
  /** System.HostType: a build (or YAML pipeline) job, or a classic release job. Default: build. */
  hostType?: 'build' | 'release';
  /** Further pipeline variables by their names (`System.JobId`), as the agent passes them. */
  variables?: Record<string, string>;
  /** Secret pipeline variables by their names (`Agent.ProxyPassword`, a secret variable of the pipeline). */
  secretVariables?: Record<string, string>;
}

/**
 * The job-level variables the agent sets for every task: directories, the job's access token, proxy
 * and CA, and the pipeline's own variables. Agent.Worker/Handlers/Handler.cs AddVariablesToEnvironment
 * passes a public variable as its name in env format (VarUtil.cs ConvertToEnvVariableFormat: '.' and
 * ' ' as '_', upper case) and lists the names in VSTS_PUBLIC_VARIABLES; a secret variable only as
 * SECRET_<NAME>, listed in VSTS_SECRET_VARIABLES (task-lib's internal.ts _loadData moves both into
 * its vault and deletes them from the environment). Directories: Build/BuildJobExtension.cs (a
 * build's sources under _work/1/s), Release/ReleaseJobExtension.cs (a release's artifacts folder is
 * system.artifactsDirectory, agent.releaseDirectory and system.defaultWorkingDirectory at once).
 */
export function agentJobEnv(j: JobOptions): Env {
  const release = j.hostType === 'release';
  const variables: Record<string, string> = {
    'Agent.TempDirectory': j.tempDirectory,
    'Agent.WorkFolder': j.workFolder,
    'System.CollectionUri': j.collectionUri,
    'System.TeamFoundationCollectionUri': j.collectionUri,
    'System.HostType': release ? 'release' : 'build',
    'System.TeamProject': 'sandbox-project',
    'Agent.Name': 'sandbox-agent',
    'Agent.OS': 'Linux',
    'System.Debug': j.debug ? 'true' : 'false',
    // StepsRunner.cs: Agent.JobStatus is the job's result so far, Succeeded until a step fails.
    'Agent.JobStatus': 'Succeeded',
  };
  if (release) {
    const artifacts = path.join(j.workFolder, 'r1', 'a');
    Object.assign(variables, {
      'Agent.ReleaseDirectory': artifacts,
      'System.ArtifactsDirectory': artifacts,
      'System.DefaultWorkingDirectory': artifacts,
    });
  } else {
    const sources = path.join(j.workFolder, '1', 's');
    Object.assign(variables, {
      'Agent.BuildDirectory': path.join(j.workFolder, '1'),
      'System.DefaultWorkingDirectory': sources,
      'Build.SourcesDirectory': sources,
      'System.ArtifactsDirectory': path.join(j.workFolder, '1', 'a'),
    });
  }
  if (j.oidcRequestUri) variables['System.OidcRequestUri'] = j.oidcRequestUri;
  if (j.caFile) variables['Agent.CAInfo'] = j.caFile;
  if (j.proxyUrl) {
    variables['Agent.ProxyUrl'] = j.proxyUrl;
    variables['Agent.ProxyBypassList'] = JSON.stringify(j.proxyBypassList ?? []);
  }
  Object.assign(variables, j.variables);
  const env: Env = {
    ...variablesEnv(variables, j.secretVariables ?? {}),
    ENDPOINT_URL_SYSTEMVSSCONNECTION: j.collectionUri,
  };
  if (j.systemAccessToken) {
    env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION = JSON.stringify({ parameters: { AccessToken: j.systemAccessToken }, scheme: 'OAuth' });
    env.ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION = 'OAuth';
    env.ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN = j.systemAccessToken;
  }
  return env;
}

/** Handler.cs AddVariablesToEnvironment for the given public and secret variables (see agentJobEnv). */
export function variablesEnv(variables: Record<string, string>, secretVariables: Record<string, string> = {}): Env {
  const env: Env = {};
  for (const [name, value] of Object.entries(variables)) {
    // Agent.JobStatus is also passed under its own name (Handler.cs).
    if (name.toLowerCase() === 'agent.jobstatus') env['agent.jobstatus'] = value;
    env[envName(name)] = value;
  }
  env.VSTS_PUBLIC_VARIABLES = JSON.stringify(Object.keys(variables));
  for (const [name, value] of Object.entries(secretVariables)) env[`SECRET_${envName(name)}`] = value;
  env.VSTS_SECRET_VARIABLES = JSON.stringify(Object.keys(secretVariables));
  return env;
}

/** Agent.JobStatus for a post-job step (see runPostJobStep), under both names Handler.cs uses. */
export function jobStatusEnv(status: string): Env {
  return { AGENT_JOBSTATUS: status, 'agent.jobstatus': status };
}

/**
 * Task inputs as the test gives them (a YAML step's `inputs:`), as Handler.cs AddInputsToEnvironment
 * names them: INPUT_<NAME>. runTask then does what the agent does with them against task.json
 * (agentStep.ts agentInputsEnv: defaults, aliases, filePath inputs).
 */
export function taskInputsEnv(inputs: Record<string, string>): Env {
  const env: Env = {};
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${envName(name)}`] = value;
  return env;
}

/** A Docker registry service connection: a registry with a user name and password, or an Azure Container Registry one. */
export type DockerRegistryConnection =
  | { id: string; kind: 'others'; registry: string; username: string; password: string; email?: string }
  | {
      id: string;
      kind: 'acr';
      loginServer: string;
      scheme: 'ServicePrincipal' | 'WorkloadIdentityFederation' | 'ManagedServiceIdentity';
      tenantId: string;
      servicePrincipalId?: string;
      servicePrincipalKey?: string;
    };

/**
 * The ENDPOINT_* variables the agent sets for a Docker registry service connection (Handler.cs
 * AddEndpointsToEnvironment, as for azureRmConnectionEnv). Its authorization, as docker-common reads
 * it (microsoft/azure-pipelines-tasks common-npm-packages/docker-common/registryauthenticationprovider):
 * "Others" (any registry): scheme UsernamePassword, parameters registry, username, password, email;
 * "ACR": the parameter loginServer and the Azure sign-in's (serviceprincipalid, serviceprincipalkey
 * for a service principal, tenantid), data registrytype ACR.
 */
export function dockerRegistryConnectionEnv(c: DockerRegistryConnection): Env {
  const id = c.id;
  let scheme: string;
  let url: string;
  const parameters: Record<string, string> = {};
  const data: Record<string, string> = {};
  if (c.kind === 'others') {
    scheme = 'UsernamePassword';
    url = c.registry;
    Object.assign(parameters, { registry: c.registry, username: c.username, password: c.password, email: c.email ?? '' });
    data.registrytype = 'Others';
  } else {
    scheme = c.scheme;
    url = `https://${c.loginServer}`;
    parameters.loginServer = c.loginServer;
    parameters.tenantid = c.tenantId;
    if (c.servicePrincipalId) parameters.serviceprincipalid = c.servicePrincipalId;
    if (c.servicePrincipalKey) parameters.serviceprincipalkey = c.servicePrincipalKey;
    data.registrytype = 'ACR';
  }
  const env: Env = {
    [`ENDPOINT_URL_${id}`]: url,
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters, scheme }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: scheme,
    [`ENDPOINT_DATA_${id}`]: JSON.stringify(data),
  };
  for (const [key, value] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${id}_${key.toUpperCase()}`] = value;
  for (const [key, value] of Object.entries(data)) env[`ENDPOINT_DATA_${id}_${key.toUpperCase()}`] = value;
  return env;
}
