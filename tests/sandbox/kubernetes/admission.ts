/**
 * What the API server does to an object between decoding a request and storing it, for the
 * kinds deployments use: decoding checks (strict field validation of top-level fields, typed
 * fields like ConfigMap data), defaulting (the defaults `kubectl get -o yaml` shows), and
 * validation with the Kubernetes error texts (`Deployment.apps "x" is invalid: spec.selector:
 * Required value`).
 */
import { isObject, type Json, type JsonObject } from './patch';
import { goLabelSelector, immutableFieldErrors } from './immutableFields';
import { groupVersion, type ResourceType } from './resources';
import { schemaFor, unknownFields } from './schema';
import type { KubeObject } from './store';

export interface FieldError {
  /** FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueForbidden */
  reason: string;
  field: string;
  message: string;
}

export class KubeStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
    this.name = 'KubeStatusError';
  }

  toStatus(): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      // StatusReasonUnknown ("") is omitted (omitempty), as for errors that are not API statuses.
      ...(this.reason ? { reason: this.reason } : {}),
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** `Deployment.apps`, `Service`: the qualified kind used in Invalid messages. */
function qualifiedKind(type: ResourceType): string {
  return type.group ? `${type.kind}.${type.group}` : type.kind;
}

export function invalidError(type: ResourceType, name: string, errors: FieldError[]): KubeStatusError {
  const texts = errors.map((e) => `${e.field}: ${e.message}`);
  const summary = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  return new KubeStatusError(422, 'Invalid', `${qualifiedKind(type)} "${name}" is invalid: ${summary}`, {
    name,
    group: type.group,
    kind: type.kind,
    causes: errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

/**
 * Server-side apply's typed conversion of the applied configuration (schema.ts): unknown fields
 * fail the request with structured-merge-diff's text, as a 500 without a reason.
 */
export function checkApplyFields(type: ResourceType, obj: KubeObject, namespace: string | undefined, name: string): void {
  const schema = schemaFor(type);
  if (!schema) return;
  const unknown = unknownFields(obj, schema);
  if (unknown.length === 0) return;
  const object = `${namespace ?? ''}/${name}; ${groupVersion(type)}, Kind=${type.kind}`;
  // structured-merge-diff ValidationErrors.Error(): one error alone, several as "errors:\n  <e>\n  <e>".
  const errors = unknown.map((u) => `${u.smd}: field not declared in schema`);
  const text = errors.length === 1 ? errors[0] : ['errors:', ...errors.map((e) => `  ${e}`)].join('\n');
  throw new KubeStatusError(500, '', `failed to create typed patch object (${object}): ${text}`);
}

export function badRequest(message: string): KubeStatusError {
  return new KubeStatusError(400, 'BadRequest', message);
}

function decodeError(type: ResourceType, detail: string): KubeStatusError {
  return badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: ${detail}`);
}

/** Go's %#v of a map[string]string, as validation messages print label maps. */
function goStringMap(map: JsonObject): string {
  const entries = Object.keys(map)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(map[k]))}`);
  return `map[string]string{${entries.join(', ')}}`;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Checks what decoding into the Go type would reject, and unknown top-level fields according to
 * `fieldValidation` (Strict: 400; Warn (the default): a warning; Ignore). Unknown fields are
 * dropped. Returns warnings for the `Warning` header.
 */
export function decodeObject(type: ResourceType, obj: KubeObject, fieldValidation: string | undefined): string[] {
  const warnings: string[] = [];
  const schema = schemaFor(type);
  if (schema) {
    // Nested fields too (schema.ts), in document order.
    const unknown = unknownFields(obj, schema);
    if (unknown.length > 0) {
      const mode = (fieldValidation ?? 'Warn').toLowerCase();
      if (mode === 'strict')
        throw decodeError(type, `strict decoding error: ${unknown.map((u) => `unknown field "${u.json}"`).join(', ')}`);
      if (mode === 'warn') for (const u of unknown) warnings.push(`unknown field "${u.json}"`);
      for (const u of unknown) u.drop();
    }
  } else if (type.topLevelFields) {
    const unknown = Object.keys(obj).filter((k) => !type.topLevelFields!.includes(k));
    if (unknown.length > 0) {
      const mode = (fieldValidation ?? 'Warn').toLowerCase();
      if (mode === 'strict') {
        const detail = unknown.length === 1 ? `unknown field "${unknown[0]}"` : unknown.map((u) => `unknown field "${u}"`).join(', ');
        throw decodeError(type, `strict decoding error: ${detail}`);
      }
      if (mode === 'warn') for (const u of unknown) warnings.push(`unknown field "${u}"`);
      for (const u of unknown) delete obj[u];
    }
  }
  if (obj.metadata !== undefined && !isObject(obj.metadata))
    throw decodeError(type, 'json: cannot unmarshal into Go struct field Object.metadata of type v1.ObjectMeta');
  const meta = (obj.metadata ?? {}) as JsonObject;
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (!isObject(map) || Object.values(map).some((v) => typeof v !== 'string')) {
      throw decodeError(
        type,
        `json: cannot unmarshal ${describeJson(isObject(map) ? Object.values(map).find((v) => typeof v !== 'string') : map)} into Go struct field ObjectMeta.metadata.${field} of type string`,
      );
    }
  }
  if (type.group === '' && (type.resource === 'configmaps' || type.resource === 'secrets')) {
    const fields = type.resource === 'configmaps' ? ['data'] : ['stringData'];
    for (const field of fields) {
      const data = obj[field];
      if (data === undefined || data === null) continue;
      const bad = isObject(data) ? Object.values(data).find((v) => typeof v !== 'string') : data;
      if (!isObject(data) || bad !== undefined)
        throw decodeError(type, `json: cannot unmarshal ${describeJson(bad)} into Go struct field ${type.kind}.${field} of type string`);
    }
  }
  if (type.group === '' && type.resource === 'secrets' && isObject(obj.data)) {
    for (const value of Object.values(obj.data)) {
      const text = String(value);
      const index = firstInvalidBase64(text);
      if (index >= 0) throw decodeError(type, `illegal base64 data at input byte ${index}`);
    }
  }
  return warnings;
}

function describeJson(value: Json | undefined): string {
  if (typeof value === 'number') return 'number';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return 'object';
}

function firstInvalidBase64(text: string): number {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return text.search(/[^A-Za-z0-9+/=]|=(?=[^=])/);
  if (text.length % 4 !== 0) return text.length - (text.length % 4);
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Defaulting

export interface Allocators {
  clusterIP(): string;
  nodePort(): number;
}

function imagePullPolicy(image: string): string {
  const lastSegment = image.split('/').pop() ?? image;
  if (lastSegment.includes('@')) return 'IfNotPresent';
  const tag = lastSegment.includes(':') ? lastSegment.split(':').pop() : undefined;
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(list: Json | undefined): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!isObject(c)) continue;
    if (typeof c.image === 'string') c.imagePullPolicy ??= imagePullPolicy(c.image);
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    c.resources ??= {};
    if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) p.protocol ??= 'TCP';
  }
}

