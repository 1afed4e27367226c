import * as assert from 'assert';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { ClientAssertionCredential } from '@azure/identity';
import { startSandbox, type Sandbox } from '../sandbox';
import type { AzureRmConnection } from '../../shared/azure/connection/azureRmConnection';
import { resolveCloudEndpoints } from '../../shared/azure/connection/cloud';
import { acquireToken, createConnectionCredential } from '../../shared/azure/identity/connectionCredential';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The auth module in-process against the sandbox through the real @azure/identity stack: a job
 * longer than its OIDC token still gets Entra tokens, because each exchange presents a fresh one.
 */
describe('workload identity federation outlives the OIDC token', function () {
  this.timeout(30_000);
  let sandbox: Sandbox;
  const saved = { ...process.env };
  const CONNECTION = 'c0ffee00-0000-4000-8000-00000000a11d';

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'wif', federated: [{ subject: 'sc://contoso/web/long-job' }] }],
      serviceConnections: [{ id: CONNECTION, name: 'long-job', principal: 'wif' }],
      azureDevOps: { organization: 'contoso', projectName: 'web' },
      // Both shorter than MSAL's five-minute renewal margin: every getToken is a new exchange.
      oidcTokenLifetimeSeconds: 2,
      tokenLifetimeSeconds: 4,
    });
    // What the agent sets for the job; task-lib reads these variables at call time.
    process.env.SYSTEM_OIDCREQUESTURI = sandbox.oidcRequestUri;
    process.env.SYSTEM_ACCESSTOKEN = sandbox.systemAccessToken;
    process.env.AGENT_CAINFO = sandbox.caFile;
    tl.setStdStream(new Writable({ write: (_c, _e, done) => done() }));
  });

  after(async () => {
    process.env = saved;
    tl.setStdStream(process.stdout);
    await sandbox?.stop();
  });

  function connection(): AzureRmConnection {
    const principal = sandbox.principal('wif');
    return {
      id: CONNECTION,
      scheme: 'WorkloadIdentityFederation',
      tenantId: sandbox.tenantId,
      cloud: resolveCloudEndpoints({
        resourceManagerUrl: 'https://127.0.0.1:9/',
        authorityUrl: sandbox.authorityHost,
        resourceManagerAudience: 'https://management.core.windows.net/',
      }),
      credential: { kind: 'workloadIdentityFederation', clientId: principal.clientId },
    };
  }

  it('fetches a new OIDC token for an exchange after the previous one expired', async () => {
    const cc = createConnectionCredential(connection());
    const first = await acquireToken(cc, 'resourceManager');
    const oidcAfterFirst = sandbox.requests.count('oidc');
    await sleep(2_500); // the first OIDC token is now expired
    const second = await acquireToken(cc, 'aksServer');
    assert.notStrictEqual(first.token, second.token);
    assert.strictEqual(second.claims.aud, '6dae42f8-4368-4678-94ff-3960e28e3630');
    assert.ok(sandbox.requests.count('oidc') > oidcAfterFirst, 'no new OIDC token was requested');
    assert.strictEqual(cc.oidc?.lastPresented?.subject, 'sc://contoso/web/long-job');
  });

  it('(control) the sandbox refuses an exchange that reuses an expired OIDC token', async () => {
    const cc = createConnectionCredential(connection());
    const stale = await cc.oidc!.getToken();
    await sleep(2_500);
    const reusing = new ClientAssertionCredential(sandbox.tenantId, sandbox.principal('wif').clientId, async () => stale, {
      authorityHost: sandbox.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: sandbox.tlsOptions(),
    });
    await assert.rejects(reusing.getToken('https://management.core.windows.net//.default'), /AADSTS700024/);
  });
});
