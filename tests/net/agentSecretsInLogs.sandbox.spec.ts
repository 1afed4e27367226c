import * as assert from 'assert';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { loggedText, runTask } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

const PROXY_USER = 'agent';
const PROXY_PASSWORD = 'proxy-pass/word+1=x';
const CERT_PASSWORD = 'client-cert-passphrase-42';
const WIF = 'c0ffee00-0000-4000-8000-0000000010a5';

/** The password as a WHATWG URL's userinfo holds it (core-rest-pipeline builds its proxy URL that way). */
function urlPassword(password: string): string {
  const u = new URL('http://proxy.example');
  u.password = password;
  return u.password;
}

/**
 * The agent's own secrets (Agent.ProxyPassword, Agent.ClientCertPassword) are secret variables: the
 * agent masks their raw value (azure-pipelines-agent src/Agent.Worker/ExecutionContext.cs sets them
 * with isSecret true) and nothing else. task-lib writes each raw value once while it loads (its
 * _exposeProxySettings / _exposeCertSettings: `##vso[task.debug]Agent.ProxyPassword=<value>`); the
 * agent masks that line. Every other appearance, and every other encoding, is the task's doing.
 */
describe("the agent's proxy and client certificate passwords stay out of the log", function () {
  this.timeout(90_000);
  let sandbox: Sandbox;
  let proxy: RecordingProxy;

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'secret' }, { name: 'wif', federated: [{ subject: 'sc://contoso/web/logs' }] }],
      serviceConnections: [{ id: WIF, name: 'logs', principal: 'wif' }],
      azureDevOps: { organization: 'contoso', projectName: 'web' },
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [
        ...deployerAssignments('secret'),
        ...deployerAssignments('wif'),
        { principal: 'secret', role: 'Reader', scope: 'resourceGroup:rg-aks' },
        { principal: 'wif', role: 'Reader', scope: 'resourceGroup:rg-aks' },
      ],
      clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', private: true, namespaces: ['web'], rolloutDelaySeconds: 0 }],
    });
    writeDemoManifests(sandbox);
    proxy = await startRecordingProxy({ username: PROXY_USER, password: PROXY_PASSWORD });
  });

  after(async () => {
    await proxy?.close();
    await sandbox?.stop();
  });

  /** The log as the agent would show it, less the one raw line task-lib writes while loading (the agent masks it). */
  function logLessTaskLibLoad(stdout: string, stderr: string, variable: string, value: string): string {
    const lines = loggedText(stdout, stderr).split('\n');
    const first = lines.indexOf(`##vso[task.debug]${variable}=${value}`);
    return lines.filter((_, i) => i !== first).join('\n');
  }

  for (const scheme of ['ServicePrincipalSecret', 'WorkloadIdentityFederation'] as const) {
    it(`with proxy credentials and Agent.CAInfo, neither SDK verbose logging nor DEBUG=* prints the password in any encoding (${scheme})`, async () => {
      const env = sandboxJobEnv(sandbox, {
        connectionId: scheme === 'WorkloadIdentityFederation' ? WIF : 'sc-log',
        scheme,
        principal: scheme === 'WorkloadIdentityFederation' ? 'wif' : 'secret',
        debug: true,
        inputs: { ...DEPLOY_INPUTS, route: 'runCommand' },
        proxyUrl: proxy.url,
        // sandboxJobEnv always sets Agent.CAInfo (the sandbox CA), the combination that builds a proxy agent.
        extraEnv: {
          AGENT_PROXYUSERNAME: PROXY_USER,
          SECRET_AGENT_PROXYPASSWORD: PROXY_PASSWORD,
          VSTS_SECRET_VARIABLES: '["Agent.ProxyPassword"]',
          AZURE_LOG_LEVEL: 'verbose',
          DEBUG: '*',
          // The OIDC token's client (azure-devops-node-api → typed-rest-client → tunnel) logs under NODE_DEBUG.
          NODE_DEBUG: 'tunnel',
        },
      });
      const r = await runTask('PrivateAksDeployV1', env, { timeoutMs: 60_000 });
      assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-10).join('\n')}`);
      assert.ok(proxy.tunnels.length > 0, 'nothing went through the authenticating proxy');
      const log = logLessTaskLibLoad(r.stdout, r.stderr, 'Agent.ProxyPassword', PROXY_PASSWORD);
      const forms: Record<string, string> = {
        raw: PROXY_PASSWORD,
        'URL-encoded': encodeURIComponent(PROXY_PASSWORD),
        'URL userinfo': urlPassword(PROXY_PASSWORD),
        'Basic credential': Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64'),
      };
      const found = Object.entries(forms)
        .filter(([, v]) => log.includes(v))
        .map(([k]) => k);
      // Where, with the value itself blanked: the assertion message must not leak it either.
      const where = log
        .split('\n')
        .filter((l) => Object.values(forms).some((v) => l.includes(v)))
        .map((l) =>
          Object.values(forms)
            .reduce((acc, v) => acc.split(v).join('<password>'), l)
            .slice(0, 200),
        );
      assert.deepStrictEqual(found, [], `the proxy password is in the log (${found.join(', ')}):\n${where.slice(0, 5).join('\n')}`);
    });
  }

  it('with system.debug and a client certificate, Agent.ClientCertPassword is not read into the debug log', async () => {
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-log',
      scheme: 'ServicePrincipalSecret',
      principal: 'secret',
      debug: true,
      inputs: { ...DEPLOY_INPUTS, route: 'runCommand' },
      // The variables the agent sets for a client certificate (ExecutionContext.cs: Agent.ClientCert*).
      extraEnv: {
        AGENT_CLIENTCERT: '/agent/cert.pem',
        AGENT_CLIENTCERTKEY: '/agent/key.pem',
        AGENT_CLIENTCERTARCHIVE: '/agent/cert.pfx',
        SECRET_AGENT_CLIENTCERTPASSWORD: CERT_PASSWORD,
        VSTS_SECRET_VARIABLES: '["Agent.ClientCertPassword"]',
      },
    });
    const r = await runTask('PrivateAksDeployV1', env, { timeoutMs: 60_000 });
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-10).join('\n')}`);
    const log = logLessTaskLibLoad(r.stdout, r.stderr, 'Agent.ClientCertPassword', CERT_PASSWORD);
    const echoes = log.split('\n').filter((line) => line.includes(CERT_PASSWORD)).length;
    assert.strictEqual(echoes, 0, `the client certificate password is echoed ${echoes} more time(s)`);
  });
});
