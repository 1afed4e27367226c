import * as assert from 'assert';
import { runAnnotations } from '../../shared/pipeline/runAnnotations';

const of = (vars: Record<string, string>) => (name: string) => vars[name];

describe("the run's traceability annotations (KubernetesManifest's keys)", () => {
  it('a build: run number, pipeline, its id, job, run URI, project and organisation', () => {
    assert.deepStrictEqual(
      runAnnotations(
        of({
          'System.HostType': 'build',
          'System.TeamFoundationCollectionUri': 'https://dev.azure.com/contoso/',
          'System.TeamProject': 'web shop',
          'Build.BuildNumber': '20261126.3',
          'Build.BuildId': '4242',
          'Build.DefinitionName': 'shop-cd',
          'System.DefinitionId': '17',
          'Agent.JobName': 'Deploy',
        }),
      ),
      {
        'azure-pipelines/run': '20261126.3',
        'azure-pipelines/pipeline': 'shop-cd',
        'azure-pipelines/pipelineId': '17',
        'azure-pipelines/jobName': 'Deploy',
        'azure-pipelines/runuri': 'https://dev.azure.com/contoso/web%20shop/_build/results?buildId=4242',
        'azure-pipelines/project': 'web shop',
        'azure-pipelines/org': 'https://dev.azure.com/contoso/',
      },
    );
  });

  it('a classic release: the release id and definition, the release progress URI', () => {
    const a = runAnnotations(
      of({
        'System.HostType': 'release',
        'System.TeamFoundationCollectionUri': 'https://dev.azure.com/contoso',
        'System.TeamProject': 'web',
        'Release.ReleaseId': '88',
        'Release.DefinitionName': 'shop-release',
        'Release.DefinitionId': '5',
        'Build.BuildNumber': 'ignored',
      }),
    );
    assert.strictEqual(a['azure-pipelines/run'], '88');
    assert.strictEqual(a['azure-pipelines/pipeline'], 'shop-release');
    assert.strictEqual(a['azure-pipelines/pipelineId'], '5');
    assert.strictEqual(a['azure-pipelines/runuri'], 'https://dev.azure.com/contoso/web/_releaseProgress?releaseId=88');
  });

  it('leaves out what the job does not know, rather than writing "undefined"', () => {
    assert.deepStrictEqual(runAnnotations(of({ 'System.TeamProject': 'web' })), { 'azure-pipelines/project': 'web' });
  });
});
