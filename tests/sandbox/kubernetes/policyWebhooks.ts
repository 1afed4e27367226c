/**
 * The Azure Policy add-on's validating admission webhook: Gatekeeper (`validation.gatekeeper.sh`)
 * with the constraints Azure Policy assignments install, for two built-in definitions:
 *
 *   - "Kubernetes cluster should not allow privileged containers" → template k8sazurev2noprivilege,
 *     rego `msg := sprintf("Privileged container is not allowed: %v, securityContext: %v", [c.name, c.securityContext])`;
 *   - "Kubernetes cluster containers should only use allowed images" → k8sazurev2containerallowedimages
 *     (parameter allowedContainerImagesRegex), `Container image %v for container %v has not been allowed.`
 *
 * Constraint names are `azurepolicy-<template>-<20 hex>`, cut to 63 characters by shortening the
 * template part (`azurepolicy-k8sazurev2containerallowedimag-1b10f0111a41c36df80c`). Azure Policy's
 * constraints match kind Pod (the definitions' `kinds: ["Pod"]`) and exclude kube-system,
 * gatekeeper-system and azure-arc by default.
 *
 * Gatekeeper's answer (open-policy-agent/gatekeeper pkg/webhook/policy.go): each deny result
 * becomes `[<constraint name>] <msg>`, joined by "\n", in a 403 Forbidden; enforcementAction
 * `warn` results become admission warnings, `dryrun` (Azure Policy effect Audit) results are only
 * audited. The API server wraps a denial as
 * `admission webhook "validation.gatekeeper.sh" denied the request: <message>`
 * (apiserver pkg/admission/plugin/webhook/errors ToStatusErr), keeping the code and reason.
 *
 * Workloads: with Gatekeeper expansion (an ExpansionTemplate, conventionally `expand-deployments`,
 * applying Pod constraints to the pod template of Deployments, ReplicaSets, StatefulSets,
 * DaemonSets, Jobs and CronJobs), a workload whose template violates a Pod constraint is refused at
 * apply, with the child message prefixed `[Implied by <template>] ` (gatekeeper pkg/expansion
 * aggregate.go childMsgPrefix). Without expansion the workload is admitted and its pods are
 * refused when the controllers create them (`podPolicyDenial`).
 *
 * Validating admission runs for dry-run requests too (the webhooks are declared sideEffects: None),
 * which is what lets `kubectl apply --dry-run=server` see the denial.
 */
import * as crypto from 'node:crypto';
import { KubeStatusError } from './admission';
import { isObject, type Json, type JsonObject } from './patch';
import type { ResourceType } from './resources';
import { metadataOf, type KubeObject } from './store';

export const GATEKEEPER_WEBHOOK = 'validation.gatekeeper.sh';

export type PolicyTemplate = 'k8sazurev2noprivilege' | 'k8sazurev2containerallowedimages';

export interface PolicyConstraint {
  template: PolicyTemplate;
  /** Azure Policy effect: Deny → enforcementAction deny; Audit → dryrun. Default Deny. */
  effect?: 'Deny' | 'Audit' | 'Warn';
  /** k8sazurev2containerallowedimages: allowedContainerImagesRegex. */
  imageRegex?: string;
  /** Default ['kube-system', 'gatekeeper-system', 'azure-arc']. */
  excludedNamespaces?: string[];
  /** The 20 hex characters ending the constraint name; default derived from the template. */
  hash?: string;
}

export interface PolicySettings {
  constraints: PolicyConstraint[];
  /** Name of the Gatekeeper ExpansionTemplate that applies Pod constraints to workloads; undefined: none. */
  expansionTemplate?: string;
}

const DEFAULT_EXCLUDED = ['kube-system', 'gatekeeper-system', 'azure-arc'];

/** `azurepolicy-<template>-<hash>`, at most 63 characters. */
export function constraintName(c: PolicyConstraint): string {
  const hash =
    c.hash ??
    crypto
      .createHash('sha256')
      .update(`${c.template}/${c.imageRegex ?? ''}`)
      .digest('hex')
      .slice(0, 20);
  const room = 63 - 'azurepolicy-'.length - 1 - hash.length;
  return `azurepolicy-${c.template.slice(0, room)}-${hash}`;
}

/** Rego's `%v` of a JSON value: objects as `{"k": v}`, with a space after the colon and comma. */
function regoValue(value: Json | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(regoValue).join(', ')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}: ${regoValue(value[k])}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

