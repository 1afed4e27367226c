import type { Explanation } from '../pipeline/explainedError';

/**
 * What the API server says when it refuses a manifest, recognised in kubectl's output and told with
 * the fix. Pure: stderr in, an explanation (or undefined) out. Each message shape cites where the
 * server or kubectl writes it.
 */

/**
 * API versions Kubernetes stopped serving, with the release that removed them and the version to use
 * instead: the deprecated API migration guide (kubernetes.io/docs/reference/using-api/deprecation-guide/).
 * Keyed by `group/version kind`.
 */
const REMOVED_APIS: Record<string, { removedIn: string; use: string }> = {};
function removed(removedIn: string, versions: string[], kinds: string[], use: string): void {
  for (const v of versions) for (const k of kinds) REMOVED_APIS[`${v} ${k}`] = { removedIn, use };
}
removed(
  '1.16',
  ['extensions/v1beta1', 'apps/v1beta1', 'apps/v1beta2'],
  ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
  'apps/v1',
);
removed('1.16', ['extensions/v1beta1'], ['NetworkPolicy'], 'networking.k8s.io/v1');
removed('1.22', ['extensions/v1beta1', 'networking.k8s.io/v1beta1'], ['Ingress'], 'networking.k8s.io/v1');
removed('1.22', ['networking.k8s.io/v1beta1'], ['IngressClass'], 'networking.k8s.io/v1');
removed('1.22', ['apiextensions.k8s.io/v1beta1'], ['CustomResourceDefinition'], 'apiextensions.k8s.io/v1');
removed(
  '1.22',
  ['admissionregistration.k8s.io/v1beta1'],
  ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'],
  'admissionregistration.k8s.io/v1',
);
removed('1.22', ['apiregistration.k8s.io/v1beta1'], ['APIService'], 'apiregistration.k8s.io/v1');
removed('1.22', ['certificates.k8s.io/v1beta1'], ['CertificateSigningRequest'], 'certificates.k8s.io/v1');
removed('1.22', ['coordination.k8s.io/v1beta1'], ['Lease'], 'coordination.k8s.io/v1');
removed(
  '1.22',
  ['rbac.authorization.k8s.io/v1beta1'],
  ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'],
  'rbac.authorization.k8s.io/v1',
);
removed('1.22', ['scheduling.k8s.io/v1beta1'], ['PriorityClass'], 'scheduling.k8s.io/v1');
removed('1.22', ['storage.k8s.io/v1beta1'], ['CSIDriver', 'CSINode', 'StorageClass', 'VolumeAttachment'], 'storage.k8s.io/v1');
removed('1.25', ['batch/v1beta1'], ['CronJob'], 'batch/v1');
removed('1.25', ['discovery.k8s.io/v1beta1'], ['EndpointSlice'], 'discovery.k8s.io/v1');
removed('1.25', ['events.k8s.io/v1beta1'], ['Event'], 'events.k8s.io/v1');
removed('1.25', ['autoscaling/v2beta1'], ['HorizontalPodAutoscaler'], 'autoscaling/v2');
removed('1.25', ['policy/v1beta1'], ['PodDisruptionBudget'], 'policy/v1');
removed(
  '1.25',
  ['policy/v1beta1'],
  ['PodSecurityPolicy'],
  'nothing: PodSecurityPolicy is gone; use Pod Security Admission (namespace labels)',
);
removed('1.25', ['node.k8s.io/v1beta1'], ['RuntimeClass'], 'node.k8s.io/v1');
removed('1.26', ['autoscaling/v2beta2'], ['HorizontalPodAutoscaler'], 'autoscaling/v2');
removed(
  '1.26',
  ['flowcontrol.apiserver.k8s.io/v1beta1'],
  ['FlowSchema', 'PriorityLevelConfiguration'],
  'flowcontrol.apiserver.k8s.io/v1 (v1beta3 before 1.29)',
);
removed('1.27', ['storage.k8s.io/v1beta1'], ['CSIStorageCapacity'], 'storage.k8s.io/v1');
removed('1.29', ['flowcontrol.apiserver.k8s.io/v1beta2'], ['FlowSchema', 'PriorityLevelConfiguration'], 'flowcontrol.apiserver.k8s.io/v1');
removed('1.32', ['flowcontrol.apiserver.k8s.io/v1beta3'], ['FlowSchema', 'PriorityLevelConfiguration'], 'flowcontrol.apiserver.k8s.io/v1');

/** The removal that explains a kind the cluster does not serve in a version, if it is a known one. */
export function removedApi(apiVersion: string, kind: string): { removedIn: string; use: string } | undefined {
  return REMOVED_APIS[`${apiVersion} ${kind}`];
}

