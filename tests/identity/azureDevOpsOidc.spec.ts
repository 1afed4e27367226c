import * as assert from 'assert';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { AzureDevOpsOidcTokenSource } from '../../shared/identity/azureDevOpsOidc';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/** The Azure DevOps OIDC token source in-process: what it says when the job's token is missing. */
describe('the Azure DevOps OIDC token source', () => {
  const saved = { ...process.env };
  before(() => tl.setStdStream(new Writable({ write: (_c, _e, done) => done() })));
  after(() => {
    process.env = saved;
    tl.setStdStream(process.stdout);
  });

  it('without the job access token, says the task is not running in an agent job, not to tick a checkbox', () => {
    delete process.env.SYSTEM_ACCESSTOKEN;
    delete process.env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION;
    let error: unknown;
    try {
      AzureDevOpsOidcTokenSource.forConnection('c0ffee00-0000-4000-8000-00000000a11d');
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ExplainedError, String(error));
    const message = error.message;
    assert.match(message, /\[MISSING_SYSTEM_ACCESS_TOKEN\]/);
    // The agent adds SystemVssConnection, with the job's token, to every task it runs
    // (azure-pipelines-agent src/Agent.Worker/TaskRunner.cs, "Add the system endpoint";
    // Handler.cs AddEndpointsToEnvironment). The checkbox (System.EnableAccessToken) only maps the
    // token into the System.AccessToken variable for scripts (src/Agent.Worker/JobRunner.cs).
    assert.match(message, /SystemVssConnection/);
    assert.match(message, /not running as a step of an Azure Pipelines agent job/);
    assert.doesNotMatch(message, /enable "Allow scripts to access the OAuth token"/i);
  });
});
