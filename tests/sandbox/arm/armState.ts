/**
 * The live Azure resources of a sandbox, resolved from the scenario's Azure part with defaults:
 * groups, role definitions (built-in + custom), role assignments (as ARM objects), AKS clusters
 * and container registries. The ARM service serves and mutates it; the AKS API server, the ACR
 * data endpoint and the network helper read it (one shared instance per resolved scenario:
 * `armStateFor(scenario)`).
 *
 * Defaults (see azureResources.ts): clusters are private, Entra-integrated with Azure RBAC, local
 * accounts disabled, in 'eastus', Kubernetes 1.31.2; registries are Premium, public network access
 * enabled with default action Deny, firewall propagation 2 s, IPRules quota 200.
 */
import * as crypto from 'node:crypto';
import * as authz from './authorization';
import type { ClusterSpec, RegistrySpec } from './azureResources';
import { BUILT_IN_ROLES, type RolePermission } from './builtInRoles';
import { isGuid, type ResolvedPrincipal, type ResolvedScenario } from '../scenario';

export interface ResolvedGroup {
  name: string;
  objectId: string;
  /** Member names as declared (principals or groups). */
  members: string[];
  /** Object ids of the direct members. */
  memberObjectIds: string[];
}

export interface RoleDefinitionRecord {
  /** GUID. */
  id: string;
  roleName: string;
  description: string;
  type: 'BuiltInRole' | 'CustomRole';
  permissions: RolePermission[];
  assignableScopes: string[];
  createdOn: string;
  updatedOn: string;
}

export type PrincipalType = 'ServicePrincipal' | 'Group' | 'User';

/** A role assignment exactly as ARM returns it (api-version 2022-04-01). */
export interface RoleAssignmentResource {
  id: string;
  name: string;
  type: 'Microsoft.Authorization/roleAssignments';
  properties: {
    roleDefinitionId: string;
    principalId: string;
    principalType: PrincipalType;
    scope: string;
    condition: string | null;
    conditionVersion: string | null;
    createdOn: string;
    updatedOn: string;
    createdBy: string | null;
    updatedBy: string | null;
    delegatedManagedIdentityResourceId: string | null;
    description: string | null;
  };
}

export interface ManagedIdentityRef {
  resourceId: string;
  clientId: string;
  objectId: string;
}

export interface ClusterRecord {
  readonly name: string;
  readonly resourceGroup: string;
  readonly subscriptionId: string;
  /** Canonical id (`.../resourceGroups/...`). The ARM JSON uses AKS's own `.../resourcegroups/...`. */
  readonly id: string;
  readonly location: string;
  readonly dnsPrefix: string;
  readonly nodeResourceGroup: string;
  kubernetesVersion: string;
  enablePrivateCluster: boolean;
  enablePrivateClusterPublicFQDN: boolean;
  /** `<dnsPrefix>-<hash>.hcp.<location>.azmk8s.io`; undefined for a private cluster without public FQDN. */
  fqdn: string | undefined;
  /** `<dnsPrefix>-<hash>.<guid>.privatelink.<location>.azmk8s.io` for private clusters. */
  privateFqdn: string | undefined;
  azurePortalFqdn: string;
  /** null: no Entra integration (local accounts / Kubernetes RBAC only). */
  aad: { managed: boolean; enableAzureRBAC: boolean; adminGroupObjectIDs: string[]; tenantID: string } | null;
  disableLocalAccounts: boolean;
  disableRunCommand: boolean;
  authorizedIpRanges: string[];
  oidcIssuer: { enabled: boolean; issuerURL?: string };
  workloadIdentity: boolean;
  azurePolicy: boolean;
  keyVaultSecretsProvider: boolean;
  networkPolicy: 'azure' | 'calico' | 'cilium' | 'none';
  defender: boolean;
  kubeletIdentity: ManagedIdentityRef;
  /** System-assigned identity of the cluster (control plane). */
  identity: { principalId: string; tenantId: string };
  rolloutDelaySeconds: number | 'never';
  provisioningState: string;
  eTag: string;
  tags: Record<string, string>;
  /** Last change of authorized IP ranges / private-public exposure. */
  lastNetworkChangeAt: Date;
  /** The authorized IP ranges before that change (in force until it has propagated). */
  previousAuthorizedIpRanges: string[];
  /**
   * Static tokens of the local accounts (`clusterUser`, `clusterAdmin`), served in kubeconfigs when
   * local accounts are enabled. The AKS API server accepts them only while local accounts are enabled.
   */
  readonly localAccounts: { userToken: string; adminToken: string };
  readonly createdAt: Date;
  /** Hashes used for the FQDNs (stable for the cluster's life). */
  readonly fqdnParts: { publicHash: string; privateHash: string; privateGuid: string };
}

export interface RegistryNetwork {
  publicNetworkAccess: 'Enabled' | 'Disabled';
  defaultAction: 'Allow' | 'Deny';
  /** IP addresses or CIDR ranges (the `value` of ipRules). */
  ipRules: string[];
  /** Subnet resource ids. */
  virtualNetworkRules: string[];
  networkRuleBypassOptions: 'AzureServices' | 'None';
}

/** The configured network state in the shape the ACR data endpoint reads (`AcrNetworkState` there). */
export interface RegistryNetworkState {
  publicNetworkAccess: 'Enabled' | 'Disabled';
  networkRuleSet: { defaultAction: 'Allow' | 'Deny'; ipRules: Array<{ value: string; action: 'Allow' }> };
  /** Epoch ms of the last network change. */
  lastNetworkChangeAt: number;
  firewallPropagationSeconds: number;
}

