import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { substituteImages } from '../../shared/kube/imageSubstitution';
import { runKubectl } from '../../shared/kube/kubectl';
import { loadManifests, loadManifestsYielding, type ManifestObject } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { onTaskEnd } from '../../shared/pipeline/runTask';
import type { DeployPlan } from './deployPlan';
import type { DeployOptions } from './inputs';
import { withSecretsAndTrace } from './secretsAndTrace';

/**
 * Renders a kustomization with kubectl's built-in kustomize (local: no cluster involved). The
 * output can hold secretGenerator data: it goes into a new folder of its own (mkdtemp: random
 * name, 0700), removed when the task ends.
 */
async function renderKustomization(kubectl: string, dir: string, tempDir: string): Promise<string> {
  const folder = fs.mkdtempSync(path.join(tempDir, 'private-aks-deploy-'));
  fs.chmodSync(folder, 0o700);
  onTaskEnd(() => fs.rmSync(folder, { recursive: true, force: true }));
  const out = path.join(folder, 'kustomize.yaml');
  const result = await runKubectl(kubectl, ['kustomize', dir], { kubeconfig: '', deadlineMs: 120_000 });
  if (result.exitCode !== 0) {
    throw new ExplainedError({
      what: "Rendering the input 'kustomizationPath'",
      reason: `kubectl kustomize failed: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`,
      fix: 'Run kubectl kustomize on the folder locally to see the error.',
      code: 'INVALID_MANIFEST',
    });
  }
  fs.writeFileSync(out, result.stdout, { mode: 0o600, flag: 'wx' });
  return out;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/**
 * A matched file, or a matched folder's .yaml, .yml and .json files (not its subfolders), as
 * `kubectl apply -f <folder>` reads a folder without -R (kubernetes.io, "Declarative Management of
 * Kubernetes Objects Using Configuration Files") and KubernetesManifest@1 passes folders to it.
 */
function manifestFilesAt(match: string): string[] {
  const stat = fs.statSync(match);
  if (stat.isFile()) return MANIFEST_FILE.test(match) ? [match] : [];
  if (!stat.isDirectory()) return [];
  return fs
    .readdirSync(match, { withFileTypes: true })
    .filter((e) => e.isFile() && MANIFEST_FILE.test(e.name))
    .map((e) => path.join(match, e.name))
    .sort();
}

/**
 * Everything about what to deploy, from the validated inputs, before anything touches the network:
 * manifests found and parsed, images substituted. Parsing yields the event loop now and then, so
 * that sign-in and the cluster reads go on meanwhile.
 */
export async function buildDeployPlan(o: DeployOptions, kubectl: () => string): Promise<DeployPlan> {
  const files: string[] = [];
  if (o.manifests.length > 0) {
    const matched = tl.findMatch(o.sourcesDirectory, o.manifests).flatMap(manifestFilesAt);
    if (matched.length === 0) loadManifests('manifests', []); // throws NO_MANIFESTS, naming the input
    files.push(...matched);
  }
  if (o.kustomizationPath) {
    const dir = path.resolve(o.sourcesDirectory, o.kustomizationPath);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ExplainedError({
        what: "Reading the input 'kustomizationPath'",
        reason: `${dir} is not a folder.`,
        fix: 'Give the folder that holds kustomization.yaml.',
        code: 'INVALID_INPUT',
      });
    }
    files.push(await renderKustomization(kubectl(), dir, o.tempDir));
  }
  const objects: ManifestObject[] = (await loadManifestsYielding(o.manifests.length ? 'manifests' : 'kustomizationPath', files)).map(
    (l) => l.object,
  );
  if (o.images.length > 0) {
    for (const [image, count] of substituteImages(objects, o.images)) {
      if (count === 0) tl.warning(`containers: no container uses the repository of ${image}; nothing was replaced for it.`);
      else console.log(`Image ${image} set in ${count} container(s).`);
    }
  }
  const prepared = withSecretsAndTrace(o.secrets, objects);
  return {
    objects: prepared.objects,
    carriesSecrets: prepared.carriesSecrets,
    namespace: o.namespace,
    createNamespace: o.createNamespace,
    serverSideApply: o.serverSideApply,
    serverDryRunFirst: o.serverDryRunFirst,
    pruneSelector: o.pruneSelector,
    waitForRollout: o.waitForRollout,
    rolloutTimeoutSeconds: o.rolloutTimeoutSeconds,
    rollbackOnFailure: o.rollbackOnFailure,
  };
}
