import * as tl from 'azure-pipelines-task-lib/task';
import { pullSecretLogin } from '../../shared/azure/acr/pullSecretCredential';
import type { ManifestObject } from '../../shared/kube/manifests';
import {
  dockerRegistrySecret,
  genericSecret,
  parseSecretArguments,
  secretForms,
  validateSecretName,
} from '../../shared/kube/secretObjects';
import { invalidInput } from '../../shared/pipeline/explainedError';
import { readEndpointSecret, readSecretInput, registerSecret } from '../../shared/pipeline/secrets';
import { booleanInput, choiceInput, linesInput, optionalInput } from '../../shared/pipeline/taskInputs';
import { runAnnotations } from '../../shared/pipeline/runAnnotations';

/**
 * The secret, pull secrets and run annotations the inputs ask for (called by inputs.ts only). The
 * Secret gets its namespace from the apply (the namespace input), as the manifests' objects do.
 */
export interface SecretOptions {
  /** The Secret to apply with the manifests, built in memory, its values registered with the agent's masking. */
  secret?: ManifestObject;
  /** A notice for the log about the registry connection (an ACR: AcrPull on the kubelet identity is better). */
  secretNotice?: string;
  /** Names added to every workload's pod spec imagePullSecrets. */
  imagePullSecrets: string[];
  /** The run's traceability annotations, when asked for (traceabilityAnnotations). */
  annotations?: Record<string, string>;
}

/**
 * A Docker registry connection's login, read as docker-common reads it (see pullSecretCredential);
 * the password through readEndpointSecret, since task-lib's getter writes values to the debug log.
 */
function registryLogin(id: string) {
  if (!tl.getEndpointAuthorizationScheme(id, true) && !process.env[`ENDPOINT_AUTH_${id}`]) {
    throw invalidInput(
      'dockerRegistryEndpoint',
      `No service connection '${id}' reached this job.`,
      'Pick a Docker registry service connection the pipeline may use.',
    );
  }
  const secretKeys = new Set(['password', 'serviceprincipalkey']);
  return pullSecretLogin({
    id,
    registryType: tl.getEndpointDataParameter(id, 'registrytype', true),
    scheme: tl.getEndpointAuthorizationScheme(id, true),
    url: tl.getEndpointUrl(id, true),
    parameter: (key) =>
      secretKeys.has(key.toLowerCase()) ? readEndpointSecret(id, key) : tl.getEndpointAuthorizationParameter(id, key, true),
  });
}

export function readSecretInputs(): SecretOptions {
  const imagePullSecrets = linesInput('imagePullSecrets').map((n) => validateSecretName('imagePullSecrets', n));
  const annotations = booleanInput('traceabilityAnnotations', false) ? runAnnotations((name) => tl.getVariable(name)) : undefined;
  const name = optionalInput('secretName');
  if (!name) return { imagePullSecrets, annotations };
  validateSecretName('secretName', name);
  const type = choiceInput('secretType', ['dockerRegistry', 'generic'] as const, 'dockerRegistry');
  let secret: ManifestObject;
  let secretNotice: string | undefined;
  if (type === 'dockerRegistry') {
    const id = optionalInput('dockerRegistryEndpoint');
    if (!id)
      throw invalidInput(
        'dockerRegistryEndpoint',
        'secretType is dockerRegistry and no connection is given.',
        'Pick the Docker registry service connection the secret is made from.',
      );
    const login = registryLogin(id);
    secretNotice = login.notice;
    secret = dockerRegistrySecret(name, undefined, login);
  } else {
    const text = readSecretInput('secretArguments');
    if (!text)
      throw invalidInput(
        'secretArguments',
        'secretType is generic and no --from-literal=key=value is given.',
        'Give the values as --from-literal=key=$(secretVariable), one per line.',
      );
    secret = genericSecret(name, undefined, parseSecretArguments('secretArguments', text));
  }
  for (const form of secretForms(secret)) registerSecret(form);
  return { secret, secretNotice, imagePullSecrets, annotations };
}
