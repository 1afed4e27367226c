import * as assert from 'assert';
import * as path from 'path';
import { MockTestRunner } from 'azure-pipelines-task-lib/mock-test';
import { ALL_TASKS, REPO_ROOT, loggedText, type TaskName } from '../support/taskRun';

const MOCK_RUN = path.join(__dirname, 'mock', 'entryPointMockRun.js');

async function mockRun(task: TaskName, mockCase: string): Promise<MockTestRunner> {
  process.env.MOCK_TASK = task;
  process.env.MOCK_CASE = mockCase;
  try {
    const runner = new MockTestRunner(MOCK_RUN, path.join(REPO_ROOT, 'tasks', task, 'task.json'));
    // Without a nodePath (and LoadAsync sets none), MockTestRunner downloads a Node build to match the handler.
    runner.nodePath = process.execPath;
    await runner.runAsync();
    return runner;
  } finally {
    delete process.env.MOCK_TASK;
    delete process.env.MOCK_CASE;
  }
}

describe('task entry points under the task-lib mock runner (offline)', function () {
  this.timeout(30_000);

  for (const task of ALL_TASKS) {
    describe(task, () => {
      if (task === 'PrivateAksDeployV1') {
        it('checks the manifests and namespace before it signs in', async () => {
          const none = await mockRun(task, 'noManifests');
          assert.ok(none.failed);
          assert.match(none.errorIssues.join('\n'), /input 'manifests'.*\[NO_MANIFESTS\]/);
          const badNamespace = await mockRun(task, 'badNamespace');
          assert.match(badNamespace.errorIssues.join('\n'), /input 'namespace'.*'Web_Prod' is not a valid namespace/);
          assert.ok(!badNamespace.stdout.includes('Signed in to Azure'));
        });
      }

      // PrivateAksDeploy goes on to Resource Manager after signing in, which needs the sandbox: its sign-in is tested there.
      if (task !== 'PrivateAksDeployV1')
        it('signs in and reports the identity first, then names its missing resource group', async () => {
          const tr = await mockRun(task, 'signedIn');
          // Both go on to their inputs after the identity: without a resource group they stop there, offline.
          if (task === 'ServiceConnectionRoleCheckV1' || task === 'AcrNetworkRuleSyncV1') {
            assert.ok(tr.failed, tr.stdout);
            assert.match(tr.errorIssues.join('\n'), /input 'resourceGroupName'.*\[INVALID_INPUT\]/);
          } else {
            assert.ok(tr.succeeded, tr.stdout);
          }
          assert.ok(tr.stdout.includes('Signed in to Azure:'), tr.stdout);
          assert.ok(tr.stdout.includes('Object id               : 22222222-2222-2222-2222-222222222222'), tr.stdout);
          assert.ok(tr.stdout.includes('Scheme                  : ServicePrincipal (service principal (secret))'), tr.stdout);
          assert.ok(!loggedText(tr.stdout, tr.stderr).includes('mock-secret-value-0123456789'), 'the client secret reached the log');
          assert.ok(
            tr.stdout.includes('##vso[task.setsecret]mock-secret-value-0123456789'),
            'the client secret was not registered for masking',
          );
          if (task === 'ServiceConnectionRoleCheckV1') {
            assert.ok(
              tr.stdout.includes(
                '##vso[task.setvariable variable=principalObjectId;isOutput=true;issecret=false;]22222222-2222-2222-2222-222222222222',
              ),
              tr.stdout,
            );
          }
        });

      it('names the input when no connection is given', async () => {
        const tr = await mockRun(task, 'missingConnection');
        assert.ok(tr.failed);
        assert.match(tr.errorIssues.join('\n'), /input 'connectedServiceNameARM' \(azureSubscription\).*\[MISSING_CONNECTION\]/);
      });

      it('refuses a connection that is not Azure Resource Manager', async () => {
        const tr = await mockRun(task, 'wrongType');
        assert.ok(tr.failed);
        assert.match(tr.errorIssues.join('\n'), /\[WRONG_CONNECTION_TYPE\].*Azure Resource Manager/);
      });

      it('explains a workload identity federation run without System.AccessToken', async () => {
        const tr = await mockRun(task, 'wifWithoutAccessToken');
        assert.ok(tr.failed);
        assert.match(
          tr.errorIssues.join('\n'),
          /\[MISSING_SYSTEM_ACCESS_TOKEN\].*SystemVssConnection.*not running as a step of an Azure Pipelines agent job/,
        );
      });
    });
  }
});
