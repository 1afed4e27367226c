import * as tl from 'azure-pipelines-task-lib/task';
import type { ManifestObject } from '../../shared/kube/manifests';
import { annotateObjects, attachImagePullSecrets } from '../../shared/kube/secretObjects';
import { invalidInput } from '../../shared/pipeline/explainedError';
import { neutralizeLoggingCommands } from '../../shared/pipeline/loggingCommands';
import type { SecretOptions } from './secretInputs';

/**
 * The plan's objects with what the secret inputs ask for, in memory: the Secret first (so the
 * workloads that pull with it find it), imagePullSecrets on every workload, the run's annotations on
 * every object. `carriesSecrets`: the objects hold a Secret the task made, which must reach kubectl
 * only on stdin or inside run command's request, never in a file.
 */
export function withSecretsAndTrace(s: SecretOptions, objects: ManifestObject[]): { objects: ManifestObject[]; carriesSecrets: boolean } {
  if (s.imagePullSecrets.length > 0) {
    const count = attachImagePullSecrets(objects, s.imagePullSecrets);
    if (count === 0) tl.warning(`imagePullSecrets: no workload in the manifests to add ${s.imagePullSecrets.join(', ')} to.`);
    else console.log(`imagePullSecrets ${s.imagePullSecrets.join(', ')} set on ${count} workload(s).`);
  }
  const secret = s.secret;
  if (secret) {
    if (objects.some((o) => o.kind === 'Secret' && o.metadata.name === secret.metadata.name)) {
      throw invalidInput(
        'secretName',
        `The manifests already hold a Secret named '${secret.metadata.name}'.`,
        'Give the secret another name, or leave it to the manifests.',
      );
    }
    console.log(`Secret ${secret.metadata.name} (${String(secret.type)}) built in memory; it is applied with the manifests.`);
    if (s.secretNotice) console.log(neutralizeLoggingCommands(`Note: ${s.secretNotice}`));
  }
  const all = secret ? [secret, ...objects] : objects;
  if (s.annotations) {
    annotateObjects(all, s.annotations);
    console.log(`Traceability annotations on ${all.length} object(s): ${Object.keys(s.annotations).join(', ')}.`);
  }
  return { objects: all, carriesSecrets: secret !== undefined };
}
