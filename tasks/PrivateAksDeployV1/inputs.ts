import * as os from 'os';
import * as tl from 'azure-pipelines-task-lib/task';
import type { ClusterSelector } from '../../shared/azure/aks/clusterAccess';
import { parseResourceId, validateResourceGroupName, validateResourceName } from '../../shared/azure/arm/resourceId';
import { parseImage } from '../../shared/kube/imageSubstitution';
import { locateKubectl } from '../../shared/kube/kubectl';
import { validateNamespace } from '../../shared/kube/manifests';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { readSecretInputs, type SecretOptions } from './secretInputs';
import { booleanInput, choiceInput, integerInput, linesInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';

export type RequestedRoute = 'auto' | 'direct' | 'runCommand';
/** What the task does with the manifests: apply them, show what applying them would change, or delete their objects (KubernetesManifest's action names where they exist). */
export type DeployAction = 'deploy' | 'preview' | 'delete';

/** What PrivateAksDeploy is asked to do: the only place the task reads its inputs. */
export interface DeployOptions {
  action: DeployAction;
  cluster: ClusterSelector;
  /** What to deploy: manifest globs (one per line) and/or a kustomization folder, as given. */
  manifests: string[];
  kustomizationPath?: string;
  namespace?: string;
  createNamespace: boolean;
  /** `containers`, each parsed (`repository:tag` or `repository@sha256:…`). */
  images: ReturnType<typeof parseImage>[];
  serverSideApply: boolean;
  serverDryRunFirst: boolean;
  pruneSelector?: string;
  waitForRollout: boolean;
  rolloutTimeoutSeconds: number;
  rollbackOnFailure: boolean;
  route: RequestedRoute;
  registryName?: string;
  probeTimeoutMs: number;
  credentialHelper: 'builtIn' | 'kubelogin';
  kubeloginMode: 'azurepipelines' | 'workloadidentity' | 'spn' | 'msi';
  useAdmin: boolean;
  /** The kubectlPath input, found on disk; without it kubectl is looked up on PATH when first needed. */
  kubectlPath?: string;
  /** Where globs are matched, and where the task writes its private files. */
  sourcesDirectory: string;
  tempDir: string;
  /** secretName / secretType / dockerRegistryEndpoint / secretArguments, imagePullSecrets, traceabilityAnnotations. */
  secrets: SecretOptions;
}

/** The cluster the inputs name: a resource id (its own subscription), or resource group and name (the connection's). */
export function clusterInput(): ClusterSelector {
  if ((optionalInput('clusterSpecifiedBy') ?? 'name') === 'resourceId') {
    const id = parseResourceId('clusterResourceId', requiredInput('clusterResourceId'), 'Microsoft.ContainerService/managedClusters');
    return { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name: id.name };
  }
  return {
    resourceGroup: validateResourceGroupName('resourceGroupName', requiredInput('resourceGroupName')),
    name: validateResourceName('clusterName', 'cluster', requiredInput('clusterName')),
  };
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

/** What to deploy and how, checked before any file is read or anything signs in. */
function planInputs(): Pick<
  DeployOptions,
  | 'manifests'
  | 'kustomizationPath'
  | 'namespace'
  | 'createNamespace'
  | 'images'
  | 'serverSideApply'
  | 'serverDryRunFirst'
  | 'pruneSelector'
  | 'waitForRollout'
  | 'rolloutTimeoutSeconds'
  | 'rollbackOnFailure'
> {
  const namespaceInput = optionalInput('namespace');
  const manifests = linesInput('manifests');
  const kustomizationPath = kustomizationInput();
  if (manifests.length === 0 && !kustomizationPath) {
    throw new ExplainedError({
      what: "Reading the input 'manifests'",
      reason: 'Neither manifests nor a kustomization folder was given.',
      fix: 'Set manifests (paths or globs, one per line) or kustomizationPath.',
      code: 'NO_MANIFESTS',
    });
  }
  return {
    manifests,
    kustomizationPath,
    namespace: namespaceInput ? validateNamespace('namespace', namespaceInput) : undefined,
    createNamespace: booleanInput('createNamespace', false),
    images: linesInput('containers').map((line) => parseImage('containers', line)),
    serverSideApply: booleanInput('serverSideApply', false),
    serverDryRunFirst: booleanInput('serverDryRunFirst', false),
    pruneSelector: booleanInput('prune', false) ? requiredInput('pruneSelector') : undefined,
    waitForRollout: booleanInput('waitForRollout', true),
    rolloutTimeoutSeconds: integerInput('rolloutTimeoutSeconds', 300, 1, 86_400),
    rollbackOnFailure: booleanInput('rollbackOnFailure', false),
  };
}

/**
 * Every input, validated, each error naming its input; nothing of Azure's is touched here. The
 * cluster's subscription may still be the connection's (known after sign-in: clusterTargetOf).
 */
export function readDeployInputs(): DeployOptions {
  const action = choiceInput('action', ['deploy', 'preview', 'delete'] as const, 'deploy');
  const route = choiceInput('route', ['auto', 'direct', 'runCommand'] as const, 'auto');
  const useAdmin = booleanInput('useAdminCredentials', false);
  const probeTimeoutMs = integerInput('probeTimeoutSeconds', 10, 1, 120) * 1000;
  const registryName = optionalInput('registryName');
  const credentialHelper = choiceInput('credentialHelper', ['builtIn', 'kubelogin'] as const, 'builtIn');
  const kubeloginMode = choiceInput('kubeloginLoginMode', ['azurepipelines', 'workloadidentity', 'spn', 'msi'] as const, 'azurepipelines');
  // A kubectlPath that was given is checked with the other inputs, before anything signs in.
  const kubectlPath = optionalInput('kubectlPath');
  return {
    action,
    route,
    useAdmin,
    probeTimeoutMs,
    registryName: registryName ? validateResourceName('registryName', 'registry', registryName) : undefined,
    credentialHelper,
    kubeloginMode,
    kubectlPath: kubectlPath ? locateKubectl(kubectlPath) : undefined,
    ...planInputs(),
    cluster: clusterInput(),
    secrets: readSecretInputs(),
    sourcesDirectory: tl.getVariable('System.DefaultWorkingDirectory') || process.cwd(),
    tempDir: tl.getVariable('Agent.TempDirectory') || os.tmpdir(),
  };
}
