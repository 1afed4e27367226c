import * as assert from 'assert';
import { execFile } from 'child_process';
import * as path from 'path';
import { Writable } from 'stream';
import { promisify } from 'util';
import * as tl from 'azure-pipelines-task-lib/task';
import { startSandbox, type Sandbox } from '../sandbox';
import { resolveCloudEndpoints } from '../../shared/azure/connection/cloud';
import { createConnectionCredential } from '../../shared/azure/identity/connectionCredential';
import { BROKER_KEY_ENV, BROKER_URL_ENV, startTokenBroker, type TokenBroker } from '../../shared/azure/aks/tokenBroker';
import { REPO_ROOT } from '../support/taskRun';

const run = promisify(execFile);
const PLUGIN = path.join(REPO_ROOT, 'tasks', 'PrivateAksDeployV1', 'execCredential.js');

/** kubectl's exec credential plugin (the bundle) asking the task's broker for AKS tokens. */
describe('exec credential plugin and token broker', function () {
  this.timeout(30_000);
  let sandbox: Sandbox;
  let broker: TokenBroker;
  const savedCa = process.env.AGENT_CAINFO;

  before(async () => {
    sandbox = await startSandbox({ principals: [{ name: 'deployer' }], tokenLifetimeSeconds: 3600 });
    process.env.AGENT_CAINFO = sandbox.caFile;
    tl.setStdStream(new Writable({ write: (_c, _e, done) => done() }));
    const principal = sandbox.principal('deployer');
    const cc = createConnectionCredential({
      id: 'sc-broker',
      scheme: 'ServicePrincipal',
      tenantId: sandbox.tenantId,
      cloud: resolveCloudEndpoints({ resourceManagerUrl: 'https://127.0.0.1:9/', authorityUrl: sandbox.authorityHost }),
      credential: { kind: 'servicePrincipalSecret', clientId: principal.clientId, secret: principal.secret! },
    });
    broker = await startTokenBroker(cc);
  });

  after(async () => {
    await broker?.close();
    await sandbox?.stop();
    tl.setStdStream(process.stdout);
    if (savedCa === undefined) delete process.env.AGENT_CAINFO;
    else process.env.AGENT_CAINFO = savedCa;
  });

  it('prints an ExecCredential with a valid AKS token', async () => {
    const { stdout } = await run(process.execPath, [PLUGIN], {
      env: {
        PATH: process.env.PATH,
        ...broker.env,
        KUBERNETES_EXEC_INFO: JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          spec: { interactive: false },
        }),
      },
    });
    const credential = JSON.parse(stdout);
    assert.strictEqual(credential.kind, 'ExecCredential');
    assert.strictEqual(credential.apiVersion, 'client.authentication.k8s.io/v1');
    const claims = sandbox.validateAccessToken(credential.status.token, { audience: '6dae42f8-4368-4678-94ff-3960e28e3630' });
    assert.strictEqual(claims.oid, sandbox.principal('deployer').objectId);
    assert.ok(Date.parse(credential.status.expirationTimestamp) > Date.now());
    assert.strictEqual(broker.served(), 1);
  });

  it('asks for the first token ahead of kubectl once: the exec plugin takes that request, not a second one', async () => {
    const principal = sandbox.principal('deployer');
    const cc = createConnectionCredential({
      id: 'sc-prefetch',
      scheme: 'ServicePrincipal',
      tenantId: sandbox.tenantId,
      cloud: resolveCloudEndpoints({ resourceManagerUrl: 'https://127.0.0.1:9/', authorityUrl: sandbox.authorityHost }),
      credential: { kind: 'servicePrincipalSecret', clientId: principal.clientId, secret: principal.secret! },
    });
    const before = sandbox.requests.length;
    const prefetching = await startTokenBroker(cc, { prefetch: true });
    try {
      // The plugin asks while the prefetch may still be on its way.
      const [{ stdout }] = await Promise.all([
        run(process.execPath, [PLUGIN], { env: { PATH: process.env.PATH, ...prefetching.env } }),
        prefetching.prefetched,
      ]);
      sandbox.validateAccessToken(JSON.parse(stdout).status.token, { audience: '6dae42f8-4368-4678-94ff-3960e28e3630' });
      const issued = sandbox.requests.slice(before).filter((q) => q.service === 'entra' && q.status === 200 && q.note?.resource);
      assert.strictEqual(issued.length, 1, `${issued.length} token requests`);
      assert.strictEqual(prefetching.served(), 1);
    } finally {
      await prefetching.close();
    }
  });

  it('refuses a caller without the broker key', async () => {
    const err = await run(process.execPath, [PLUGIN], {
      env: { PATH: process.env.PATH, [BROKER_URL_ENV]: broker.env[BROKER_URL_ENV], [BROKER_KEY_ENV]: 'guessed' },
    }).catch((e) => e);
    assert.strictEqual(err.code, 1);
    assert.match(err.stderr, /could not get an AKS token \(HTTP 401\)/);
  });

  it('explains itself when run outside the task', async () => {
    const err = await run(process.execPath, [PLUGIN], { env: { PATH: process.env.PATH } }).catch((e) => e);
    assert.strictEqual(err.code, 1);
    assert.match(err.stderr, /only works for kubectl started by the PrivateAksDeploy task/);
  });
});
