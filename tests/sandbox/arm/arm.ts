/**
 * Azure Resource Manager, as far as the deploy tasks need it: AKS managed clusters (GET/list,
 * credentials, run command, PUT as a long-running operation), container registries (GET/list,
 * PATCH as a long-running operation, listUsages) and Microsoft.Authorization (permissions, role
 * assignments, role definitions). Works with the real @azure/arm-containerservice 25.3.0,
 * @azure/arm-containerregistry 12.0.0 and @azure/arm-authorization 9.0.0 clients given
 * `endpoint` = `armService.origin` and ARM credential scopes.
 *
 *   const arm = await ArmService.start({ ...sandbox.context, clusterEndpoint, runCommand });
 *   new ContainerServiceClient(credential, subscriptionId, { endpoint: arm.origin, credentials: { scopes: [ARM_SCOPE] }, tlsOptions });
 *
 * Every request needs an Entra access token for Resource Manager (audience management.azure.com or
 * management.core.windows.net, with or without trailing slash), and the caller's role assignments
 * (ArmState, transitively through groups) must grant the operation's action at the request scope.
 * Error bodies are ARM's `{ error: { code, message } }`; see ERRORS for which texts are verified.
 *
 * Routes (paths case-insensitive, `api-version` required):
 *   GET  /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters
 *   GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters[/{name}]
 *   PUT  .../managedClusters/{name}                      (update only; If-Match from 2024-10-01; 200 + Azure-AsyncOperation)
 *   POST .../managedClusters/{name}/listClusterUserCredential[?format=exec|azure&server-fqdn=public|private]
 *   POST .../managedClusters/{name}/listClusterAdminCredential
 *   POST .../managedClusters/{name}/runCommand            (202 + Location → commandResults/{id})
 *   GET  .../managedClusters/{name}/commandResults/{id}   (202 while running, then 200)
 *   GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operations|operationresults/{id}
 *   GET  /subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.ContainerRegistry/registries[/{name}]
 *   PATCH .../registries/{name}                           (201 + Azure-AsyncOperation)
 *   GET  .../registries/{name}/listUsages
 *   GET  .../registries/{name}/operationStatuses/{id}
 *   GET  {scope}/providers/Microsoft.Authorization/permissions
 *   GET  {scope}/providers/Microsoft.Authorization/roleAssignments[?$filter=atScope()|assignedTo('{oid}')|principalId eq '{oid}']
 *   GET|PUT|DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}
 *   GET  {scope}/providers/Microsoft.Authorization/roleDefinitions[?$filter=roleName eq '{name}'|type eq 'BuiltInRole']
 *   GET  {scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}
 */
import * as crypto from 'node:crypto';
import * as authz from './authorization';
import {
  acrLegacyRegistryModel,
  acrVirtualNetworkRuleKey,
  aksPutHonoursIfMatch,
  armStateFor,
  type ArmState,
  type ClusterRecord,
  type RegistryNetwork,
  type RegistryNetworkState,
  type RegistryRecord,
} from './armState';
import { AccessTokenError, AKS_SERVER_APP_ID } from '../entra/entra';
import type { SandboxContext } from '../index';
import { decodeJwt, type JwtPayload } from '../entra/jwt';
import { isGuid } from '../scenario';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';

/** api-versions the installed SDK clients send. */
export const API_VERSIONS = {
  /** @azure/arm-containerservice 25.3.0 (`context.apiVersion ?? "2026-04-01"`). */
  containerService: '2026-04-01',
  /** @azure/arm-containerregistry 12.0.0 (`options.apiVersion ?? "2025-11-01"`). */
  containerRegistry: '2025-11-01',
  /** @azure/arm-authorization 9.0.0: roleAssignments, roleDefinitions and permissions use 2022-04-01. */
  authorization: '2022-04-01',
} as const;

/** Token audiences ARM accepts (the error message lists exactly these four). */
export const ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
];

/** Azure CLI's public client id, which AKS puts in exec kubeconfigs (`--client-id`). */
export const AKS_KUBELOGIN_CLIENT_ID = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';

const ACTIONS = {
  clusterRead: 'Microsoft.ContainerService/managedClusters/read',
  clusterWrite: 'Microsoft.ContainerService/managedClusters/write',
  userCredential: 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
  adminCredential: 'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
  runCommand: 'Microsoft.ContainerService/managedClusters/runcommand/action',
  commandResults: 'Microsoft.ContainerService/managedClusters/commandResults/read',
  registryRead: 'Microsoft.ContainerRegistry/registries/read',
  registryWrite: 'Microsoft.ContainerRegistry/registries/write',
  registryUsages: 'Microsoft.ContainerRegistry/registries/listUsages/read',
  roleAssignmentsRead: 'Microsoft.Authorization/roleAssignments/read',
  roleAssignmentsWrite: 'Microsoft.Authorization/roleAssignments/write',
  roleAssignmentsDelete: 'Microsoft.Authorization/roleAssignments/delete',
  roleDefinitionsRead: 'Microsoft.Authorization/roleDefinitions/read',
} as const;

export interface ArmErrorBody {
  code: string;
  message: string;
}

/** Resource Manager's request body limit (see startRunCommand). */
export const MAX_ARM_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * ARM / resource provider error catalogue. "verified": text seen in real responses quoted in public
 * sources; "approximation": code and gist right, wording not confirmed.
 */
