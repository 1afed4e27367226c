/**
 * The fields of the built-in types deployments use (k8s.io/api 1.31), for finding unknown fields
 * at any depth, as the API server's decoders do:
 *
 *   - create/update/patch with `fieldValidation=Strict` (kubectl ≥ 1.27 sends it for apply, create
 *     and replace: `--validate=strict` is the default): 400 BadRequest
 *     `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagee"`
 *     (sigs.k8s.io/json UnmarshalStrict field paths; apiserver handlers/rest.go
 *     transformDecodeError `%v in version %q cannot be handled as a %v: %v`); several fields are
 *     listed in document order, `, `-separated; with `Warn` each becomes a `Warning` header
 *     `unknown field "<path>"`; the fields are dropped;
 *   - server-side apply: structured-merge-diff's typed conversion rejects the patch whatever the
 *     validation mode (fieldmanager's `failed to create typed patch object (%v): %v`, where %v is
 *     `<ns>/<name>; <group>/<version>, Kind=<kind>`), with SMD paths: `.spec.template.spec.containers[name="web"].imagee: field not declared in schema`.
 *     The error is not an API status, so the server answers 500 with the bare message
 *     (apiserver ErrorToAPIStatus default).
 *
 * Structures not described here (volume sources, probes, affinity, …) are taken as they come.
 */
import { isObject, type Json, type JsonObject } from './patch';
import type { ResourceType } from './resources';

export type Schema = '*' | { fields: Record<string, Schema> } | { list: Schema; keys?: string[] };

const ANY = '*' as const;
const struct = (fields: Record<string, Schema> | string[]): Schema => ({
  fields: Array.isArray(fields) ? Object.fromEntries(fields.map((f) => [f, ANY])) : fields,
});
const list = (item: Schema, keys?: string[]): Schema => ({ list: item, ...(keys ? { keys } : {}) });
const withAny = (names: string[], specific: Record<string, Schema>): Record<string, Schema> => ({
  ...Object.fromEntries(names.map((n) => [n, ANY])),
  ...specific,
});