function defaultPodSpec(spec: Json | undefined): void {
  if (!isObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

function defaultTemplate(spec: JsonObject): void {
  if (isObject(spec.template)) defaultPodSpec(spec.template.spec);
}

/** Fills the defaults the API server sets. `previous` is the stored object on updates. */
export function applyDefaults(type: ResourceType, obj: KubeObject, previous: KubeObject | undefined, alloc: Allocators): void {
  const meta = obj.metadata as JsonObject;
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  const key = `${type.storageGroup ?? type.group}/${type.resource}`;
  switch (key) {
    case '/namespaces': {
      meta.labels = { ...(isObject(meta.labels) ? meta.labels : {}), 'kubernetes.io/metadata.name': String(meta.name) };
      obj.spec = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      break;
    }
    case '/secrets': {
      if (isObject(obj.stringData)) {
        const data = isObject(obj.data) ? obj.data : {};
        for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
        obj.data = data;
      }
      delete obj.stringData;
      obj.type ??= 'Opaque';
      break;
    }
    case '/services': {
      if (!spec) break;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.type !== 'ExternalName') {
        const previousSpec = isObject(previous?.spec) ? (previous!.spec as JsonObject) : {};
        spec.clusterIP ??= (previousSpec.clusterIP as string | undefined) ?? alloc.clusterIP();
        spec.clusterIPs ??= [spec.clusterIP];
        spec.ipFamilies ??= ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
        spec.internalTrafficPolicy ??= 'Cluster';
      }
      if (Array.isArray(spec.ports)) {
        for (const p of spec.ports) {
          if (!isObject(p)) continue;
          p.protocol ??= 'TCP';
          p.targetPort ??= p.port;
          if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort === undefined) p.nodePort = alloc.nodePort();
        }
      }
      if (spec.type === 'LoadBalancer' || spec.type === 'NodePort') spec.externalTrafficPolicy ??= 'Cluster';
      if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
      obj.status ??= { loadBalancer: {} };
      break;
    }
    case 'apps/deployments': {
      if (!spec) break;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      const strategy = (spec.strategy = isObject(spec.strategy) ? spec.strategy : {});
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        const rolling = (strategy.rollingUpdate = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : {});
        rolling.maxUnavailable ??= '25%';
        rolling.maxSurge ??= '25%';
      }
      defaultTemplate(spec);
      break;
    }
    case 'apps/statefulsets': {
      if (!spec) break;
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.revisionHistoryLimit ??= 10;
      const strategy = (spec.updateStrategy = isObject(spec.updateStrategy) ? spec.updateStrategy : {});
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') strategy.rollingUpdate ??= { partition: 0 };
      spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultTemplate(spec);
      break;
    }
    case 'apps/daemonsets': {
      if (!spec) break;
      spec.revisionHistoryLimit ??= 10;
      const strategy = (spec.updateStrategy = isObject(spec.updateStrategy) ? spec.updateStrategy : {});
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') strategy.rollingUpdate ??= { maxUnavailable: 1, maxSurge: 0 };
      defaultTemplate(spec);
      break;
    }
    case 'apps/replicasets':
    case 'batch/jobs':
      if (spec) defaultTemplate(spec);
      break;
    case 'batch/cronjobs':
      if (spec && isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec)) defaultTemplate(spec.jobTemplate.spec);
      if (spec) {
        spec.concurrencyPolicy ??= 'Allow';
        spec.suspend ??= false;
        spec.successfulJobsHistoryLimit ??= 3;
        spec.failedJobsHistoryLimit ??= 1;
      }
      break;
    case '/pods':
      defaultPodSpec(spec);
      break;
    case 'apiextensions.k8s.io/customresourcedefinitions':
      if (spec) {
        spec.conversion ??= { strategy: 'None' };
        if (isObject(spec.names)) {
          spec.names.singular ??= String(spec.names.kind ?? '').toLowerCase();
          spec.names.listKind ??= `${String(spec.names.kind ?? '')}List`;
        }
      }
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function nameErrors(type: ResourceType, name: string): FieldError[] {
  const invalid = (message: string): FieldError[] => [
    { reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(name)}: ${message}` },
  ];
  if (type.group === '' && type.resource === 'services') {
    if (name.length > 63 || !DNS1035_LABEL.test(name)) {
      return invalid(
        `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
      );
    }
    return [];
  }
  if (type.group === '' && type.resource === 'namespaces') {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return invalid(
        `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
      );
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return invalid(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  }
  return [];
}

function selectorMatches(selector: JsonObject, labels: JsonObject): boolean {
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions.filter(isObject) : [];
  return expressions.every((e) => {
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    const has = Object.prototype.hasOwnProperty.call(labels, String(e.key));
    const value = String(labels[String(e.key)] ?? '');
    switch (e.operator) {
      case 'In':
        return has && values.includes(value);
      case 'NotIn':
        return !has || !values.includes(value);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
}

function containerErrors(prefix: string, containers: Json | undefined): FieldError[] {
  if (!Array.isArray(containers) || containers.length === 0)
    return [{ reason: 'FieldValueRequired', field: prefix, message: 'Required value' }];
  const errors: FieldError[] = [];
  containers.forEach((c, i) => {
    if (!isObject(c)) return;
    if (typeof c.name !== 'string' || !c.name)
      errors.push({ reason: 'FieldValueRequired', field: `${prefix}[${i}].name`, message: 'Required value' });
    if (typeof c.image !== 'string' || !c.image)
      errors.push({ reason: 'FieldValueRequired', field: `${prefix}[${i}].image`, message: 'Required value' });
  });
  return errors;
}

function workloadErrors(spec: JsonObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  if (!spec) return [{ reason: 'FieldValueRequired', field: 'spec', message: 'Required value' }];
  const selector = spec.selector;
  const template = isObject(spec.template) ? spec.template : {};
  const labels = isObject(template.metadata) && isObject(template.metadata.labels) ? template.metadata.labels : {};
  if (!isObject(selector)) {
    errors.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
  } else {
    const empty = !isObject(selector.matchLabels) && !Array.isArray(selector.matchExpressions);
    if (empty)
      errors.push({
        reason: 'FieldValueInvalid',
        field: 'spec.selector',
        message: `Invalid value: ${goLabelSelector(selector)}: empty selector is invalid for deployment`,
      });
    else if (!selectorMatches(selector, labels)) {
      errors.push({
        reason: 'FieldValueInvalid',
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${goStringMap(labels)}: \`selector\` does not match template \`labels\``,
      });
    }
  }
  errors.push(...containerErrors('spec.template.spec.containers', isObject(template.spec) ? template.spec.containers : undefined));
  return errors;
}

