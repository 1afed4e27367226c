import * as assert from 'assert';
import { randomUUID } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { ALL_SCHEMES, type ConnectionScheme, SCHEME_PRINCIPAL } from '../support/agentEnvironment';
import { startRecordingProxy } from '../support/connectProxy';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv, type SandboxJobOptions } from '../support/sandboxAgent';
import { ALL_TASKS, leakedSecrets, loggedText, runPostJobStep, runTask, type TaskRun, type TaskName } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

/**
 * The three task bundles signing in through the sandbox exactly as on an agent: connection and job
 * variables from the agent, the sandbox CA trusted only through Agent.CAInfo, real @azure/identity.
 */
describe('tasks sign in with every kind of Azure Resource Manager connection', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  const runs: TaskRun[] = [];
  const WIF = randomUUID();
  const WIF_CASE = randomUUID();

  const principalFor = SCHEME_PRINCIPAL;
  const connectionFor = (scheme: ConnectionScheme) => (scheme === 'WorkloadIdentityFederation' ? WIF : `sc-${scheme}`);

  before(async () => {
    sandbox = await startSandbox({
      principals: [
        { name: 'wif', federated: [{ subject: 'sc://contoso/web/prod-wif' }] },
        // Registered with a subject whose case differs from the connection's name.
        { name: 'wifCase', federated: [{ subject: 'sc://contoso/web/Prod-Wif-Case' }] },
        { name: 'secret' },
        { name: 'cert', certificate: true },
        { name: 'msi', managedIdentity: true, systemAssigned: true },
      ],
      serviceConnections: [
        { id: WIF, name: 'prod-wif', principal: 'wif' },
        { id: WIF_CASE, name: 'prod-wif-case', principal: 'wifCase' },
      ],
      azureDevOps: { organization: 'contoso', projectName: 'web' },
      // So that PrivateAksDeploy, which signs in on its way to a deployment, has one to make.
      groups: [{ name: 'deployers', members: ['wif', 'secret', 'cert', 'msi'] }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [...deployerAssignments('deployers'), { principal: 'deployers', role: 'Reader', scope: 'registry:contosoprod' }],
      clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', namespaces: ['web'], rolloutDelaySeconds: 0 }],
      // AcrNetworkRuleSync reads it and, as it allows all networks, changes nothing.
      registries: [{ name: 'contosoprod', resourceGroup: 'rg-aks', defaultAction: 'Allow' }],
    });
    writeDemoManifests(sandbox);
  });

  after(async () => {
    if (!sandbox) return;
    // Whatever ran: no token, secret, key or OIDC token the sandbox issued may reach a log.
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  async function run(task: TaskName, o: Partial<SandboxJobOptions> & { scheme: ConnectionScheme }): Promise<TaskRun> {
    // The deploy inputs PrivateAksDeploy needs (the other tasks ignore them); run command keeps DNS out of it.
    const inputs = {
      ...DEPLOY_INPUTS,
      route: 'runCommand',
      ...(task === 'AcrNetworkRuleSyncV1' ? { registryName: 'contosoprod' } : {}),
      ...o.inputs,
    };
    const env = sandboxJobEnv(sandbox, {
      connectionId: connectionFor(o.scheme),
      principal: principalFor[o.scheme],
      debug: true,
      ...o,
      inputs,
    });
    const r = await runTask(task, env);
    runs.push(r);
    assert.ok(!r.timedOut, `${task} hung:\n${r.stdout}`);
    // The job ends with the task's post-job step, if it has one (AcrNetworkRuleSync), whatever the main step did.
    const post = await runPostJobStep(task, env, r);
    if (post) {
      runs.push(post);
      assert.strictEqual(post.result, 'Succeeded', `post-job step: ${post.resultMessage}\n${post.stdout}`);
    }
    return r;
  }

  /** The task failed with one of the explanation codes `code` matches (a code, or a RegExp for a family). */
  function assertFailedWith(r: TaskRun, code: string | RegExp, ...patterns: RegExp[]): string {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    const message = r.resultMessage ?? '';
    const codeMatches = typeof code === 'string' ? message.includes(`[${code}]`) : new RegExp(`\\[${code.source}\\]`).test(message);
    assert.ok(codeMatches, `expected ${code}, got: ${message}`);
    for (const p of patterns) assert.match(message, p);
    return message;
  }

  for (const scheme of ALL_SCHEMES) {
    for (const task of ALL_TASKS) {
      it(`${task} with ${scheme}: a token from the sandbox and the identity it belongs to`, async () => {
        const r = await run(task, { scheme });
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        if (task === 'PrivateAksDeployV1') assert.strictEqual(r.outputs.route, 'runCommand');
        const principal = sandbox.principal(principalFor[scheme]);
        const log = r.lines.join('\n');
        assert.match(log, new RegExp(`Tenant\\s+: ${sandbox.tenantId}`));
        assert.match(log, new RegExp(`Application \\(client\\) id\\s+: ${principal.clientId}`));
        assert.match(log, new RegExp(`Object id\\s+: ${principal.objectId}`));
        assert.match(
          log,
          scheme === 'ManagedServiceIdentity' ? /Identity type\s+: managed identity/ : /Identity type\s+: service principal/,
        );
        if (scheme === 'WorkloadIdentityFederation') {
          assert.ok(log.includes(`Federated issuer        : ${sandbox.oidcIssuer}`), log);
          assert.ok(log.includes('Federated subject       : sc://contoso/web/prod-wif'), log);
        }
        // The token was registered for masking before anything could print it.
        assert.ok(r.registeredSecrets.length >= 1);
      });
    }
  }

  describe('failures are explained, not dumped', () => {
    it('a wrong client secret: AADSTS7000215', async () => {
      const r = await run('PrivateAksDeployV1', { scheme: 'ServicePrincipalSecret', secretOverride: 'stale-secret-value-from-last-year' });
      assertFailedWith(r, 'AADSTS7000215', /rejected the client secret/, /workload identity federation/);
      assert.ok(!loggedText(r.stdout).includes('stale-secret-value-from-last-year'));
    });

    it('a federated subject that differs only in case: the AADSTS70021x family, with what was presented', async () => {
      const r = await run('ServiceConnectionRoleCheckV1', {
        scheme: 'WorkloadIdentityFederation',
        connectionId: WIF_CASE,
        principal: 'wifCase',
      });
      assertFailedWith(
        r,
        /AADSTS(700213|7002138|70021)/,
        new RegExp(`issuer '${sandbox.oidcIssuer.replace(/[.]/g, '\\.')}' and subject 'sc://contoso/web/prod-wif-case'`),
        /case-sensitive/,
        /federated-credential create/,
      );
    });

    it('an OIDC token that is already expired: AADSTS700024', async () => {
      sandbox.scenario.oidcTokenLifetimeSeconds = -120;
      try {
        const r = await run('AcrNetworkRuleSyncV1', { scheme: 'WorkloadIdentityFederation' });
        assertFailedWith(r, 'AADSTS700024', /already expired/, /clock/);
      } finally {
        sandbox.scenario.oidcTokenLifetimeSeconds = 600;
      }
    });

    it('an application id unknown to the tenant: AADSTS700016', async () => {
      const r = await run('PrivateAksDeployV1', {
        scheme: 'ServicePrincipalSecret',
        clientIdOverride: '0badc0de-0000-4000-8000-000000000000',
      });
      assertFailedWith(r, 'AADSTS700016', /'0badc0de-0000-4000-8000-000000000000' does not exist in tenant/);
    });

    it('an unreachable authority: named, within the deadline', async () => {
      const r = await run('PrivateAksDeployV1', { scheme: 'ServicePrincipalSecret', authorityUrl: 'https://127.0.0.1:1/' });
      assertFailedWith(r, 'AUTHORITY_UNREACHABLE', /127\.0\.0\.1:1 is unreachable from the agent \(ECONNREFUSED\)/, /outbound HTTPS/);
      assert.ok(r.durationMs < 45_000, `took ${r.durationMs} ms`);
    });

    it('a managed identity connection on an agent without IMDS', async () => {
      const r = await run('PrivateAksDeployV1', {
        scheme: 'ManagedServiceIdentity',
        extraEnv: { AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:1' },
      });
      assertFailedWith(r, 'MANAGED_IDENTITY_UNAVAILABLE', /IMDS/, /self-hosted agent/);
    });

    it('a workload identity federation job without System.AccessToken', async () => {
      const r = await run('PrivateAksDeployV1', { scheme: 'WorkloadIdentityFederation', withoutSystemAccessToken: true });
      assertFailedWith(r, 'MISSING_SYSTEM_ACCESS_TOKEN', /System\.AccessToken/);
    });

    it('a connection of the wrong type', async () => {
      const id = 'sc-kubernetes';
      const r = await run('PrivateAksDeployV1', {
        scheme: 'ServicePrincipalSecret',
        connectionId: id,
        extraEnv: {
          [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ scheme: 'Token', parameters: { apitoken: 'kube-static-token-value' } }),
          [`ENDPOINT_AUTH_SCHEME_${id}`]: 'Token',
        },
      });
      assertFailedWith(r, 'WRONG_CONNECTION_TYPE', /not an Azure Resource Manager connection/);
    });
  });

  describe("the agent's network settings", () => {
    it('token traffic goes through the agent proxy, and the bypass list is honoured', async () => {
      const proxy = await startRecordingProxy();
      try {
        const entraPort = new URL(sandbox.authorityHost).port;
        const oidcPort = new URL(sandbox.oidcRequestUri).port;
        const viaProxy = await run('PrivateAksDeployV1', { scheme: 'WorkloadIdentityFederation', proxyUrl: proxy.url });
        assert.strictEqual(viaProxy.result, 'Succeeded', viaProxy.stdout);
        assert.ok(proxy.tunnels.includes(`127.0.0.1:${entraPort}`), `Entra ID was not reached through the proxy: ${proxy.tunnels}`);
        assert.ok(proxy.tunnels.includes(`127.0.0.1:${oidcPort}`), `Azure DevOps was not reached through the proxy: ${proxy.tunnels}`);

        proxy.tunnels.length = 0;
        const bypassed = await run('PrivateAksDeployV1', {
          scheme: 'WorkloadIdentityFederation',
          proxyUrl: proxy.url,
          proxyBypassList: [`127\\.0\\.0\\.1:${entraPort}`],
        });
        assert.strictEqual(bypassed.result, 'Succeeded', bypassed.stdout);
        assert.ok(!proxy.tunnels.includes(`127.0.0.1:${entraPort}`), 'a bypassed host went through the proxy');
        assert.ok(proxy.tunnels.includes(`127.0.0.1:${oidcPort}`));
      } finally {
        await proxy.close();
      }
    });

    it("an authenticating proxy gets the agent's proxy credentials, and the password stays out of the log", async () => {
      const proxy = await startRecordingProxy({ username: 'agent', password: 'proxy-password-do-not-log' });
      try {
        const r = await run('PrivateAksDeployV1', {
          scheme: 'ServicePrincipalCertificate',
          proxyUrl: proxy.url,
          // The agent hands its proxy password over as a secret variable.
          variables: { 'Agent.ProxyUsername': 'agent' },
          secretVariables: { 'Agent.ProxyPassword': 'proxy-password-do-not-log' },
        });
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        assert.ok(proxy.tunnels.length > 0);
        // task-lib itself writes `Agent.ProxyPassword=<value>` once while loading (its _exposeProxySettings);
        // the agent masks that, as the password is a secret variable. Nothing else may carry it.
        const ours = loggedText(r.stdout, r.stderr)
          .split('\n')
          .filter((line) => line !== '##vso[task.debug]Agent.ProxyPassword=proxy-password-do-not-log')
          .join('\n');
        assert.deepStrictEqual(leakedSecrets(ours, ['proxy-password-do-not-log']), []);
      } finally {
        await proxy.close();
      }
    });

    it('a proxy that refuses the agent: the failure names the authority, not a stack', async () => {
      const proxy = await startRecordingProxy({ username: 'agent', password: 'right-proxy-password' });
      try {
        const r = await run('PrivateAksDeployV1', { scheme: 'ServicePrincipalSecret', proxyUrl: proxy.url });
        assertFailedWith(r, /AUTHORITY_UNREACHABLE|TOKEN_REQUEST_FAILED/, new RegExp(sandbox.authorityHost.replace(/[.]/g, '\\.')));
      } finally {
        await proxy.close();
      }
    });
  });

  describe('transient trouble is survived', () => {
    it('the Azure DevOps OIDC endpoint failing once', async () => {
      // The token request itself (azure-devops-node-api asks the area's locations first, with OPTIONS).
      const before = sandbox.requests.count('oidc', '/oidctoken');
      sandbox.faults.inject('oidc', { status: 500, times: 1, method: 'POST', pathIncludes: '/oidctoken' });
      const r = await run('PrivateAksDeployV1', { scheme: 'WorkloadIdentityFederation' });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.strictEqual(sandbox.requests.count('oidc', '/oidctoken') - before, 2);
    });

    it('the token endpoint answering 503 once', async () => {
      sandbox.faults.inject('entra', { status: 503, times: 1 });
      const r = await run('PrivateAksDeployV1', { scheme: 'ServicePrincipalSecret' });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
    });
  });
});
