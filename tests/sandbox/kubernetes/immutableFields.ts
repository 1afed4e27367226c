/**
 * Update validation of the fields Kubernetes does not let an update change, with the API server's
 * texts (kubectl prints them as `The Deployment "web" is invalid: spec.selector: Invalid value: …:
 * field is immutable`, from the Status details' kind, name and causes):
 *
 *   - Deployment, DaemonSet, ReplicaSet `spec.selector` in apps/v1: the registry strategies
 *     (pkg/registry/apps/{deployment,daemonset,replicaset}/strategy.go ValidateUpdate) call
 *     apimachinery's `ValidateImmutableField` (`field is immutable`, apimachinery
 *     pkg/api/validation FieldImmutableErrorMsg) for every group/version except the removed
 *     extensions/v1beta1, apps/v1beta1 and apps/v1beta2, which keep the old mutable behaviour;
 *   - StatefulSet: pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate clears the
 *     fields an update may change and forbids any other difference in `spec`
 *     (`spec: Forbidden: updates to statefulset spec for fields other than …`); the list has grown
 *     with releases (minReadySeconds 1.22, persistentVolumeClaimRetentionPolicy 1.23, ordinals
 *     1.26, revisionHistoryLimit 1.31: the text 1.31+ clusters return);
 *   - Job `spec.template`: pkg/apis/batch/validation ValidateJobSpecUpdate →
 *     `ValidateImmutableField(spec.Template, …)` (the sandbox does not model the scheduling
 *     directives a suspended Job that never started may change). The real value is Go's `%#v` of
 *     the whole core.PodTemplateSpec, hundreds of characters; the sandbox prints
 *     `core.PodTemplateSpec{…}` in its place;
 *   - PersistentVolumeClaim `spec` other than `resources.requests`: pkg/apis/core/validation
 *     ValidatePersistentVolumeClaimUpdate (`spec: Forbidden: spec is immutable after creation
 *     except resources.requests for bound claims` followed by a cmp.Diff of the specs, abridged
 *     here to the changed fields; "and volumeAttributesClassName" joins the text where the
 *     VolumeAttributesClass feature is on by default, 1.34+);
 *   - Service `spec.clusterIP(s)` stays in admission.ts (`may not change once set`).
 */
import type { FieldError } from './admission';
import { deepEqual, isObject, type Json, type JsonObject } from './patch';
import type { ResourceType } from './resources';
import type { KubeObject } from './store';

