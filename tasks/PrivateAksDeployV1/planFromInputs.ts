import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { parseImage, substituteImages } from '../../shared/kube/imageSubstitution';
import { runKubectl } from '../../shared/kube/kubectl';
import { loadManifests, loadManifestsYielding, validateNamespace, type ManifestObject } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { onTaskEnd } from '../../shared/pipeline/runTask';
import { booleanInput, integerInput, linesInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';
import type { DeployPlan } from './deployPlan';

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
 * The kustomizationPath input, when the pipeline gave one. The agent passes every filePath input
 * through its path translation, empty ones too: an empty kustomizationPath arrives as the sources
 * folder (build) or the artifacts folder (release) (azure-pipelines-agent src/Agent.Worker/TaskRunner.cs
 * TranslateFilePathInput, Build/BuildJobExtension.cs and Release/ReleaseJobExtension.cs GetRootedPath).
 * task-lib's filePathSupplied tells that folder from a path the author gave: a kustomization at the
 * root of the sources cannot be chosen this way, only one in a folder below it.
 */
function kustomizationInput(): string | undefined {
  const value = optionalInput('kustomizationPath');
  if (!value || !tl.filePathSupplied('kustomizationPath')) return undefined;
  return value;
}

/**
 * Everything about what to deploy, from the inputs, checked before anything touches the network:
 * manifests found and parsed, names and namespace valid, images substituted.
 */
export async function planFromInputs(options: { sourcesDirectory: string; tempDir: string; kubectl: () => string }): Promise<DeployPlan> {
  const namespaceInput = optionalInput('namespace');
  const namespace = namespaceInput ? validateNamespace('namespace', namespaceInput) : undefined;
  const patterns = linesInput('manifests');
  const kustomization = kustomizationInput();
  if (patterns.length === 0 && !kustomization) {
    throw new ExplainedError({
      what: "Reading the input 'manifests'",
      reason: 'Neither manifests nor a kustomization folder was given.',
      fix: 'Set manifests (paths or globs, one per line) or kustomizationPath.',
      code: 'NO_MANIFESTS',
    });
  }
  const files: string[] = [];
  if (patterns.length > 0) {
    const matched = tl.findMatch(options.sourcesDirectory, patterns).flatMap(manifestFilesAt);
    if (matched.length === 0) loadManifests('manifests', []); // throws NO_MANIFESTS, naming the input
    files.push(...matched);
  }
  if (kustomization) {
    const dir = path.resolve(options.sourcesDirectory, kustomization);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ExplainedError({
        what: "Reading the input 'kustomizationPath'",
        reason: `${dir} is not a folder.`,
        fix: 'Give the folder that holds kustomization.yaml.',
        code: 'INVALID_INPUT',
      });
    }
    files.push(await renderKustomization(options.kubectl(), dir, options.tempDir));
  }
  const objects: ManifestObject[] = (await loadManifestsYielding(patterns.length ? 'manifests' : 'kustomizationPath', files)).map(
    (l) => l.object,
  );
  const images = linesInput('containers').map((line) => parseImage('containers', line));
  if (images.length > 0) {
    for (const [image, count] of substituteImages(objects, images)) {
      if (count === 0) tl.warning(`containers: no container uses the repository of ${image}; nothing was replaced for it.`);
      else console.log(`Image ${image} set in ${count} container(s).`);
    }
  }
  const prune = booleanInput('prune', false);
  return {
    objects,
    namespace,
    createNamespace: booleanInput('createNamespace', false),
    serverSideApply: booleanInput('serverSideApply', false),
    pruneSelector: prune ? requiredInput('pruneSelector') : undefined,
    waitForRollout: booleanInput('waitForRollout', true),
    rolloutTimeoutSeconds: integerInput('rolloutTimeoutSeconds', 300, 1, 86_400),
  };
}
