/**
 * The ResourceQuota admission plugin for object-count quotas (plugin/pkg/admission/resourcequota,
 * controller.go CheckRequest): a create (or a Service update that changes what it counts for)
 * in a namespace with a ResourceQuota whose `spec.hard` names a resource the request adds to is
 * refused when usage + request would exceed the limit:
 *
 *   services "web-lb" is forbidden: exceeded quota: compute, requested: services.loadbalancers=1, used: services.loadbalancers=1, limited: services.loadbalancers=1
 *
 * (`exceeded quota: %s, requested: %s, used: %s, limited: %s` over the failing resources only,
 * each list `prettyPrint`ed: sorted `name=quantity` joined by `,`; wrapped by
 * admission.NewForbidden → apierrors.NewForbidden: `<resource>[.<group>] "<name>" is forbidden: …`, 403).
 *
 * Resources counted (pkg/quota/v1/evaluator/core and generic object count evaluators):
 * `count/<resource>[.<group>]` for any kind; the legacy names `services`, `configmaps`, `secrets`,
 * `persistentvolumeclaims`, `resourcequotas`; `services.loadbalancers` and `services.nodeports`
 * (Service evaluator, also charged on update). Usage is what the quota controller would have
 * recorded in `status.used`: the objects in the store. Dry runs are checked too (admission runs
 * for dry-run requests) but charge nothing, as nothing is stored.
 */
import { KubeStatusError } from './admission';
import { isObject, type Json, type JsonObject } from './patch';
import { qualifiedResource, type ResourceCatalog, type ResourceType } from './resources';
import { metadataOf, type KubeObject, type KubernetesStore } from './store';

const LEGACY_COUNTS: Record<string, string> = {
  services: 'services',
  configmaps: 'configmaps',
  secrets: 'secrets',
  persistentvolumeclaims: 'persistentvolumeclaims',
  resourcequotas: 'resourcequotas',
};

function groupOf(type: Pick<ResourceType, 'group' | 'storageGroup'>): string {
  return type.storageGroup ?? type.group;
}

function countName(type: Pick<ResourceType, 'group' | 'storageGroup' | 'resource'>): string {
  const group = groupOf(type);
  return group ? `count/${type.resource}.${group}` : `count/${type.resource}`;
}

/** What one object counts for, by quota resource name. */
export function usageOf(type: ResourceType, obj: KubeObject | undefined): Record<string, number> {
  if (!obj) return {};
  const usage: Record<string, number> = { [countName(type)]: 1 };
  if (!groupOf(type) && LEGACY_COUNTS[type.resource]) usage[LEGACY_COUNTS[type.resource]] = 1;
  if (!groupOf(type) && type.resource === 'services') {
    const spec = isObject(obj.spec) ? obj.spec : {};
    const ports = Array.isArray(spec.ports) ? spec.ports.length : 0;
    usage['services.loadbalancers'] = spec.type === 'LoadBalancer' ? 1 : 0;
    usage['services.nodeports'] = spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? ports : 0;
  }
  return usage;
}

function quantity(value: Json | undefined): number {
  const n = Number(typeof value === 'number' ? value : String(value ?? ''));
  return Number.isFinite(n) ? n : Number.POSITIVE_INFINITY;
}

/** controller.go prettyPrint: `a=1,b=2`, sorted by name. */
function prettyPrint(list: Record<string, string | number>): string {
  return Object.keys(list)
    .sort()
    .map((k) => `${k}=${String(list[k])}`)
    .join(',');
}

/**
 * Throws the 403 the ResourceQuota plugin answers when `obj` (replacing `previous` on updates)
 * would exceed a quota of its namespace.
 */
export function checkQuota(
  store: KubernetesStore,
  catalog: ResourceCatalog,
  type: ResourceType,
  obj: KubeObject,
  previous: KubeObject | undefined,
): void {
  if (!type.namespaced) return;
  // Only the Service evaluator charges updates; object counts charge creates.
  if (previous && !(groupOf(type) === '' && type.resource === 'services')) return;
  const namespace = String(metadataOf(obj).namespace ?? '');
  const quotaType = catalog.find('', 'v1', 'resourcequotas');
  if (!quotaType) return;
  const quotas = store.readAll(quotaType, namespace);
  if (quotas.length === 0) return;
  const after = usageOf(type, obj);
  const before = usageOf(type, previous);
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) delta[k] = v - (before[k] ?? 0);
  if (Object.keys(delta).length === 0) return;
  const used = (resource: string): number => {
    const objects = store.readAll(type, namespace);
    return objects.reduce((sum, o) => sum + (usageOf(type, o)[resource] ?? 0), 0);
  };
  for (const quota of quotas) {
    const hard = isObject(quota.spec) && isObject(quota.spec.hard) ? (quota.spec.hard as JsonObject) : {};
    const requested: Record<string, number> = {};
    const usedNow: Record<string, number> = {};
    const limited: Record<string, string> = {};
    for (const [resource, amount] of Object.entries(delta)) {
      if (!(resource in hard)) continue;
      const current = used(resource);
      if (current + amount > quantity(hard[resource])) {
        requested[resource] = amount;
        usedNow[resource] = current;
        limited[resource] = String(hard[resource]);
      }
    }
    if (Object.keys(requested).length === 0) continue;
    const name = String(metadataOf(obj).name ?? '');
    const reason = `exceeded quota: ${String(metadataOf(quota).name)}, requested: ${prettyPrint(requested)}, used: ${prettyPrint(usedNow)}, limited: ${prettyPrint(limited)}`;
    throw new KubeStatusError(403, 'Forbidden', `${qualifiedResource(type)} "${name}" is forbidden: ${reason}`, {
      name,
      group: type.group,
      kind: type.resource,
    });
  }
}
