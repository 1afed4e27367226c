/**
 * The run's traceability annotations, with KubernetesManifest's keys and values, so that tools that
 * read them (the Azure DevOps Kubernetes resource view, `kubectl get -o yaml`) find this task's
 * deployments as they find KubernetesManifest's. Source: microsoft/azure-pipelines-tasks
 * common-npm-packages/kubernetes-common/kubernetesconstants.ts `pipelineAnnotations`:
 *
 *   release: run = Release.ReleaseId, pipeline = Release.DefinitionName, pipelineId = Release.DefinitionId,
 *            runuri = <collection>/<project>/_releaseProgress?releaseId=<Release.ReleaseId>
 *   build:   run = Build.BuildNumber, pipeline = Build.DefinitionName, pipelineId = System.DefinitionId,
 *            runuri = <collection>/<project>/_build/results?buildId=<Build.BuildId>
 *   both:    jobName = Agent.JobName, project = System.TeamProject, org = System.TeamFoundationCollectionUri
 *
 * (Release or build by System.HostType.) KubernetesManifest passes them to `kubectl annotate` through
 * task-lib's tool runner (node/toolrunner.ts), which removes the quotes around pipeline, pipelineId and jobName; the values
 * are the variables themselves. The keys azure-pipelines/execution and executionuri are the older
 * names of run and runuri (the same file before the rename); the Kubernetes resource view reads both.
 * A variable the job does not have leaves its annotation out (KubernetesManifest would write "undefined"),
 * and the project in runuri is URL-encoded (KubernetesManifest puts it in as it is, spaces included).
 */
export function runAnnotations(variable: (name: string) => string | undefined): Record<string, string> {
  const get = (name: string) => variable(name)?.trim() || undefined;
  const release = (get('System.HostType') ?? '').toLowerCase() === 'release';
  const org = get('System.TeamFoundationCollectionUri');
  const project = get('System.TeamProject');
  const runId = release ? get('Release.ReleaseId') : get('Build.BuildId');
  const runUri =
    org && project && runId
      ? `${org.endsWith('/') ? org : `${org}/`}${encodeURIComponent(project)}/${release ? `_releaseProgress?releaseId=${runId}` : `_build/results?buildId=${runId}`}`
      : undefined;
  const entries: [string, string | undefined][] = [
    ['azure-pipelines/run', release ? get('Release.ReleaseId') : get('Build.BuildNumber')],
    ['azure-pipelines/pipeline', release ? get('Release.DefinitionName') : get('Build.DefinitionName')],
    ['azure-pipelines/pipelineId', release ? get('Release.DefinitionId') : get('System.DefinitionId')],
    ['azure-pipelines/jobName', get('Agent.JobName')],
    ['azure-pipelines/runuri', runUri],
    ['azure-pipelines/project', project],
    ['azure-pipelines/org', org],
  ];
  return Object.fromEntries(entries.filter((e): e is [string, string] => e[1] !== undefined));
}