const OBJECT_META = struct([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

const CONTAINER = struct(
  withAny(
    [
      'name',
      'image',
      'command',
      'args',
      'workingDir',
      'resizePolicy',
      'restartPolicy',
      'volumeDevices',
      'livenessProbe',
      'readinessProbe',
      'startupProbe',
      'lifecycle',
      'terminationMessagePath',
      'terminationMessagePolicy',
      'imagePullPolicy',
      'securityContext',
      'stdin',
      'stdinOnce',
      'tty',
      'targetContainerName',
    ],
    {
      ports: list(struct(['name', 'hostPort', 'containerPort', 'protocol', 'hostIP']), ['containerPort', 'protocol']),
      env: list(struct(['name', 'value', 'valueFrom']), ['name']),
      envFrom: list(struct(['prefix', 'configMapRef', 'secretRef'])),
      resources: struct(['limits', 'requests', 'claims']),
      volumeMounts: list(struct(['name', 'readOnly', 'recursiveReadOnly', 'mountPath', 'subPath', 'mountPropagation', 'subPathExpr']), [
        'mountPath',
      ]),
    },
  ),
);

const POD_SPEC = struct(
  withAny(
    [
      'volumes',
      'restartPolicy',
      'terminationGracePeriodSeconds',
      'activeDeadlineSeconds',
      'dnsPolicy',
      'nodeSelector',
      'serviceAccountName',
      'serviceAccount',
      'automountServiceAccountToken',
      'nodeName',
      'hostNetwork',
      'hostPID',
      'hostIPC',
      'shareProcessNamespace',
      'securityContext',
      'imagePullSecrets',
      'hostname',
      'subdomain',
      'affinity',
      'schedulerName',
      'tolerations',
      'hostAliases',
      'priorityClassName',
      'priority',
      'dnsConfig',
      'readinessGates',
      'runtimeClassName',
      'enableServiceLinks',
      'preemptionPolicy',
      'overhead',
      'topologySpreadConstraints',
      'setHostnameAsFQDN',
      'os',
      'hostUsers',
      'schedulingGates',
      'resourceClaims',
      'resources',
    ],
    { containers: list(CONTAINER, ['name']), initContainers: list(CONTAINER, ['name']), ephemeralContainers: list(CONTAINER, ['name']) },
  ),
);

const POD_TEMPLATE = struct({ metadata: OBJECT_META, spec: POD_SPEC });

const top = (spec: Schema): Schema => struct({ apiVersion: ANY, kind: ANY, metadata: OBJECT_META, spec, status: ANY });

const JOB_SPEC = struct(
  withAny(
    [
      'parallelism',
      'completions',
      'activeDeadlineSeconds',
      'podFailurePolicy',
      'successPolicy',
      'backoffLimit',
      'backoffLimitPerIndex',
      'maxFailedIndexes',
      'selector',
      'manualSelector',
      'ttlSecondsAfterFinished',
      'completionMode',
      'suspend',
      'podReplacementPolicy',
      'managedBy',
    ],
    { template: POD_TEMPLATE },
  ),
);

/** `group/resource` (storage group) → schema of the whole object. */
const SCHEMAS: Record<string, Schema> = {
  'apps/deployments': top(
    struct(
      withAny(['replicas', 'selector', 'strategy', 'minReadySeconds', 'revisionHistoryLimit', 'paused', 'progressDeadlineSeconds'], {
        template: POD_TEMPLATE,
      }),
    ),
  ),
  'apps/replicasets': top(struct(withAny(['replicas', 'minReadySeconds', 'selector'], { template: POD_TEMPLATE }))),
  'apps/daemonsets': top(
    struct(withAny(['selector', 'updateStrategy', 'minReadySeconds', 'revisionHistoryLimit'], { template: POD_TEMPLATE })),
  ),
  'apps/statefulsets': top(
    struct(
      withAny(
        [
          'replicas',
          'selector',
          'volumeClaimTemplates',
          'serviceName',
          'podManagementPolicy',
          'updateStrategy',
          'revisionHistoryLimit',
          'minReadySeconds',
          'persistentVolumeClaimRetentionPolicy',
          'ordinals',
        ],
        { template: POD_TEMPLATE },
      ),
    ),
  ),
  'batch/jobs': top(JOB_SPEC),
  'batch/cronjobs': top(
    struct(
      withAny(
        [
          'schedule',
          'timeZone',
          'startingDeadlineSeconds',
          'concurrencyPolicy',
          'suspend',
          'successfulJobsHistoryLimit',
          'failedJobsHistoryLimit',
        ],
        { jobTemplate: struct({ metadata: OBJECT_META, spec: JOB_SPEC }) },
      ),
    ),
  ),
  '/pods': top(POD_SPEC),
  '/services': top(
    struct(
      withAny(
        [
          'selector',
          'clusterIP',
          'clusterIPs',
          'type',
          'externalIPs',
          'sessionAffinity',
          'loadBalancerIP',
          'loadBalancerSourceRanges',
          'externalName',
          'externalTrafficPolicy',
          'healthCheckNodePort',
          'publishNotReadyAddresses',
          'sessionAffinityConfig',
          'ipFamilies',
          'ipFamilyPolicy',
          'allocateLoadBalancerNodePorts',
          'loadBalancerClass',
          'internalTrafficPolicy',
          'trafficDistribution',
        ],
        { ports: list(struct(['name', 'protocol', 'appProtocol', 'port', 'targetPort', 'nodePort']), ['port', 'protocol']) },
      ),
    ),
  ),
};

export function schemaFor(type: Pick<ResourceType, 'group' | 'storageGroup' | 'resource' | 'custom'>): Schema | undefined {
  if (type.custom) return undefined;
  return SCHEMAS[`${type.storageGroup ?? type.group}/${type.resource}`];
}

export interface UnknownField {
  /** sigs.k8s.io/json path: `spec.template.spec.containers[0].imagee` */
  json: string;
  /** structured-merge-diff path: `.spec.template.spec.containers[name="web"].imagee` */
  smd: string;
  /** Removes the field from the object. */
  drop(): void;
}

function smdKey(item: JsonObject, keys: string[], index: number): string {
  // Keys an element lacks default as the schema says (protocol: TCP); absent others make SMD fall back on the index.
  const parts = keys.map((k) => {
    const v = item[k] ?? (k === 'protocol' ? 'TCP' : undefined);
    return v === undefined ? undefined : `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
  });
  return parts.every((p) => p !== undefined) ? `[${parts.join(',')}]` : `[${index}]`;
}

/** The unknown fields of `value`, in document order. */
export function unknownFields(value: Json | undefined, schema: Schema, json = '', smd = ''): UnknownField[] {
  if (schema === ANY || value === undefined || value === null) return [];
  if ('fields' in schema) {
    if (!isObject(value)) return [];
    const out: UnknownField[] = [];
    for (const key of Object.keys(value)) {
      const jsonPath = json ? `${json}.${key}` : key;
      const smdPath = `${smd}.${key}`;
      const child = schema.fields[key];
      if (child === undefined) out.push({ json: jsonPath, smd: smdPath, drop: () => delete value[key] });
      else out.push(...unknownFields(value[key], child, jsonPath, smdPath));
    }
    return out;
  }
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, i) =>
    unknownFields(item, schema.list, `${json}[${i}]`, `${smd}${schema.keys && isObject(item) ? smdKey(item, schema.keys, i) : `[${i}]`}`),
  );
}
