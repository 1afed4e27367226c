/**
 * Scenario model of the sandbox: what a test declares (`Scenario`) and what the sandbox
 * resolves it to (`ResolvedScenario`), with generated GUIDs, secrets and certificates.
 */
import * as crypto from 'node:crypto';
import type { AzureScenario } from './arm/azureResources';
import type { IssuedCertificate } from './testCa';

export interface FederatedCredentialSpec {
  /** Default: the sandbox's Azure DevOps OIDC issuer (`sandbox.oidcIssuer`). */
  issuer?: string;
  /** Compared with the presented token's `sub` exactly (case-sensitive), as Entra does. */
  subject: string;
  /** Default: ['api://AzureADTokenExchange']. */
  audiences?: string[];
  name?: string;
}

export interface PrincipalSpec {
  /** Scenario-local name used by `sandbox.principal(name)` and `ServiceConnectionSpec.principal`. */
  name: string;
  clientId?: string;
  objectId?: string;
  /** Client secret. Generated for every principal that is not a managed identity unless given. */
  secret?: string;
  /** Registers a generated RSA client certificate as a credential of the application. */
  certificate?: boolean;
  federated?: FederatedCredentialSpec[];
  /** The principal is a managed identity served by IMDS. */
  managedIdentity?: boolean;
  /**
   * For managed identities: IMDS uses this identity when the request names none (system-assigned).
   * Without a system-assigned identity, a request naming none works only when exactly one managed identity exists.
   */
  systemAssigned?: boolean;
  /** Managed identity ARM resource id (IMDS `msi_res_id`, token claim `xms_mirid`). Generated when omitted. */
  resourceId?: string;
}

export interface ServiceConnectionSpec {
  id: string;
  /** Name as configured in Azure DevOps: the OIDC subject is `sc://<org>/<project>/<name>` with this exact case. */
  name: string;
  /** `PrincipalSpec.name` of the identity behind the connection. */
  principal: string;
}

export interface AzureDevOpsSpec {
  organization?: string;
  organizationId?: string;
  projectId?: string;
  projectName?: string;
  planId?: string;
  jobId?: string;
  systemAccessToken?: string;
}

export interface Scenario extends AzureScenario {
  tenantId?: string;
  /** Subscription used in generated managed identity resource ids (later: ARM). */
  subscriptionId?: string;
  principals: PrincipalSpec[];
  serviceConnections?: ServiceConnectionSpec[];
  azureDevOps?: AzureDevOpsSpec;
  /** Lifetime of Entra/IMDS access tokens. Default 3600. */
  tokenLifetimeSeconds?: number;
  /** Lifetime of Azure DevOps OIDC tokens. Default 600. */
  oidcTokenLifetimeSeconds?: number;
}

export interface ResolvedFederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface ResolvedPrincipal {
  name: string;
  clientId: string;
  objectId: string;
  tenantId: string;
  secret?: string;
  managedIdentity: boolean;
  systemAssigned: boolean;
  resourceId?: string;
  /** Certificate + private key PEM (what a certificate service connection stores). */
  certificatePem?: string;
  /** Upper-case hex SHA-1 thumbprint of the certificate. */
  certificateThumbprint?: string;
  certificateThumbprintSha256?: string;
  certificate?: IssuedCertificate;
  federated: ResolvedFederatedCredential[];
}

export interface ResolvedServiceConnection {
  id: string;
  name: string;
  principal: string;
  clientId: string;
  tenantId: string;
  /** `sc://<organization>/<projectName>/<name>`: the subject of OIDC tokens issued for this connection. */
  subject: string;
}

export interface ResolvedAzureDevOps {
  organization: string;
  organizationId: string;
  projectId: string;
  projectName: string;
  planId: string;
  jobId: string;
  /** Hub of the plan in the OIDC request URI (`build` for YAML/classic build pipelines). */
  hubName: string;
  systemAccessToken: string;
}

/**
 * The resolved scenario. Services read the lifetimes on every request, so a test may change
 * `sandbox.scenario.oidcTokenLifetimeSeconds` / `tokenLifetimeSeconds` while the sandbox runs.
 */
export interface ResolvedScenario {
  tenantId: string;
  subscriptionId: string;
  principals: ResolvedPrincipal[];
  serviceConnections: ResolvedServiceConnection[];
  azureDevOps: ResolvedAzureDevOps;
  tokenLifetimeSeconds: number;
  oidcTokenLifetimeSeconds: number;
  /**
   * The Azure side of the scenario as declared (groups, roles, assignments, clusters, registries,
   * network), copied. The ARM service resolves it into live state (`armState.ts`, `armStateFor`).
   */
  azure: AzureScenario;
}