const ERRORS = {
  // verified
  missingAuthorization: (): ArmErrorBody => ({
    code: 'AuthenticationFailed',
    message: "Authentication failed. The 'Authorization' header is missing.",
  }),
  // verified
  invalidAuthorizationFormat: (): ArmErrorBody => ({
    code: 'AuthenticationFailed',
    message: "Authentication failed. The 'Authorization' header is provided in an invalid format.",
  }),
  // verified
  invalidToken: (): ArmErrorBody => ({ code: 'InvalidAuthenticationToken', message: 'The access token is invalid.' }),
  // verified (dates printed M/D/YYYY h:mm:ss AM)
  expiredToken: (expiry: Date, now: Date): ArmErrorBody => ({
    code: 'ExpiredAuthenticationToken',
    message: `The access token expiry UTC time '${usTime(expiry)}' is earlier than current UTC time '${usTime(now)}'.`,
  }),
  // verified
  wrongAudience: (audience: string): ArmErrorBody => ({
    code: 'InvalidAuthenticationTokenAudience',
    message: `The access token has been obtained for wrong audience or resource '${audience}'. It should exactly match with one of the allowed audiences ${ARM_AUDIENCES.map((a) => `'${a}'`).join(',')}.`,
  }),
  // verified
  wrongIssuer: (issuer: string, expected: string, authority: string): ArmErrorBody => ({
    code: 'InvalidAuthenticationTokenTenant',
    message: `The access token is from the wrong issuer '${issuer}'. It must match the tenant '${expected}' associated with this subscription. Please use the authority (URL) '${authority}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
  }),
  // verified (the text the brief quotes and ARM returns)
  authorizationFailed: (clientId: string, objectId: string, action: string, scope: string): ArmErrorBody => ({
    code: 'AuthorizationFailed',
    message: `The client '${clientId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  }),
  // verified
  missingApiVersion: (): ArmErrorBody => ({
    code: 'MissingApiVersionParameter',
    message: 'The api-version query parameter (?api-version=) is required for all requests.',
  }),
  // verified: AKS (Azure/azure-cli#28368, #23985), roleDefinitions (Azure/azure-sdk-for-java#28334, "The supported
  // locations are ''"); the supported api-versions oldest first, ", "-separated
  noRegisteredProvider: (location: string, apiVersion: string, type: string, supported: string[], locations: string[]): ArmErrorBody => ({
    code: 'NoRegisteredProviderFound',
    message: `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type '${type}'. The supported api-versions are '${ascending(supported).join(', ')}'. The supported locations are '${locations.join(', ')}'.`,
  }),
  // verified: roleAssignments at an api-version Microsoft.Authorization does not have, HTTP 404
  // (Azure/acs-engine#4037, Azure/azure-sdk-for-java#28334); the list oldest first, ","-separated
  unsupportedApiVersionForType: (type: string, namespace: string, apiVersion: string, supported: string[]): ArmErrorBody => ({
    code: 'InvalidResourceType',
    message: `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'. The supported api-versions are '${ascending(supported).join(',')}'.`,
  }),
  // verified
  subscriptionNotFound: (subscriptionId: string): ArmErrorBody => ({
    code: 'SubscriptionNotFound',
    message: `The subscription '${subscriptionId}' could not be found.`,
  }),
  // verified
  resourceGroupNotFound: (rg: string): ArmErrorBody => ({
    code: 'ResourceGroupNotFound',
    message: `Resource group '${rg}' could not be found.`,
  }),
  // verified
  resourceNotFound: (type: string, name: string, rg: string): ArmErrorBody => ({
    code: 'ResourceNotFound',
    message: `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  }),
  // approximation
  invalidResourceType: (type: string, namespace: string, apiVersion: string): ArmErrorBody => ({
    code: 'InvalidResourceType',
    message: `The resource type '${type}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'.`,
  }),
  // approximation
  methodNotAllowed: (method: string): ArmErrorBody => ({
    code: 'MethodNotAllowed',
    message: `The requested resource does not support http method '${method}'.`,
  }),
  // verified (AKS; newer responses append " For more details, see https://learn.microsoft.com/en-us/azure/aks/manage-local-accounts-managed-azure-ad")
  localAccountsDisabled: (): ArmErrorBody => ({
    code: 'BadRequest',
    message: 'Getting static credential is not allowed because this cluster is set to disable local accounts.',
  }),
  // approximation: AKS rejects run command when apiServerAccessProfile.disableRunCommand is true
  runCommandDisabled: (): ArmErrorBody => ({
    code: 'BadRequest',
    message: 'Run command is disabled for this cluster. Enable it by setting apiServerAccessProfile.disableRunCommand to false.',
  }),
  // status verified (az aks command invoke with a large --file folder: "Operation returned an invalid status
  // 'Request Entity Too Large'", Azure/azure-cli#22870); code and message an approximation
  requestTooLarge: (size: number): ArmErrorBody => ({
    code: 'RequestEntityTooLarge',
    message: `The request content size ${size} bytes exceeds the maximum of ${MAX_ARM_REQUEST_BYTES} bytes.`,
  }),
  // approximation
  runCommandMissingCommand: (): ArmErrorBody => ({
    code: 'InvalidParameter',
    message: "The value of parameter 'command' is invalid: it is required.",
  }),
  // approximation (AKS If-Match mismatch)
  preconditionFailed: (ifMatch: string, name: string): ArmErrorBody => ({
    code: 'PreconditionFailed',
    message: `Operation failed with status: 'Precondition Failed'. Details: The If-Match header '${ifMatch}' does not match the current eTag of managed cluster '${name}'. Get the managed cluster again and retry with its current eTag.`,
  }),
  // approximation
  resourceExists: (name: string): ArmErrorBody => ({
    code: 'PreconditionFailed',
    message: `Operation failed with status: 'Precondition Failed'. Details: The managed cluster '${name}' already exists and If-None-Match is '*'.`,
  }),
  // verified (first sentence)
  operationInProgress: (): ArmErrorBody => ({
    code: 'OperationNotAllowed',
    message:
      'Operation is not allowed: Another operation (Updating) is in progress, please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details',
  }),
  // approximation
  propertyChangeNotAllowed: (property: string): ArmErrorBody => ({
    code: 'PropertyChangeNotAllowed',
    message: `Changing property '${property}' is not allowed.`,
  }),
  // approximation
  invalidAuthorizedIpRange: (value: string): ArmErrorBody => ({
    code: 'InvalidParameter',
    message: `The value '${value}' of parameter 'apiServerAccessProfile.authorizedIPRanges' is invalid: expected an IPv4 address or CIDR range.`,
  }),
  // approximation
  clusterCreateNotSimulated: (name: string): ArmErrorBody => ({
    code: 'BadRequest',
    message: `The sandbox does not create managed clusters; declare '${name}' in the scenario.`,
  }),
  // approximation
  networkRulesNeedPremium: (): ArmErrorBody => ({
    code: 'RegistrySkuNotSupported',
    message: 'Network rules are only supported for managed registries in Premium SKU.',
  }),
  // approximation
  ipRuleQuotaExceeded: (limit: number): ArmErrorBody => ({
    code: 'QuotaExceeded',
    message: `The number of IP rules exceeds the quota of ${limit} for this registry.`,
  }),
  // approximation
  invalidIpRule: (value: string): ArmErrorBody => ({
    code: 'InvalidIpRule',
    message: `The IP rule value '${value}' is not a valid IPv4 address or CIDR range.`,
  }),
  // verified
  roleAssignmentExists: (): ArmErrorBody => ({ code: 'RoleAssignmentExists', message: 'The role assignment already exists.' }),
  // verified
  roleDefinitionDoesNotExist: (id: string): ArmErrorBody => ({
    code: 'RoleDefinitionDoesNotExist',
    message: `The specified role definition with ID '${id}' does not exist.`,
  }),
  // verified
  principalNotFound: (principalId: string, tenantId: string): ArmErrorBody => ({
    code: 'PrincipalNotFound',
    message: `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
  }),
  // approximation
  invalidRoleAssignmentId: (name: string): ArmErrorBody => ({
    code: 'InvalidRoleAssignmentId',
    message: `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
  }),
  // verified
  roleAssignmentUpdateNotPermitted: (): ArmErrorBody => ({
    code: 'RoleAssignmentUpdateNotPermitted',
    message: 'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
  }),
  // approximation
  unsupportedFilter: (filter: string): ArmErrorBody => ({
    code: 'UnsupportedQuery',
    message: `The filter '${filter}' is not supported. Supported filters are either 'atScope()' or 'principalId eq '{value}' or assignedTo('{value}')'.`,
  }),
  // approximation
  invalidRequestContent: (detail: string): ArmErrorBody => ({
    code: 'InvalidRequestContent',
    message: `The request content was invalid and could not be deserialized: '${detail}'.`,
  }),
  // approximation (fault bodies)
  throttled: (subscriptionId: string): ArmErrorBody => ({
    code: 'SubscriptionRequestsThrottled',
    message: `Number of 'read' requests for subscription '${subscriptionId}' actor '00000000-0000-0000-0000-000000000000' exceeded. Please try again after '5' seconds after additional '0' requests. Please see https://aka.ms/arm-throttling for additional information.`,
  }),
  internalServerError: (subscriptionId: string): ArmErrorBody => ({
    code: 'InternalServerError',
    message: `Encountered internal server error. Diagnostic information: timestamp '${new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(
        0,
        14,
      )}Z', subscription id '${subscriptionId}', tracking id '${crypto.randomUUID()}', request correlation id '${crypto.randomUUID()}'.`,
  }),
  serviceUnavailable: (): ArmErrorBody => ({
    code: 'ServiceUnavailable',
    message: 'The server (leader) is currently unable to handle the request. Please try again later.',
  }),
  // default error of a long-running operation failed with failNextOperation
  operationFailed: (): ArmErrorBody => ({
    code: 'InternalOperationError',
    message: 'The operation failed: an internal error occurred while processing it (injected by the sandbox).',
  }),
} as const;

export interface ClusterEndpoint {
  /** `server` of the kubeconfig cluster entry, e.g. `https://<privateFQDN>:443`. */
  server: string;
  /** PEM of the cluster CA (`certificate-authority-data`). */
  caPem: string;
  /** Token of the local user account the API server accepts (non-Entra clusters). Default: ArmState's `localAccounts.userToken`. */
  staticUserToken?: string;
  /** Token of the local admin account the API server accepts. Default: ArmState's `localAccounts.adminToken`. */
  staticAdminToken?: string;
}

export interface ClusterEndpointHint {
  /** The FQDN AKS would put in the kubeconfig (private FQDN for private clusters, unless server-fqdn=public). */
  fqdn: string;
  kind: 'private' | 'public';
}

export interface RunCommandRequest {
  command: string;
  /** Base64 zip of the files the command needs. */
  context?: string;
  /** Entra token for the AKS server app (Entra clusters). */
  clusterToken?: string;
}

export interface RunCommandOutcome {
  exitCode: number;
  logs: string;
}

export type LroKind = 'managedClusters' | 'registries' | 'runCommand' | 'any';

export interface ArmServiceOptions extends SandboxContext {
  /** Shared state; default `armStateFor(scenario)`. */
  state?: ArmState;
  /** Kubeconfig server and CA of a cluster (the AKS API server helper). Default: `https://<fqdn>:443` and the sandbox CA. */
  clusterEndpoint?: (clusterName: string, hint: ClusterEndpointHint) => ClusterEndpoint;
  /** Executes a run command (the AKS API server helper). Default: fails the command. */
  runCommand?: (clusterName: string, request: RunCommandRequest) => Promise<RunCommandOutcome>;
  /** Status polls answered 'InProgress' before a long-running operation completes. Default 1. */
  lroInProgressPolls?: number;
  /** Adds `Retry-After: <n>` to LRO responses (the SDK polls every 2 s without it unless updateIntervalInMs is set). */
  lroRetryAfterSeconds?: number;
  /**
   * How a registry PATCH treats `properties.networkRuleSet`. 'replace' (default, what ACR does):
   * the sent object replaces the whole rule set; `virtualNetworkRules` is read only in api-versions
   * that model it, so a PATCH through @azure/arm-containerregistry 12 (2025-11-01) drops VNet rules.
   * 'merge': absent fields are kept (JSON merge-patch), for contrast tests.
   */
  acrNetworkRuleSetPatch?: 'replace' | 'merge';
  preferredPort?: number;
}

interface Operation {
  id: string;
  kind: Exclude<LroKind, 'any'>;
  resourceId: string;
  startTime: Date;
  endTime?: Date;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  pollsLeft: number;
  error?: ArmErrorBody;
  fail: boolean;
  apply: () => void;
  onFailed: () => void;
}

interface CommandRun {
  id: string;
  cluster: ClusterRecord;
  startedAt: Date;
  finishedAt?: Date;
  done: boolean;
  provisioningState?: 'succeeded' | 'failed';
  exitCode?: number;
  logs?: string;
  reason?: string;
  pollsLeft: number;
}

class ArmFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: ArmErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

interface Caller {
  claims: JwtPayload;
  objectId: string;
  appId: string;
}

interface ParsedPath {
  /** Original segments (decoded). */
  segs: string[];
  /** Lower-cased segments. */
  lower: string[];
}

/**
 * The api-versions the sandbox answers, per resource type: the stable (and, for ACR and
 * Microsoft.Authorization, preview) folders of azure-rest-api-specs it models. ARM refuses any other
 * value, however plausible its date: NoRegisteredProviderFound for a resource provider type,
 * InvalidApiVersionParameter for Microsoft.Authorization. Older versions ARM still knows are
 * refused here too (the sandbox does not model them).
 */
// Stable versions up to 2023-11-01 as ARM listed them (Azure/azure-cli#28368; its previews left out: they retire),
// later ones from azure-rest-api-specs aks/stable.
const AKS_SUPPORTED = [
  '2017-08-31',
  '2018-03-31',
  '2019-02-01',
  '2019-04-01',
  '2019-06-01',
  '2019-08-01',
  '2019-10-01',
  '2019-11-01',
  '2020-01-01',
  '2020-02-01',
  '2020-03-01',
  '2020-04-01',
  '2020-06-01',
  '2020-07-01',
  '2020-09-01',
  '2020-11-01',
  '2020-12-01',
  '2021-02-01',
  '2021-03-01',
  '2021-05-01',
  '2021-07-01',
  '2021-08-01',
  '2021-09-01',
  '2021-10-01',
  '2022-01-01',
  '2022-02-01',
  '2022-03-01',
  '2022-04-01',
  '2022-06-01',
  '2022-07-01',
  '2022-08-01',
  '2022-09-01',
  '2022-11-01',
  '2023-01-01',
  '2023-02-01',
  '2023-03-01',
  '2023-04-01',
  '2023-05-01',
  '2023-06-01',
  '2023-07-01',
  '2023-08-01',
  '2023-09-01',
  '2023-10-01',
  '2023-11-01',
  '2024-01-01',
  '2024-02-01',
  '2024-05-01',
  '2024-06-01',
  '2024-07-01',
  '2024-08-01',
  '2024-09-01',
  '2024-10-01',
  '2025-01-01',
  '2025-02-01',
  '2025-03-01',
  '2025-04-01',
  '2025-05-01',
  '2025-07-01',
  '2025-08-01',
  '2025-10-01',
  '2026-01-01',
  '2026-02-01',
  '2026-03-01',
  '2026-04-01',
];
const ACR_SUPPORTED = [
  '2026-01-01-preview',
  '2025-11-01',
  '2025-05-01-preview',
  '2025-04-01',
  '2025-03-01-preview',
  '2024-11-01-preview',
  '2023-11-01-preview',
  '2023-08-01-preview',
  '2023-07-01',
  '2023-06-01-preview',
  '2023-01-01-preview',
  '2022-12-01',
  '2022-02-01-preview',
  '2021-12-01-preview',
  '2021-09-01',
  '2021-08-01-preview',
  '2021-06-01-preview',
  '2020-11-01-preview',
  '2019-12-01-preview',
  '2019-05-01',
  '2017-10-01',
];
const AUTHZ_SUPPORTED = [
  '2022-05-01-preview',
  '2022-04-01',
  '2022-01-01-preview',
  '2021-04-01-preview',
  '2020-10-01-preview',
  '2020-08-01-preview',
  '2020-04-01-preview',
  '2020-03-01-preview',
  '2019-08-01-preview',
  '2018-09-01-preview',
  '2018-07-01',
  '2018-01-01-preview',
  '2017-10-01-preview',
  '2015-07-01',
  '2015-06-01',
  '2015-05-01-preview',
  '2014-10-01-preview',
  '2014-07-01-preview',
  '2014-04-01-preview',
];

/** Oldest first, as ARM lists supported api-versions. */
function ascending(versions: string[]): string[] {
  return [...versions].sort();
}

/** Exactly the listed api-versions (case-insensitive, as ARM compares them). */
function apiVersionSupported(apiVersion: string, supported: string[]): boolean {
  return supported.includes(apiVersion.toLowerCase());
}

export class ArmService {
  readonly state: ArmState;
  private server!: ServiceServer;
  private readonly operations = new Map<string, Operation>();
  private readonly commands = new Map<string, CommandRun>();
  private readonly pendingFailures: Array<{ kind: LroKind; error?: ArmErrorBody }> = [];
  private readonly foreignPollOrigins: Array<{ kind: LroKind; origin: string }> = [];
  /** Polls a long-running operation answers InProgress before it completes (a fleet test sets 0 to measure convergence, not latency). */
  inProgressPolls: number;

  private constructor(private readonly options: ArmServiceOptions) {
    this.state = options.state ?? armStateFor(options.scenario);
    this.inProgressPolls = options.lroInProgressPolls ?? 1;
  }

  static async start(options: ArmServiceOptions): Promise<ArmService> {
    const arm = new ArmService(options);
    arm.server = await ServiceServer.start({
      service: 'arm',
      tls: options.tls,
      log: options.log,
      faults: options.faults,
      preferredPort: options.preferredPort,
      handler: (req) => arm.handle(req),
      faultBody: (status) => ({ error: arm.faultError(status) }),
    });
    return arm;
  }

  /** `https://127.0.0.1:<port>`: the `endpoint` for the SDK clients. */
  get origin(): string {
    return this.server.origin;
  }

  get port(): number {
    return this.server.port;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Shortcut for the ACR data endpoint's `getRegistry` (see ArmState.registryNetworkState). */
  registryNetworkState(name: string): RegistryNetworkState {
    return this.state.registryNetworkState(name);
  }

  /**
   * Makes the next long-running operation of `kind` end in 'Failed' with `error` (default
   * ERRORS.operationFailed()). Cluster PUTs leave the cluster in provisioningState 'Failed'; registry
   * PATCHes change nothing; run commands finish with provisioningState 'failed' and the message as reason.
   */
  failNextOperation(kind: LroKind, error?: ArmErrorBody): void {
    this.pendingFailures.push({ kind, error });
  }

  /**
   * Makes the next long-running operation of `kind` advertise its status URL (Azure-AsyncOperation,
   * or Location for run command) on `origin` instead of ARM's own: what a tampering proxy or a
   * rogue endpoint would answer, to prove the client does not follow it with its ARM token.
   */
  pollNextOperationAt(kind: LroKind, origin: string): void {
    this.foreignPollOrigins.push({ kind, origin });
  }

  private pollOrigin(kind: Exclude<LroKind, 'any'>): string {
    const i = this.foreignPollOrigins.findIndex((f) => f.kind === kind || f.kind === 'any');
    if (i < 0) return this.origin;
    return this.foreignPollOrigins.splice(i, 1)[0].origin;
  }

  private takeFailure(kind: Exclude<LroKind, 'any'>): { error: ArmErrorBody } | undefined {
    const i = this.pendingFailures.findIndex((f) => f.kind === kind || f.kind === 'any');
    if (i < 0) return undefined;
    const [f] = this.pendingFailures.splice(i, 1);
    return { error: f.error ?? ERRORS.operationFailed() };
  }

  private faultError(status: number): ArmErrorBody {
    if (status === 429) return ERRORS.throttled(this.state.subscriptionId);
    if (status === 503) return ERRORS.serviceUnavailable();
    if (status >= 500) return ERRORS.internalServerError(this.state.subscriptionId);
    return { code: `Http${status}`, message: `Injected sandbox fault: HTTP ${status}` };
  }

  // -----------------------------------------------------------------------------------------

  private async handle(req: SandboxRequest): Promise<SandboxResponse> {
    const headers = this.commonHeaders(req);
    const note: Record<string, string> = {};
    if (req.method === 'GET' && req.path.toLowerCase() === '/metadata/endpoints')
      return { status: 200, headers, body: this.azureStackMetadata() };
    try {
      const caller = this.authenticate(req);
      note.client = caller.appId;
      const response = await this.route(req, caller, note);
      return { ...response, headers: { ...headers, ...(response.headers ?? {}) }, note: { ...note, ...(response.note ?? {}) } };
    } catch (err) {
      if (!(err instanceof ArmFailure)) throw err;
      note.error = err.body.code;
      return { status: err.status, headers: { ...headers, ...err.headers }, body: { error: err.body }, note };
    }
  }

  /**
   * What an Azure Stack Hub Resource Manager answers, unauthenticated, at
   * `<arm>/metadata/endpoints?api-version=2015-01-01`: the fields the platform's AzureRM endpoint
   * reads (microsoft/azure-pipelines-tasks-common-packages, common-npm-packages/azure-arm-rest/
   * azure-arm-endpoint.ts, _updateAzureStackData): authentication.loginEndpoint and audiences.
   * Here the login endpoint is the sandbox's Entra ID and the audience one ARM accepts.
   */
  private azureStackMetadata(): Record<string, unknown> {
    return {
      galleryEndpoint: `${this.origin}/gallery/`,
      graphEndpoint: 'https://graph.windows.net/',
      portalEndpoint: `${this.origin}/portal/`,
      authentication: { loginEndpoint: `${this.options.entra.origin}/`, audiences: ['https://management.core.windows.net/'] },
    };
  }

  private commonHeaders(req: SandboxRequest): Record<string, string> {
    const requestId = crypto.randomUUID();
    return {
      'Cache-Control': 'no-cache',
      Pragma: 'no-cache',
      Expires: '-1',
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': req.header('x-ms-correlation-request-id') ?? requestId,
      'x-ms-routing-request-id': `EASTUS:${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}:${requestId}`,
      'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
      'X-Content-Type-Options': 'nosniff',
    };
  }

  private authenticate(req: SandboxRequest): Caller {
    const entraAuthority = `${this.options.entra.origin}/${this.state.tenantId}`;
    const challenge = (description: string): Record<string, string> => ({
      'WWW-Authenticate': `Bearer authorization_uri="${entraAuthority}", error="invalid_token", error_description="${description}"`,
    });
    const header = req.header('authorization');
    if (!header)
      throw new ArmFailure(
        401,
        ERRORS.missingAuthorization(),
        challenge("The authentication failed because of missing 'Authorization' header."),
      );
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m)
      throw new ArmFailure(
        401,
        ERRORS.invalidAuthorizationFormat(),
        challenge("The authentication failed because of invalid 'Authorization' header."),
      );
    const token = m[1];
    let claims: JwtPayload;
    try {
      claims = this.options.entra.validateAccessToken(token, { audience: ARM_AUDIENCES });
    } catch (err) {
      if (!(err instanceof AccessTokenError)) throw err;
      let payload: JwtPayload = {};
      try {
        payload = decodeJwt(token).payload;
      } catch {
        // malformed: payload stays empty
      }
      switch (err.reason) {
        case 'expired':
          throw new ArmFailure(
            401,
            ERRORS.expiredToken(new Date(Number(payload.exp ?? 0) * 1000), new Date()),
            challenge('The access token expiry UTC time is earlier than current UTC time.'),
          );
        case 'audience':
          throw new ArmFailure(
            401,
            ERRORS.wrongAudience(String(payload.aud)),
            challenge('The access token has been obtained for wrong audience or resource.'),
          );
        case 'issuer':
          throw new ArmFailure(
            401,
            ERRORS.wrongIssuer(String(payload.iss), this.options.entra.issuer(this.state.tenantId), entraAuthority),
            challenge('The access token is from the wrong issuer.'),
          );
        default:
          throw new ArmFailure(401, ERRORS.invalidToken(), challenge('The access token is invalid.'));
      }
    }
    const objectId = typeof claims.oid === 'string' ? claims.oid : '';
    const appId = typeof claims.appid === 'string' ? claims.appid : typeof claims.azp === 'string' ? claims.azp : '';
    return { claims, objectId, appId };
  }

  private authorize(caller: Caller, action: string, scope: string, note: Record<string, string>): void {
    note.action = action;
    if (!authz.isAllowed(this.state, caller.objectId, action, scope, 'action')) {
      note.decision = 'denied';
      throw new ArmFailure(403, ERRORS.authorizationFailed(caller.appId, caller.objectId, action, scope));
    }
    note.decision = 'allowed';
  }

  private parsePath(req: SandboxRequest): ParsedPath {
    // SDKs send `//subscriptions/...` when a scope argument starts with '/', which ARM accepts;
    // ServiceServer collapses the repeated slashes in req.path.
    const segs = req.path
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    return { segs, lower: segs.map((s) => s.toLowerCase()) };
  }

  private requireApiVersion(req: SandboxRequest): string {
    const v = req.url.searchParams.get('api-version');
    if (!v) throw new ArmFailure(400, ERRORS.missingApiVersion());
    return v;
  }

  private async route(req: SandboxRequest, caller: Caller, note: Record<string, string>): Promise<SandboxResponse> {
    const { segs, lower } = this.parsePath(req);
    const apiVersion = this.requireApiVersion(req);

    // {scope}/providers/Microsoft.Authorization/...
    for (let i = 0; i < lower.length - 1; i++) {
      if (lower[i] === 'providers' && lower[i + 1] === 'microsoft.authorization') {
        const scope = authz.normalizeScope(`/${segs.slice(0, i).join('/')}`);
        if (!apiVersionSupported(apiVersion, AUTHZ_SUPPORTED)) {
          const type = segs[i + 2] ?? '';
          // roleAssignments: 404 InvalidResourceType; roleDefinitions: 400 NoRegisteredProviderFound with no
          // locations (permissions answered the same way: an approximation, no public sample found).
          if (lower[i + 2] === 'roleassignments')
            throw new ArmFailure(404, ERRORS.unsupportedApiVersionForType(type, 'Microsoft.Authorization', apiVersion, AUTHZ_SUPPORTED));
          throw new ArmFailure(400, ERRORS.noRegisteredProvider(this.locationFor(segs), apiVersion, type, AUTHZ_SUPPORTED, []));
        }
        if (scope !== '/') this.checkSubscription(segs, lower);
        return this.authorizationRoute(req, caller, scope, segs.slice(i + 2), lower.slice(i + 2), note);
      }
    }

    if (lower[0] !== 'subscriptions' || segs.length < 2)
      throw new ArmFailure(404, ERRORS.invalidResourceType(segs.join('/'), '', apiVersion));
    this.checkSubscription(segs, lower);
    let rg: string | undefined;
    let p = 2;
    if (lower[2] === 'resourcegroups') {
      rg = segs[3];
      if (!rg) throw new ArmFailure(404, ERRORS.invalidResourceType('resourceGroups', 'Microsoft.Resources', apiVersion));
      p = 4;
    }
    if (lower[p] !== 'providers' || !lower[p + 1])
      throw new ArmFailure(404, ERRORS.invalidResourceType(segs.slice(p).join('/'), 'Microsoft.Resources', apiVersion));
    const namespace = lower[p + 1];
    const rest = segs.slice(p + 2);
    const restLower = lower.slice(p + 2);
    const collectionScope = `/${segs.slice(0, p).join('/')}`;
    const resourceScope = `/${segs.slice(0, p + 4).join('/')}`;

    if (namespace === 'microsoft.containerservice') {
      if (
        rg === undefined &&
        restLower[0] === 'locations' &&
        (restLower[2] === 'operations' || restLower[2] === 'operationresults') &&
        rest[3]
      ) {
        return this.operationStatus(rest[3], restLower[2] === 'operationresults', 'managedClusters');
      }
      if (restLower[0] !== 'managedclusters')
        throw new ArmFailure(404, ERRORS.invalidResourceType(rest[0] ?? '', 'Microsoft.ContainerService', apiVersion));
      this.checkApiVersion(apiVersion, AKS_SUPPORTED, 'managedClusters', rg);
      if (rest.length === 1) {
        if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
        this.authorize(caller, ACTIONS.clusterRead, collectionScope, note);
        if (rg !== undefined) this.checkResourceGroup(rg);
        const clusters = this.state.clusters.filter((c) => rg === undefined || c.resourceGroup.toLowerCase() === rg.toLowerCase());
        return { status: 200, body: { value: clusters.map((c) => this.state.clusterJson(c, apiVersion)) } };
      }
      if (rg === undefined)
        throw new ArmFailure(404, ERRORS.invalidResourceType(`managedClusters/${rest[1]}`, 'Microsoft.ContainerService', apiVersion));
      return this.clusterRoute(req, caller, rg, rest[1], rest.slice(2), restLower.slice(2), resourceScope, apiVersion, note);
    }

    if (namespace === 'microsoft.containerregistry') {
      if (restLower[0] !== 'registries')
        throw new ArmFailure(404, ERRORS.invalidResourceType(rest[0] ?? '', 'Microsoft.ContainerRegistry', apiVersion));
      if (rg !== undefined && rest.length === 4 && restLower[2] === 'operationstatuses')
        return this.operationStatus(rest[3], false, 'registries');
      this.checkApiVersion(apiVersion, ACR_SUPPORTED, 'registries', rg);
      if (rest.length === 1) {
        if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
        this.authorize(caller, ACTIONS.registryRead, collectionScope, note);
        if (rg !== undefined) this.checkResourceGroup(rg);
        const registries = this.state.registries.filter((r) => rg === undefined || r.resourceGroup.toLowerCase() === rg.toLowerCase());
        return { status: 200, body: { value: registries.map((r) => this.state.registryJson(r, apiVersion)) } };
      }
      if (rg === undefined)
        throw new ArmFailure(404, ERRORS.invalidResourceType(`registries/${rest[1]}`, 'Microsoft.ContainerRegistry', apiVersion));
      return this.registryRoute(req, caller, rg, rest[1], restLower.slice(2), resourceScope, apiVersion, note);
    }

    throw new ArmFailure(404, ERRORS.invalidResourceType(rest[0] ?? '', segs[p + 1], apiVersion));
  }

  private checkSubscription(segs: string[], lower: string[]): void {
    if (lower[0] !== 'subscriptions') return;
    if ((lower[1] ?? '') !== this.state.subscriptionId.toLowerCase()) throw new ArmFailure(404, ERRORS.subscriptionNotFound(segs[1] ?? ''));
  }

  private checkResourceGroup(rg: string): void {
    if (!this.state.resourceGroupExists(rg)) throw new ArmFailure(404, ERRORS.resourceGroupNotFound(rg));
  }

  /** The location ARM names in an api-version refusal: the resource group's (its first cluster's), else eastus. */
  private locationFor(segs: string[]): string {
    const i = segs.findIndex((x) => x.toLowerCase() === 'resourcegroups');
    const rg = i >= 0 ? segs[i + 1] : undefined;
    return (rg && this.state.clusters.find((c) => c.resourceGroup.toLowerCase() === rg.toLowerCase())?.location) || 'eastus';
  }

  private checkApiVersion(apiVersion: string, supported: string[], type: string, rg: string | undefined): void {
    if (apiVersionSupported(apiVersion, supported)) return;
    const location = rg
      ? (this.state.clusters.find((c) => c.resourceGroup.toLowerCase() === rg.toLowerCase())?.location ?? 'eastus')
      : 'global';
    throw new ArmFailure(
      400,
      ERRORS.noRegisteredProvider(location, apiVersion, type, supported, [
        'East US',
        'East US 2',
        'West Europe',
        'North Europe',
        'West US 2',
        'Central US',
      ]),
    );
  }

  private lroHeaders(): Record<string, string> {
    return this.options.lroRetryAfterSeconds !== undefined ? { 'Retry-After': String(this.options.lroRetryAfterSeconds) } : {};
  }

  // -----------------------------------------------------------------------------------------
  // Managed clusters

  private async clusterRoute(
    req: SandboxRequest,
    caller: Caller,
    rg: string,
    name: string,
    sub: string[],
    subLower: string[],
    scope: string,
    apiVersion: string,
    note: Record<string, string>,
  ): Promise<SandboxResponse> {
    const find = (): ClusterRecord => {
      this.checkResourceGroup(rg);
      const c = this.state.findCluster(name, rg);
      if (!c) throw new ArmFailure(404, ERRORS.resourceNotFound('Microsoft.ContainerService/managedClusters', name, rg));
      note.cluster = c.name;
      return c;
    };
    if (sub.length === 0) {
      if (req.method === 'GET') {
        this.authorize(caller, ACTIONS.clusterRead, scope, note);
        const c = find();
        // The spec defines no ETag response header for ManagedClusters_Get; the eTag is a body field.
        return { status: 200, body: this.state.clusterJson(c, apiVersion) };
      }
      if (req.method === 'PUT') {
        this.authorize(caller, ACTIONS.clusterWrite, scope, note);
        return this.putCluster(req, rg, name, apiVersion, note);
      }
      throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
    }
    const action = subLower[0];
    if (sub.length === 1 && (action === 'listclusterusercredential' || action === 'listclusteradmincredential')) {
      if (req.method !== 'POST') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      const admin = action === 'listclusteradmincredential';
      this.authorize(caller, admin ? ACTIONS.adminCredential : ACTIONS.userCredential, scope, note);
      return this.credentials(req, find(), admin);
    }
    if (sub.length === 1 && action === 'runcommand') {
      if (req.method !== 'POST') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      this.authorize(caller, ACTIONS.runCommand, scope, note);
      return this.startRunCommand(req, find(), apiVersion);
    }
    if (sub.length === 2 && action === 'commandresults') {
      if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      this.authorize(caller, ACTIONS.commandResults, scope, note);
      const c = find();
      return this.commandResult(c, sub[1], apiVersion);
    }
    throw new ArmFailure(404, ERRORS.invalidResourceType(`managedClusters/${sub[0]}`, 'Microsoft.ContainerService', apiVersion));
  }

  private clusterHasOperation(c: ClusterRecord): boolean {
    return [...this.operations.values()].some((o) => o.kind === 'managedClusters' && o.status === 'InProgress' && o.resourceId === c.id);
  }

  private putCluster(req: SandboxRequest, rg: string, name: string, apiVersion: string, note: Record<string, string>): SandboxResponse {
    this.checkResourceGroup(rg);
    const c = this.state.findCluster(name, rg);
    if (!c) throw new ArmFailure(400, ERRORS.clusterCreateNotSimulated(name));
    const ifNoneMatch = req.header('if-none-match');
    const ifMatch = req.header('if-match');
    if (ifMatch !== undefined) note.ifMatch = ifMatch;
    // Preconditions exist only at api-versions whose PUT defines them (aksPutHonoursIfMatch).
    if (aksPutHonoursIfMatch(apiVersion)) {
      if (ifNoneMatch && ifNoneMatch.trim() === '*') throw new ArmFailure(412, ERRORS.resourceExists(c.name));
      if (ifMatch !== undefined && ifMatch.trim() !== '*' && stripEtag(ifMatch) !== c.eTag)
        throw new ArmFailure(412, ERRORS.preconditionFailed(ifMatch, c.name));
    }
    if (this.clusterHasOperation(c)) throw new ArmFailure(409, ERRORS.operationInProgress());

    const body = parseJsonBody(req);
    const properties = asRecord(body.properties);
    const access = asRecord(properties.apiServerAccessProfile);
    const enablePrivate = access.enablePrivateCluster === true;
    if (enablePrivate !== c.enablePrivateCluster)
      throw new ArmFailure(400, ERRORS.propertyChangeNotAllowed('apiServerAccessProfile.enablePrivateCluster'));
    const ranges = Array.isArray(access.authorizedIPRanges) ? access.authorizedIPRanges.map(String) : [];
    for (const r of ranges) if (!isIpv4OrCidr(r)) throw new ArmFailure(400, ERRORS.invalidAuthorizedIpRange(r));
    const aadProfile = properties.aadProfile === undefined ? undefined : asRecord(properties.aadProfile);
    const change = {
      authorizedIpRanges: ranges,
      disableRunCommand: access.disableRunCommand === true,
      enablePrivateClusterPublicFQDN: access.enablePrivateClusterPublicFQDN === true,
      disableLocalAccounts: properties.disableLocalAccounts === true,
      tags: Object.fromEntries(Object.entries(asRecord(body.tags)).map(([k, v]) => [k, String(v)])),
      enableAzureRBAC: aadProfile && typeof aadProfile.enableAzureRBAC === 'boolean' ? aadProfile.enableAzureRBAC : undefined,
      adminGroupObjectIDs:
        aadProfile && Array.isArray(aadProfile.adminGroupObjectIDs) ? aadProfile.adminGroupObjectIDs.map(String) : undefined,
    };
    c.provisioningState = 'Updating';
    const op = this.createOperation(
      'managedClusters',
      c.id,
      () => {
        this.state.updateCluster(c.name, change);
        c.provisioningState = 'Succeeded';
      },
      () => {
        c.provisioningState = 'Failed';
      },
    );
    const asyncUrl = `${this.pollOrigin('managedClusters')}/subscriptions/${c.subscriptionId}/providers/Microsoft.ContainerService/locations/${c.location}/operations/${op.id}?api-version=2016-03-30`;
    return {
      status: 200,
      headers: { 'Azure-AsyncOperation': asyncUrl, ...this.lroHeaders() },
      body: this.state.clusterJson(c, apiVersion),
      note: { operation: op.id },
    };
  }

  private credentials(req: SandboxRequest, c: ClusterRecord, admin: boolean): SandboxResponse {
    if (admin && c.disableLocalAccounts) throw new ArmFailure(400, ERRORS.localAccountsDisabled());
    const serverFqdn = (req.url.searchParams.get('server-fqdn') ?? '').toLowerCase();
    let kind: 'private' | 'public';
    if (serverFqdn === 'public' && c.fqdn) kind = 'public';
    else kind = c.privateFqdn ? 'private' : 'public';
    const fqdn = (kind === 'private' ? c.privateFqdn : c.fqdn)!;
    const endpoint = this.options.clusterEndpoint?.(c.name, { fqdn, kind }) ?? {
      server: `https://${fqdn}:443`,
      caPem: this.options.ca.certPem,
    };
    const format = (req.url.searchParams.get('format') ?? 'exec').toLowerCase();
    let user: KubeUser;
    if (admin) {
      const token = endpoint.staticAdminToken ?? c.localAccounts.adminToken;
      user = { kind: 'token', token };
      this.options.secrets.add(token);
    } else if (c.aad) {
      user = format === 'azure' ? { kind: 'azure', tenantId: c.aad.tenantID } : { kind: 'exec', tenantId: c.aad.tenantID };
    } else {
      const token = endpoint.staticUserToken ?? c.localAccounts.userToken;
      user = { kind: 'token', token };
      this.options.secrets.add(token);
    }
    const yaml = kubeconfigYaml({
      clusterName: c.name,
      contextName: admin ? `${c.name}-admin` : c.name,
      userName: `${admin ? 'clusterAdmin' : 'clusterUser'}_${c.resourceGroup}_${c.name}`,
      server: endpoint.server,
      caPem: endpoint.caPem,
      user,
    });
    return {
      status: 200,
      body: { kubeconfigs: [{ name: admin ? 'clusterAdmin' : 'clusterUser', value: Buffer.from(yaml, 'utf8').toString('base64') }] },
      note: { credential: admin ? 'clusterAdmin' : 'clusterUser', server: endpoint.server },
    };
  }

  private startRunCommand(req: SandboxRequest, c: ClusterRecord, apiVersion: string): SandboxResponse {
    // Resource Manager's request body limit, 4 MB (Azure/azure-resource-manager-rpc v1.0
    // common-api-details.md "Max Request Body Size"); run command's files travel in the body
    // (RunCommandRequest.context), so a large --file folder is refused (Azure/azure-cli#22870).
    if (req.body.length > MAX_ARM_REQUEST_BYTES) throw new ArmFailure(413, ERRORS.requestTooLarge(req.body.length));
    if (c.disableRunCommand) throw new ArmFailure(400, ERRORS.runCommandDisabled());
    const body = parseJsonBody(req);
    if (typeof body.command !== 'string' || body.command.trim() === '') throw new ArmFailure(400, ERRORS.runCommandMissingCommand());
    const request: RunCommandRequest = {
      command: body.command,
      context: typeof body.context === 'string' && body.context !== '' ? body.context : undefined,
      clusterToken: typeof body.clusterToken === 'string' && body.clusterToken !== '' ? body.clusterToken : undefined,
    };
    if (request.clusterToken) this.options.secrets.add(request.clusterToken);
    const run: CommandRun = {
      id: crypto.randomBytes(16).toString('hex'),
      cluster: c,
      startedAt: new Date(),
      done: false,
      pollsLeft: this.inProgressPolls,
    };
    this.commands.set(run.id, run);
    const finish = (state: 'succeeded' | 'failed', exitCode: number | undefined, logs: string, reason?: string): void => {
      run.done = true;
      run.finishedAt = new Date();
      run.provisioningState = state;
      run.exitCode = exitCode;
      run.logs = logs;
      run.reason = reason;
    };
    const failure = this.takeFailure('runCommand');
    if (failure) {
      finish('failed', undefined, '', failure.error.message);
    } else if (!this.options.runCommand) {
      finish('failed', undefined, '', 'The sandbox ARM service has no runCommand executor wired in.');
    } else {
      const runner = this.options.runCommand;
      void Promise.resolve()
        .then(() => runner(c.name, request))
        .then(
          (out) => finish('succeeded', out.exitCode, out.logs),
          (err: unknown) => finish('failed', undefined, '', err instanceof Error ? err.message : String(err)),
        );
    }
    return {
      status: 202,
      headers: { Location: this.commandResultUrl(c, run.id, apiVersion, this.pollOrigin('runCommand')), ...this.lroHeaders() },
      note: { command: run.id, clusterToken: request.clusterToken ? 'sent' : 'none' },
    };
  }

  private commandResultUrl(c: ClusterRecord, id: string, apiVersion: string, origin = this.origin): string {
    return `${origin}/subscriptions/${c.subscriptionId}/resourceGroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}/commandResults/${id}?api-version=${apiVersion}`;
  }

  private commandResult(c: ClusterRecord, id: string, apiVersion: string): SandboxResponse {
    const run = this.commands.get(id.toLowerCase());
    if (!run || run.cluster !== c)
      throw new ArmFailure(
        404,
        ERRORS.resourceNotFound('Microsoft.ContainerService/managedClusters/commandResults', `${c.name}/${id}`, c.resourceGroup),
      );
    if (!run.done || run.pollsLeft > 0) {
      if (run.pollsLeft > 0) run.pollsLeft--;
      return { status: 202, headers: { Location: this.commandResultUrl(c, run.id, apiVersion), ...this.lroHeaders() } };
    }
    // A command that ran is `succeeded` with its exitCode and logs, whatever the exit code; one that
    // never ran is `failed` with a reason (azure-rest-api-specs containerservice aks/stable/2024-09-01
    // examples/RunCommandRequest.json, RunCommandResultFailed.json; az CLI's _print_command_result).
    const properties: Record<string, unknown> = {
      provisioningState: run.provisioningState,
      startedAt: run.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      finishedAt: run.finishedAt!.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    if (run.exitCode !== undefined) properties.exitCode = run.exitCode;
    properties.logs = run.logs ?? '';
    if (run.reason !== undefined) properties.reason = run.reason;
    return { status: 200, body: { id: run.id, properties }, note: { command: run.id, result: String(run.provisioningState) } };
  }

  // -----------------------------------------------------------------------------------------
  // Registries

  private registryRoute(
    req: SandboxRequest,
    caller: Caller,
    rg: string,
    name: string,
    subLower: string[],
    scope: string,
    apiVersion: string,
    note: Record<string, string>,
  ): SandboxResponse {
    const find = (): RegistryRecord => {
      this.checkResourceGroup(rg);
      const r = this.state.findRegistry(name, rg);
      if (!r) throw new ArmFailure(404, ERRORS.resourceNotFound('Microsoft.ContainerRegistry/registries', name, rg));
      note.registry = r.name;
      return r;
    };
    if (subLower.length === 0) {
      if (req.method === 'GET') {
        this.authorize(caller, ACTIONS.registryRead, scope, note);
        return { status: 200, body: this.state.registryJson(find(), apiVersion) };
      }
      if (req.method === 'PATCH') {
        this.authorize(caller, ACTIONS.registryWrite, scope, note);
        return this.patchRegistry(req, find(), apiVersion);
      }
      throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
    }
    if (subLower.length === 1 && subLower[0] === 'listusages') {
      if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      this.authorize(caller, ACTIONS.registryUsages, scope, note);
      return { status: 200, body: { value: this.state.registryUsages(find()) } };
    }
    throw new ArmFailure(404, ERRORS.invalidResourceType(`registries/${subLower[0]}`, 'Microsoft.ContainerRegistry', apiVersion));
  }

  private patchRegistry(req: SandboxRequest, r: RegistryRecord, apiVersion: string): SandboxResponse {
    const body = parseJsonBody(req);
    const properties = asRecord(body.properties);
    const next: RegistryNetwork = structuredClone(r.network);
    const mode = this.options.acrNetworkRuleSetPatch ?? 'replace';
    const sku = body.sku !== undefined ? String(asRecord(body.sku).name ?? r.sku) : r.sku;
    if (!['Basic', 'Standard', 'Premium'].includes(sku)) throw new ArmFailure(400, ERRORS.invalidRequestContent(`sku.name '${sku}'`));
    if (properties.networkRuleSet !== undefined && properties.networkRuleSet !== null) {
      if (sku !== 'Premium') throw new ArmFailure(400, ERRORS.networkRulesNeedPremium());
      const set = asRecord(properties.networkRuleSet);
      const vnetKey = acrVirtualNetworkRuleKey(apiVersion);
      const defaultAction = set.defaultAction === undefined ? (mode === 'merge' ? next.defaultAction : 'Allow') : String(set.defaultAction);
      if (defaultAction !== 'Allow' && defaultAction !== 'Deny')
        throw new ArmFailure(400, ERRORS.invalidRequestContent(`networkRuleSet.defaultAction '${defaultAction}'`));
      next.defaultAction = defaultAction;
      if (Array.isArray(set.ipRules)) {
        next.ipRules = set.ipRules.map((rule) => String(asRecord(rule).value ?? ''));
      } else if (mode === 'replace') {
        next.ipRules = [];
      }
      for (const value of next.ipRules) if (!isIpv4OrCidr(value)) throw new ArmFailure(400, ERRORS.invalidIpRule(value));
      if (next.ipRules.length > r.ipRuleLimit) throw new ArmFailure(400, ERRORS.ipRuleQuotaExceeded(r.ipRuleLimit));
      // virtualNetworkRules exist only in some api-versions' model; elsewhere the RP never sees them.
      const sentVnet = vnetKey && Array.isArray(set.virtualNetworkRules) ? set.virtualNetworkRules : undefined;
      if (sentVnet) {
        next.virtualNetworkRules = sentVnet
          .map((rule) => {
            const rec = asRecord(rule);
            return String(rec[vnetKey!] ?? rec.id ?? rec.virtualNetworkSubnetResourceId ?? '');
          })
          .filter((id) => id !== '');
      } else if (mode === 'replace') {
        next.virtualNetworkRules = [];
      }
    }
    // Fields the api-version's update model does not have never reach the resource provider.
    const legacy = acrLegacyRegistryModel(apiVersion);
    if (properties.publicNetworkAccess !== undefined && !legacy) {
      const v = String(properties.publicNetworkAccess);
      if (v !== 'Enabled' && v !== 'Disabled') throw new ArmFailure(400, ERRORS.invalidRequestContent(`publicNetworkAccess '${v}'`));
      next.publicNetworkAccess = v;
    }
    if (properties.networkRuleBypassOptions !== undefined && !legacy) {
      const v = String(properties.networkRuleBypassOptions);
      if (v !== 'AzureServices' && v !== 'None') throw new ArmFailure(400, ERRORS.invalidRequestContent(`networkRuleBypassOptions '${v}'`));
      next.networkRuleBypassOptions = v;
    }
    const tags =
      body.tags === undefined ? undefined : Object.fromEntries(Object.entries(asRecord(body.tags)).map(([k, v]) => [k, String(v)]));
    const adminUserEnabled = typeof properties.adminUserEnabled === 'boolean' ? properties.adminUserEnabled : undefined;
    const dataEndpointEnabled = typeof properties.dataEndpointEnabled === 'boolean' && !legacy ? properties.dataEndpointEnabled : undefined;
    const anonymousPullEnabled =
      typeof properties.anonymousPullEnabled === 'boolean' && !legacy ? properties.anonymousPullEnabled : undefined;

    r.provisioningState = 'Updating';
    const op = this.createOperation(
      'registries',
      r.id,
      () => {
        r.sku = sku as RegistryRecord['sku'];
        if (tags !== undefined) r.tags = tags;
        if (adminUserEnabled !== undefined) r.adminUserEnabled = adminUserEnabled;
        if (dataEndpointEnabled !== undefined) r.dataEndpointEnabled = dataEndpointEnabled;
        if (anonymousPullEnabled !== undefined) r.anonymousPullEnabled = anonymousPullEnabled;
        this.state.setRegistryNetwork(r.name, next);
        r.provisioningState = 'Succeeded';
      },
      () => {
        r.provisioningState = 'Succeeded';
      },
    );
    const asyncUrl = `${this.pollOrigin('registries')}/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${r.name}/operationStatuses/registries-${op.id}?api-version=${apiVersion}`;
    return {
      status: 201,
      headers: { 'Azure-AsyncOperation': asyncUrl, ...this.lroHeaders() },
      body: this.state.registryJson(r, apiVersion),
      note: { operation: op.id },
    };
  }

  // -----------------------------------------------------------------------------------------
  // Long-running operations

  private createOperation(kind: Exclude<LroKind, 'any'>, resourceId: string, apply: () => void, onFailed: () => void): Operation {
    const failure = this.takeFailure(kind);
    const op: Operation = {
      id: crypto.randomUUID(),
      kind,
      resourceId,
      startTime: new Date(),
      status: 'InProgress',
      pollsLeft: this.inProgressPolls,
      error: failure?.error,
      fail: failure !== undefined,
      apply,
      onFailed,
    };
    this.operations.set(op.id, op);
    return op;
  }

  private operationStatus(rawId: string, resultStyle: boolean, kind: 'managedClusters' | 'registries'): SandboxResponse {
    const id = rawId.replace(/^registries-/i, '').toLowerCase();
    const op = this.operations.get(id);
    if (!op || op.kind !== kind) throw new ArmFailure(404, { code: 'NotFound', message: `Operation '${rawId}' was not found.` });
    if (op.status === 'InProgress') {
      if (op.pollsLeft > 0) {
        op.pollsLeft--;
      } else {
        op.endTime = new Date();
        if (op.fail) {
          op.status = 'Failed';
          op.onFailed();
        } else {
          op.status = 'Succeeded';
          op.apply();
        }
      }
    }
    if (resultStyle) {
      if (op.status === 'InProgress') return { status: 202, headers: this.lroHeaders() };
      if (op.status === 'Failed') return { status: 200, body: { error: op.error } };
      return { status: 204 };
    }
    const body: Record<string, unknown> = {
      name: kind === 'registries' ? `registries-${op.id}` : op.id,
      status: op.status,
      startTime: op.startTime.toISOString(),
    };
    if (kind === 'registries') body.id = `${op.resourceId}/operationStatuses/registries-${op.id}`;
    if (op.endTime) body.endTime = op.endTime.toISOString();
    if (op.status === 'Failed') body.error = op.error;
    return {
      status: 200,
      headers: op.status === 'InProgress' ? this.lroHeaders() : {},
      body,
      note: { operation: op.id, status: op.status },
    };
  }

  // -----------------------------------------------------------------------------------------
  // Microsoft.Authorization

  private authorizationRoute(
    req: SandboxRequest,
    caller: Caller,
    scope: string,
    rest: string[],
    restLower: string[],
    note: Record<string, string>,
  ): SandboxResponse {
    const what = restLower[0];
    if (what === 'permissions' && rest.length === 1) {
      if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      this.checkScopeResourceGroup(scope);
      note.scope = scope;
      const apiVersion = req.url.searchParams.get('api-version') ?? '';
      return {
        status: 200,
        body: { value: authz.permissionsAt(this.state, caller.objectId, scope).map((p) => permissionAt(p, apiVersion)) },
      };
    }
    if (what === 'roleassignments') {
      if (rest.length === 1) {
        if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
        this.authorize(caller, ACTIONS.roleAssignmentsRead, scope, note);
        return { status: 200, body: { value: this.listRoleAssignments(scope, req.url.searchParams.get('$filter')) } };
      }
      if (rest.length === 2) return this.roleAssignment(req, caller, scope, rest[1], note);
    }
    if (what === 'roledefinitions') {
      if (req.method !== 'GET') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
      this.authorize(caller, ACTIONS.roleDefinitionsRead, scope, note);
      if (rest.length === 1) {
        const filter = req.url.searchParams.get('$filter');
        let defs = this.state.roleDefinitions;
        if (filter) {
          const byName = /^\s*roleName\s+eq\s+'(.*)'\s*$/i.exec(filter);
          const byType = /^\s*type\s+eq\s+'(BuiltInRole|CustomRole)'\s*$/i.exec(filter);
          if (byName) defs = defs.filter((d) => d.roleName.toLowerCase() === byName[1].replace(/''/g, "'").toLowerCase());
          else if (byType) defs = defs.filter((d) => d.type.toLowerCase() === byType[1].toLowerCase());
          else
            throw new ArmFailure(400, {
              code: 'UnsupportedQuery',
              message: `The filter '${filter}' is not supported. Supported filters are 'roleName eq '{value}'' and 'type eq 'BuiltInRole|CustomRole''.`,
            });
        }
        return {
          status: 200,
          body: {
            value: defs.map((d) =>
              roleDefinitionAt(this.state.roleDefinitionJson(d, scope), req.url.searchParams.get('api-version') ?? ''),
            ),
          },
        };
      }
      if (rest.length === 2) {
        const d = this.state.roleDefinitions.find((x) => x.id === rest[1].toLowerCase());
        if (!d) throw new ArmFailure(404, ERRORS.roleDefinitionDoesNotExist(rest[1]));
        return {
          status: 200,
          body: roleDefinitionAt(this.state.roleDefinitionJson(d, scope), req.url.searchParams.get('api-version') ?? ''),
        };
      }
    }
    throw new ArmFailure(
      404,
      ERRORS.invalidResourceType(rest.join('/'), 'Microsoft.Authorization', req.url.searchParams.get('api-version') ?? ''),
    );
  }

  private checkScopeResourceGroup(scope: string): void {
    const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(scope);
    if (m) this.checkResourceGroup(m[1]);
  }

  private listRoleAssignments(scope: string, filter: string | null): unknown[] {
    let atScopeOnly = false;
    let principalFilter: ((principalId: string) => boolean) | undefined;
    if (filter) {
      for (const clause of filter
        .split(/\s+and\s+/i)
        .map((c) => c.trim())
        .filter(Boolean)) {
        let m: RegExpExecArray | null;
        if (/^atScope\(\)$/i.test(clause)) {
          atScopeOnly = true;
        } else if ((m = /^assignedTo\('([^']+)'\)$/i.exec(clause))) {
          const ids = authz.principalIdentities(this.state, m[1]);
          principalFilter = (p) => ids.has(p.toLowerCase());
        } else if ((m = /^principalId\s+eq\s+'([^']+)'$/i.exec(clause))) {
          const id = m[1].toLowerCase();
          principalFilter = (p) => p.toLowerCase() === id;
        } else {
          throw new ArmFailure(400, ERRORS.unsupportedFilter(filter));
        }
      }
    }
    return this.state.roleAssignments.filter((a) => {
      const above = authz.scopeCovers(a.properties.scope, scope);
      const below = authz.scopeCovers(scope, a.properties.scope);
      if (atScopeOnly ? !above : !(above || below)) return false;
      return principalFilter ? principalFilter(a.properties.principalId) : true;
    });
  }

  private roleAssignment(req: SandboxRequest, caller: Caller, scope: string, name: string, note: Record<string, string>): SandboxResponse {
    const existing = this.state.roleAssignments.find(
      (a) => a.name === name.toLowerCase() && a.properties.scope.toLowerCase() === scope.toLowerCase(),
    );
    if (req.method === 'GET') {
      this.authorize(caller, ACTIONS.roleAssignmentsRead, scope, note);
      if (!existing) throw new ArmFailure(404, { code: 'RoleAssignmentNotFound', message: `The role assignment '${name}' is not found.` });
      return { status: 200, body: existing };
    }
    if (req.method === 'DELETE') {
      this.authorize(caller, ACTIONS.roleAssignmentsDelete, scope, note);
      if (!existing) return { status: 204 };
      this.state.roleAssignments.splice(this.state.roleAssignments.indexOf(existing), 1);
      return { status: 200, body: existing };
    }
    if (req.method !== 'PUT') throw new ArmFailure(405, ERRORS.methodNotAllowed(req.method));
    this.authorize(caller, ACTIONS.roleAssignmentsWrite, scope, note);
    if (!isGuid(name)) throw new ArmFailure(400, ERRORS.invalidRoleAssignmentId(name));
    const body = parseJsonBody(req);
    const props = asRecord(body.properties);
    const roleDefinitionId = String(props.roleDefinitionId ?? '');
    const principalId = String(props.principalId ?? '');
    const guid = authz.roleDefinitionGuid(roleDefinitionId);
    const definition = this.state.roleDefinitions.find((d) => d.id === guid);
    if (!definition) throw new ArmFailure(400, ERRORS.roleDefinitionDoesNotExist(guid));
    const declaredType =
      typeof props.principalType === 'string' ? (props.principalType as 'ServicePrincipal' | 'Group' | 'User') : undefined;
    if (!isGuid(principalId) || (!this.state.principalTypeOf(principalId) && !declaredType))
      throw new ArmFailure(400, ERRORS.principalNotFound(principalId, this.state.tenantId));
    if (existing) {
      const same =
        existing.properties.principalId.toLowerCase() === principalId.toLowerCase() &&
        authz.roleDefinitionGuid(existing.properties.roleDefinitionId) === guid;
      if (!same) throw new ArmFailure(400, ERRORS.roleAssignmentUpdateNotPermitted());
      return { status: 201, body: existing };
    }
    const duplicate = this.state.roleAssignments.find(
      (a) =>
        a.properties.scope.toLowerCase() === scope.toLowerCase() &&
        a.properties.principalId.toLowerCase() === principalId.toLowerCase() &&
        authz.roleDefinitionGuid(a.properties.roleDefinitionId) === guid,
    );
    if (duplicate) throw new ArmFailure(409, ERRORS.roleAssignmentExists());
    const created = this.state.addRoleAssignment({
      principalId,
      roleDefinitionGuid: guid,
      scope,
      name,
      principalType: declaredType,
      createdBy: caller.objectId,
    });
    return { status: 201, body: created };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

type KubeUser = { kind: 'exec'; tenantId: string } | { kind: 'azure'; tenantId: string } | { kind: 'token'; token: string };

/** The kubeconfig AKS returns, in the Go YAML style of the real service. */
export function kubeconfigYaml(input: {
  clusterName: string;
  contextName: string;
  userName: string;
  server: string;
  caPem: string;
  user: KubeUser;
}): string {
  const lines = [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(input.caPem, 'utf8').toString('base64')}`,
    `    server: ${input.server}`,
    `  name: ${input.clusterName}`,
    'contexts:',
    '- context:',
    `    cluster: ${input.clusterName}`,
    `    user: ${input.userName}`,
    `  name: ${input.contextName}`,
    `current-context: ${input.contextName}`,
    'kind: Config',
    'preferences: {}',
    'users:',
    `- name: ${input.userName}`,
    '  user:',
  ];
  const u = input.user;
  if (u.kind === 'exec') {
    lines.push(
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1beta1',
      '      args:',
      '      - get-token',
      '      - --environment',
      '      - AzurePublicCloud',
      '      - --server-id',
      `      - ${AKS_SERVER_APP_ID}`,
      '      - --client-id',
      `      - ${AKS_KUBELOGIN_CLIENT_ID}`,
      '      - --tenant-id',
      `      - ${u.tenantId}`,
      '      - --login',
      '      - devicecode',
      '      command: kubelogin',
      '      env: null',
      '      installHint: |2',
      '',
      '        kubelogin is not installed which is required to connect to AAD enabled cluster.',
      '',
      '        To learn more, please go to https://aka.ms/aks/kubelogin',
      '      provideClusterInfo: false',
    );
  } else if (u.kind === 'azure') {
    lines.push(
      '    auth-provider:',
      '      config:',
      `        apiserver-id: ${AKS_SERVER_APP_ID}`,
      `        client-id: ${AKS_KUBELOGIN_CLIENT_ID}`,
      "        config-mode: '1'",
      '        environment: AzurePublicCloud',
      `        tenant-id: ${u.tenantId}`,
      '      name: azure',
    );
  } else {
    lines.push(`    token: ${u.token}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * dataActions / notDataActions exist from Microsoft.Authorization 2018-01-01-preview: before it a
 * permission is actions and notActions only ("Assignments to roles with DataActions and
 * NotDataActions are not supported on API version '2015-07-01'. The minimum required API version for
 * this operations is '2018-01-01-preview'.", UnsupportedApiVersionForRoleDefinitionHasDataActions,
 * Azure/azure-sdk-for-go#1895).
 */
function authzHasDataActions(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) >= '2018-01-01';
}

function permissionAt<T extends { actions: string[]; notActions: string[]; dataActions?: string[]; notDataActions?: string[] }>(
  p: T,
  apiVersion: string,
): Partial<T> {
  if (authzHasDataActions(apiVersion)) return p;
  return { actions: p.actions, notActions: p.notActions } as Partial<T>;
}

function roleDefinitionAt(json: Record<string, unknown>, apiVersion: string): Record<string, unknown> {
  if (authzHasDataActions(apiVersion)) return json;
  const properties = asRecord(json.properties);
  const permissions = Array.isArray(properties.permissions)
    ? (properties.permissions as Array<{ actions: string[]; notActions: string[] }>)
    : [];
  return { ...json, properties: { ...properties, permissions: permissions.map((p) => permissionAt(p, apiVersion)) } };
}

function parseJsonBody(req: SandboxRequest): Record<string, unknown> {
  const text = req.text();
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return asRecord(parsed);
  } catch (err) {
    throw new ArmFailure(400, ERRORS.invalidRequestContent((err as Error).message));
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function stripEtag(value: string): string {
  return value
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

function isIpv4OrCidr(value: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(value.trim());
  if (!m) return false;
  if (m.slice(1, 5).some((o) => Number(o) > 255)) return false;
  return m[5] === undefined || Number(m[5]) <= 32;
}

/** "M/D/YYYY h:mm:ss AM" (UTC), as ARM prints token times. */
function usTime(date: Date): string {
  const h = date.getUTCHours();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}
