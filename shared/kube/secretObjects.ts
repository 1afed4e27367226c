import { invalidInput } from '../pipeline/explainedError';
import { forgetSourceText, type ManifestObject } from './manifests';

/**
 * Secrets built in memory as `kubectl create secret` builds them, so the task can apply them with
 * the manifests (one apply, on stdin or inside run command's zipped context) instead of running
 * kubectl create with the values on its command line, as KubernetesManifest's createSecret does
 * (microsoft/azure-pipelines-tasks Tasks/KubernetesManifestV1/src/actions/createSecret.ts).
 */

/** A Secret's name: a DNS subdomain (k8s.io/apimachinery pkg/api/validation/objectmeta.go, NameIsDNSSubdomain). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A data key (k8s.io/apimachinery pkg/util/validation/validation.go IsConfigMapKey: [-._a-zA-Z0-9]+, at most 253, not . or ..). */
const CONFIG_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export function validateSecretName(input: string, name: string): string {
  if (!DNS_SUBDOMAIN.test(name)) {
    throw invalidInput(
      input,
      `'${name}' is not a valid Secret name.`,
      'Use lower case letters, digits, - and . (a DNS subdomain, at most 253 characters).',
    );
  }
  return name;
}

export interface RegistryLogin {
  /** The registry's server as the Docker config keys it (a host such as contoso.azurecr.io, or a URL). */
  server: string;
  username: string;
  password: string;
  email?: string;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/**
 * `kubectl create secret docker-registry`'s object (k8s.io/kubectl pkg/cmd/create/create_secret_docker.go:
 * type kubernetes.io/dockerconfigjson, data[.dockerconfigjson] = {"auths":{server:{username, password,
 * email (omitted when empty), auth: base64(username:password)}}}, handleDockerCfgJSONContent).
 */
export function dockerRegistrySecret(name: string, namespace: string | undefined, login: RegistryLogin): ManifestObject {
  const entry: Record<string, string> = { username: login.username, password: login.password };
  if (login.email) entry.email = login.email;
  entry.auth = b64(`${login.username}:${login.password}`);
  return secretObject(name, namespace, 'kubernetes.io/dockerconfigjson', {
    '.dockerconfigjson': JSON.stringify({ auths: { [login.server]: entry } }),
  });
}

export interface Literal {
  key: string;
  value: string;
}

/**
 * Splits one line as task-lib's tool runner splits an argument string (azure-pipelines-task-lib
 * node/toolrunner.ts _argStringToArray): whitespace separates, double quotes group and are removed,
 * a backslash escapes a double quote inside them.
 */
function splitArguments(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inQuotes = false;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      inQuotes = !inQuotes;
      started = true;
    } else if (c === '\\' && inQuotes && line[i + 1] === '"') {
      current += '"';
      i++;
    } else if (/\s/.test(c) && !inQuotes) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/**
 * The secretArguments input of KubernetesManifest (`--from-literal=key=value`, passed there to
 * `kubectl create secret generic <name> <secretArguments>`), one or more per line. kubectl splits a
 * literal at its first `=` and refuses a source without one or a key that is not a valid data key
 * (k8s.io/kubectl pkg/cmd/create/create_secret.go parseLiteralSource, addKeyFromLiteralToSecret:
 * "cannot add key %s, another key by that name already exists"). Only literals: --from-file and
 * --from-env-file would read files the task would then have to trust, and values in files are not
 * what this input is for. The error never repeats a value.
 */
export function parseSecretArguments(input: string, text: string): Literal[] {
  const literals: Literal[] = [];
  for (const arg of text.split(/\r?\n/).flatMap(splitArguments)) {
    const m = /^--from-literal=(.*)$/s.exec(arg);
    if (!m) {
      const shown = arg.startsWith('--') ? arg.split('=')[0] : 'an argument';
      throw invalidInput(
        input,
        `${shown} is not supported: only --from-literal=key=value is.`,
        'Give each value as --from-literal=key=$(secretVariable), one per line.',
      );
    }
    const eq = m[1].indexOf('=');
    const key = eq < 0 ? m[1] : m[1].slice(0, eq);
    if (eq <= 0) {
      throw invalidInput(input, 'A --from-literal has no key=value (kubectl: "expected key=value").', 'Write --from-literal=key=value.');
    }
    if (!CONFIG_KEY.test(key) || key === '.' || key === '..') {
      throw invalidInput(input, `'${key}' is not a valid key name for a Secret.`, 'Use letters, digits, -, _ and . in keys.');
    }
    if (literals.some((l) => l.key === key)) {
      throw invalidInput(input, `The key '${key}' is given twice.`, 'Give each key once.');
    }
    literals.push({ key, value: m[1].slice(eq + 1) });
  }
  if (literals.length === 0)
    throw invalidInput(input, 'It holds no --from-literal=key=value.', 'Give at least one --from-literal=key=value.');
  return literals;
}

/** `kubectl create secret generic <name> --from-literal=…`'s object: type Opaque, each value base64. */
export function genericSecret(name: string, namespace: string | undefined, literals: Literal[]): ManifestObject {
  return secretObject(name, namespace, 'Opaque', Object.fromEntries(literals.map((l) => [l.key, l.value])));
}

function secretObject(name: string, namespace: string | undefined, type: string, values: Record<string, string>): ManifestObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: namespace ? { name, namespace } : { name },
    type,
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, b64(v)])),
  };
}

