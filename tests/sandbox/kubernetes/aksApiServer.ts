/**
 * The API server of one private AKS cluster, on loopback, that the real kubectl talks to.
 *
 *   - TLS with the cluster's own CA; the serving certificate names the private FQDN (and the
 *     public one, if any) and the in-cluster names, not 127.0.0.1: clients connect to
 *     `https://127.0.0.1:<port>` with `tls-server-name: <fqdn>` (`loopbackKubeconfig`);
 *   - authentication as AKS with Microsoft Entra ID: `Authorization: Bearer <token>` for the AKS
 *     server application (audience 6dae42f8-…), validated by the sandbox Entra; local accounts
 *     (static tokens) only where the cluster has them; anonymous requests get 401 everywhere;
 *   - authorization as Azure RBAC for Kubernetes (guard): each resource request becomes a data
 *     action (`Microsoft.ContainerService/managedClusters/apps/deployments/write`, see
 *     `dataActionFor`) at the cluster scope or `<cluster id>/namespaces/<ns>`, decided by
 *     `options.authorize`; discovery, OpenAPI, /version and health need authentication only
 *     (Kubernetes RBAC's system:discovery role);
 *   - the Kubernetes API subset kubectl apply/get/delete/rollout status/wait need (see
 *     kubernetesResources.ts for discovery and OpenAPI, kubernetesPatch.ts, kubernetesFieldManager.ts,
 *     kubernetesAdmission.ts, kubernetesControllers.ts, kubernetesStore.ts).
 *
 * Faults come through ServiceServer (`context.faults.inject('aks', …)`); `dropConnections()`
 * cuts open watch streams.
 */
import * as crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ClusterSpec } from '../arm/azureResources';
import { AKS_SERVER_APP_ID, AccessTokenError } from '../entra/entra';
import type { SandboxContext } from '../index';
import { renderKubeconfig, type KubeconfigUser } from './kubeconfig';
import {
  applyDefaults,
  badRequest,
  checkApplyFields,
  checkTypeMeta,
  decodeObject,
  invalidError,
  KubeStatusError,
  validateObject,
} from './admission';
import { ClusterControllers, establishedCrdStatus } from './controllers';
import { WorkloadControllers, type WorkloadSettings } from './workloads';
import { ApplyConflictError, recordUpdate, serverSideApply } from './fieldManager';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  clone,
  deepEqual,
  isObject,
  PatchError,
  type Json,
  type JsonObject,
} from './patch';
import { openApiV2Json, openApiV2Protobuf, OPENAPI_V2_PROTOBUF } from './openApiV2';
import { groupVersion, qualifiedResource, ResourceCatalog, type ResourceType } from './resources';
import { KubernetesStore, metadataOf, nowTimestamp, storageKey, type KubeObject, type StoredEvent } from './store';
import { admitByPolicy, type PolicySettings } from './policyWebhooks';
import { checkQuota } from './quota';
import { minorVersion } from './servedVersions';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';
import { createTestCa, type TestCa } from '../testCa';

/** The audience AKS clusters with Entra integration accept (the AKS AAD server application). */
export const AKS_AUDIENCE = AKS_SERVER_APP_ID;

/** What guard (the AKS authorization webhook) appends to a denial (guard's AccessNotAllowedVerdict). */
export const AZURE_RBAC_DENIED_REASON = 'User does not have access to the resource in Azure. Update role assignment to allow access.';
/** guard's AccessAllowedVerdict (the verbose form names the role assignment, which the sandbox does not know here). */
export const AZURE_RBAC_ALLOWED_REASON = 'Access allowed by Azure RBAC';

const DATA_ACTION_PREFIX = 'Microsoft.ContainerService/managedClusters';

/** Paths any authenticated user may read (Kubernetes RBAC: system:discovery, system:public-info-viewer). */
const PUBLIC_INFO = /^\/(version|healthz|livez|readyz)(\/.*)?$/;

export interface AksApiServerOptions {
  /** Azure RBAC decision for an Entra principal: guard's CheckAccess. */
  authorize: (principalObjectId: string, dataAction: string, scope: string) => boolean;
  /** `/subscriptions/…/resourceGroups/…/providers/Microsoft.ContainerService/managedClusters/<name>` */
  clusterResourceId: string;
  /** `<prefix>-<hash>.<guid>.privatelink.<location>.azmk8s.io` */
  privateFqdn: string;
  /** For clusters with enablePrivateClusterPublicFQDN (or public clusters). */
  publicFqdn?: string;
  /** Answer unauthenticated /healthz, /livez, /readyz and /version (anonymous auth). Default false: 401, as AKS. */
  anonymousHealth?: boolean;
  /** Nodes DaemonSets schedule on. Default 3 (or the scenario's workloads.nodes.count). */
  nodeCount?: number;
  /** The registry's side of a kubelet image pull (azure.ts: ACR role, firewall, repositories). */
  pullImage?: WorkloadSettings['pullImage'];
  /** The cluster's live Kubernetes version (ARM's, which an upgrade changes); default the ClusterSpec's. */
  kubernetesVersion?: () => string;
}

/** ClusterSpec with the defaults the API server depends on filled in (live: tests may change rolloutDelaySeconds). */
export interface AksClusterSettings extends ClusterSpec {
  aad: { managed: boolean; enableAzureRBAC: boolean; adminGroups?: string[] } | null;
  disableLocalAccounts: boolean;
  rolloutDelaySeconds: number | 'never';
  kubernetesVersion: string;
}

export function resolveClusterSettings(cluster: ClusterSpec): AksClusterSettings {
  const aad = cluster.aad === undefined ? { managed: true, enableAzureRBAC: true } : cluster.aad;
  return {
    ...cluster,
    aad,
    // AKS requires Entra integration to disable local accounts.
    disableLocalAccounts: aad === null ? false : (cluster.disableLocalAccounts ?? true),
    rolloutDelaySeconds: cluster.rolloutDelaySeconds ?? 1,
    kubernetesVersion: cluster.kubernetesVersion ?? '1.31.2',
  };
}

/** Who a request authenticated as. */
interface KubeUser {
  /** Kubernetes user name: the object id for Entra service principals, the UPN for users. */
  name: string;
  /** Entra object id (Azure RBAC subject); absent for local accounts. */
  objectId?: string;
}

interface RequestInfo {
  group: string;
  version: string;
  /** For namespace objects, the namespace's own name (as the API server's RequestInfo has it). */
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
}

/**
 * The Azure RBAC data action guard checks for a Kubernetes request:
 * `Microsoft.ContainerService/managedClusters/[<group>/]<resource>/<read|write|delete>`
 * (get/list/watch → read, create/update/patch → write, delete/deletecollection → delete;
 * pods/exec → `pods/exec/action`); resources not in the built-in operations list (custom
 * resources) → `Microsoft.ContainerService/managedClusters/customresources/<action>`.
 */
export function dataActionFor(
  group: string,
  resource: string,
  verb: string,
  options: { custom?: boolean; subresource?: string } = {},
): string {
  const action = ['get', 'list', 'watch'].includes(verb)
    ? 'read'
    : ['create', 'update', 'patch'].includes(verb)
      ? 'write'
      : ['delete', 'deletecollection'].includes(verb)
        ? 'delete'
        : verb === '*'
          ? '*'
          : `${verb}/action`;
  if (options.custom) return `${DATA_ACTION_PREFIX}/customresources/${action}`;
  if (resource === 'pods' && options.subresource === 'exec') return `${DATA_ACTION_PREFIX}/pods/exec/action`;
  return `${DATA_ACTION_PREFIX}/${group ? `${group}/` : ''}${resource}/${action}`;
}

