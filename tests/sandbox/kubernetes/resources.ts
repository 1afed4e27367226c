/**
 * The resource types the sandbox AKS API server serves (a subset of Kubernetes 1.31 plus the
 * resources of registered CustomResourceDefinitions), and the documents that describe them to
 * clients: legacy discovery (/api, /apis, /api/v1, /apis/<g>/<v>), aggregated discovery
 * (apidiscovery.k8s.io/v2) and a minimal OpenAPI v3 (/openapi/v3).
 *
 * What kubectl 1.32 reads from OpenAPI v3: with `--validate=strict` (the default) it asks whether
 * the PATCH operation of the object's path accepts the `fieldValidation` query parameter (and then
 * leaves validation to the server); client-side apply uses the schema only when the PATCH request
 * body lists `application/strategic-merge-patch+json`, otherwise it computes the strategic merge patch
 * from its compiled-in types (built-ins) or falls back to a JSON merge patch (custom resources).
 * The documents therefore carry paths, operations, parameters and request content types, and no
 * schemas.
 */
import * as crypto from 'node:crypto';
import { servedVersionedResources } from './servedVersions';

export type Scope = 'Namespaced' | 'Cluster';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural lower-case name used in URLs. */
  resource: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  /** Subresources served: 'status' (writes only touch .status) and 'scale'. */
  subresources: Array<'status' | 'scale'>;
  /** metadata.generation is maintained (bumped on changes outside metadata and status). */
  generation: boolean;
  /** Defined by a CustomResourceDefinition. */
  custom: boolean;
  /** Top-level fields accepted under fieldValidation=Strict (undefined: anything). */
  topLevelFields?: string[];
  /** The group objects are stored under when it differs (extensions/v1beta1 Deployments are apps Deployments). */
  storageGroup?: string;
}

const STANDARD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const NAMESPACE_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const SPEC_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];

interface BuiltinSpec {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources?: Array<'status' | 'scale'>;
  generation?: boolean;
  verbs?: string[];
  topLevelFields?: string[];
}

const BUILTINS: BuiltinSpec[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
    verbs: NAMESPACE_VERBS,
  },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'data', 'binaryData', 'immutable'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    kind: 'Secret',
    namespaced: true,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'serviceaccounts',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'services',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status'],
  },
  { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'], topLevelFields: undefined },
  {
    group: '',
    version: 'v1',
    resource: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    shortNames: ['ep'],
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'subsets'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'persistentvolumeclaims',
    kind: 'PersistentVolumeClaim',
    namespaced: true,
    shortNames: ['pvc'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    resource: 'resourcequotas',
    kind: 'ResourceQuota',
    namespaced: true,
    shortNames: ['quota'],
    subresources: ['status'],
  },
  { group: '', version: 'v1', resource: 'limitranges', kind: 'LimitRange', namespaced: true, shortNames: ['limits'] },
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status'] },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    generation: true,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    kind: 'StatefulSet',
    namespaced: true,
    shortNames: ['sts'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    generation: true,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status', 'scale'],
    generation: true,
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'controllerrevisions',
    kind: 'ControllerRevision',
    namespaced: true,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'data', 'revision'],
  },
  {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    kind: 'Job',
    namespaced: true,
    categories: ['all'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'batch',
    version: 'v1',
    resource: 'cronjobs',
    kind: 'CronJob',
    namespaced: true,
    shortNames: ['cj'],
    categories: ['all'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'autoscaling',
    version: 'v2',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ['all'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'policy',
    version: 'v1',
    resource: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    shortNames: ['pdb'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
    shortNames: ['ing'],
    subresources: ['status'],
    generation: true,
  },
  { group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses', kind: 'IngressClass', namespaced: false, generation: true },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
    generation: true,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'roles',
    kind: 'Role',
    namespaced: true,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'rules'],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'rolebindings',
    kind: 'RoleBinding',
    namespaced: true,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'subjects', 'roleRef'],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterroles',
    kind: 'ClusterRole',
    namespaced: false,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'rules', 'aggregationRule'],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterrolebindings',
    kind: 'ClusterRoleBinding',
    namespaced: false,
    topLevelFields: ['apiVersion', 'kind', 'metadata', 'subjects', 'roleRef'],
  },
  {
    group: 'storage.k8s.io',
    version: 'v1',
    resource: 'storageclasses',
    kind: 'StorageClass',
    namespaced: false,
    shortNames: ['sc'],
    topLevelFields: undefined,
  },
  {
    group: 'scheduling.k8s.io',
    version: 'v1',
    resource: 'priorityclasses',
    kind: 'PriorityClass',
    namespaced: false,
    shortNames: ['pc'],
    topLevelFields: undefined,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    resource: 'customresourcedefinitions',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    subresources: ['status'],
    generation: true,
  },
  // Reviews: answered, never stored (see AksApiServer.review).
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    resource: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
    topLevelFields: undefined,
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    resource: 'selfsubjectreviews',
    kind: 'SelfSubjectReview',
    namespaced: false,
    verbs: ['create'],
    topLevelFields: undefined,
  },
];

