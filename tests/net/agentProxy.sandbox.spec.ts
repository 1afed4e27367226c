import * as assert from 'assert';
import * as net from 'net';
import { startSandbox, type Sandbox } from '../sandbox';
import { PrivateNetwork } from '../sandbox/network/network';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { startRecordingProxy, type RecordingProxy } from '../support/connectProxy';
import { runTask, type TaskRun } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

/**
 * A proxy-only agent: a network namespace where nothing but the agent's proxy is reachable (no
 * DNS answer for any Azure name, no route off the namespace). The proxy, on the host, stands where
 * a corporate proxy in the VNet stands: it resolves the private API server name and tunnels to it.
 * The agent hands tasks Agent.ProxyUrl and Agent.ProxyBypassList only, never HTTPS_PROXY
 * (azure-pipelines-agent src/Agent.Worker/ExecutionContext.cs), so the line-of-sight probes and
 * kubectl get there only if the task routes them through the proxy itself.
 */
describe('a proxy-only agent (Agent.ProxyUrl, nothing else reachable)', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let proxy: RecordingProxy;
  let network: PrivateNetwork | undefined;
  let fqdn: string;
  let hosts: Record<string, { host: string; port: number }>;
  let closedPort: number;

  before(async function () {
    const availability = await PrivateNetwork.available();
    if (!availability.ok) {
      console.log(`      skipped: needs network namespaces (${availability.reason})`);
      this.skip();
    }
    sandbox = await startSandbox({
      principals: [{ name: 'secret' }],
      customRoles: [RUN_COMMAND_INVOKER],
      roleAssignments: [
        ...deployerAssignments('secret'),
        { principal: 'secret', role: 'Reader', scope: 'resourceGroup:rg-aks' },
        { principal: 'secret', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-k8srbac' },
      ],
      clusters: [
        DEPLOY_CLUSTER,
        // Kubernetes RBAC: ServiceConnectionRoleCheck asks this API server itself (SelfSubjectAccessReview).
        {
          name: 'aks-k8srbac',
          resourceGroup: 'rg-aks',
          private: true,
          namespaces: ['web'],
          aad: { managed: true, enableAzureRBAC: false },
        },
      ],
    });
    writeDemoManifests(sandbox);
    fqdn = sandbox.azure.state.cluster('aks-prod').privateFqdn!;
    const apiServerPort = sandbox.azure.clusters.get('aks-prod')!.port;
    hosts = {
      [`${fqdn}:443`]: { host: '127.0.0.1', port: apiServerPort },
      [`${sandbox.azure.state.cluster('aks-k8srbac').privateFqdn!}:443`]: {
        host: '127.0.0.1',
        port: sandbox.azure.clusters.get('aks-k8srbac')!.port,
      },
    };
    proxy = await startRecordingProxy({ username: 'agent', password: 'proxy-pass/word+1', hosts });
    closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    // Only the proxy's port is carried into the namespace: Entra ID and ARM are reachable through it alone.
    network = await PrivateNetwork.start({ loopbackPorts: [Number(new URL(proxy.url).port)] });
  });

  after(async () => {
    await network?.stop();
    await proxy?.close();
    await sandbox?.stop();
  });

  function proxyOnlyEnv(inputs: Record<string, string>, proxyBypassList: string[] = []) {
    return sandboxJobEnv(sandbox, {
      connectionId: 'sc-proxy-only',
      scheme: 'ServicePrincipalSecret',
      principal: 'secret',
      debug: true,
      inputs: { ...DEPLOY_INPUTS, probeTimeoutSeconds: '3', ...inputs },
      proxyUrl: proxy.url,
      proxyBypassList,
      // The agent hands its proxy password over as a secret variable.
      extraEnv: {
        AGENT_PROXYUSERNAME: 'agent',
        SECRET_AGENT_PROXYPASSWORD: 'proxy-pass/word+1',
        VSTS_SECRET_VARIABLES: '["Agent.ProxyPassword"]',
      },
    });
  }

  async function deploy(inputs: Record<string, string>, proxyBypassList: string[] = []): Promise<TaskRun> {
    const r = await runTask('PrivateAksDeployV1', proxyOnlyEnv(inputs, proxyBypassList), {
      wrap: (c, a) => network!.spawnArgs(false, c, a),
      timeoutMs: 90_000,
    });
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  it('deploys with route direct through the proxy: the preflight and kubectl both tunnel to the API server', async () => {
    proxy.tunnels.length = 0;
    const r = await deploy({ route: 'direct' });
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-15).join('\n')}`);
    assert.strictEqual(r.outputs.route, 'direct');
    const header = r.lines.find((l) => l.includes(`AKS API server ${fqdn}:443`));
    assert.match(header ?? '', /\(via proxy 127\.0\.0\.1:\d+\)/, r.lines.join('\n'));
    assert.ok(!header!.includes('proxy-pass'), 'the proxy password is in the preflight table');
    assert.ok(
      r.lines.some((l) => /^\s+CONNECT\s+pass\b/.test(l)),
      `no CONNECT row in the table:\n${r.lines.join('\n')}`,
    );
    // One tunnel for the probe, at least one more for kubectl's apply and rollout status.
    assert.ok(proxy.tunnels.filter((t) => t === `${fqdn}:443`).length >= 2, `tunnels: ${proxy.tunnels.join(', ')}`);
  });

  it('a host the bypass list names goes direct, and the table says so', async () => {
    proxy.tunnels.length = 0;
    // The agent matches its regular expressions against scheme://host[:port] (AgentWebProxy.IsMatchInBypassList).
    const r = await deploy({ route: 'auto' }, ['\\.privatelink\\.']);
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-15).join('\n')}`);
    assert.match(r.lines.find((l) => l.includes(`AKS API server ${fqdn}:443`)) ?? '', /\(direct \(bypass\)\)/);
    // Direct from here the private name does not resolve: the right reason for run command.
    assert.ok(
      r.lines.some((l) => /cannot resolve/.test(l)),
      r.lines.join('\n'),
    );
    assert.strictEqual(r.outputs.route, 'runCommand');
    assert.ok(!proxy.tunnels.includes(`${fqdn}:443`), `a bypassed host went through the proxy: ${proxy.tunnels.join(', ')}`);
    assert.ok(proxy.tunnels.length > 0, 'Resource Manager and Entra ID did not go through the proxy');
  });

  it('a proxy that cannot reach the API server: route direct fails naming the proxy, not DNS', async () => {
    const route = hosts[`${fqdn}:443`];
    // The proxy's side of the name leads nowhere now (a closed port): it answers CONNECT with 500, as tinyproxy does.
    hosts[`${fqdn}:443`] = { host: '127.0.0.1', port: closedPort };
    try {
      const r = await deploy({ route: 'direct' });
      assert.strictEqual(r.result, 'Failed', r.stdout);
      assert.match(r.resultMessage ?? '', /\[PROXY_TUNNEL_REFUSED\]/);
      assert.match(
        r.resultMessage ?? '',
        new RegExp(`proxy 127\\.0\\.0\\.1:\\d+ answered CONNECT ${fqdn.replace(/\./g, '\\.')}:443 with HTTP 500`),
      );
    } finally {
      hosts[`${fqdn}:443`] = route;
    }
  });
  it('ServiceConnectionRoleCheck asks a Kubernetes-RBAC API server through the proxy, as kubectl would reach it', async () => {
    const k8sFqdn = sandbox.azure.state.cluster('aks-k8srbac').privateFqdn!;
    proxy.tunnels.length = 0;
    const env = proxyOnlyEnv({
      resourceGroupName: 'rg-aks',
      clusterName: 'aks-k8srbac',
      namespace: 'web',
      intents: 'deploy',
      failOn: 'never',
    });
    const r = await runTask('ServiceConnectionRoleCheckV1', env, { wrap: (c, a) => network!.spawnArgs(false, c, a), timeoutMs: 90_000 });
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-15).join('\n')}`);
    // The cluster's RoleBindings were asked (and deny this identity), not skipped as unreachable.
    assert.ok(!r.warnings.some((w) => /not checked: the API server is not reachable/.test(w)), r.warnings.join('\n'));
    assert.ok(
      r.lines.some((l) => /in-cluster RBAC \(SelfSubjectAccessReview\) denies create, patch deployments\.apps in 'web'/.test(l)),
      r.lines.join('\n'),
    );
    assert.ok(proxy.tunnels.filter((t) => t === `${k8sFqdn}:443`).length >= 2, `tunnels: ${proxy.tunnels.join(', ')}`);
  });
});