function status(code: number, reason: string, message: string, details?: JsonObject): SandboxResponse {
  return {
    status: code,
    headers: { 'Content-Type': 'application/json' },
    body: new KubeStatusError(code, reason, message, details).toStatus(),
  };
}

const UNAUTHORIZED_BODY = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'Unauthorized',
  reason: 'Unauthorized',
  code: 401,
};

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  return `${d}d`;
}

// ---------------------------------------------------------------------------------------------
// Selectors

function parseFieldSelector(selector: string | null): Array<(obj: KubeObject) => boolean> {
  if (!selector) return [];
  return selector
    .split(',')
    .filter(Boolean)
    .map((term) => {
      const m = /^([^!=]+)(==|!=|=)(.*)$/.exec(term.trim());
      if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
      const [, field, op, value] = m;
      const read = (obj: KubeObject): string => {
        let node: Json | undefined = obj;
        for (const part of field.split('.')) node = isObject(node) ? node[part] : undefined;
        return node === undefined || node === null ? '' : String(node);
      };
      return op === '!=' ? (obj) => read(obj) !== value : (obj) => read(obj) === value;
    });
}

function parseLabelSelector(selector: string | null): Array<(labels: JsonObject) => boolean> {
  if (!selector) return [];
  const terms = selector.match(/(?:[^,(]|\([^)]*\))+/g) ?? [];
  return terms.map((raw) => {
    const term = raw.trim();
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m;
      const values = list.split(',').map((v) => v.trim());
      return op === 'in' ? (l) => key in l && values.includes(String(l[key])) : (l) => !(key in l) || !values.includes(String(l[key]));
    }
    m = /^([^\s!=]+)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m;
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    if (term.startsWith('!')) return (l) => !(term.slice(1) in l);
    return (l) => term in l;
  });
}

// ---------------------------------------------------------------------------------------------

export class AksApiServer {
  readonly store: KubernetesStore;
  readonly catalog: ResourceCatalog;
  /** Live settings: tests may change `rolloutDelaySeconds` while the server runs. */
  readonly cluster: AksClusterSettings;
  /** The cluster CA (one per cluster, as AKS has). */
  readonly ca: TestCa;
  /** Bearer token of the local user account (clusters without Entra integration). */
  readonly staticUserToken: string;
  /** Bearer token of the local admin account (clusters with local accounts enabled). */
  readonly staticAdminToken: string;

  private server!: ServiceServer;
  private readonly controllers: ClusterControllers;
  /** ReplicaSets, Pods, Events (workloads.ts). */
  readonly workloads: WorkloadControllers;
  private readonly watches = new Set<ServerResponse>();
  private bootstrapping = false;
  private nextServiceIp = 10;
  private nextNodePort = 30000;

  private constructor(
    private readonly context: SandboxContext,
    cluster: ClusterSpec,
    readonly options: AksApiServerOptions,
  ) {
    this.cluster = resolveClusterSettings(cluster);
    this.catalog = new ResourceCatalog(() => this.kubernetesVersion);
    this.store = new KubernetesStore(this.catalog);
    this.workloads = new WorkloadControllers(this.store, this.catalog, {
      scenario: () => this.cluster.workloads ?? {},
      rolloutDelaySeconds: () => this.cluster.rolloutDelaySeconds,
      pullImage: options.pullImage,
      policy: () => this.policySettings(),
    });
    this.controllers = new ClusterControllers(this.store, {
      rolloutDelaySeconds: () => this.cluster.rolloutDelaySeconds,
      nodeCount: options.nodeCount ?? this.cluster.workloads?.nodes?.count ?? 3,
      rolloutFailure: (type, obj) => this.workloads.rolloutFailure(type, obj),
      progressDeadlineSeconds: (obj) => this.workloads.progressDeadlineSeconds(obj),
    });
    this.ca = createTestCa({ commonName: 'ca' });
    this.staticUserToken = crypto.randomBytes(32).toString('hex');
    this.staticAdminToken = crypto.randomBytes(32).toString('hex');
    context.secrets.add(this.staticUserToken);
    context.secrets.add(this.staticAdminToken);
    this.bootstrap();
  }

  static async start(context: SandboxContext, cluster: ClusterSpec, options: AksApiServerOptions): Promise<AksApiServer> {
    const api = new AksApiServer(context, cluster, options);
    const names = [
      options.privateFqdn,
      ...(options.publicFqdn ? [options.publicFqdn] : []),
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ];
    const cert = api.ca.issueServerCertificate(names, []);
    api.server = await ServiceServer.start({
      service: 'aks',
      tls: { key: cert.keyPem, cert: cert.certPem },
      log: context.log,
      faults: context.faults,
      handler: (req) => api.handle(req),
      faultBody: (code) =>
        new KubeStatusError(
          code,
          REASON_BY_CODE[code] ?? 'InternalError',
          code === 429 ? 'Too many requests, please try again later.' : `Injected sandbox fault: HTTP ${code}`,
        ).toStatus(),
    });
    return api;
  }

  /** What /version reports and what decides the API versions served (servedVersions.ts). */
  get kubernetesVersion(): string {
    return this.options.kubernetesVersion?.() ?? this.cluster.kubernetesVersion;
  }

  get port(): number {
    return this.server.port;
  }

  /** `https://127.0.0.1:<port>` */
  get origin(): string {
    return this.server.origin;
  }

  get caPem(): string {
    return this.ca.certPem;
  }

  /** What ARM puts in kubeconfigs: the cluster's private (or public) FQDN on 443, and the cluster CA. */
  endpoint(which: 'private' | 'public' = 'private'): { server: string; caPem: string } {
    // A public cluster has one FQDN, which may have been given as privateFqdn.
    const publicHost = this.options.publicFqdn ?? (this.cluster.private === false ? this.options.privateFqdn : undefined);
    const host = which === 'public' ? publicHost : this.options.privateFqdn;
    if (!host) throw new Error(`Cluster '${this.cluster.name}' has no public FQDN`);
    return { server: `https://${host}:443`, caPem: this.caPem };
  }

  /** Kubeconfig (YAML) reaching this server on loopback with `tls-server-name: <private FQDN>`. */
  loopbackKubeconfig(user: KubeconfigUser, options: { namespace?: string; tlsServerName?: string; userName?: string } = {}): string {
    return renderKubeconfig({
      name: this.cluster.name,
      server: this.origin,
      caPem: this.caPem,
      tlsServerName: options.tlsServerName ?? this.options.privateFqdn,
      user,
      userName: options.userName,
      namespace: options.namespace,
    });
  }

  /** Kubeconfig of a pod in the cluster (run command): `kubernetes.default.svc` on loopback. */
  inClusterKubeconfig(token: string): string {
    return this.loopbackKubeconfig({ token }, { tlsServerName: 'kubernetes.default.svc', userName: 'run-command' });
  }

  /** Cuts every open watch stream (clients see the connection drop mid-response). */
  dropConnections(): void {
    for (const res of this.watches) res.socket?.destroy();
    this.watches.clear();
  }