export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** A random client secret shaped like the ones Entra generates (`xxx8Q~` + 34 characters). */
export function generateClientSecret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-';
  const pick = (n: number): string => Array.from(crypto.randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
  return `${pick(3)}8Q~${pick(34)}`;
}

/**
 * First resolution pass: everything except certificates, the system access token and issuer
 * defaults, which need keys and listening ports. Throws on inconsistent scenarios.
 */
export function resolveScenario(scenario: Scenario): ResolvedScenario {
  const tenantId = scenario.tenantId ?? crypto.randomUUID();
  const subscriptionId = scenario.subscriptionId ?? crypto.randomUUID();
  const names = new Set<string>();
  const clientIds = new Set<string>();
  const principals = scenario.principals.map((p): ResolvedPrincipal => {
    if (!p.name) throw new Error('Every principal needs a name');
    if (names.has(p.name)) throw new Error(`Duplicate principal name '${p.name}'`);
    names.add(p.name);
    const clientId = p.clientId ?? crypto.randomUUID();
    if (clientIds.has(clientId.toLowerCase())) throw new Error(`Duplicate clientId '${clientId}'`);
    clientIds.add(clientId.toLowerCase());
    const managedIdentity = p.managedIdentity ?? false;
    return {
      name: p.name,
      clientId,
      objectId: p.objectId ?? crypto.randomUUID(),
      tenantId,
      secret: p.secret ?? (managedIdentity ? undefined : generateClientSecret()),
      managedIdentity,
      systemAssigned: managedIdentity && (p.systemAssigned ?? false),
      resourceId: managedIdentity
        ? (p.resourceId ??
          `/subscriptions/${subscriptionId}/resourcegroups/sandbox-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${p.name}`)
        : undefined,
      federated: (p.federated ?? []).map((f, i) => ({
        name: f.name ?? `federated-${i + 1}`,
        issuer: f.issuer ?? '', // filled with the sandbox issuer once the OIDC server listens
        subject: f.subject,
        audiences: f.audiences ?? [TOKEN_EXCHANGE_AUDIENCE],
      })),
    };
  });
  if (principals.filter((p) => p.systemAssigned).length > 1) throw new Error('At most one system-assigned managed identity');

  const ado = scenario.azureDevOps ?? {};
  const azureDevOps: ResolvedAzureDevOps = {
    organization: ado.organization ?? 'sandbox-org',
    organizationId: ado.organizationId ?? crypto.randomUUID(),
    projectId: ado.projectId ?? crypto.randomUUID(),
    projectName: ado.projectName ?? 'sandbox-project',
    planId: ado.planId ?? crypto.randomUUID(),
    jobId: ado.jobId ?? crypto.randomUUID(),
    hubName: 'build',
    systemAccessToken: ado.systemAccessToken ?? '', // generated (as a signed JWT) once the OIDC key exists
  };

  const connectionIds = new Set<string>();
  const serviceConnections = (scenario.serviceConnections ?? []).map((c): ResolvedServiceConnection => {
    const principal = principals.find((p) => p.name === c.principal);
    if (!principal) throw new Error(`Service connection '${c.name}' references unknown principal '${c.principal}'`);
    if (connectionIds.has(c.id.toLowerCase())) throw new Error(`Duplicate service connection id '${c.id}'`);
    connectionIds.add(c.id.toLowerCase());
    return {
      id: c.id,
      name: c.name,
      principal: principal.name,
      clientId: principal.clientId,
      tenantId,
      subject: `sc://${azureDevOps.organization}/${azureDevOps.projectName}/${c.name}`,
    };
  });

  return {
    tenantId,
    subscriptionId,
    principals,
    serviceConnections,
    azureDevOps,
    tokenLifetimeSeconds: scenario.tokenLifetimeSeconds ?? 3600,
    oidcTokenLifetimeSeconds: scenario.oidcTokenLifetimeSeconds ?? 600,
    azure: copyAzureScenario(scenario, subscriptionId),
  };
}

function copyAzureScenario(scenario: Scenario, subscriptionId: string): AzureScenario {
  const copy = <T>(value: T): T => (value === undefined ? value : structuredClone(value));
  return {
    subscriptionId,
    subscriptionName: scenario.subscriptionName,
    groups: copy(scenario.groups),
    customRoles: copy(scenario.customRoles),
    roleAssignments: copy(scenario.roleAssignments),
    clusters: copy(scenario.clusters),
    registries: copy(scenario.registries),
    network: copy(scenario.network),
  };
}

/** Every secret value the sandbox handed out or accepted, for leak scans of task output. */
export class SecretRegistry {
  private readonly values = new Set<string>();

  add(value: string | undefined): void {
    if (value && value.length >= 8) this.values.add(value);
  }

  list(): string[] {
    return [...this.values];
  }
}