export interface RegistryRecord {
  readonly name: string;
  readonly resourceGroup: string;
  readonly subscriptionId: string;
  readonly id: string;
  readonly location: string;
  sku: 'Basic' | 'Standard' | 'Premium';
  /** `<name>.azurecr.io` (lower-case). */
  readonly loginServer: string;
  adminUserEnabled: boolean;
  dataEndpointEnabled: boolean;
  anonymousPullEnabled: boolean;
  /** Configured network rules (what ARM returns). */
  network: RegistryNetwork;
  /** Rules the data endpoint enforced before the last change (in effect until propagation completes). */
  previousNetwork: RegistryNetwork;
  lastNetworkChangeAt: Date;
  firewallPropagationSeconds: number;
  ipRuleLimit: number;
  privateEndpoints: { name: string; status: 'Approved' | 'Pending' | 'Rejected' }[];
  tags: Record<string, string>;
  provisioningState: string;
  readonly creationDate: Date;
}

const DEFAULT_LOCATION = 'eastus';
const DEFAULT_K8S_VERSION = '1.31.2';

/** ISO timestamps with 7 fractional digits (what ARM prints). */
function armTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function hashHex(input: string, length: number): string {
  return crypto.createHash('sha256').update(input).digest('hex').slice(0, length);
}

function guidFrom(input: string): string {
  const h = crypto.createHash('sha256').update(input).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** az aks create's default DNS prefix: `<name[:10]>-<rg[:16]>-<sub[:6]>`, alphanumerics and dashes. */
function defaultDnsPrefix(name: string, resourceGroup: string, subscriptionId: string): string {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9-]/g, '');
  let prefix = `${clean(name).slice(0, 10)}-${clean(resourceGroup).slice(0, 16)}-${subscriptionId.slice(0, 6)}`;
  if (!/^[A-Za-z]/.test(prefix)) prefix = `a${prefix}`;
  return prefix.replace(/-{2,}/g, '-');
}

export class ArmState {
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly subscriptionName: string;
  readonly groups: ResolvedGroup[] = [];
  readonly roleDefinitions: RoleDefinitionRecord[] = [];
  readonly roleAssignments: RoleAssignmentResource[] = [];
  readonly clusters: ClusterRecord[] = [];
  readonly registries: RegistryRecord[] = [];
  /** Where the agent sits: inside the VNet or not, and the egress IP services see. */
  readonly network: { agentInsideVnet: boolean; agentEgressIp: string };

