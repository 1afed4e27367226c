import * as assert from 'assert';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { ClientSecretCredential } from '@azure/identity';
import { startSandbox, type Sandbox } from '../sandbox';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';
import { armClientOptions } from '../../shared/azure/arm/armClient';
import type { ConnectionCredential } from '../../shared/azure/identity/connectionCredential';

/**
 * Resource Manager hardening, each attack reproduced against the sandbox: a long-running
 * operation whose status URL (Azure-AsyncOperation / Location) points at another host must not
 * receive the ARM token, whether the raw write path or an SDK poller follows it; a connection
 * whose subscription id is not a GUID must not steer the ARM URLs.
 */
describe('Resource Manager hardening', function () {
  this.timeout(60_000);
  const RG = 'rg-hard';
  let sandbox: Sandbox;
  /** Another HTTPS origin the agent trusts (same CA): what a rogue status URL would point at. */
  let rogue: https.Server;
  let rogueOrigin: string;
  const rogueRequests: Array<{ method: string; url: string; authorization?: string }> = [];

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'syncer' }],
      roleAssignments: [
        {
          principal: 'syncer',
          role: 'Container Registry Contributor and Data Access Configuration Administrator',
          scope: `resourceGroup:${RG}`,
        },
        { principal: 'syncer', role: 'Reader', scope: `resourceGroup:${RG}` },
        { principal: 'syncer', role: 'Azure Kubernetes Service Contributor Role', scope: `resourceGroup:${RG}` },
        // runcommand/action (the SDK poller case below).
        { principal: 'syncer', role: 'Contributor', scope: 'cluster:aks-poll' },
      ],
      clusters: [
        { name: 'aks-poll', resourceGroup: RG, private: false, authorizedIpRanges: ['198.51.100.0/24'], disableRunCommand: false },
      ],
      registries: [{ name: 'acrpoll', resourceGroup: RG, defaultAction: 'Deny', ipRules: ['198.51.100.7'] }],
    });
    rogue = https.createServer(sandbox.context.tls, (req, res) => {
      rogueRequests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"Succeeded"}');
    });
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    rogueOrigin = `https://127.0.0.1:${(rogue.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => rogue?.close(resolve));
    await sandbox?.stop();
  });

  beforeEach(() => {
    rogueRequests.length = 0;
    sandbox.requests.clear();
  });

  function job(jobId: string, inputs: Record<string, string>, extraEnv: Record<string, string> = {}) {
    const tempDirectory = path.join(sandbox.tempDir, 'jobs', jobId);
    fs.mkdirSync(tempDirectory, { recursive: true });
    return sandboxJobEnv(sandbox, {
      connectionId: 'sc-hard',
      scheme: 'ServicePrincipalSecret',
      principal: 'syncer',
      inputs: { resourceGroupName: RG, ipSource: 'explicit', ipAddresses: '203.0.113.9', waitForAccess: 'false', ...inputs },
      extraEnv: { SYSTEM_JOBID: jobId, AGENT_TEMPDIRECTORY: tempDirectory, ...extraEnv },
    });
  }

  function failedWith(r: TaskRun, code: string): string {
    assert.strictEqual(r.result, 'Failed', r.lines.slice(-15).join('\n'));
    const message = r.resultMessage ?? '';
    assert.ok(message.includes(`[${code}]`), `expected ${code}: ${message}`);
    return message;
  }

  it('a registry update whose Azure-AsyncOperation points at another host: not polled, the token not sent, explained', async () => {
    sandbox.azure.arm.pollNextOperationAt('registries', rogueOrigin);
    const r = await runTask('AcrNetworkRuleSyncV1', job('poll-acr', { targetType: 'registry', registryName: 'acrpoll' }), {
      timeoutMs: 45_000,
    });
    const message = failedWith(r, 'ARM_FOREIGN_URL');
    assert.ok(message.includes(rogueOrigin), message);
    assert.deepStrictEqual(rogueRequests, [], 'the rogue status URL received a request');
  });

  it('a cluster update whose Azure-AsyncOperation points at another host: not polled, the token not sent, explained', async () => {
    sandbox.azure.arm.pollNextOperationAt('managedClusters', rogueOrigin);
    const r = await runTask('AcrNetworkRuleSyncV1', job('poll-aks', { targetType: 'aksAuthorizedIpRanges', clusterName: 'aks-poll' }), {
      timeoutMs: 45_000,
    });
    failedWith(r, 'ARM_FOREIGN_URL');
    assert.deepStrictEqual(rogueRequests, []);
  });

  describe('the SDK pollers, through the options every Resource Manager client gets', () => {
    const cc = (): ConnectionCredential => {
      const p = sandbox.principal('syncer');
      const credential = new ClientSecretCredential(sandbox.tenantId, p.clientId, p.secret!, {
        authorityHost: sandbox.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: sandbox.tlsOptions(),
      });
      const resourceManagerUrl = sandbox.resourceManagerUrl;
      return {
        credential,
        schemeLabel: 'test',
        connection: { cloud: { resourceManagerUrl, resourceManagerAudience: 'https://management.azure.com/' } },
      } as unknown as ConnectionCredential;
    };
    // The agent's CA comes from Agent.CAInfo in a task; in-process the sandbox CA is given directly.
    const options = (c: ConnectionCredential) => ({ ...armClientOptions(c), tlsOptions: sandbox.tlsOptions() });

    it('registries.beginUpdateAndWait: the rogue Azure-AsyncOperation is refused before the token leaves', async () => {
      const c = cc();
      const client = new ContainerRegistryManagementClient(c.credential, sandbox.scenario.subscriptionId, options(c));
      sandbox.azure.arm.pollNextOperationAt('registries', rogueOrigin);
      await assert.rejects(
        client.registries.beginUpdateAndWait(RG, 'acrpoll', { tags: { x: 'y' } }, { updateIntervalInMs: 10 }),
        /\[ARM_FOREIGN_URL\]/,
      );
      assert.deepStrictEqual(rogueRequests, []);
    });

    it('managedClusters.runCommand: the rogue Location is refused before the token leaves', async () => {
      const c = cc();
      const client = new ContainerServiceClient(c.credential, sandbox.scenario.subscriptionId, options(c));
      sandbox.azure.arm.pollNextOperationAt('runCommand', rogueOrigin);
      await assert.rejects(
        client.managedClusters.runCommand(RG, 'aks-poll', { command: 'kubectl get ns' }, { updateIntervalInMs: 10 }),
        /\[ARM_FOREIGN_URL\]/,
      );
      assert.deepStrictEqual(rogueRequests, []);
    });
  });

  it('a connection whose subscription id is not a GUID: refused before any Resource Manager call', async () => {
    const steering = `${sandbox.scenario.subscriptionId}/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries/acrpoll/..`;
    const r = await runTask(
      'AcrNetworkRuleSyncV1',
      job('bad-sub', { targetType: 'registry', registryName: 'acrpoll' }, { 'ENDPOINT_DATA_sc-hard_SUBSCRIPTIONID': steering }),
      { timeoutMs: 45_000 },
    );
    const message = failedWith(r, 'CONNECTION_INCOMPLETE');
    assert.match(message, /subscription id .* is not a GUID/);
    assert.strictEqual(sandbox.requests.count('arm'), 0, sandbox.requests.describe());
  });
});
