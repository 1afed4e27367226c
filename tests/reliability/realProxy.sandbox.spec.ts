import * as assert from 'assert';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { startTinyproxy, tinyproxyUnavailable, type Tinyproxy } from '../support/tinyproxy';
import { runTask } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

/**
 * The tasks behind a real HTTP proxy (tinyproxy), set the way the agent sets it (Agent.ProxyUrl and
 * Agent.ProxyBypassList): Resource Manager and token traffic goes through it, and the line-of-sight
 * probe to the private API server name, on the bypass list, never does. (The recording proxy in
 * tests/tasks/signIn.sandbox.spec.ts covers proxy credentials and a refusing proxy.)
 */
describe('reliability: through a real proxy (tinyproxy)', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  let proxy: Tinyproxy;

  before(async function () {
    const why = tinyproxyUnavailable();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    sandbox = await startSandbox({
      principals: [{ name: 'secret' }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [...deployerAssignments('secret'), { principal: 'secret', role: 'Reader', scope: 'resourceGroup:rg-aks' }],
      clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', private: true, namespaces: ['web'], rolloutDelaySeconds: 0 }],
    });
    writeDemoManifests(sandbox);
    proxy = await startTinyproxy(sandbox.tempDir);
  });

  after(async () => {
    await proxy?.stop();
    await sandbox?.stop();
  });

  it('ARM and Entra ID through the proxy; the private API server probe bypasses it', async () => {
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-proxy',
      scheme: 'ServicePrincipalSecret',
      principal: 'secret',
      debug: true,
      // The private API server is not reachable here, so route auto ends in run command, through ARM.
      inputs: { ...DEPLOY_INPUTS, route: 'auto', probeTimeoutSeconds: '2' },
      proxyUrl: proxy.url,
      // What an administrator lists for private endpoints: private link names never go to the proxy.
      proxyBypassList: ['\\.privatelink\\.', '\\.azmk8s\\.io'],
    });
    const r = await runTask('PrivateAksDeployV1', env, { timeoutMs: 45_000 });
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-10).join('\n')}`);
    assert.strictEqual(r.outputs.route, 'runCommand');
    const log = proxy.log();
    const connects = [...log.matchAll(/Connect \(file descriptor \d+\): [^\n]*|CONNECT ([^\s]+) HTTP/g)].map((m) => m[0]);
    const armHostPort = new URL(sandbox.resourceManagerUrl).host;
    const entraHostPort = new URL(sandbox.authorityHost).host;
    assert.ok(log.includes(`CONNECT ${armHostPort}`), `no ARM tunnel in the proxy log:\n${connects.join('\n')}\n${log.slice(-2000)}`);
    assert.ok(log.includes(`CONNECT ${entraHostPort}`), `no Entra ID tunnel in the proxy log:\n${log.slice(-2000)}`);
    const fqdn = sandbox.azure.state.cluster('aks-prod').privateFqdn!;
    assert.ok(r.lines.join('\n').includes(fqdn), 'the probe did not look at the private API server');
    assert.ok(
      r.lines.some((l) => l.includes(`${fqdn}:443 (direct (bypass))`)),
      `the preflight does not say the probe bypassed the proxy:\n${r.lines.join('\n')}`,
    );
    assert.ok(!log.includes(fqdn) && !/azmk8s/.test(log), `the private API server name went to the proxy:\n${log}`);
  });
});