  constructor(private readonly scenario: ResolvedScenario) {
    const azure = scenario.azure ?? {};
    const now = new Date();
    this.tenantId = scenario.tenantId;
    this.subscriptionId = scenario.subscriptionId;
    this.subscriptionName = azure.subscriptionName ?? 'Sandbox Subscription';
    this.network = {
      agentInsideVnet: azure.network?.agentInsideVnet ?? false,
      agentEgressIp: azure.network?.agentEgressIp ?? '203.0.113.10',
    };

    // Groups: object ids first, members afterwards (groups may contain groups).
    const groupSpecs = azure.groups ?? [];
    for (const g of groupSpecs) {
      if (scenario.principals.some((p) => p.name === g.name)) throw new Error(`Group '${g.name}' has the same name as a principal`);
      if (this.groups.some((x) => x.name === g.name)) throw new Error(`Duplicate group name '${g.name}'`);
      this.groups.push({ name: g.name, objectId: g.objectId ?? crypto.randomUUID(), members: [...g.members], memberObjectIds: [] });
    }
    for (const group of this.groups) {
      group.memberObjectIds = group.members.map((m) => {
        const id = this.objectIdOf(m);
        if (!id) throw new Error(`Group '${group.name}' has unknown member '${m}'`);
        return id;
      });
    }

    // Role definitions.
    const created = armTime(new Date('2015-02-02T21:55:09.880Z'));
    for (const role of BUILT_IN_ROLES) {
      this.roleDefinitions.push({
        id: role.id,
        roleName: role.roleName,
        description: role.description,
        type: 'BuiltInRole',
        permissions: role.permissions.map((p) => structuredClone(p)),
        assignableScopes: ['/'],
        createdOn: created,
        updatedOn: created,
      });
    }
    for (const c of azure.customRoles ?? []) {
      if (this.roleDefinitions.some((d) => d.roleName.toLowerCase() === c.name.toLowerCase()))
        throw new Error(`Custom role '${c.name}' clashes with an existing role name`);
      const id = (c.id ?? crypto.randomUUID()).toLowerCase();
      if (!isGuid(id)) throw new Error(`Custom role '${c.name}': id '${c.id}' is not a GUID`);
      this.roleDefinitions.push({
        id,
        roleName: c.name,
        description: '',
        type: 'CustomRole',
        permissions: [
          {
            actions: c.actions ?? [],
            notActions: c.notActions ?? [],
            dataActions: c.dataActions ?? [],
            notDataActions: c.notDataActions ?? [],
          },
        ],
        assignableScopes: [authz.subscriptionScope(this.subscriptionId)],
        createdOn: armTime(now),
        updatedOn: armTime(now),
      });
    }

    for (const spec of azure.clusters ?? []) this.addCluster(spec, now);
    for (const spec of azure.registries ?? []) this.addRegistry(spec, now);

    for (const a of azure.roleAssignments ?? []) {
      const principalId = this.objectIdOf(a.principal);
      if (!principalId) throw new Error(`Role assignment: unknown principal or group '${a.principal}'`);
      const role = this.findRoleDefinition(a.role);
      if (!role) throw new Error(`Role assignment: unknown role '${a.role}'`);
      this.addRoleAssignment({ principalId, roleDefinitionGuid: role.id, scope: this.resolveScope(a.scope) });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Lookups

  /** Object id of a principal name, group name, or a GUID used as is. */
  objectIdOf(nameOrId: string): string | undefined {
    const principal = this.scenario.principals.find((p) => p.name === nameOrId);
    if (principal) return principal.objectId;
    const group = this.groups.find((g) => g.name === nameOrId);
    if (group) return group.objectId;
    return isGuid(nameOrId) ? nameOrId : undefined;
  }

  principalByObjectId(objectId: string): ResolvedPrincipal | undefined {
    return this.scenario.principals.find((p) => p.objectId.toLowerCase() === objectId.toLowerCase());
  }

  groupByObjectId(objectId: string): ResolvedGroup | undefined {
    return this.groups.find((g) => g.objectId.toLowerCase() === objectId.toLowerCase());
  }

  /** 'ServicePrincipal' for scenario principals, 'Group' for groups, undefined when unknown. */
  principalTypeOf(objectId: string): PrincipalType | undefined {
    if (this.principalByObjectId(objectId)) return 'ServicePrincipal';
    if (this.groupByObjectId(objectId)) return 'Group';
    return undefined;
  }

  /** Object ids of every group the object is a member of, transitively (not including itself). */
  groupMemberships(objectId: string): string[] {
    const ids = authz.principalIdentities(this, objectId);
    ids.delete(objectId.toLowerCase());
    return this.groups.filter((g) => ids.has(g.objectId.toLowerCase())).map((g) => g.objectId);
  }

  /** A role definition by role name (case-insensitive), GUID or full role definition id. */
  findRoleDefinition(nameOrId: string): RoleDefinitionRecord | undefined {
    const key = nameOrId.toLowerCase();
    const guid = authz.roleDefinitionGuid(key);
    return this.roleDefinitions.find((d) => d.id === guid || d.roleName.toLowerCase() === key);
  }

  cluster(name: string): ClusterRecord {
    const c = this.findCluster(name);
    if (!c) throw new Error(`Unknown sandbox cluster '${name}' (known: ${this.clusters.map((x) => x.name).join(', ') || 'none'})`);
    return c;
  }

  /** By name (case-insensitive), optionally in a resource group. */
  findCluster(name: string, resourceGroup?: string): ClusterRecord | undefined {
    return this.clusters.find(
      (c) =>
        c.name.toLowerCase() === name.toLowerCase() &&
        (resourceGroup === undefined || c.resourceGroup.toLowerCase() === resourceGroup.toLowerCase()),
    );
  }

  /** By private or public FQDN (case-insensitive). */
  findClusterByFqdn(host: string): ClusterRecord | undefined {
    const h = host.toLowerCase();
    return this.clusters.find((c) => c.privateFqdn?.toLowerCase() === h || c.fqdn?.toLowerCase() === h);
  }

  registry(name: string): RegistryRecord {
    const r = this.findRegistry(name);
    if (!r) throw new Error(`Unknown sandbox registry '${name}' (known: ${this.registries.map((x) => x.name).join(', ') || 'none'})`);
    return r;
  }

  findRegistry(name: string, resourceGroup?: string): RegistryRecord | undefined {
    return this.registries.find(
      (r) =>
        r.name.toLowerCase() === name.toLowerCase() &&
        (resourceGroup === undefined || r.resourceGroup.toLowerCase() === resourceGroup.toLowerCase()),
    );
  }

  /** By login server (`<name>.azurecr.io`), case-insensitive. */
  findRegistryByLoginServer(host: string): RegistryRecord | undefined {
    return this.registries.find((r) => r.loginServer === host.toLowerCase());
  }

  /** Resource groups that exist (lower-case): those holding clusters, registries, identities, or assignments. */
  resourceGroupExists(name: string): boolean {
    const n = name.toLowerCase();
    if (n === 'sandbox-identities') return true;
    if (this.clusters.some((c) => c.resourceGroup.toLowerCase() === n || c.nodeResourceGroup.toLowerCase() === n)) return true;
    if (this.registries.some((r) => r.resourceGroup.toLowerCase() === n)) return true;
    const prefix = `${authz.resourceGroupScope(this.subscriptionId, name).toLowerCase()}`;
    return this.roleAssignments.some((a) => authz.scopeCovers(prefix, a.properties.scope));
  }

  /** Resolves a scenario scope shorthand (see authorization.resolveScope). */
  resolveScope(scope: string): string {
    return authz.resolveScope(scope, { subscriptionId: this.subscriptionId, clusters: this.clusters, registries: this.registries });
  }

  // ---------------------------------------------------------------------------------------
  // Authorization

  isAllowed(principalObjectId: string, operation: string, scope: string, kind: authz.PermissionKind = 'action'): boolean {
    return authz.isAllowed(this, principalObjectId, operation, this.resolveScope(scope), kind);
  }

  permissionsAt(principalObjectId: string, scope: string): RolePermission[] {
    return authz.permissionsAt(this, principalObjectId, this.resolveScope(scope));
  }

  roleDefinitionId(guid: string): string {
    return `/subscriptions/${this.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
  }

  /** Adds a role assignment (as `PUT roleAssignments/{name}` would). Returns it. */
  addRoleAssignment(input: {
    principalId: string;
    roleDefinitionGuid: string;
    scope: string;
    name?: string;
    principalType?: PrincipalType;
    createdBy?: string;
  }): RoleAssignmentResource {
    const scope = authz.normalizeScope(input.scope);
    const name = (input.name ?? crypto.randomUUID()).toLowerCase();
    const at = armTime(new Date());
    const assignment: RoleAssignmentResource = {
      id: `${scope === '/' ? '' : scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      name,
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        roleDefinitionId: this.roleDefinitionId(input.roleDefinitionGuid.toLowerCase()),
        principalId: input.principalId,
        principalType: input.principalType ?? this.principalTypeOf(input.principalId) ?? 'ServicePrincipal',
        scope,
        condition: null,
        conditionVersion: null,
        createdOn: at,
        updatedOn: at,
        createdBy: input.createdBy ?? null,
        updatedBy: input.createdBy ?? null,
        delegatedManagedIdentityResourceId: null,
        description: null,
      },
    };
    this.roleAssignments.push(assignment);
    return assignment;
  }

  /** Convenience for tests: assign by scenario names / shorthands. */
  assignRole(principal: string, role: string, scope: string): RoleAssignmentResource {
    const principalId = this.objectIdOf(principal);
    if (!principalId) throw new Error(`Unknown principal or group '${principal}'`);
    const definition = this.findRoleDefinition(role);
    if (!definition) throw new Error(`Unknown role '${role}'`);
    return this.addRoleAssignment({ principalId, roleDefinitionGuid: definition.id, scope: this.resolveScope(scope) });
  }

  /** Removes assignments of `principal` (name or object id) with `role` at `scope` (exact scope). Returns how many. */
  removeRoleAssignments(principal: string, role: string, scope: string): number {
    const principalId = (this.objectIdOf(principal) ?? principal).toLowerCase();
    const guid = this.findRoleDefinition(role)?.id;
    const target = this.resolveScope(scope).toLowerCase();
    let removed = 0;
    for (let i = this.roleAssignments.length - 1; i >= 0; i--) {
      const p = this.roleAssignments[i].properties;
      if (
        p.principalId.toLowerCase() === principalId &&
        authz.roleDefinitionGuid(p.roleDefinitionId) === guid &&
        p.scope.toLowerCase() === target
      ) {
        this.roleAssignments.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  // ---------------------------------------------------------------------------------------
  // Clusters

  private addCluster(spec: ClusterSpec, now: Date): void {
    if (this.findCluster(spec.name)) throw new Error(`Duplicate cluster name '${spec.name}'`);
    if (!spec.resourceGroup) throw new Error(`Cluster '${spec.name}' needs a resourceGroup`);
    const location = spec.location ?? DEFAULT_LOCATION;
    const id = authz.clusterResourceId(this.subscriptionId, spec.resourceGroup, spec.name);
    const aad = spec.aad === undefined ? { managed: true, enableAzureRBAC: true } : spec.aad;
    let kubeletIdentity: ManagedIdentityRef;
    const nodeResourceGroup = `MC_${spec.resourceGroup}_${spec.name}_${location}`;
    if (spec.kubeletIdentity) {
      const p = this.scenario.principals.find((x) => x.name === spec.kubeletIdentity);
      if (!p) throw new Error(`Cluster '${spec.name}': unknown kubeletIdentity principal '${spec.kubeletIdentity}'`);
      if (!p.managedIdentity || !p.resourceId)
        throw new Error(`Cluster '${spec.name}': kubeletIdentity '${spec.kubeletIdentity}' must be a managed identity`);
      kubeletIdentity = { resourceId: p.resourceId, clientId: p.clientId, objectId: p.objectId };
    } else {
      kubeletIdentity = {
        resourceId: `/subscriptions/${this.subscriptionId}/resourcegroups/${nodeResourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${spec.name}-agentpool`,
        clientId: crypto.randomUUID(),
        objectId: crypto.randomUUID(),
      };
    }
    if (!aad && spec.disableLocalAccounts === true)
      throw new Error(`Cluster '${spec.name}': local accounts can only be disabled on Entra-integrated clusters (aad must not be null)`);
    const adminGroupObjectIDs = (aad?.adminGroups ?? []).map((g) => {
      const oid = this.groups.find((x) => x.name === g)?.objectId ?? (isGuid(g) ? g : undefined);
      if (!oid) throw new Error(`Cluster '${spec.name}': unknown admin group '${g}'`);
      return oid;
    });
    const seed = `${this.subscriptionId}|${id.toLowerCase()}`;
    const cluster: ClusterRecord = {
      name: spec.name,
      resourceGroup: spec.resourceGroup,
      subscriptionId: this.subscriptionId,
      id,
      location,
      dnsPrefix: defaultDnsPrefix(spec.name, spec.resourceGroup, this.subscriptionId),
      nodeResourceGroup,
      kubernetesVersion: spec.kubernetesVersion ?? DEFAULT_K8S_VERSION,
      enablePrivateCluster: spec.private ?? true,
      enablePrivateClusterPublicFQDN: spec.enablePrivateClusterPublicFQDN ?? false,
      fqdn: undefined,
      privateFqdn: undefined,
      azurePortalFqdn: '',
      aad: aad ? { managed: aad.managed, enableAzureRBAC: aad.enableAzureRBAC, adminGroupObjectIDs, tenantID: this.tenantId } : null,
      // AKS requires Entra integration to disable local accounts.
      disableLocalAccounts: aad ? (spec.disableLocalAccounts ?? true) : false,
      disableRunCommand: spec.disableRunCommand ?? false,
      authorizedIpRanges: [...(spec.authorizedIpRanges ?? [])],
      oidcIssuer: spec.oidcIssuer
        ? { enabled: true, issuerURL: `https://${location}.oic.prod-aks.azure.com/${this.tenantId}/${guidFrom(`${seed}|oidc`)}/` }
        : { enabled: false },
      workloadIdentity: spec.workloadIdentity ?? false,
      azurePolicy: spec.azurePolicy ?? false,
      keyVaultSecretsProvider: spec.keyVaultSecretsProvider ?? false,
      networkPolicy: spec.networkPolicy ?? 'none',
      defender: spec.defender ?? false,
      kubeletIdentity,
      identity: { principalId: crypto.randomUUID(), tenantId: this.tenantId },
      rolloutDelaySeconds: spec.rolloutDelaySeconds ?? 1,
      provisioningState: 'Succeeded',
      eTag: crypto.randomUUID(),
      tags: { ...(spec.tags ?? {}) },
      lastNetworkChangeAt: now,
      previousAuthorizedIpRanges: [...(spec.authorizedIpRanges ?? [])],
      localAccounts: { userToken: crypto.randomBytes(32).toString('hex'), adminToken: crypto.randomBytes(32).toString('hex') },
      createdAt: now,
      fqdnParts: {
        publicHash: hashHex(`${seed}|public`, 8),
        privateHash: hashHex(`${seed}|private`, 8),
        privateGuid: guidFrom(`${seed}|privatelink`),
      },
    };
    if (cluster.workloadIdentity && !cluster.oidcIssuer.enabled)
      throw new Error(`Cluster '${spec.name}': workloadIdentity needs oidcIssuer`);
    refreshClusterFqdns(cluster);
    this.clusters.push(cluster);
  }

  /**
   * Applies a change to a cluster (what a completed PUT does): bumps the eTag, recomputes FQDNs,
   * and records `lastNetworkChangeAt` when the network exposure changed.
   */
  updateCluster(
    name: string,
    change: Partial<
      Pick<
        ClusterRecord,
        | 'authorizedIpRanges'
        | 'disableRunCommand'
        | 'disableLocalAccounts'
        | 'enablePrivateClusterPublicFQDN'
        | 'tags'
        | 'kubernetesVersion'
      >
    > & { enableAzureRBAC?: boolean; adminGroupObjectIDs?: string[] },
    now = new Date(),
  ): ClusterRecord {
    const c = this.cluster(name);
    const before = JSON.stringify([c.authorizedIpRanges, c.enablePrivateClusterPublicFQDN]);
    if (change.authorizedIpRanges !== undefined) {
      if (JSON.stringify(change.authorizedIpRanges) !== JSON.stringify(c.authorizedIpRanges))
        c.previousAuthorizedIpRanges = [...c.authorizedIpRanges];
      c.authorizedIpRanges = [...change.authorizedIpRanges];
    }
    if (change.disableRunCommand !== undefined) c.disableRunCommand = change.disableRunCommand;
    if (change.disableLocalAccounts !== undefined) c.disableLocalAccounts = change.disableLocalAccounts;
    if (change.enablePrivateClusterPublicFQDN !== undefined) c.enablePrivateClusterPublicFQDN = change.enablePrivateClusterPublicFQDN;
    if (change.tags !== undefined) c.tags = { ...change.tags };
    if (change.kubernetesVersion !== undefined) c.kubernetesVersion = change.kubernetesVersion;
    if (c.aad && change.enableAzureRBAC !== undefined) c.aad.enableAzureRBAC = change.enableAzureRBAC;
    if (c.aad && change.adminGroupObjectIDs !== undefined) c.aad.adminGroupObjectIDs = [...change.adminGroupObjectIDs];
    refreshClusterFqdns(c);
    if (JSON.stringify([c.authorizedIpRanges, c.enablePrivateClusterPublicFQDN]) !== before) c.lastNetworkChangeAt = now;
    c.eTag = crypto.randomUUID();
    return c;
  }

  /**
   * ARM JSON of `Microsoft.ContainerService/managedClusters` (GET) as served at `apiVersion`:
   * `eTag` only where that api-version's model has it (see `aksClusterHasETag`).
   */
  clusterJson(c: ClusterRecord, apiVersion = '2026-04-01'): Record<string, unknown> {
    const addonProfiles: Record<string, unknown> = {
      azurepolicy: c.azurePolicy
        ? {
            enabled: true,
            config: null,
            identity: {
              resourceId: `/subscriptions/${c.subscriptionId}/resourcegroups/${c.nodeResourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/azurepolicy-${c.name}`,
              clientId: guidFrom(`${c.id}|azurepolicy|client`),
              objectId: guidFrom(`${c.id}|azurepolicy|object`),
            },
          }
        : { enabled: false, config: null },
      azureKeyvaultSecretsProvider: c.keyVaultSecretsProvider
        ? {
            enabled: true,
            config: { enableSecretRotation: 'false', rotationPollInterval: '2m' },
            identity: {
              resourceId: `/subscriptions/${c.subscriptionId}/resourcegroups/${c.nodeResourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/azurekeyvaultsecretsprovider-${c.name}`,
              clientId: guidFrom(`${c.id}|kv|client`),
              objectId: guidFrom(`${c.id}|kv|object`),
            },
          }
        : { enabled: false, config: null },
    };
    const securityProfile: Record<string, unknown> = {};
    if (c.workloadIdentity) securityProfile.workloadIdentity = { enabled: true };
    if (c.defender) {
      securityProfile.defender = {
        logAnalyticsWorkspaceResourceId: `/subscriptions/${c.subscriptionId}/resourcegroups/DefaultResourceGroup-EUS/providers/Microsoft.OperationalInsights/workspaces/DefaultWorkspace-${c.subscriptionId}-EUS`,
        securityMonitoring: { enabled: true },
      };
    }
    const apiServerAccessProfile: Record<string, unknown> = {
      enablePrivateCluster: c.enablePrivateCluster,
      disableRunCommand: c.disableRunCommand,
    };
    if (c.enablePrivateCluster) {
      apiServerAccessProfile.privateDNSZone = 'system';
      apiServerAccessProfile.enablePrivateClusterPublicFQDN = c.enablePrivateClusterPublicFQDN;
    }
    if (c.authorizedIpRanges.length > 0) apiServerAccessProfile.authorizedIPRanges = [...c.authorizedIpRanges];
    const properties: Record<string, unknown> = {
      provisioningState: c.provisioningState,
      powerState: { code: 'Running' },
      kubernetesVersion: c.kubernetesVersion,
      currentKubernetesVersion: c.kubernetesVersion,
      dnsPrefix: c.dnsPrefix,
      ...(c.fqdn ? { fqdn: c.fqdn } : {}),
      azurePortalFQDN: c.azurePortalFqdn,
      ...(c.privateFqdn ? { privateFQDN: c.privateFqdn } : {}),
      agentPoolProfiles: [
        {
          name: 'nodepool1',
          count: 2,
          vmSize: 'Standard_D4ds_v5',
          osDiskSizeGB: 128,
          osDiskType: 'Ephemeral',
          maxPods: 250,
          type: 'VirtualMachineScaleSets',
          provisioningState: c.provisioningState,
          powerState: { code: 'Running' },
          orchestratorVersion: c.kubernetesVersion,
          currentOrchestratorVersion: c.kubernetesVersion,
          mode: 'System',
          osType: 'Linux',
          osSKU: 'Ubuntu',
          nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202501.12.0',
          enableNodePublicIP: false,
        },
      ],
      servicePrincipalProfile: { clientId: 'msi' },
      addonProfiles,
      oidcIssuerProfile: c.oidcIssuer.enabled ? { enabled: true, issuerURL: c.oidcIssuer.issuerURL } : { enabled: false },
      nodeResourceGroup: c.nodeResourceGroup,
      enableRBAC: true,
      supportPlan: 'KubernetesOfficial',
      networkProfile: {
        networkPlugin: 'azure',
        networkPluginMode: 'overlay',
        networkPolicy: c.networkPolicy,
        networkDataplane: c.networkPolicy === 'cilium' ? 'cilium' : 'azure',
        loadBalancerSku: 'standard',
        podCidr: '10.244.0.0/16',
        serviceCidr: '10.0.0.0/16',
        dnsServiceIP: '10.0.0.10',
        outboundType: 'loadBalancer',
        podCidrs: ['10.244.0.0/16'],
        serviceCidrs: ['10.0.0.0/16'],
        ipFamilies: ['IPv4'],
      },
      ...(c.aad
        ? {
            aadProfile: {
              managed: c.aad.managed,
              adminGroupObjectIDs: c.aad.adminGroupObjectIDs.length ? [...c.aad.adminGroupObjectIDs] : null,
              adminUsers: null,
              enableAzureRBAC: c.aad.enableAzureRBAC,
              tenantID: c.aad.tenantID,
            },
          }
        : {}),
      maxAgentPools: 100,
      apiServerAccessProfile,
      identityProfile: { kubeletidentity: { ...c.kubeletIdentity } },
      disableLocalAccounts: c.disableLocalAccounts,
      securityProfile,
      storageProfile: { diskCSIDriver: { enabled: true }, fileCSIDriver: { enabled: true }, snapshotController: { enabled: true } },
      resourceUID: hashHex(`${c.id}|uid`, 24),
    };
    return {
      id: `/subscriptions/${c.subscriptionId}/resourcegroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`,
      location: c.location,
      name: c.name,
      tags: Object.keys(c.tags).length ? { ...c.tags } : undefined,
      type: 'Microsoft.ContainerService/ManagedClusters',
      ...(aksClusterHasETag(apiVersion) ? { eTag: c.eTag } : {}),
      properties,
      identity: { type: 'SystemAssigned', principalId: c.identity.principalId, tenantId: c.identity.tenantId },
      sku: { name: 'Base', tier: 'Free' },
    };
  }

  // ---------------------------------------------------------------------------------------
  // Registries

  private addRegistry(spec: RegistrySpec, now: Date): void {
    if (this.findRegistry(spec.name)) throw new Error(`Duplicate registry name '${spec.name}'`);
    if (!/^[a-zA-Z0-9]{5,50}$/.test(spec.name)) throw new Error(`Registry name '${spec.name}' must be 5-50 alphanumerics`);
    if (!spec.resourceGroup) throw new Error(`Registry '${spec.name}' needs a resourceGroup`);
    const network: RegistryNetwork = {
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Enabled',
      defaultAction: spec.defaultAction ?? 'Deny',
      ipRules: [...(spec.ipRules ?? [])],
      virtualNetworkRules: [...(spec.virtualNetworkRules ?? [])],
      networkRuleBypassOptions: spec.networkRuleBypassOptions ?? 'AzureServices',
    };
    this.registries.push({
      name: spec.name,
      resourceGroup: spec.resourceGroup,
      subscriptionId: this.subscriptionId,
      id: authz.registryResourceId(this.subscriptionId, spec.resourceGroup, spec.name),
      location: spec.location ?? DEFAULT_LOCATION,
      sku: spec.sku ?? 'Premium',
      loginServer: `${spec.name.toLowerCase()}.azurecr.io`,
      adminUserEnabled: spec.adminUserEnabled ?? false,
      dataEndpointEnabled: spec.dataEndpointEnabled ?? false,
      anonymousPullEnabled: false,
      network,
      previousNetwork: structuredClone(network),
      lastNetworkChangeAt: new Date(now.getTime() - 24 * 3600 * 1000),
      firewallPropagationSeconds: spec.firewallPropagationSeconds ?? 2,
      ipRuleLimit: spec.ipRuleLimit ?? 200,
      privateEndpoints: (spec.privateEndpoints ?? []).map((p) => ({ ...p })),
      tags: { ...(spec.tags ?? {}) },
      provisioningState: 'Succeeded',
      creationDate: new Date(now.getTime() - 30 * 24 * 3600 * 1000),
    });
  }

  /** The network rules the data endpoint enforces at `now` (the previous set until the change has propagated). */
  registryNetworkInEffect(name: string, now = Date.now()): RegistryNetwork {
    const r = this.registry(name);
    return now < r.lastNetworkChangeAt.getTime() + r.firewallPropagationSeconds * 1000 ? r.previousNetwork : r.network;
  }

  /**
   * The configured rules, change time and propagation delay, for the ACR data endpoint's
   * `getRegistry` (it applies the delay itself). `registryNetworkInEffect` gives the rules in force.
   */
  registryNetworkState(name: string): RegistryNetworkState {
    const r = this.registry(name);
    return {
      publicNetworkAccess: r.network.publicNetworkAccess,
      networkRuleSet: { defaultAction: r.network.defaultAction, ipRules: r.network.ipRules.map((value) => ({ value, action: 'Allow' })) },
      lastNetworkChangeAt: r.lastNetworkChangeAt.getTime(),
      firewallPropagationSeconds: r.firewallPropagationSeconds,
    };
  }

  /** Replaces the configured network rules; the change reaches the data endpoint after `firewallPropagationSeconds`. */
  setRegistryNetwork(name: string, next: RegistryNetwork, now = new Date()): RegistryRecord {
    const r = this.registry(name);
    if (JSON.stringify(next) === JSON.stringify(r.network)) return r;
    r.previousNetwork = structuredClone(this.registryNetworkInEffect(name, now.getTime()));
    r.network = structuredClone(next);
    r.lastNetworkChangeAt = now;
    return r;
  }

  /**
   * ARM JSON of `Microsoft.ContainerRegistry/registries` as served at `apiVersion`:
   * `networkRuleSet.virtualNetworkRules` exists only in api-versions whose model has it
   * (see `acrVirtualNetworkRuleKey`), with that version's field name.
   */
  registryJson(r: RegistryRecord, apiVersion = '2025-11-01'): Record<string, unknown> {
    const vnetKey = acrVirtualNetworkRuleKey(apiVersion);
    let networkRuleSet: Record<string, unknown> | undefined;
    if (r.sku === 'Premium') {
      networkRuleSet = { defaultAction: r.network.defaultAction };
      if (vnetKey) networkRuleSet.virtualNetworkRules = r.network.virtualNetworkRules.map((id) => ({ action: 'Allow', [vnetKey]: id }));
      networkRuleSet.ipRules = r.network.ipRules.map((value) => ({ action: 'Allow', value }));
    }
    if (acrLegacyRegistryModel(apiVersion)) {
      return {
        sku: { name: r.sku, tier: r.sku },
        type: 'Microsoft.ContainerRegistry/registries',
        id: r.id,
        name: r.name,
        location: r.location,
        tags: { ...r.tags },
        properties: {
          loginServer: r.loginServer,
          creationDate: armTime(r.creationDate),
          provisioningState: r.provisioningState,
          adminUserEnabled: r.adminUserEnabled,
          ...(networkRuleSet ? { networkRuleSet } : {}),
          policies: {
            quarantinePolicy: { status: 'disabled' },
            trustPolicy: { type: 'Notary', status: 'disabled' },
            retentionPolicy: { days: 7, lastUpdatedTime: armTime(r.creationDate), status: 'disabled' },
          },
        },
      };
    }
    return {
      sku: { name: r.sku, tier: r.sku },
      type: 'Microsoft.ContainerRegistry/registries',
      id: r.id,
      name: r.name,
      location: r.location,
      tags: { ...r.tags },
      systemData: {
        createdBy: 'sandbox@contoso.com',
        createdByType: 'User',
        createdAt: r.creationDate.toISOString(),
        lastModifiedBy: 'sandbox@contoso.com',
        lastModifiedByType: 'User',
        lastModifiedAt: r.lastNetworkChangeAt.toISOString(),
      },
      properties: {
        loginServer: r.loginServer,
        creationDate: armTime(r.creationDate),
        provisioningState: r.provisioningState,
        adminUserEnabled: r.adminUserEnabled,
        ...(networkRuleSet ? { networkRuleSet } : {}),
        policies: {
          quarantinePolicy: { status: 'disabled' },
          trustPolicy: { type: 'Notary', status: 'disabled' },
          retentionPolicy: { days: 7, lastUpdatedTime: armTime(r.creationDate), status: 'disabled' },
          exportPolicy: { status: 'enabled' },
          azureADAuthenticationAsArmPolicy: { status: 'enabled' },
        },
        encryption: { status: 'disabled' },
        dataEndpointEnabled: r.dataEndpointEnabled,
        dataEndpointHostNames: r.dataEndpointEnabled ? [`${r.name.toLowerCase()}.${r.location}.data.azurecr.io`] : [],
        privateEndpointConnections: r.privateEndpoints.map((p) => ({
          id: `${r.id}/privateEndpointConnections/${p.name}`,
          name: p.name,
          type: 'Microsoft.ContainerRegistry/registries/privateEndpointConnections',
          properties: {
            privateEndpoint: {
              id: `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.Network/privateEndpoints/${p.name}`,
            },
            privateLinkServiceConnectionState: {
              status: p.status,
              description: p.status === 'Approved' ? 'Auto-Approved' : '',
              actionsRequired: 'None',
            },
            provisioningState: 'Succeeded',
          },
        })),
        publicNetworkAccess: r.network.publicNetworkAccess,
        networkRuleBypassOptions: r.network.networkRuleBypassOptions,
        networkRuleBypassAllowedForTasks: false,
        zoneRedundancy: 'Disabled',
        anonymousPullEnabled: r.anonymousPullEnabled,
        roleAssignmentMode: 'LegacyRegistryPermissions',
      },
    };
  }

  /** `GET .../listUsages` value. */
  registryUsages(r: RegistryRecord): Array<{ name: string; limit: number; currentValue: number; unit: 'Count' | 'Bytes' }> {
    const premium = r.sku === 'Premium';
    return [
      {
        name: 'Size',
        limit: r.sku === 'Basic' ? 10737418240 : r.sku === 'Standard' ? 107374182400 : 536870912000,
        currentValue: 0,
        unit: 'Bytes',
      },
      { name: 'Webhooks', limit: r.sku === 'Basic' ? 2 : r.sku === 'Standard' ? 10 : 500, currentValue: 0, unit: 'Count' },
      { name: 'Geo-replications', limit: premium ? -1 : 0, currentValue: 0, unit: 'Count' },
      { name: 'IPRules', limit: premium ? r.ipRuleLimit : 0, currentValue: r.network.ipRules.length, unit: 'Count' },
      { name: 'VNetRules', limit: premium ? 100 : 0, currentValue: r.network.virtualNetworkRules.length, unit: 'Count' },
      { name: 'PrivateEndpointConnections', limit: premium ? 200 : 0, currentValue: r.privateEndpoints.length, unit: 'Count' },
      { name: 'ScopeMaps', limit: premium ? 50000 : r.sku === 'Standard' ? 100 : 100, currentValue: 0, unit: 'Count' },
      { name: 'Tokens', limit: premium ? 50000 : 100, currentValue: 0, unit: 'Count' },
    ];
  }

  // ---------------------------------------------------------------------------------------
  // Role definitions

  /** ARM JSON of a role definition as returned at `scope` (id prefixed with the subscription unless scope is '/'). */
  roleDefinitionJson(d: RoleDefinitionRecord, scope: string): Record<string, unknown> {
    const atRoot = authz.normalizeScope(scope) === '/' || !/^\/subscriptions\//i.test(authz.normalizeScope(scope));
    return {
      id: atRoot ? `/providers/Microsoft.Authorization/roleDefinitions/${d.id}` : this.roleDefinitionId(d.id),
      name: d.id,
      type: 'Microsoft.Authorization/roleDefinitions',
      properties: {
        roleName: d.roleName,
        type: d.type,
        description: d.description,
        assignableScopes: [...d.assignableScopes],
        permissions: d.permissions.map((p) => ({
          actions: [...p.actions],
          notActions: [...p.notActions],
          dataActions: [...p.dataActions],
          notDataActions: [...p.notDataActions],
        })),
        createdOn: d.createdOn,
        updatedOn: d.updatedOn,
        createdBy: null,
        updatedBy: null,
      },
    };
  }
}

function refreshClusterFqdns(c: ClusterRecord): void {
  const { publicHash, privateHash, privateGuid } = c.fqdnParts;
  const prefix = c.dnsPrefix.toLowerCase();
  c.privateFqdn = c.enablePrivateCluster ? `${prefix}-${privateHash}.${privateGuid}.privatelink.${c.location}.azmk8s.io` : undefined;
  c.fqdn = !c.enablePrivateCluster || c.enablePrivateClusterPublicFQDN ? `${prefix}-${publicHash}.hcp.${c.location}.azmk8s.io` : undefined;
  c.azurePortalFqdn = `${prefix}-${c.enablePrivateCluster ? privateHash : publicHash}.portal.hcp.${c.location}.azmk8s.io`;
}

/**
 * Whether this ACR api-version has the 2019-05-01 registry model: RegistryProperties with only
 * loginServer, creationDate, provisioningState, status, adminUserEnabled, storageAccount,
 * networkRuleSet and policies (quarantine, trust, retention), and RegistryPropertiesUpdateParameters
 * with only adminUserEnabled, networkRuleSet and policies (azure-rest-api-specs,
 * specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/stable/2019-05-01/
 * containerregistry.json). No publicNetworkAccess, networkRuleBypassOptions, dataEndpointEnabled,
 * anonymousPullEnabled, encryption or systemData: those are in the 2025-11-01 model
 * (.../Registry/stable/2025-11-01/examples/RegistryGet.json). Versions in between are served the
 * newer model (not verified field by field; the tasks send only 2019-05-01 and 2025-11-01).
 */
export function acrLegacyRegistryModel(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) <= '2019-05-01';
}

/**
 * Whether `ManagedCluster.eTag` exists at this AKS api-version. The stable examples show it from
 * 2024-09-01 (specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/
 * 2024-09-01/examples/ManagedClustersGet.json: `"eTag": "beywbwei"`; the 2024-08-01 one has none).
 */
export function aksClusterHasETag(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) >= '2024-09-01';
}

/**
 * Whether `ManagedClusters_CreateOrUpdate` takes `If-Match` / `If-None-Match` at this api-version:
 * from stable/2024-10-01/managedClusters.json (header parameters `If-Match`, `If-None-Match`, type
 * string, x-ms-client-name ifMatch / ifNoneMatch); stable/2024-09-01/managedClusters.json has neither.
 * Below that the precondition is not part of the API, so the sandbox does not enforce it.
 */
export function aksPutHonoursIfMatch(apiVersion: string): boolean {
  return apiVersion.slice(0, 10) >= '2024-10-01';
}

/**
 * The JSON field carrying a VNet rule's subnet id in `networkRuleSet.virtualNetworkRules` at this
 * ACR api-version, or undefined when the api-version's model has no `virtualNetworkRules`:
 *   - up to 2021-08-01-preview: `{ action, id }` (Python SDK attribute map `virtual_network_resource_id -> id`);
 *   - 2021-09-01 and later (GA 2021-09-01 ... 2025-11-01 and the previews in between): removed
 *     ("subnet settings has been removed from NetworkRuleSet since api-version 2021-09-01",
 *     Azure/azure-sdk-for-java#34935; azurerm dropped network_rule_set.virtual_network when moving
 *     to 2023-06-01-preview, hashicorp/terraform-provider-azurerm#23393);
 *   - re-added in the latest preview (TypeSpec `@added(Versions.vLatestPreview)`, 2026-01-01-preview)
 *     as `{ action, virtualNetworkSubnetResourceId }` (Azure/azure-cli#33660 shows the service returning it).
 */
export function acrVirtualNetworkRuleKey(apiVersion: string): 'id' | 'virtualNetworkSubnetResourceId' | undefined {
  const date = apiVersion.slice(0, 10);
  if (date < '2021-09-01') return 'id';
  if (apiVersion.endsWith('-preview') && date >= '2026-01-01') return 'virtualNetworkSubnetResourceId';
  return undefined;
}

const stateByScenario = new WeakMap<ResolvedScenario, ArmState>();

/**
 * The one ArmState of a resolved scenario (created on first use). ARM, the AKS API server, the ACR
 * data endpoint and the network helper share it: `armStateFor(context.scenario)`.
 */
export function armStateFor(scenario: ResolvedScenario): ArmState {
  let state = stateByScenario.get(scenario);
  if (!state) {
    state = new ArmState(scenario);
    stateByScenario.set(scenario, state);
  }
  return state;
}