  async close(): Promise<void> {
    this.controllers.close();
    this.workloads.close();
    this.dropConnections();
    await this.server?.close();
  }

  // ------------------------------------------------------------------------------------------

  /** The objects a new AKS cluster has that deployments touch: the built-in namespaces. */
  private bootstrap(): void {
    this.bootstrapping = true;
    const nsType = this.type('', 'v1', 'namespaces');
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(this.cluster.namespaces ?? [])]) {
      const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
      this.commitCreate(nsType, ns, undefined, { manager: 'kube-apiserver', record: true, dryRun: false });
    }
    const svcType = this.type('', 'v1', 'services');
    const kubernetesService: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 443 }], clusterIP: '10.0.0.1' },
    };
    this.commitCreate(svcType, kubernetesService, 'default', { manager: 'kube-apiserver', record: true, dryRun: false });
    const quotaType = this.type('', 'v1', 'resourcequotas');
    for (const q of this.cluster.resourceQuotas ?? []) {
      const quota: KubeObject = {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: q.name, namespace: q.namespace },
        spec: { hard: { ...q.hard } },
      };
      this.commitCreate(quotaType, quota, q.namespace, { manager: 'kubectl-client-side-apply', record: true, dryRun: false });
    }
    this.bootstrapping = false;
  }

  private type(group: string, version: string, resource: string): ResourceType {
    const t = this.catalog.find(group, version, resource);
    if (!t) throw new Error(`unknown resource ${group}/${version}/${resource}`);
    return t;
  }

  private async handle(req: SandboxRequest): Promise<SandboxResponse> {
    try {
      return await this.route(req);
    } catch (err) {
      if (err instanceof KubeStatusError)
        return { status: err.code, headers: { 'Content-Type': 'application/json' }, body: err.toStatus() };
      throw err;
    }
  }

  private authenticate(req: SandboxRequest): KubeUser | 'anonymous' | { error: string } {
    const header = req.header('authorization');
    if (!header) return 'anonymous';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return { error: 'unsupported authorization scheme' };
    const token = m[1];
    const localAccounts = this.cluster.aad === null || !this.cluster.disableLocalAccounts;
    if (localAccounts && safeEqual(token, this.staticAdminToken)) return { name: 'masterclient' };
    if (this.cluster.aad === null && safeEqual(token, this.staticUserToken)) return { name: 'clusterUser' };
    if (this.cluster.aad === null) return { error: 'invalid bearer token' };
    try {
      const claims = this.context.entra.validateAccessToken(token, { audience: AKS_AUDIENCE });
      const oid = String(claims.oid ?? claims.sub ?? '');
      const upn = typeof claims.upn === 'string' ? claims.upn : undefined;
      return { name: upn ?? oid, objectId: oid };
    } catch (err) {
      if (err instanceof AccessTokenError) return { error: err.reason };
      throw err;
    }
  }

  private async route(req: SandboxRequest): Promise<SandboxResponse> {
    const user = this.authenticate(req);
    const path = req.path.length > 1 ? req.path.replace(/\/$/, '') : req.path;
    if (user === 'anonymous' || 'error' in user) {
      if (user === 'anonymous' && this.options.anonymousHealth && PUBLIC_INFO.test(path)) return this.nonResource(req, path);
      return {
        status: 401,
        headers: { 'Content-Type': 'application/json' },
        body: UNAUTHORIZED_BODY,
        note: { auth: user === 'anonymous' ? 'anonymous' : user.error },
      };
    }
    const parts = path.split('/').filter(Boolean);
    const isResource = (parts[0] === 'api' && parts.length >= 3) || (parts[0] === 'apis' && parts.length >= 4);
    if (!isResource) {
      const response = this.nonResource(req, path);
      response.note = { user: user.name, ...response.note };
      return response;
    }
    const info = this.requestInfo(req, parts);
    const type = this.catalog.find(info.group, info.version, info.resource);
    if (type && info.verb === 'create' && (type.resource === 'selfsubjectaccessreviews' || type.resource === 'selfsubjectreviews')) {
      // Any authenticated user may ask about themselves (Kubernetes RBAC: system:basic-user).
      const response = this.review(req, type, user);
      response.note = { user: user.name, verb: info.verb, ...response.note };
      return response;
    }

    // Authorization (guard) comes before the request reaches the resource handler.
    if (user.objectId !== undefined) {
      const { allowed, dataAction, scope } = this.decide(user, info.group, info.resource, info.verb, info.namespace, info.subresource);
      const note = {
        user: user.name,
        verb: info.verb,
        dataAction: dataAction ?? '',
        scope: scope ?? '',
        decision: allowed ? 'allowed' : 'denied',
      };
      if (!allowed) return { ...this.forbidden(user, info), note };
      const response = await this.resource(req, info, type);
      response.note = { ...note, ...response.note };
      return response;
    }
    const response = await this.resource(req, info, type);
    response.note = { user: user.name, verb: info.verb, ...response.note };
    return response;
  }

  /** The Azure RBAC decision for a request by an Entra user (local accounts are cluster admins). */
  private decide(
    user: KubeUser,
    group: string,
    resource: string,
    verb: string,
    namespace: string | undefined,
    subresource?: string,
  ): { allowed: boolean; dataAction?: string; scope?: string } {
    if (user.objectId === undefined) return { allowed: true };
    const type = this.catalog.all().find((t) => t.group === group && t.resource === resource);
    const custom = type ? type.custom : !!group && !this.catalog.all().some((t) => t.group === group && !t.custom);
    const dataAction = dataActionFor(group, resource, verb, { custom, subresource });
    const scope = namespace ? `${this.options.clusterResourceId}/namespaces/${namespace}` : this.options.clusterResourceId;
    return { allowed: this.options.authorize(user.objectId, dataAction, scope), dataAction, scope };
  }

  /** SelfSubjectAccessReview (`kubectl auth can-i`) and SelfSubjectReview (`kubectl auth whoami`). */
  private review(req: SandboxRequest, type: ResourceType, user: KubeUser): SandboxResponse {
    const body = this.parseBody(req, type);
    checkTypeMeta(type, body);
    const review: KubeObject = { kind: type.kind, apiVersion: groupVersion(type), metadata: { creationTimestamp: null } };
    if (type.resource === 'selfsubjectreviews') {
      const userInfo: JsonObject = {
        username: user.name,
        groups: user.objectId ? ['system:authenticated'] : ['system:masters', 'system:authenticated'],
      };
      if (user.objectId) userInfo.extra = { oid: [user.objectId] };
      review.status = { userInfo };
      return { status: 201, headers: { 'Content-Type': 'application/json' }, body: review };
    }
    const spec = isObject(body.spec) ? body.spec : {};
    review.spec = clone(spec);
    let allowed: boolean;
    let note: Record<string, string> = {};
    if (isObject(spec.resourceAttributes)) {
      const a = spec.resourceAttributes;
      const decision = this.decide(
        user,
        String(a.group ?? ''),
        String(a.resource ?? ''),
        String(a.verb ?? ''),
        a.namespace ? String(a.namespace) : undefined,
        a.subresource ? String(a.subresource) : undefined,
      );
      allowed = decision.allowed;
      if (decision.dataAction)
        note = { dataAction: decision.dataAction, scope: decision.scope ?? '', decision: allowed ? 'allowed' : 'denied' };
    } else {
      // Non-resource URLs: discovery, health and OpenAPI are open to authenticated users.
      const path = isObject(spec.nonResourceAttributes) ? String(spec.nonResourceAttributes.path ?? '') : '';
      allowed = /^\/(api|apis|openapi|version|healthz|livez|readyz)(\/.*)?$/.test(path) || user.objectId === undefined;
    }
    review.status = allowed
      ? { allowed: true, ...(user.objectId ? { reason: AZURE_RBAC_ALLOWED_REASON } : {}) }
      : { allowed: false, ...(this.cluster.aad?.enableAzureRBAC === false ? {} : { reason: AZURE_RBAC_DENIED_REASON }) };
    return { status: 201, headers: { 'Content-Type': 'application/json' }, body: review, note };
  }

  private forbidden(user: KubeUser, info: RequestInfo): SandboxResponse {
    const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
    const where = info.namespace ? `in the namespace "${info.namespace}"` : 'at the cluster scope';
    const reason = this.cluster.aad?.enableAzureRBAC === false ? '' : `: ${AZURE_RBAC_DENIED_REASON}`;
    const detail = `User "${user.name}" cannot ${info.verb} resource "${resource}" in API group "${info.group}" ${where}${reason}`;
    const qualified = qualifiedResource(info);
    const message = info.name ? `${qualified} "${info.name}" is forbidden: ${detail}` : `${qualified} is forbidden: ${detail}`;
    return status(403, 'Forbidden', message, { ...(info.name ? { name: info.name } : {}), group: info.group, kind: info.resource });
  }

  private requestInfo(req: SandboxRequest, parts: string[]): RequestInfo {
    const [group, version, rest] = parts[0] === 'api' ? ['', parts[1], parts.slice(2)] : [parts[1], parts[2], parts.slice(3)];
    let current = rest;
    let namespace: string | undefined;
    if (current[0] === 'namespaces' && current.length > 1) {
      namespace = current[1];
      if (current.length > 2 && !['status', 'finalize'].includes(current[2])) current = current.slice(2);
    }
    if (current.length > 3) throw new KubeStatusError(404, 'NotFound', 'the server could not find the requested resource', {});
    const [resource, name, subresource] = current;
    const watch = ['true', '1'].includes(req.url.searchParams.get('watch') ?? '');
    let verb: RequestInfo['verb'];
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        verb = watch ? 'watch' : name ? 'get' : 'list';
        break;
      case 'POST':
        verb = 'create';
        break;
      case 'PUT':
        verb = 'update';
        break;
      case 'PATCH':
        verb = 'patch';
        break;
      case 'DELETE':
        verb = name ? 'delete' : 'deletecollection';
        break;
      default:
        throw new KubeStatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    return { group, version, namespace, resource, name, subresource, verb };
  }

  // ------------------------------------------------------------------------------------------
  // Non-resource paths

  private nonResource(req: SandboxRequest, path: string): SandboxResponse {
    const json = (body: object, headers: Record<string, string> = {}): SandboxResponse => ({
      status: 200,
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const health = /^\/(healthz|livez|readyz)(\/.*)?$/.exec(path);
    if (health) {
      if (req.url.searchParams.has('verbose')) {
        const checks = ['ping', 'log', 'etcd', 'poststarthook/start-apiextensions-informers', 'poststarthook/crd-informer-synced'];
        return { status: 200, body: `${checks.map((c) => `[+]${c} ok`).join('\n')}\n${health[1]} check passed\n` };
      }
      return { status: 200, body: 'ok' };
    }
    if (path === '/version') {
      const version = this.kubernetesVersion.replace(/^v/, '');
      const [major, minor] = version.split('.');
      return json({
        major,
        minor,
        gitVersion: `v${version}`,
        gitCommit: crypto.createHash('sha1').update(version).digest('hex'),
        gitTreeState: 'clean',
        buildDate: '2024-11-20T18:08:29Z',
        goVersion: 'go1.22.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    const accept = req.header('accept') ?? '';
    const aggregated = /application\/json;g=apidiscovery\.k8s\.io;v=(v2|v2beta1);as=APIGroupDiscoveryList/.exec(accept.replace(/\s+/g, ''));
    const etag = `"${this.catalog.etag}"`;
    if (path === '/api' || path === '/apis') {
      if (aggregated) {
        const v = aggregated[1] as 'v2' | 'v2beta1';
        return json(this.catalog.aggregated(path === '/api', v), {
          'Content-Type': `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`,
          ETag: etag,
          Vary: 'Accept',
        });
      }
      return json(path === '/api' ? this.catalog.apiVersions(`${this.options.privateFqdn}:443`) : this.catalog.apiGroupList(), {
        Vary: 'Accept',
      });
    }
    const parts = path.split('/').filter(Boolean);
    if (parts[0] === 'api' && parts.length === 2 && this.catalog.servesGroupVersion('', parts[1]))
      return json(this.catalog.apiResourceList('', parts[1]));
    if (parts[0] === 'apis' && parts.length === 2 && this.catalog.groups().some((g) => g.name === parts[1]))
      return json(this.catalog.apiGroup(parts[1]));
    if (parts[0] === 'apis' && parts.length === 3 && this.catalog.servesGroupVersion(parts[1], parts[2]))
      return json(this.catalog.apiResourceList(parts[1], parts[2]));
    if (path === '/openapi/v2') {
      if (accept.includes(OPENAPI_V2_PROTOBUF) || accept.includes('application/com.github.proto-openapi.spec.v2.v1.0+protobuf')) {
        return {
          status: 200,
          headers: { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', ETag: etag, Vary: 'Accept' },
          body: openApiV2Protobuf(this.catalog, this.kubernetesVersion),
        };
      }
      return json(openApiV2Json(this.catalog, this.kubernetesVersion), { ETag: etag, Vary: 'Accept' });
    }
    if (path === '/openapi/v3') return json(this.catalog.openApiV3Index(), { ETag: etag });
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const key = parts.slice(2);
      const [group, version] =
        key[0] === 'api' && key.length === 2
          ? ['', key[1]]
          : key[0] === 'apis' && key.length === 3
            ? [key[1], key[2]]
            : [undefined, undefined];
      if (group !== undefined && version !== undefined && this.catalog.servesGroupVersion(group, version)) {
        return json(this.catalog.openApiV3Document(group, version), {
          ETag: `"${this.catalog.openApiHash(group, version)}"`,
          'Cache-Control': 'public, immutable',
        });
      }
    }
    return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: '404 page not found\n' };
  }

  // ------------------------------------------------------------------------------------------
  // Resource requests

  private notFound(type: ResourceType | RequestInfo, name: string): KubeStatusError {
    const resource = 'resource' in type ? type.resource : '';
    return new KubeStatusError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, {
      name,
      group: type.group,
      kind: resource,
    });
  }

  private async resource(req: SandboxRequest, info: RequestInfo, type: ResourceType | undefined): Promise<SandboxResponse> {
    if (!type) return status(404, 'NotFound', 'the server could not find the requested resource', {});
    if (type.namespaced && !info.namespace && !['list', 'watch', 'deletecollection'].includes(info.verb)) {
      return status(404, 'NotFound', 'the server could not find the requested resource', {});
    }
    const namespace = type.namespaced ? info.namespace : undefined;
    if (type.group === '' && type.resource === 'pods' && info.subresource === 'log' && info.verb === 'get') {
      const log = this.workloads.podLog(namespace ?? '', info.name ?? '', req.url.searchParams);
      if (log.error !== undefined) return status(log.status, REASON_BY_CODE[log.status] ?? 'BadRequest', log.error);
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: log.text ?? '' };
    }
    if (
      info.subresource &&
      !(type.subresources as string[]).includes(info.subresource) &&
      !(type.resource === 'namespaces' && info.subresource === 'finalize')
    ) {
      return status(404, 'NotFound', 'the server could not find the requested resource', {});
    }
    const query = req.url.searchParams;
    const dryRun = query.getAll('dryRun').includes('All');
    switch (info.verb) {
      case 'get':
        return this.get(req, type, namespace, info);
      case 'list':
        return this.list(req, type, namespace);
      case 'watch':
        return this.watch(req, type, namespace, info.name);
      case 'create':
        if (info.name) return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        return this.create(req, type, namespace, dryRun);
      case 'update':
        return this.update(req, type, namespace, info, dryRun);
      case 'patch':
        return this.patch(req, type, namespace, info, dryRun);
      case 'delete':
        return this.delete(req, type, namespace, info.name!, dryRun);
      case 'deletecollection':
        return this.deleteCollection(req, type, namespace, dryRun);
    }
  }

  /** The object as the requested version presents it. */
  private present(type: ResourceType, obj: KubeObject): KubeObject {
    const out = clone(obj);
    out.apiVersion = groupVersion(type);
    out.kind = type.kind;
    return out;
  }

  private objectResponse(code: number, type: ResourceType, obj: KubeObject, warnings: string[] = []): SandboxResponse {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Audit-Id': crypto.randomUUID(),
      'Cache-Control': 'no-cache, private',
    };
    if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
    return { status: code, headers, body: this.present(type, obj) };
  }

  private get(req: SandboxRequest, type: ResourceType, namespace: string | undefined, info: RequestInfo): SandboxResponse {
    const obj = this.store.read(type, namespace, info.name!);
    if (!obj) throw this.notFound(type, info.name!);
    if (info.subresource === 'scale') return { status: 200, body: this.scaleOf(type, obj) };
    if (wantsTable(req)) return { status: 200, headers: { 'Content-Type': 'application/json' }, body: this.table(type, [obj]) };
    return this.objectResponse(200, type, obj);
  }

  private matcher(req: SandboxRequest): (obj: KubeObject) => boolean {
    const fields = parseFieldSelector(req.url.searchParams.get('fieldSelector'));
    const labels = parseLabelSelector(req.url.searchParams.get('labelSelector'));
    return (obj) => {
      const objLabels = isObject(metadataOf(obj).labels) ? (metadataOf(obj).labels as JsonObject) : {};
      return fields.every((f) => f(obj)) && labels.every((l) => l(objLabels));
    };
  }

  private list(req: SandboxRequest, type: ResourceType, namespace: string | undefined): SandboxResponse {
    const matches = this.matcher(req);
    const items = this.store.readAll(type, namespace).filter(matches);
    if (wantsTable(req)) return { status: 200, headers: { 'Content-Type': 'application/json' }, body: this.table(type, items) };
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json', 'Audit-Id': crypto.randomUUID(), 'Cache-Control': 'no-cache, private' },
      body: {
        apiVersion: groupVersion(type),
        kind: type.listKind,
        metadata: { resourceVersion: String(this.store.resourceVersion) },
        items: items.map((o) => {
          const p = this.present(type, o);
          if (!type.custom) {
            // Lists of built-in kinds carry apiVersion/kind only on the list.
            delete p.apiVersion;
            delete p.kind;
          }
          return p;
        }),
      },
    };
  }

  private watch(req: SandboxRequest, type: ResourceType, namespace: string | undefined, name: string | undefined): SandboxResponse {
    const query = req.url.searchParams;
    const matches = this.matcher(req);
    const inScope = (obj: KubeObject): boolean =>
      (namespace === undefined || metadataOf(obj).namespace === namespace) &&
      (name === undefined || metadataOf(obj).name === name) &&
      matches(obj);
    const rvParam = query.get('resourceVersion') ?? '';
    const sendInitialEvents = query.get('sendInitialEvents') === 'true';
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '') || 1800;
    let startRv: number | undefined;
    if (rvParam !== '' && rvParam !== '0' && !sendInitialEvents) {
      startRv = Number(rvParam);
      if (!Number.isInteger(startRv)) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a valid integer`);
      if (startRv < this.store.oldestWatchableResourceVersion) {
        throw new KubeStatusError(410, 'Expired', `too old resource version: ${startRv} (${this.store.oldestWatchableResourceVersion})`);
      }
    }
    const key = storageKey(type);
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Audit-Id': crypto.randomUUID() },
      note: { watch: 'true' },
      raw: (res) =>
        new Promise<void>((resolve) => {
          let lastRv = startRv ?? this.store.resourceVersion;
          const send = (eventType: string, obj: KubeObject): void => {
            res.write(`${JSON.stringify({ type: eventType, object: eventType === 'BOOKMARK' ? obj : this.present(type, obj) })}\n`);
          };
          const deliver = (event: StoredEvent): void => {
            if (event.storageKey !== key || event.resourceVersion <= lastRv) return;
            lastRv = event.resourceVersion;
            if (inScope(event.object)) send(event.type, event.object);
          };
          const unsubscribe = this.store.subscribe(deliver);
          this.watches.add(res);
          res.flushHeaders();
          if (startRv === undefined) {
            for (const obj of this.store.readAll(type, namespace)) if (inScope(obj)) send('ADDED', obj);
            if (sendInitialEvents) {
              send('BOOKMARK', {
                apiVersion: groupVersion(type),
                kind: type.kind,
                metadata: { resourceVersion: String(lastRv), annotations: { 'k8s.io/initial-events-end': 'true' } },
              });
            }
          } else {
            for (const event of this.store.replay(type, startRv)) deliver(event);
          }
          const timer = setTimeout(() => res.end(), timeoutSeconds * 1000);
          res.on('close', () => {
            clearTimeout(timer);
            unsubscribe();
            this.watches.delete(res);
            resolve();
          });
        }),
    };
  }

  private parseBody(req: SandboxRequest, type: ResourceType): KubeObject {
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.text());
    } catch (err) {
      throw badRequest(
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: the sandbox API server accepts JSON bodies only (${(err as Error).message})`,
      );
    }
    if (!isObject(parsed))
      throw badRequest(
        `${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: json: cannot unmarshal into Go value of type ${type.kind}`,
      );
    return parsed;
  }

  private fieldManager(req: SandboxRequest): string {
    const explicit = req.url.searchParams.get('fieldManager');
    if (explicit) return explicit;
    const ua = req.header('user-agent') ?? '';
    return ua.split('/')[0] || 'unknown';
  }

  private create(req: SandboxRequest, type: ResourceType, namespace: string | undefined, dryRun: boolean): SandboxResponse {
    const obj = this.parseBody(req, type);
    checkTypeMeta(type, obj);
    const warnings = decodeObject(type, obj, req.url.searchParams.get('fieldValidation') ?? undefined);
    const stored = this.commitCreate(type, obj, namespace, { manager: this.fieldManager(req), record: true, dryRun, warnings });
    return this.objectResponse(201, type, stored, warnings);
  }

  private checkNamespace(type: ResourceType, namespace: string | undefined, name: string): void {
    if (!type.namespaced) return;
    const nsType = this.type('', 'v1', 'namespaces');
    const ns = this.store.read(nsType, undefined, namespace ?? '');
    if (!ns)
      throw new KubeStatusError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace ?? '', kind: 'namespaces' });
    if (metadataOf(ns).deletionTimestamp) {
      const message = `${qualifiedResource(type)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`;
      throw new KubeStatusError(403, 'Forbidden', message, {
        name,
        group: type.group,
        kind: type.resource,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
  }

  private commitCreate(
    type: ResourceType,
    obj: KubeObject,
    namespace: string | undefined,
    options: { manager: string; record: boolean; dryRun: boolean; warnings?: string[] },
  ): KubeObject {
    const meta = metadataOf(obj);
    if (type.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace ?? '';
    } else {
      delete meta.namespace;
    }
    if (!meta.name && typeof meta.generateName === 'string' && meta.generateName) {
      meta.name = `${meta.generateName}${Array.from(crypto.randomBytes(5), (b) => 'bcdfghjklmnpqrstvwxz2456789'[b % 27]).join('')}`;
    }
    const name = String(meta.name ?? '');
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    if (name) this.checkNamespace(type, namespace, name);
    if (name && this.store.read(type, namespace, name)) {
      throw new KubeStatusError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, {
        name,
        group: type.group,
        kind: type.resource,
      });
    }
    meta.uid = this.store.newUid();
    meta.creationTimestamp = nowTimestamp();
    delete meta.deletionTimestamp;
    if (type.generation) meta.generation = 1;
    else delete meta.generation;
    if (type.subresources.includes('status') && !(type.group === '' && type.resource === 'services')) delete obj.status;
    if (type.group === '' && type.resource === 'namespaces') obj.status = { phase: 'Active' };
    applyDefaults(type, obj, undefined, this.allocators());
    const errors = validateObject(type, obj, undefined, minorVersion(this.kubernetesVersion));
    if (errors.length) throw invalidError(type, name, errors);
    if (options.warnings) options.warnings.push(...this.validatingAdmission(type, obj, undefined));
    if (type.resource === 'customresourcedefinitions' && type.group === 'apiextensions.k8s.io') obj.status = establishedCrdStatus(obj);
    if (options.record) recordUpdate(undefined, obj, options.manager, groupVersion(type));
    if (options.dryRun) return obj;
    const stored = this.store.write(type, obj);
    this.afterWrite(type, stored, undefined);
    return stored;
  }

  /**
   * Validating admission after validation, in kube-apiserver's plugin order: the webhooks
   * (Azure Policy's Gatekeeper, policyWebhooks.ts), then ResourceQuota (quota.ts), which is last.
   * Runs for dry-run requests too. Returns the webhooks' warnings.
   */
  private validatingAdmission(type: ResourceType, obj: KubeObject, previous: KubeObject | undefined): string[] {
    const warnings = admitByPolicy(this.policySettings(), type, obj);
    checkQuota(this.store, this.catalog, type, obj, previous);
    return warnings;
  }

  private policySettings(): PolicySettings | undefined {
    const constraints = this.cluster.policyConstraints ?? [];
    return constraints.length ? { constraints, expansionTemplate: this.cluster.policyExpansionTemplate } : undefined;
  }

  private allocators(): { clusterIP(): string; nodePort(): number } {
    return {
      clusterIP: () => {
        const n = this.nextServiceIp++;
        return `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
      },
      nodePort: () => this.nextNodePort++,
    };
  }

  private afterWrite(type: ResourceType, stored: KubeObject, previous: KubeObject | undefined): void {
    if (type.group === 'apiextensions.k8s.io' && type.resource === 'customresourcedefinitions') this.catalog.registerCrd(stored);
    if (type.group === '' && type.resource === 'namespaces' && !previous) {
      const name = String(metadataOf(stored).name);
      if (this.bootstrapping) this.populateNamespace(name);
      else this.controllers.schedule(() => this.populateNamespace(name));
    }
    this.controllers.observe(type, stored, previous);
    if (!this.bootstrapping) this.workloads.observe(type, stored, previous);
  }

  /** What the service account and root-CA publisher controllers put in every namespace. */
  private populateNamespace(namespace: string): void {
    const ns = this.store.read(this.type('', 'v1', 'namespaces'), undefined, namespace);
    if (!ns || metadataOf(ns).deletionTimestamp) return;
    const objects: Array<[ResourceType, KubeObject]> = [
      [this.type('', 'v1', 'serviceaccounts'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } }],
      [
        this.type('', 'v1', 'configmaps'),
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: 'kube-root-ca.crt',
            namespace,
            annotations: {
              'kubernetes.io/description':
                'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
            },
          },
          data: { 'ca.crt': this.caPem },
        },
      ],
    ];
    for (const [type, obj] of objects) {
      if (this.store.read(type, namespace, String(metadataOf(obj).name))) continue;
      try {
        this.commitCreate(type, obj, namespace, { manager: 'kube-controller-manager', record: true, dryRun: false });
      } catch {
        // The namespace went away meanwhile.
      }
    }
  }

  /**
   * Stores `next` as the new state of `current` after an update/patch/apply: keeps system
   * metadata, enforces resourceVersion preconditions, keeps status (or only changes status on
   * the status subresource), defaults, validates, bumps generation, records managed fields.
   */
  private commitUpdate(
    type: ResourceType,
    current: KubeObject,
    next: KubeObject,
    options: {
      manager: string;
      record: boolean;
      dryRun: boolean;
      subresource?: string;
      /** Requests from clients (not controllers) go through validating admission; its warnings land here. */
      warnings?: string[];
    },
  ): KubeObject {
    const curMeta = metadataOf(current);
    const meta = metadataOf(next);
    const name = String(curMeta.name);
    if (meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    if (type.namespaced && meta.namespace !== undefined && meta.namespace !== curMeta.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== curMeta.resourceVersion) {
      throw new KubeStatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: type.group, kind: type.resource },
      );
    }
    let result: KubeObject;
    if (options.subresource === 'status') {
      result = clone(current);
      if (next.status === undefined) delete result.status;
      else result.status = clone(next.status);
      if (next.metadata && isObject(next.metadata) && Array.isArray(next.metadata.managedFields))
        metadataOf(result).managedFields = clone(next.metadata.managedFields);
    } else {
      result = clone(next);
      if (type.subresources.includes('status')) {
        if (current.status === undefined) delete result.status;
        else result.status = clone(current.status);
      }
    }
    const resultMeta = metadataOf(result);
    resultMeta.name = name;
    if (type.namespaced) resultMeta.namespace = curMeta.namespace;
    else delete resultMeta.namespace;
    for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp', 'generation'] as const) {
      if (curMeta[field] === undefined) delete resultMeta[field];
      else resultMeta[field] = clone(curMeta[field]);
    }
    resultMeta.resourceVersion = curMeta.resourceVersion;
    if (type.group === '' && type.resource === 'namespaces' && options.subresource !== 'status')
      result.status = clone(current.status ?? { phase: 'Active' });
    applyDefaults(type, result, current, this.allocators());
    const errors = validateObject(type, result, current, minorVersion(this.kubernetesVersion));
    if (errors.length) throw invalidError(type, name, errors);
    if (options.warnings && options.subresource !== 'status') options.warnings.push(...this.validatingAdmission(type, result, current));
    if (type.generation && !deepEqual(withoutMetaAndStatus(result), withoutMetaAndStatus(current))) {
      resultMeta.generation = (typeof curMeta.generation === 'number' ? curMeta.generation : 0) + 1;
    }
    if (type.resource === 'customresourcedefinitions' && type.group === 'apiextensions.k8s.io')
      result.status = establishedCrdStatus(result);
    if (options.record) recordUpdate(current, result, options.manager, groupVersion(type), options.subresource);
    if (sameIgnoringManagedTimes(result, current)) return current;
    if (options.dryRun) return result;
    const stored = this.store.write(type, result);
    this.afterWrite(type, stored, current);
    return stored;
  }

  private update(
    req: SandboxRequest,
    type: ResourceType,
    namespace: string | undefined,
    info: RequestInfo,
    dryRun: boolean,
  ): SandboxResponse {
    const name = info.name!;
    const current = this.store.read(type, namespace, name);
    if (!current) throw this.notFound(type, name);
    if (info.subresource === 'scale') {
      const scale = this.parseBody(req, type);
      const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined;
      return { status: 200, body: this.scaleOf(type, this.setReplicas(type, current, replicas, req, dryRun)) };
    }
    const obj = this.parseBody(req, type);
    checkTypeMeta(type, obj);
    const warnings = decodeObject(type, obj, req.url.searchParams.get('fieldValidation') ?? undefined);
    const stored = this.commitUpdate(type, current, obj, {
      manager: this.fieldManager(req),
      record: true,
      dryRun,
      subresource: info.subresource,
      warnings,
    });
    return this.objectResponse(200, type, stored, warnings);
  }

  private patch(
    req: SandboxRequest,
    type: ResourceType,
    namespace: string | undefined,
    info: RequestInfo,
    dryRun: boolean,
  ): SandboxResponse {
    const name = info.name!;
    const contentType = (req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const query = req.url.searchParams;
    const current = this.store.read(type, namespace, name);
    let body: Json;
    try {
      body = JSON.parse(req.text()) as Json;
    } catch (err) {
      throw badRequest(`error decoding patch: ${(err as Error).message} (the sandbox API server accepts JSON bodies only)`);
    }

    if (contentType === 'application/apply-patch+yaml') {
      const manager = query.get('fieldManager');
      if (!manager)
        throw new KubeStatusError(
          422,
          'Invalid',
          'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        );
      if (!isObject(body)) throw badRequest('invalid object type: /, Kind=');
      if (typeof body.apiVersion !== 'string' || typeof body.kind !== 'string')
        throw badRequest(`invalid object type: ${String(body.apiVersion ?? '')}, Kind=${String(body.kind ?? '')}`);
      checkTypeMeta(type, body);
      const bodyName = isObject(body.metadata) ? body.metadata.name : undefined;
      if (bodyName !== undefined && bodyName !== name)
        throw badRequest(`the name of the object (${String(bodyName)}) does not match the name on the URL (${name})`);
      checkApplyFields(type, body, namespace, name);
      const warnings = decodeObject(type, body, query.get('fieldValidation') ?? undefined);
      const force = query.get('force') === 'true';
      try {
        if (!current) {
          if (info.subresource) throw this.notFound(type, name);
          this.checkNamespace(type, namespace, name);
          const created = serverSideApply(undefined, body, manager, force, groupVersion(type));
          metadataOf(created).name = name;
          return this.objectResponse(
            201,
            type,
            this.commitCreate(type, created, namespace, { manager, record: false, dryRun, warnings }),
            warnings,
          );
        }
        const applied = serverSideApply(current, body, manager, force, groupVersion(type));
        return this.objectResponse(
          200,
          type,
          this.commitUpdate(type, current, applied, { manager, record: false, dryRun, subresource: info.subresource, warnings }),
          warnings,
        );
      } catch (err) {
        if (err instanceof ApplyConflictError) {
          throw new KubeStatusError(409, 'Conflict', err.message, {
            name,
            group: type.group,
            kind: type.resource,
            causes: err.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.field })),
          });
        }
        throw err;
      }
    }

    if (!current) throw this.notFound(type, name);
    if (info.subresource === 'scale') {
      const scale = this.scaleOf(type, current);
      const patched =
        contentType === 'application/json-patch+json' ? applyJsonPatch(scale as Json, body) : applyMergePatch(scale as Json, body);
      const replicas = isObject(patched) && isObject(patched.spec) ? patched.spec.replicas : undefined;
      return { status: 200, body: this.scaleOf(type, this.setReplicas(type, current, replicas, req, dryRun)) };
    }
    let patched: Json;
    try {
      switch (contentType) {
        case 'application/json-patch+json':
          patched = applyJsonPatch(clone(current), body);
          break;
        case 'application/merge-patch+json':
          patched = applyMergePatch(clone(current), body);
          break;
        case 'application/strategic-merge-patch+json':
          if (type.custom) {
            return status(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
            );
          }
          patched = applyStrategicMergePatch(clone(current), body);
          break;
        default:
          return status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${type.custom ? '' : ', application/strategic-merge-patch+json'}`,
          );
      }
    } catch (err) {
      if (err instanceof PatchError) {
        if (err.status === 422) {
          // NewGenericServerResponse(422, …) without a resource, as the patch handler answers.
          throw new KubeStatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
            causes: [{ message: err.message }],
          });
        }
        throw new KubeStatusError(err.status, REASON_BY_CODE[err.status] ?? 'BadRequest', err.message);
      }
      throw err;
    }
    if (!isObject(patched)) throw badRequest('the patch produced something other than an object');
    const warnings = decodeObject(type, patched, query.get('fieldValidation') ?? undefined);
    const stored = this.commitUpdate(type, current, patched, {
      manager: this.fieldManager(req),
      record: true,
      dryRun,
      subresource: info.subresource,
      warnings,
    });
    return this.objectResponse(200, type, stored, warnings);
  }

  private scaleOf(type: ResourceType, obj: KubeObject): JsonObject {
    const meta = metadataOf(obj);
    const spec = isObject(obj.spec) ? obj.spec : {};
    const st = isObject(obj.status) ? obj.status : {};
    const selector =
      isObject(spec.selector) && isObject(spec.selector.matchLabels)
        ? Object.entries(spec.selector.matchLabels)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(',')
        : '';
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
        creationTimestamp: meta.creationTimestamp,
      },
      spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 0 },
      status: { replicas: typeof st.replicas === 'number' ? st.replicas : 0, selector },
    };
  }

  private setReplicas(
    type: ResourceType,
    current: KubeObject,
    replicas: Json | undefined,
    req: SandboxRequest,
    dryRun: boolean,
  ): KubeObject {
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new KubeStatusError(
        422,
        'Invalid',
        `Scale.autoscaling "${String(metadataOf(current).name)}" is invalid: spec.replicas: Invalid value: ${String(replicas)}: must be greater than or equal to 0`,
      );
    }
    const next = clone(current);
    (next.spec as JsonObject).replicas = replicas;
    delete metadataOf(next).resourceVersion;
    return this.commitUpdate(type, current, next, { manager: this.fieldManager(req), record: true, dryRun, subresource: 'scale' });
  }

  private deleteOptions(req: SandboxRequest): JsonObject {
    const text = req.text().trim();
    if (!text) return {};
    try {
      const parsed = JSON.parse(text) as Json;
      return isObject(parsed) ? parsed : {};
    } catch {
      throw badRequest('DeleteOptions: the sandbox API server accepts JSON bodies only');
    }
  }

  private delete(req: SandboxRequest, type: ResourceType, namespace: string | undefined, name: string, dryRun: boolean): SandboxResponse {
    const current = this.store.read(type, namespace, name);
    if (!current) throw this.notFound(type, name);
    const options = this.deleteOptions(req);
    const preconditions = isObject(options.preconditions) ? options.preconditions : {};
    const meta = metadataOf(current);
    if (preconditions.uid !== undefined && preconditions.uid !== meta.uid) {
      throw new KubeStatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": Precondition failed: UID in precondition: ${String(preconditions.uid)}, UID in object meta: ${String(meta.uid)}`,
        { name, group: type.group, kind: type.resource },
      );
    }
    if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== meta.resourceVersion) {
      throw new KubeStatusError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": Precondition failed: ResourceVersion in precondition: ${String(preconditions.resourceVersion)}, ResourceVersion in object meta: ${String(meta.resourceVersion)}`,
        { name, group: type.group, kind: type.resource },
      );
    }
    const dryRunAll = dryRun || !!(options.dryRun as Json[] | undefined)?.includes?.('All');
    if (type.group === '' && type.resource === 'namespaces') {
      if (meta.deletionTimestamp) return this.objectResponse(200, type, current);
      const terminating = clone(current);
      metadataOf(terminating).deletionTimestamp = nowTimestamp();
      terminating.status = { phase: 'Terminating' };
      // A dry run answers the namespace as the deletion would leave it (Terminating), storing nothing.
      if (dryRunAll) return this.objectResponse(200, type, terminating);
      const stored = this.store.write(type, terminating);
      this.controllers.terminateNamespace(type, name, () => this.catalog.all());
      return this.objectResponse(200, type, stored);
    }
    if (dryRunAll) return this.objectResponse(200, type, current);
    if (type.group === 'apiextensions.k8s.io' && type.resource === 'customresourcedefinitions') {
      const served = this.catalog.unregisterCrd(name);
      if (served[0]) this.store.removeAll(served[0]);
    }
    const removed = this.store.remove(type, namespace, name)!;
    return this.objectResponse(200, type, removed);
  }

  private deleteCollection(req: SandboxRequest, type: ResourceType, namespace: string | undefined, dryRun: boolean): SandboxResponse {
    const matches = this.matcher(req);
    const items = this.store.readAll(type, namespace).filter(matches);
    if (!dryRun) {
      for (const obj of items) {
        const name = String(metadataOf(obj).name);
        if (type.group === 'apiextensions.k8s.io' && type.resource === 'customresourcedefinitions') {
          const served = this.catalog.unregisterCrd(name);
          if (served[0]) this.store.removeAll(served[0]);
        }
        this.store.remove(type, metadataOf(obj).namespace as string | undefined, name);
      }
    }
    return {
      status: 200,
      body: {
        apiVersion: groupVersion(type),
        kind: type.listKind,
        metadata: { resourceVersion: String(this.store.resourceVersion) },
        items: items.map((o) => this.present(type, o)),
      },
    };
  }

  // ------------------------------------------------------------------------------------------
  // Server-side printing (kubectl get without -o)

  private table(type: ResourceType, objects: KubeObject[]): JsonObject {
    const age = (obj: KubeObject): string => {
      const created = Date.parse(String(metadataOf(obj).creationTimestamp ?? ''));
      return Number.isNaN(created) ? '<unknown>' : humanDuration((Date.now() - created) / 1000);
    };
    const n = (v: Json | undefined): number => (typeof v === 'number' ? v : 0);
    const col = (name: string, type_ = 'string', description = name): JsonObject => ({
      name,
      type: type_,
      format: name === 'Name' ? 'name' : '',
      description,
      priority: 0,
    });
    let columns: JsonObject[] = [col('Name'), col('Age')];
    let cells = (obj: KubeObject): Json[] => [String(metadataOf(obj).name), age(obj)];
    const key = `${type.group}/${type.resource}`;
    if (key === 'apps/deployments') {
      columns = [col('Name'), col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer'), col('Age')];
      cells = (obj) => {
        const st = isObject(obj.status) ? obj.status : {};
        const spec = isObject(obj.spec) ? obj.spec : {};
        return [
          String(metadataOf(obj).name),
          `${n(st.readyReplicas)}/${n(spec.replicas)}`,
          n(st.updatedReplicas),
          n(st.availableReplicas),
          age(obj),
        ];
      };
    } else if (key === '/namespaces') {
      columns = [col('Name'), col('Status'), col('Age')];
      cells = (obj) => [String(metadataOf(obj).name), String((isObject(obj.status) ? obj.status.phase : '') ?? ''), age(obj)];
    } else if (key === '/configmaps') {
      columns = [col('Name'), col('Data', 'integer'), col('Age')];
      cells = (obj) => [
        String(metadataOf(obj).name),
        Object.keys(isObject(obj.data) ? obj.data : {}).length + Object.keys(isObject(obj.binaryData) ? obj.binaryData : {}).length,
        age(obj),
      ];
    } else if (key === '/secrets') {
      columns = [col('Name'), col('Type'), col('Data', 'integer'), col('Age')];
      cells = (obj) => [
        String(metadataOf(obj).name),
        String(obj.type ?? ''),
        Object.keys(isObject(obj.data) ? obj.data : {}).length,
        age(obj),
      ];
    } else if (key === '/services') {
      columns = [col('Name'), col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), col('Age')];
      cells = (obj) => {
        const spec = isObject(obj.spec) ? obj.spec : {};
        const ports = Array.isArray(spec.ports)
          ? spec.ports
              .filter(isObject)
              .map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`)
              .join(',')
          : '<none>';
        return [
          String(metadataOf(obj).name),
          String(spec.type ?? ''),
          String(spec.clusterIP ?? ''),
          spec.type === 'LoadBalancer' ? '<pending>' : '<none>',
          ports || '<none>',
          age(obj),
        ];
      };
    }
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      columnDefinitions: columns,
      rows: objects.map((obj) => ({
        cells: cells(obj),
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: clone(metadataOf(obj)) },
      })),
    };
  }
}

function wantsTable(req: SandboxRequest): boolean {
  return /as=Table/.test(req.header('accept') ?? '');
}

function withoutMetaAndStatus(obj: KubeObject): KubeObject {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

function sameIgnoringManagedTimes(a: KubeObject, b: KubeObject): boolean {
  const strip = (obj: KubeObject): KubeObject => {
    const copy = clone(obj);
    const managed = metadataOf(copy).managedFields;
    if (Array.isArray(managed)) for (const e of managed) if (isObject(e)) delete e.time;
    return copy;
  };
  return deepEqual(strip(a), strip(b));
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && crypto.timingSafeEqual(ba, bb);
}