/**
 * Validation errors for a create (`previous` undefined) or an update; `minor` is the cluster's
 * Kubernetes minor release (update rules differ by release, see immutableFields.ts).
 */
export function validateObject(type: ResourceType, obj: KubeObject, previous: KubeObject | undefined, minor = 31): FieldError[] {
  const meta = obj.metadata as JsonObject;
  const name = String(meta.name ?? '');
  const errors: FieldError[] = [];
  if (!name)
    errors.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (!type.custom) errors.push(...nameErrors(type, name));
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  switch (`${type.storageGroup ?? type.group}/${type.resource}`) {
    case 'apps/deployments':
    case 'apps/statefulsets':
    case 'apps/daemonsets':
    case 'apps/replicasets':
      errors.push(...workloadErrors(spec));
      break;
    case '/services': {
      if (spec && spec.type !== 'ExternalName' && spec.clusterIP !== 'None' && (!Array.isArray(spec.ports) || spec.ports.length === 0)) {
        errors.push({ reason: 'FieldValueRequired', field: 'spec.ports', message: 'Required value' });
      }
      if (spec && Array.isArray(spec.ports) && spec.ports.length > 1) {
        spec.ports.forEach((p, i) => {
          if (isObject(p) && !p.name)
            errors.push({ reason: 'FieldValueRequired', field: `spec.ports[${i}].name`, message: 'Required value' });
        });
      }
      const previousIp = isObject(previous?.spec) ? (previous!.spec as JsonObject).clusterIP : undefined;
      if (spec && previousIp !== undefined && spec.clusterIP !== previousIp) {
        errors.push({
          reason: 'FieldValueInvalid',
          field: 'spec.clusterIPs[0]',
          message: `Invalid value: []string{${JSON.stringify(spec.clusterIP)}}: may not change once set`,
        });
      }
      break;
    }
    case 'networking.k8s.io/ingresses': {
      const rules = spec && Array.isArray(spec.rules) ? spec.rules : [];
      rules.forEach((rule, i) => {
        const paths = isObject(rule) && isObject(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
        paths.forEach((p, j) => {
          if (isObject(p) && p.pathType === undefined) {
            errors.push({
              reason: 'FieldValueRequired',
              field: `spec.rules[${i}].http.paths[${j}].pathType`,
              message: 'Required value: pathType must be specified',
            });
          }
        });
      });
      break;
    }
    case 'apiextensions.k8s.io/customresourcedefinitions': {
      const names = spec && isObject(spec.names) ? spec.names : {};
      const group = spec ? String(spec.group ?? '') : '';
      if (!group) errors.push({ reason: 'FieldValueRequired', field: 'spec.group', message: 'Required value' });
      if (!names.plural) errors.push({ reason: 'FieldValueRequired', field: 'spec.names.plural', message: 'Required value' });
      if (!names.kind) errors.push({ reason: 'FieldValueRequired', field: 'spec.names.kind', message: 'Required value' });
      if (group && names.plural && name !== `${String(names.plural)}.${group}`) {
        errors.push({
          reason: 'FieldValueInvalid',
          field: 'metadata.name',
          message: `Invalid value: ${JSON.stringify(name)}: must be spec.names.plural+"."+spec.group`,
        });
      }
      const versions = spec && Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
      if (versions.length === 0)
        errors.push({
          reason: 'FieldValueInvalid',
          field: 'spec.versions',
          message:
            'Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): must have exactly one version marked as storage version',
        });
      else if (versions.filter((v) => v.storage === true).length !== 1) {
        errors.push({
          reason: 'FieldValueInvalid',
          field: 'spec.versions',
          message: 'Invalid value: must have exactly one version marked as storage version',
        });
      }
      if (spec && !['Namespaced', 'Cluster'].includes(String(spec.scope))) {
        errors.push({
          reason: 'FieldValueNotSupported',
          field: 'spec.scope',
          message: `Unsupported value: ${JSON.stringify(spec.scope ?? '')}: supported values: "Cluster", "Namespaced"`,
        });
      }
      break;
    }
  }
  if (previous) errors.push(...immutableFieldErrors(type, obj, previous, minor));
  return errors;
}

/** The apiVersion/kind the request body must carry for `type` (missing ones are filled in). */
export function checkTypeMeta(type: ResourceType, obj: KubeObject): void {
  const gv = groupVersion(type);
  if (obj.kind !== undefined && obj.kind !== type.kind) {
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
  }
  obj.apiVersion = gv;
  obj.kind = type.kind;
}