function containersOf(podSpec: JsonObject): JsonObject[] {
  const list = (field: string): JsonObject[] => (Array.isArray(podSpec[field]) ? (podSpec[field] as Json[]).filter(isObject) : []);
  return [...list('containers'), ...list('initContainers'), ...list('ephemeralContainers')];
}

function violations(c: PolicyConstraint, podSpec: JsonObject): string[] {
  const out: string[] = [];
  for (const container of containersOf(podSpec)) {
    if (c.template === 'k8sazurev2noprivilege') {
      const sc = isObject(container.securityContext) ? container.securityContext : undefined;
      if (sc && sc.privileged === true)
        out.push(`Privileged container is not allowed: ${String(container.name)}, securityContext: ${regoValue(sc)}`);
    } else if (c.template === 'k8sazurev2containerallowedimages') {
      const regex = new RegExp(c.imageRegex ?? '.*');
      const image = String(container.image ?? '');
      // Rego regex.match is unanchored, as the definition's regex is written (`^.+azurecr.io/.+$`).
      if (!regex.test(image)) out.push(`Container image ${image} for container ${String(container.name)} has not been allowed.`);
    }
  }
  return out;
}

/** The pod spec a workload's expansion produces (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob). */
function templatedPodSpec(type: ResourceType, obj: KubeObject): JsonObject | undefined {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  if (!spec) return undefined;
  const group = type.storageGroup ?? type.group;
  const key = `${group}/${type.resource}`;
  if (['apps/deployments', 'apps/replicasets', 'apps/statefulsets', 'apps/daemonsets', 'batch/jobs'].includes(key)) {
    return isObject(spec.template) && isObject(spec.template.spec) ? spec.template.spec : undefined;
  }
  if (key === 'batch/cronjobs') {
    const job = isObject(spec.jobTemplate) && isObject(spec.jobTemplate.spec) ? spec.jobTemplate.spec : undefined;
    return job && isObject(job.template) && isObject(job.template.spec) ? job.template.spec : undefined;
  }
  return undefined;
}

interface Review {
  deny: string[];
  warn: string[];
}

function review(settings: PolicySettings, namespace: string, podSpec: JsonObject, prefix: string): Review {
  const result: Review = { deny: [], warn: [] };
  for (const c of settings.constraints) {
    if ((c.excludedNamespaces ?? DEFAULT_EXCLUDED).includes(namespace)) continue;
    const name = constraintName(c);
    for (const msg of violations(c, podSpec)) {
      const line = `[${name}] ${prefix}${msg}`;
      if ((c.effect ?? 'Deny') === 'Deny') result.deny.push(line);
      else if (c.effect === 'Warn') result.warn.push(line);
    }
  }
  return result;
}

function denial(deny: string[]): KubeStatusError {
  return new KubeStatusError(403, 'Forbidden', `admission webhook "${GATEKEEPER_WEBHOOK}" denied the request: ${deny.join('\n')}`);
}

/**
 * The webhook's verdict on a create or update: throws the 403 for deny results, returns warnings.
 * Only creates and updates reach it (the webhook's rules: create, update).
 */
export function admitByPolicy(settings: PolicySettings | undefined, type: ResourceType, obj: KubeObject): string[] {
  if (!settings || settings.constraints.length === 0 || !type.namespaced) return [];
  const namespace = String(metadataOf(obj).namespace ?? '');
  let verdict: Review | undefined;
  if ((type.storageGroup ?? type.group) === '' && type.resource === 'pods') {
    verdict = review(settings, namespace, isObject(obj.spec) ? obj.spec : {}, '');
  } else if (settings.expansionTemplate) {
    const podSpec = templatedPodSpec(type, obj);
    if (podSpec) verdict = review(settings, namespace, podSpec, `[Implied by ${settings.expansionTemplate}] `);
  }
  if (!verdict) return [];
  if (verdict.deny.length) throw denial(verdict.deny);
  return verdict.warn;
}

/**
 * For controllers creating pods: the webhook's denial text for a pod, or undefined when admitted
 * (a ReplicaSet controller reports it in a FailedCreate event: `Error creating: <text>`).
 */
export function podPolicyDenial(settings: PolicySettings | undefined, pod: KubeObject): string | undefined {
  if (!settings) return undefined;
  const verdict = review(settings, String(metadataOf(pod).namespace ?? ''), isObject(pod.spec) ? pod.spec : {}, '');
  return verdict.deny.length ? `admission webhook "${GATEKEEPER_WEBHOOK}" denied the request: ${verdict.deny.join('\n')}` : undefined;
}
