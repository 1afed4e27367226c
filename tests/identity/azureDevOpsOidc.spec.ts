import * as assert from 'assert';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { startSandbox, type Sandbox } from '../sandbox';
import { startRecordingProxy } from '../support/connectProxy';
import { rawRequest } from '../support/rawRequest';
import { AzureDevOpsOidcTokenSource } from '../../shared/azure/identity/azureDevOpsOidc';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/** The Azure DevOps OIDC token source in-process, through azure-devops-node-api, against the sandbox. */
describe('the Azure DevOps OIDC token source', function () {
  this.timeout(30_000);
  const CONNECTION = 'c0ffee00-0000-4000-8000-00000000a11e';
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

  describe('against the sandbox', () => {
    let sandbox: Sandbox;
    before(async () => {
      sandbox = await startSandbox({
        principals: [{ name: 'wif', federated: [{ subject: 'sc://contoso/web/prod' }] }],
        serviceConnections: [{ id: CONNECTION, name: 'prod', principal: 'wif' }],
        azureDevOps: { organization: 'contoso', projectName: 'web' },
      });
    });
    after(() => sandbox?.stop());
    beforeEach(() => {
      process.env = { ...saved };
      // What the agent sets for the job; task-lib reads these variables at call time.
      process.env.SYSTEM_OIDCREQUESTURI = sandbox.oidcRequestUri;
      process.env.SYSTEM_ACCESSTOKEN = sandbox.systemAccessToken;
      process.env.AGENT_CAINFO = sandbox.caFile;
    });

    it('asks as TaskApi.createOidcToken does: the area locations first (OPTIONS), then the token at the negotiated api-version', async () => {
      const first = sandbox.requests.for('oidc').length;
      const source = AzureDevOpsOidcTokenSource.forConnection(CONNECTION);
      const token = await source.getToken();
      assert.strictEqual(source.lastPresented?.subject, 'sc://contoso/web/prod');
      assert.ok(token.split('.').length === 3);
      const seen = sandbox.requests.for('oidc').slice(first);
      assert.deepStrictEqual(
        seen.map((r) => [r.method, r.status]),
        [
          ['OPTIONS', 200],
          ['POST', 200],
        ],
        sandbox.requests.describe(),
      );
      assert.match(seen[0].path, /^\/contoso\/_apis\/distributedtask\/?$/);
      // Negotiated from the location (maxVersion 7.2, resourceVersion 1) and sent in the Accept header.
      assert.strictEqual(seen[1].note?.apiVersion, '7.2-preview.1');
      assert.strictEqual(seen[1].note?.serviceConnectionId, CONNECTION);
    });

    it('the sandbox refuses an api-version the oidctoken location does not allow, as the service does', async () => {
      const ask = async (version: string) => {
        const res = await rawRequest(sandbox, `${sandbox.oidcRequestUri}?api-version=${version}&serviceConnectionId=${CONNECTION}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${sandbox.systemAccessToken}`, 'Content-Type': 'application/json' },
        });
        return { status: res.status, typeKey: res.status === 200 ? '' : res.json<{ typeKey: string }>().typeKey };
      };
      assert.deepStrictEqual(await ask('7.1'), { status: 200, typeKey: '' });
      assert.deepStrictEqual(await ask('7.2-preview.1'), { status: 200, typeKey: '' });
      assert.deepStrictEqual(await ask('7.2'), { status: 400, typeKey: 'VssInvalidPreviewVersionException' });
      assert.deepStrictEqual(await ask('9.0'), { status: 400, typeKey: 'VssVersionOutOfRangeException' });
    });

    it('asks anew for each exchange once the last token is no longer fresh, without asking for the locations again', async () => {
      const source = AzureDevOpsOidcTokenSource.forConnection(CONNECTION);
      await source.getToken();
      const before = sandbox.requests.for('oidc').length;
      (source as unknown as { recent: undefined }).recent = undefined;
      await source.getToken();
      assert.deepStrictEqual(
        sandbox.requests
          .for('oidc')
          .slice(before)
          .map((r) => r.method),
        ['POST'],
      );
    });

    it("goes through the agent's proxy, with its credentials", async () => {
      const proxy = await startRecordingProxy({ username: 'agent', password: 'proxy-secret-1' });
      try {
        process.env.AGENT_PROXYURL = proxy.url;
        process.env.AGENT_PROXYUSERNAME = 'agent';
        process.env.AGENT_PROXYPASSWORD = 'proxy-secret-1';
        await AzureDevOpsOidcTokenSource.forConnection(CONNECTION).getToken();
        assert.ok(proxy.tunnels.includes(new URL(sandbox.oidcRequestUri).host), `tunnels: ${proxy.tunnels.join(', ')}`);
      } finally {
        await proxy.close();
      }
    });

    it('explains a refused job token', async () => {
      process.env.SYSTEM_ACCESSTOKEN = 'not-the-job-token';
      await assert.rejects(AzureDevOpsOidcTokenSource.forConnection(CONNECTION).getToken(), (err: Error) =>
        /\[OIDC_REQUEST_REFUSED\].*HTTP 401/.test(err.message),
      );
    });

    it('explains a connection Azure DevOps does not know', async () => {
      await assert.rejects(AzureDevOpsOidcTokenSource.forConnection('c0ffee00-0000-4000-8000-0000000000ff').getToken(), (err: Error) =>
        /\[OIDC_TOKEN_MISSING\].*HTTP 400.*not a workload identity federation connection/.test(err.message),
      );
    });
  });
});