/** Go's %#v of a map[string]string, as validation messages print label maps. */
function goStringMap(map: JsonObject): string {
  const entries = Object.keys(map)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(map[k]))}`);
  return `map[string]string{${entries.join(', ')}}`;
}

/** `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}` */
export function goLabelSelector(selector: Json | undefined): string {
  const s = isObject(selector) ? selector : {};
  const labels = isObject(s.matchLabels) ? goStringMap(s.matchLabels) : 'map[string]string(nil)';
  const expressions = Array.isArray(s.matchExpressions)
    ? `[]v1.LabelSelectorRequirement{${s.matchExpressions
        .filter(isObject)
        .map(
          (e) =>
            `v1.LabelSelectorRequirement{Key:${JSON.stringify(String(e.key ?? ''))}, Operator:${JSON.stringify(String(e.operator ?? ''))}, Values:[]string{${(Array.isArray(e.values) ? e.values : []).map((v) => JSON.stringify(String(v))).join(', ')}}}`,
        )
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${labels}, MatchExpressions:${expressions}}`;
}

/** The StatefulSet spec fields an update may change, by release (ValidateStatefulSetUpdate). */
export function statefulSetMutableFields(minor: number): string[] {
  const fields = ['replicas', 'template', 'updateStrategy'];
  if (minor >= 26) fields.splice(1, 0, 'ordinals');
  if (minor >= 31) fields.push('revisionHistoryLimit');
  if (minor >= 23) fields.push('persistentVolumeClaimRetentionPolicy');
  if (minor >= 22) fields.push('minReadySeconds');
  return fields;
}

function statefulSetForbiddenText(minor: number): string {
  const quoted = statefulSetMutableFields(minor).map((f) => `'${f}'`);
  if (quoted.length === 3)
    return `updates to statefulset spec for fields other than ${quoted[0]}, ${quoted[1]}, and ${quoted[2]} are forbidden`;
  return `updates to statefulset spec for fields other than ${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]} are forbidden`;
}

function specOf(obj: KubeObject | undefined): JsonObject {
  return obj && isObject(obj.spec) ? obj.spec : {};
}

function without(spec: JsonObject, fields: string[]): JsonObject {
  const copy: JsonObject = { ...spec };
  for (const f of fields) delete copy[f];
  return copy;
}

function pascal(field: string): string {
  return field.charAt(0).toUpperCase() + field.slice(1);
}

/** An abridged cmp.Diff of two PVC specs: the changed top-level fields. */
function pvcSpecDiff(oldSpec: JsonObject, newSpec: JsonObject): string {
  const keys = [...new Set([...Object.keys(oldSpec), ...Object.keys(newSpec)])].filter((k) => !deepEqual(oldSpec[k], newSpec[k]));
  const show = (v: Json | undefined): string => (v === undefined ? 'nil' : JSON.stringify(v));
  const lines = keys.flatMap((k) => [`-  ${pascal(k)}: ${show(oldSpec[k])},`, `+  ${pascal(k)}: ${show(newSpec[k])},`]);
  return `\n  core.PersistentVolumeClaimSpec{\n${lines.join('\n')}\n  }\n`;
}

/** Errors for an update of `previous` into `obj` that changes a field the kind keeps immutable. */
export function immutableFieldErrors(type: ResourceType, obj: KubeObject, previous: KubeObject, minor: number): FieldError[] {
  const spec = specOf(obj);
  const old = specOf(previous);
  const group = type.storageGroup ?? type.group;
  switch (`${group}/${type.resource}`) {
    case 'apps/deployments':
    case 'apps/daemonsets':
    case 'apps/replicasets': {
      // extensions/v1beta1, apps/v1beta1 and apps/v1beta2 keep a mutable selector (strategy.go).
      if (type.group !== 'apps' || type.version !== 'v1') return [];
      if (old.selector === undefined || deepEqual(old.selector, spec.selector)) return [];
      return [
        {
          reason: 'FieldValueInvalid',
          field: 'spec.selector',
          message: `Invalid value: ${goLabelSelector(spec.selector)}: field is immutable`,
        },
      ];
    }
    case 'apps/statefulsets': {
      const mutable = statefulSetMutableFields(minor);
      if (deepEqual(without(spec, mutable), without(old, mutable))) return [];
      return [{ reason: 'FieldValueForbidden', field: 'spec', message: `Forbidden: ${statefulSetForbiddenText(minor)}` }];
    }
    case 'batch/jobs': {
      if (deepEqual(spec.template, old.template)) return [];
      return [
        { reason: 'FieldValueInvalid', field: 'spec.template', message: 'Invalid value: core.PodTemplateSpec{…}: field is immutable' },
      ];
    }
    case '/persistentvolumeclaims': {
      const strip = (s: JsonObject): JsonObject => {
        const copy = JSON.parse(JSON.stringify(s)) as JsonObject;
        if (isObject(copy.resources)) delete copy.resources.requests;
        if (minor >= 34) delete copy.volumeAttributesClassName;
        return copy;
      };
      if (deepEqual(strip(spec), strip(old))) return [];
      const except = minor >= 34 ? 'resources.requests and volumeAttributesClassName' : 'resources.requests';
      return [
        {
          reason: 'FieldValueForbidden',
          field: 'spec',
          message: `Forbidden: spec is immutable after creation except ${except} for bound claims${pvcSpecDiff(old, spec)}`,
        },
      ];
    }
    default:
      return [];
  }
}