/** Group order in discovery, as a 1.31 API server lists them (subset). */
const GROUP_ORDER = [
  '',
  'apiregistration.k8s.io',
  'apps',
  'events.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'node.k8s.io',
  'discovery.k8s.io',
  'flowcontrol.apiserver.k8s.io',
];

function builtin(spec: BuiltinSpec): ResourceType {
  return {
    group: spec.group,
    version: spec.version,
    resource: spec.resource,
    singular: spec.kind.toLowerCase(),
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    namespaced: spec.namespaced,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    verbs: spec.verbs ?? STANDARD_VERBS,
    subresources: spec.subresources ?? [],
    generation: spec.generation ?? false,
    custom: false,
    topLevelFields: 'topLevelFields' in spec ? spec.topLevelFields : SPEC_FIELDS,
  };
}

export function groupVersion(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** `deployments.apps`, `configmaps`: how Kubernetes names a group-resource in messages. */
export function qualifiedResource(type: Pick<ResourceType, 'group' | 'resource'>): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

/** URL of a collection or object: `/apis/apps/v1/namespaces/web/deployments/x`. */
export function resourcePath(type: ResourceType, namespace?: string, name?: string): string {
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced && namespace ? `/namespaces/${namespace}` : '';
  return `${root}${ns}/${type.resource}${name ? `/${name}` : ''}`;
}

export class ResourceCatalog {
  private readonly builtins: ResourceType[] = BUILTINS.map(builtin);
  /** CRD name → the served versions of its resource. */
  private readonly crds = new Map<string, ResourceType[]>();
  private generationCounter = 0;
  private versioned: { kubernetesVersion: string; types: ResourceType[] } | undefined;

  /** `kubernetesVersion`: the cluster's (live: an upgrade changes which beta versions are served, see servedVersions.ts). */
  constructor(private readonly kubernetesVersion: () => string = () => '1.31.2') {}

  /** Every served resource type (all served versions of custom resources). */
  all(): ResourceType[] {
    return [...this.builtins, ...this.versionedTypes(), ...[...this.crds.values()].flat()];
  }

  /** Beta (and newer GA) versions served by this cluster's Kubernetes version. */
  private versionedTypes(): ResourceType[] {
    const kubernetesVersion = this.kubernetesVersion();
    if (this.versioned?.kubernetesVersion !== kubernetesVersion) {
      const types = servedVersionedResources(kubernetesVersion).map((r) => ({
        ...builtin({ ...r, topLevelFields: SPEC_FIELDS }),
        ...(r.storageGroup ? { storageGroup: r.storageGroup } : {}),
      }));
      this.versioned = { kubernetesVersion, types };
    }
    return this.versioned.types;
  }

  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.all().find((t) => t.group === group && t.version === version && t.resource === resource);
  }

  /**
   * By kind ('Deployment'), plural ('deployments'), singular, short name ('deploy'), or
   * `resource.group` ('deployments.apps'); case-insensitive. Prefers the first served version.
   */
  lookup(name: string): ResourceType | undefined {
    const n = name.toLowerCase();
    const dot = n.indexOf('.');
    if (dot > 0) {
      const [res, group] = [n.slice(0, dot), n.slice(dot + 1)];
      const match = this.all().find((t) => t.group === group && (t.resource === res || t.singular === res || t.kind.toLowerCase() === res));
      if (match) return match;
    }
    return this.all().find((t) => t.kind.toLowerCase() === n || t.resource === n || t.singular === n || t.shortNames.includes(n));
  }

  /** Whether the group/version is served at all (for 404 vs 404-with-Status decisions). */
  servesGroupVersion(group: string, version: string): boolean {
    return this.all().some((t) => t.group === group && t.version === version);
  }

  /** Registers (or replaces) the resource of a CustomResourceDefinition object. */
  registerCrd(crd: Record<string, unknown>): ResourceType[] {
    // A CRD's spec is free-form JSON read field by field as kubectl sends it.
    /* eslint-disable @typescript-eslint/no-explicit-any */
    const spec = (crd.spec ?? {}) as Record<string, any>;
    const names = (spec.names ?? {}) as Record<string, any>;
    const name = String((crd.metadata as Record<string, unknown>)?.name ?? '');
    const versions = Array.isArray(spec.versions) ? (spec.versions as Array<Record<string, any>>) : [];
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const types: ResourceType[] = versions
      .filter((v) => v.served !== false)
      .map((v) => ({
        group: String(spec.group ?? ''),
        version: String(v.name),
        resource: String(names.plural ?? ''),
        singular: String(names.singular ?? String(names.kind ?? '').toLowerCase()),
        kind: String(names.kind ?? ''),
        listKind: String(names.listKind ?? `${names.kind}List`),
        namespaced: spec.scope !== 'Cluster',
        shortNames: Array.isArray(names.shortNames) ? names.shortNames.map(String) : [],
        categories: Array.isArray(names.categories) ? names.categories.map(String) : [],
        verbs: STANDARD_VERBS,
        subresources: [
          ...(v.subresources?.status !== undefined ? ['status' as const] : []),
          ...(v.subresources?.scale !== undefined ? ['scale' as const] : []),
        ],
        generation: true,
        custom: true,
        topLevelFields: undefined,
      }));
    this.crds.set(name, types);
    this.generationCounter++;
    return types;
  }

  unregisterCrd(name: string): ResourceType[] {
    const types = this.crds.get(name) ?? [];
    this.crds.delete(name);
    this.generationCounter++;
    return types;
  }

  /** Changes whenever the set of served resources changes (ETag of discovery documents). */
  get etag(): string {
    return crypto.createHash('sha256').update(JSON.stringify(this.all())).digest('hex').slice(0, 32).toUpperCase();
  }

  // ------------------------------------------------------------------------------------------
  // Legacy discovery

  /** GET /api */
  apiVersions(serverAddress: string): object {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }

  /** GET /apis */
  apiGroupList(): object {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.groups()
        .filter((g) => g.name !== '')
        .map((g) => this.apiGroup(g.name)),
    };
  }

  /** GET /apis/<group> */
  apiGroup(group: string): object {
    const versions = this.groups().find((g) => g.name === group)?.versions ?? [];
    const entries = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
    return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: entries, preferredVersion: entries[0] };
  }

  /** GET /api/v1, /apis/<group>/<version> */
  apiResourceList(group: string, version: string): object {
    const resources: object[] = [];
    for (const t of this.all().filter((x) => x.group === group && x.version === version)) {
      resources.push({
        name: t.resource,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: t.verbs,
        ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
        ...(t.categories.length ? { categories: t.categories } : {}),
        storageVersionHash: storageVersionHash(t),
      });
      for (const sub of t.subresources) {
        resources.push(
          sub === 'scale'
            ? {
                name: `${t.resource}/scale`,
                singularName: '',
                namespaced: t.namespaced,
                group: 'autoscaling',
                version: 'v1',
                kind: 'Scale',
                verbs: ['get', 'patch', 'update'],
              }
            : { name: `${t.resource}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] },
        );
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  // ------------------------------------------------------------------------------------------
  // Aggregated discovery (apidiscovery.k8s.io/v2)

  /** GET /api (core only) or /apis (every other group) as an APIGroupDiscoveryList. */
  aggregated(core: boolean, apiVersion: 'v2' | 'v2beta1'): object {
    const groups = this.groups().filter((g) => (g.name === '') === core);
    return {
      kind: 'APIGroupDiscoveryList',
      apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
      metadata: {},
      items: groups.map((g) => ({
        metadata: g.name ? { name: g.name, creationTimestamp: null } : { creationTimestamp: null },
        versions: g.versions.map((version) => ({
          version,
          resources: this.all()
            .filter((t) => t.group === g.name && t.version === version)
            .map((t) => ({
              resource: t.resource,
              responseKind: { group: t.group, version: t.version, kind: t.kind },
              scope: t.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: t.singular,
              verbs: t.verbs,
              ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
              ...(t.categories.length ? { categories: t.categories } : {}),
              ...(t.subresources.length
                ? {
                    subresources: t.subresources.map((sub) => ({
                      subresource: sub,
                      responseKind:
                        sub === 'scale'
                          ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
                          : { group: t.group, version: t.version, kind: t.kind },
                      verbs: ['get', 'patch', 'update'],
                    })),
                  }
                : {}),
            })),
          freshness: 'Current',
        })),
      })),
    };
  }

  /** Groups with their versions (preferred first), in discovery order. */
  groups(): Array<{ name: string; versions: string[] }> {
    const byGroup = new Map<string, string[]>();
    for (const t of this.all()) {
      const versions = byGroup.get(t.group) ?? [];
      if (!versions.includes(t.version)) versions.push(t.version);
      byGroup.set(t.group, versions);
    }
    const rank = (g: string): number => {
      const i = GROUP_ORDER.indexOf(g);
      return i < 0 ? GROUP_ORDER.length : i;
    };
    return [...byGroup.entries()]
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
      .map(([name, versions]) => ({ name, versions: sortVersions(versions) }));
  }

  // ------------------------------------------------------------------------------------------
  // OpenAPI v3

  /** GET /openapi/v3 */
  openApiV3Index(): object {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const g of this.groups()) {
      for (const v of g.versions) {
        const key = g.name ? `apis/${g.name}/${v}` : `api/${v}`;
        paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${this.openApiHash(g.name, v)}` };
      }
    }
    return { paths };
  }

  openApiHash(group: string, version: string): string {
    return crypto
      .createHash('sha512')
      .update(JSON.stringify(this.openApiV3Document(group, version)))
      .digest('hex')
      .slice(0, 128)
      .toUpperCase();
  }

  /** GET /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>: paths and operations only. */
  openApiV3Document(group: string, version: string): object {
    const paths: Record<string, object> = {};
    const queryParam = (name: string, description: string): object => ({
      name,
      in: 'query',
      description,
      schema: { type: 'string', uniqueItems: true },
    });
    const common = [
      queryParam('dryRun', 'When present, indicates that modifications should not be persisted.'),
      queryParam('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
      queryParam(
        'fieldValidation',
        'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict',
      ),
    ];
    const response = { '200': { description: 'OK' }, '401': { description: 'Unauthorized' } };
    for (const t of this.all().filter((x) => x.group === group && x.version === version)) {
      const gvk = { group: t.group, version: t.version, kind: t.kind };
      const collection = resourcePath(t, t.namespaced ? '{namespace}' : undefined);
      const item = `${collection}/{name}`;
      const ext = (action: string): object => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk });
      const patchContent: Record<string, object> = {
        'application/json-patch+json': { schema: { type: 'object' } },
        'application/merge-patch+json': { schema: { type: 'object' } },
        'application/apply-patch+yaml': { schema: { type: 'object' } },
      };
      paths[collection] = {
        get: { operationId: `list${t.kind}`, ...ext('list'), responses: response },
        post: {
          operationId: `create${t.kind}`,
          ...ext('post'),
          parameters: common,
          requestBody: { content: { '*/*': { schema: { type: 'object' } } }, required: true },
          responses: response,
        },
      };
      paths[item] = {
        get: { operationId: `read${t.kind}`, ...ext('get'), responses: response },
        put: {
          operationId: `replace${t.kind}`,
          ...ext('put'),
          parameters: common,
          requestBody: { content: { '*/*': { schema: { type: 'object' } } }, required: true },
          responses: response,
        },
        patch: {
          operationId: `patch${t.kind}`,
          ...ext('patch'),
          parameters: [...common, queryParam('force', 'Force is going to "force" Apply requests.')],
          requestBody: { content: patchContent, required: true },
          responses: response,
        },
        delete: { operationId: `delete${t.kind}`, ...ext('delete'), responses: response },
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
          ...(t.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] : []),
        ],
      };
    }
    return {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: 'unversioned' },
      paths,
      components: { schemas: {} },
    };
  }
}

function sortVersions(versions: string[]): string[] {
  // Kubernetes version priority: GA > beta > alpha, higher numbers first.
  const key = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0];
    const stage = m[2] === 'alpha' ? 1 : m[2] === 'beta' ? 2 : 3;
    return [stage, Number(m[1]), Number(m[3] ?? 0)];
  };
  return [...versions].sort((a, b) => {
    const [sa, ma, na] = key(a);
    const [sb, mb, nb] = key(b);
    return sb - sa || mb - ma || nb - na;
  });
}

function storageVersionHash(t: ResourceType): string {
  return crypto.createHash('sha256').update(`${t.group}/${t.version}/${t.kind}`).digest('base64').slice(0, 11);
}