/** Where the failing object came from, as kubectl names it ("error when creating "x.yaml"", "from "x.yaml""). */
function sourceOf(stderr: string): string {
  const m = /(?:error when (?:creating|patching|replacing|deleting)|for:|from) "([^"]+)"/.exec(stderr);
  return m ? ` (${m[1]})` : '';
}

/** kubectl's message for a refused object, without the "Error from server (X): error when …:" prefix. */
function lastClause(line: string): string {
  return line.replace(/^Error from server \(\w+\): /, '').trim();
}

type Found = Omit<Explanation, 'what'> | undefined;

function kindNotServed(stderr: string): Found {
  // kubectl's RESTMapper: `resource mapping not found for name: "web" namespace: "" from "app.yaml":
  // no matches for kind "Deployment" in version "extensions/v1beta1"` + "ensure CRDs are installed first"
  // (kubectl/pkg/cmd/apply; apimachinery meta.NoKindMatchError "no matches for kind %q in version %q").
  const noKind = /no matches for kind "([^"]+)" in version "([^"]+)"/.exec(stderr);
  if (noKind) {
    const [, kind, apiVersion] = noKind;
    const gone = removedApi(apiVersion, kind);
    const name = /resource mapping not found for name: "([^"]+)"/.exec(stderr)?.[1];
    const what = `${kind}${name ? ` '${name}'` : ''}${sourceOf(stderr)}`;
    if (gone) {
      return {
        code: 'API_VERSION_REMOVED',
        reason: `${what} uses ${apiVersion}, which Kubernetes ${gone.removedIn} stopped serving; the cluster runs ${gone.removedIn} or later.`,
        fix: `Change apiVersion to ${gone.use} (kubectl convert, or the migration guide: https://kubernetes.io/docs/reference/using-api/deprecation-guide/).`,
      };
    }
    return {
      code: 'KIND_NOT_SERVED',
      reason: `The cluster serves no kind ${kind} in ${apiVersion}: a custom resource whose CRD is not installed, or a version the cluster does not serve.`,
      fix: `Install the CRD first (apply it in an earlier step or list it first), or use a version the cluster serves (kubectl api-resources).`,
    };
  }
  return undefined;
}

function immutableField(stderr: string): Found {
  // apimachinery validation.ValidateImmutableField: `<field>: Invalid value: …: field is immutable`,
  // wrapped by the server as `<Kind>.<group> "<name>" is invalid: …` (apierrors.NewInvalid).
  const immutable = /(\S+) "([^"]+)" is invalid: ([\w.[\]-]+): Invalid value: .*?: field is immutable/.exec(stderr);
  if (immutable) {
    const [, kind, name, field] = immutable;
    return {
      code: 'IMMUTABLE_FIELD',
      reason: `${kind} '${name}' cannot change ${field} in place: Kubernetes does not allow updating that field.`,
      fix: `Keep ${field} as it is on the cluster, or delete ${kind} '${name}' and apply again (a new object, with downtime), or give the changed object a new name.`,
    };
  }
  return undefined;
}

function statefulSetSpec(stderr: string): Found {
  // pkg/apis/apps/validation ValidateStatefulSetUpdate: "updates to statefulset spec for fields other than … are forbidden".
  const statefulSpec =
    /StatefulSet\.apps "([^"]+)" is invalid: spec: Forbidden: updates to statefulset spec for fields other than (.*?) are forbidden/.exec(
      stderr,
    );
  if (statefulSpec) {
    return {
      code: 'IMMUTABLE_FIELD',
      reason: `StatefulSet '${statefulSpec[1]}' changes a field Kubernetes does not let a StatefulSet update (only ${statefulSpec[2]} may change).`,
      fix: `Revert that field, or delete the StatefulSet keeping its pods (kubectl delete statefulset ${statefulSpec[1]} --cascade=orphan) and apply again.`,
    };
  }
  return undefined;
}

function quotaExceeded(stderr: string): Found {
  // plugin/pkg/admission/resourcequota: `<resource> "<name>" is forbidden: exceeded quota: <quota>, requested: …, used: …, limited: …`.
  const quota = /"([^"]+)" is forbidden: exceeded quota: ([^,\s]+), requested: ([^,]+), used: ([^,]+), limited: ([^\n]+)/.exec(stderr);
  if (quota) {
    const [, name, quotaName, requested, used, limited] = quota;
    return {
      code: 'QUOTA_EXCEEDED',
      reason: `'${name}' would exceed the namespace's ResourceQuota '${quotaName}' (requested ${requested.trim()}, used ${used.trim()}, limited ${limited.trim()}).`,
      fix: `Free up what the quota counts, ask the cluster's operators to raise '${quotaName}', or lower what the manifests request.`,
    };
  }
  return undefined;
}

