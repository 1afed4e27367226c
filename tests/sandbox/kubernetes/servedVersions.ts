/**
 * API versions a cluster serves by its Kubernetes version: the beta versions the Kubernetes
 * deprecation guide lists as removed (kubernetes.io/docs/reference/using-api/deprecation-guide/),
 * served by clusters older than the release that removed them and absent from discovery from that
 * release on. A manifest that still uses one then fails in kubectl before any request is sent, as
 * kubectl's REST mapper finds no match in discovery:
 *
 *   error: resource mapping not found for name: "web" namespace: "web" from "app.yaml": no matches for kind "Deployment" in version "extensions/v1beta1"
 *   ensure CRDs are installed first
 *
 * (kubectl/pkg/cmd/apply: `resource mapping not found for name: %q namespace: %q from %q: %w` +
 * `\nensure CRDs are installed first`; apimachinery meta.NoKindMatchError: `no matches for kind %q in version %q`).
 *
 * A removed version shares storage with the version that replaced it (an extensions/v1beta1
 * Deployment is an apps Deployment in etcd); the sandbox serves the same object under both and
 * does not convert field differences between them.
 */

export interface ServedVersion {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  /** First minor release (1.x) that no longer serves this version; undefined: still served. */
  removedIn?: number;
  /** First minor release (1.x) that serves this version; undefined: served by every sandbox cluster. */
  introducedIn?: number;
  /** The group the objects are stored under (the replacement's), when it differs. */
  storageGroup?: string;
  shortNames?: string[];
  subresources?: Array<'status' | 'scale'>;
  generation?: boolean;
}

const APPS_WORKLOADS = (version: string, group: string, kinds: Array<[string, string, Array<'status' | 'scale'>]>): ServedVersion[] =>
  kinds.map(([resource, kind, subresources]) => ({
    group,
    version,
    resource,
    kind,
    namespaced: true,
    removedIn: 16,
    storageGroup: 'apps',
    subresources,
    generation: true,
  }));

/**
 * The deprecation guide's removals, by release (v1.16, v1.22, v1.25, v1.26, v1.29, v1.32), for the
 * kinds deployments carry. flowcontrol v1beta3 and v1 are listed with the release that introduced
 * them so a 1.28 cluster serves v1beta2+v1beta3, a 1.31 cluster v1beta3+v1.
 */
export const VERSIONED_RESOURCES: ServedVersion[] = [
  // v1.16: "The extensions/v1beta1, apps/v1beta1, and apps/v1beta2 API versions of Deployment are no longer served" (and DaemonSet, ReplicaSet, StatefulSet)
  ...APPS_WORKLOADS('v1beta1', 'extensions', [
    ['deployments', 'Deployment', ['status', 'scale']],
    ['daemonsets', 'DaemonSet', ['status']],
    ['replicasets', 'ReplicaSet', ['status', 'scale']],
  ]),
  ...APPS_WORKLOADS('v1beta1', 'apps', [
    ['deployments', 'Deployment', ['status', 'scale']],
    ['statefulsets', 'StatefulSet', ['status', 'scale']],
  ]),
  ...APPS_WORKLOADS('v1beta2', 'apps', [
    ['deployments', 'Deployment', ['status', 'scale']],
    ['daemonsets', 'DaemonSet', ['status']],
    ['replicasets', 'ReplicaSet', ['status', 'scale']],
    ['statefulsets', 'StatefulSet', ['status', 'scale']],
  ]),
  // v1.16: NetworkPolicy extensions/v1beta1 → networking.k8s.io/v1
  {
    group: 'extensions',
    version: 'v1beta1',
    resource: 'networkpolicies',
    kind: 'NetworkPolicy',
    namespaced: true,
    removedIn: 16,
    storageGroup: 'networking.k8s.io',
    generation: true,
  },
  // v1.22: Ingress extensions/v1beta1 and networking.k8s.io/v1beta1 → networking.k8s.io/v1
  {
    group: 'extensions',
    version: 'v1beta1',
    resource: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
    removedIn: 22,
    storageGroup: 'networking.k8s.io',
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1beta1',
    resource: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
    removedIn: 22,
    subresources: ['status'],
    generation: true,
  },
  // v1.25: batch/v1beta1 CronJob, policy/v1beta1 PodDisruptionBudget and PodSecurityPolicy (no replacement), autoscaling/v2beta1 HPA
  {
    group: 'batch',
    version: 'v1beta1',
    resource: 'cronjobs',
    kind: 'CronJob',
    namespaced: true,
    removedIn: 25,
    shortNames: ['cj'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'policy',
    version: 'v1beta1',
    resource: 'poddisruptionbudgets',
    kind: 'PodDisruptionBudget',
    namespaced: true,
    removedIn: 25,
    shortNames: ['pdb'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'policy',
    version: 'v1beta1',
    resource: 'podsecuritypolicies',
    kind: 'PodSecurityPolicy',
    namespaced: false,
    removedIn: 25,
    shortNames: ['psp'],
  },
  {
    group: 'autoscaling',
    version: 'v2beta1',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    removedIn: 25,
    shortNames: ['hpa'],
    subresources: ['status'],
    generation: true,
  },
  // v1.26: autoscaling/v2beta2 HPA
  {
    group: 'autoscaling',
    version: 'v2beta2',
    resource: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    removedIn: 26,
    shortNames: ['hpa'],
    subresources: ['status'],
    generation: true,
  },
  // flowcontrol.apiserver.k8s.io: v1beta2 removed in v1.29, v1beta3 (from 1.26) removed in v1.32, v1 from 1.29
  ...(['v1beta2', 'v1beta3', 'v1'] as const).flatMap((version): ServedVersion[] =>
    (
      [
        ['flowschemas', 'FlowSchema'],
        ['prioritylevelconfigurations', 'PriorityLevelConfiguration'],
      ] as const
    ).map(([resource, kind]) => ({
      group: 'flowcontrol.apiserver.k8s.io',
      version,
      resource,
      kind,
      namespaced: false,
      removedIn: version === 'v1beta2' ? 29 : version === 'v1beta3' ? 32 : undefined,
      introducedIn: version === 'v1beta3' ? 26 : version === 'v1' ? 29 : undefined,
      subresources: ['status'],
      generation: true,
    })),
  ),
];

/** The minor release of `1.31.2` / `v1.31.2` (31). */
export function minorVersion(kubernetesVersion: string): number {
  const m = /^v?1\.(\d+)/.exec(kubernetesVersion.trim());
  if (!m) throw new Error(`Unsupported Kubernetes version '${kubernetesVersion}' (expected 1.<minor>[.<patch>])`);
  return Number(m[1]);
}

/** The versioned resources a cluster of `kubernetesVersion` serves besides the built-in GA ones. */
export function servedVersionedResources(kubernetesVersion: string): ServedVersion[] {
  const minor = minorVersion(kubernetesVersion);
  return VERSIONED_RESOURCES.filter(
    (r) => (r.introducedIn === undefined || minor >= r.introducedIn) && (r.removedIn === undefined || minor < r.removedIn),
  );
}