/**
 * Every form in which a Secret's values could show in a log: each value, its base64 (data), and the
 * Docker config's inner values and auth. For the agent's masking.
 */
export function secretForms(secret: ManifestObject): string[] {
  const forms: string[] = [];
  for (const encoded of Object.values((secret.data ?? {}) as Record<string, string>)) {
    const value = Buffer.from(encoded, 'base64').toString('utf8');
    forms.push(encoded, value);
    if (secret.type === 'kubernetes.io/dockerconfigjson') {
      const auths = (JSON.parse(value) as { auths: Record<string, Record<string, string>> }).auths;
      for (const entry of Object.values(auths)) forms.push(entry.password, entry.auth);
    }
  }
  return forms.filter(Boolean);
}

/** Pod spec holders of each workload kind (KubernetesManifest's KubernetesObjectUtility getImagePullSecrets / setImagePullSecrets). */
function podSpecOf(o: ManifestObject): Record<string, unknown> | undefined {
  const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!spec || typeof spec !== 'object') return undefined;
  if (o.kind === 'Pod') return spec;
  if (o.kind === 'CronJob') return spec.jobTemplate?.spec?.template?.spec;
  return spec.template?.spec;
}

/** KubernetesManifest's workload kinds (common-npm-packages/kubernetes-common kubernetesconstants.ts workloadTypes). */
const WORKLOAD_KINDS = new Set(['deployment', 'replicaset', 'daemonset', 'pod', 'statefulset', 'job', 'cronjob']);

/**
 * Adds the imagePullSecrets input's names to every workload's pod spec, after the ones it already
 * has, as KubernetesManifest does (Tasks/KubernetesManifestV1/src/utils/DeploymentHelper.ts
 * updateResourceObjects → KubernetesObjectUtility.updateImagePullSecrets(…, override false): the
 * existing list concatenated with the new names), for the workload kinds it knows, case-insensitive.
 * One difference: a name the pod spec already lists is not added again, since a second entry with
 * the same name is refused by server-side apply ("duplicate entries for key [name=…]"). Returns how
 * many workloads got names.
 */
export function attachImagePullSecrets(objects: ManifestObject[], names: string[]): number {
  if (names.length === 0) return 0;
  let count = 0;
  for (const o of objects) {
    if (!WORKLOAD_KINDS.has(o.kind.toLowerCase())) continue;
    const podSpec = podSpecOf(o);
    if (!podSpec) continue;
    const existing = Array.isArray(podSpec.imagePullSecrets) ? (podSpec.imagePullSecrets as { name?: string }[]) : [];
    const added = names.filter((n) => !existing.some((e) => e?.name === n)).map((name) => ({ name }));
    if (added.length === 0) continue;
    podSpec.imagePullSecrets = [...existing, ...added];
    forgetSourceText(o);
    count++;
  }
  return count;
}

/**
 * Sets the annotations on each object's metadata, over the ones it has (kubectl annotate
 * --overwrite, as KubernetesManifest annotates what it applied). Objects only, not pod templates:
 * a changed template restarts every pod of the workload on every run.
 */
export function annotateObjects(objects: ManifestObject[], annotations: Record<string, string>): void {
  if (Object.keys(annotations).length === 0) return;
  for (const o of objects) {
    const current = o.metadata.annotations;
    o.metadata.annotations = { ...(current && typeof current === 'object' ? (current as Record<string, string>) : {}), ...annotations };
    forgetSourceText(o);
  }
}