function admissionDenied(stderr: string): Found {
  // apiserver webhook admission: `admission webhook "<webhook>" denied the request: <message>`; Gatekeeper
  // (the Azure Policy add-on's engine) writes each violation as `[<constraint name>] <message>` (pkg/webhook/policy.go).
  const denied = /admission webhook "([^"]+)" denied the request: ([^\n]+)/.exec(stderr);
  if (denied) {
    const [, webhook, message] = denied;
    // Gatekeeper's expansion (a Deployment judged by its implied Pod) adds "[Implied by <template>]"
    // after the constraint's name (gatekeeper pkg/expansion childMsgPrefix): not a constraint.
    const constraints = [...message.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]).filter((c) => !/^Implied by /.test(c));
    const azurePolicy = constraints.some((c) => c.startsWith('azurepolicy-'));
    const by =
      webhook === 'validation.gatekeeper.sh' ? (azurePolicy ? 'Azure Policy (Gatekeeper)' : 'Gatekeeper') : `the webhook ${webhook}`;
    return {
      code: 'ADMISSION_DENIED',
      reason: `${by} refused an object${sourceOf(stderr)}${constraints.length ? ` under ${constraints.join(', ')}` : ''}: ${message.replace(/^\s*(\[[^\]]+\]\s*)+/, '').trim()}`,
      fix: azurePolicy
        ? 'Change the manifest to comply with the policy, or ask the policy owners for an exemption (Azure Policy assignment on the cluster: exclude the namespace or the image).'
        : 'Change the manifest to satisfy the admission policy, or ask the cluster operators to adjust it.',
    };
  }
  return undefined;
}

function unknownField(stderr: string): Found {
  // apimachinery strict decoding (fieldValidation=Strict, kubectl's default --validate=strict):
  // `… cannot be handled as a Deployment: strict decoding error: unknown field "spec.x"`.
  const unknownField = /strict decoding error: (unknown field "[^"]+"(?:, unknown field "[^"]+")*)/.exec(stderr);
  if (unknownField) {
    return {
      code: 'INVALID_MANIFEST_FIELD',
      reason: `A manifest${sourceOf(stderr)} has fields the API does not know: ${unknownField[1]} (a typo, or a field of another API version).`,
      fix: 'Correct or remove those fields; kubectl explain <kind>.<field> shows what the cluster accepts.',
    };
  }
  return undefined;
}

function undeclaredField(stderr: string): Found {
  // Server-side apply builds a typed patch from the schema first and refuses unknown fields whatever
  // the validation mode (structured-merge-diff: "failed to create typed patch object (…): .spec.x: field not declared in schema").
  const undeclared = /failed to create typed patch object \(([^)]*)\): ([^\n]+?): field not declared in schema/.exec(stderr);
  if (undeclared) {
    return {
      code: 'INVALID_MANIFEST_FIELD',
      reason: `A manifest has a field the API does not know: ${undeclared[2]} in ${undeclared[1]} (a typo, or a field of another API version).`,
      fix: 'Correct or remove that field; kubectl explain <kind>.<field> shows what the cluster accepts.',
    };
  }
  return undefined;
}

function otherInvalid(stderr: string): Found {
  // Any other 422 (apierrors.NewInvalid): `<Kind> "<name>" is invalid: <field>: <reason>`.
  const invalid = /Error from server \(Invalid\): ([^\n]+)/.exec(stderr);
  if (invalid) {
    return {
      code: 'INVALID_MANIFEST',
      reason: `The API server refused a manifest${sourceOf(stderr)}: ${lastClause(invalid[1]).replace(/^error when [^:]+: /, '')}`,
      fix: 'Correct the manifest as the message says; a server-side dry run (action: preview) checks manifests without changing anything.',
    };
  }
  return undefined;
}

/** The recognisers, most specific first: the first that knows kubectl's output explains it. */
const RECOGNISERS = [
  kindNotServed,
  immutableField,
  statefulSetSpec,
  quotaExceeded,
  admissionDenied,
  unknownField,
  undeclaredField,
  otherInvalid,
];

export function explainDeployFailure(stderr: string): Found {
  for (const recognise of RECOGNISERS) {
    const found = recognise(stderr);
    if (found) return found;
  }
  return undefined;
}
