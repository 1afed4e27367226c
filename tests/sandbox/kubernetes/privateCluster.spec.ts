import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ClientSecretCredential } from '@azure/identity';
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { parse, stringify } from 'yaml';
import { DEMO_MANIFEST } from '../../support/deployInputs';
import { startSandbox, type Sandbox } from '../index';

const AKS_SCOPE = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';
// The usual app (tests/support/deployInputs) in its own new namespace.
const MANIFEST = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n---\n${DEMO_MANIFEST}`;

/**
 * The whole sandbox as a deploying pipeline meets it: the cluster user credential from Resource
 * Manager (real SDK), then the real kubectl against the private API server with an Entra token,
 * from inside the VNet when namespaces are available (over loopback with the private name otherwise).
 */
describe('sandbox: a private, Entra-only cluster reached by the real kubectl', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;

  before(async () => {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }, { name: 'onlyUser' }],
        groups: [{ name: 'deployers', members: ['deployer'] }],
        roleAssignments: [
          { principal: 'deployers', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployers', role: 'Azure Kubernetes Service RBAC Cluster Admin', scope: 'cluster:aks-prod' },
          { principal: 'onlyUser', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
        ],
        clusters: [{ name: 'aks-prod', resourceGroup: 'rg-aks', private: true, disableLocalAccounts: true, rolloutDelaySeconds: 1 }],
      },
      { privateNetwork: true },
    );
    if (!sandbox.network)
      console.log(`      (private network unavailable: ${sandbox.networkUnavailable}; kubectl uses loopback with the private name)`);
  });

  after(() => sandbox?.stop());

  function credential(principal: string) {
    const p = sandbox.principal(principal);
    return new ClientSecretCredential(sandbox.tenantId, p.clientId, p.secret!, {
      authorityHost: sandbox.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: sandbox.tlsOptions(),
    });
  }

  /** The cluster user kubeconfig from ARM, its kubelogin user replaced by a static Entra token (test only). */
  async function kubeconfigFor(principal: string, token?: string): Promise<string> {
    const cred = credential(principal);
    const client = new ContainerServiceClient(cred, sandbox.scenario.subscriptionId, {
      endpoint: sandbox.azure.arm.origin,
      credentials: { scopes: ['https://management.azure.com/.default'] },
      tlsOptions: sandbox.tlsOptions(),
    });
    const result = await client.managedClusters.listClusterUserCredentials('rg-aks', 'aks-prod');
    const kubeconfig = parse(Buffer.from(result.kubeconfigs![0].value!).toString('utf8'));
    assert.match(kubeconfig.clusters[0].cluster.server, /^https:\/\/.*\.privatelink\.eastus\.azmk8s\.io:443$/);
    const aksToken = token ?? (await cred.getToken(AKS_SCOPE))!.token;
    kubeconfig.users = [{ name: 'pipeline', user: { token: aksToken } }];
    kubeconfig.contexts[0].context.user = 'pipeline';
    if (!sandbox.network) {
      // No namespaces: reach the server over loopback but still verify its private name.
      const server = sandbox.azure.clusters.get('aks-prod')!;
      kubeconfig.clusters[0].cluster['tls-server-name'] = new URL(kubeconfig.clusters[0].cluster.server).hostname;
      kubeconfig.clusters[0].cluster.server = server.origin;
    }
    const file = path.join(sandbox.tempDir, `kubeconfig-${principal}-${Date.now()}`);
    fs.writeFileSync(file, stringify(kubeconfig), { mode: 0o600 });
    return file;
  }

  async function kubectl(
    kubeconfig: string,
    args: string[],
    input?: string,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const env = { PATH: process.env.PATH ?? '', HOME: sandbox.tempDir, KUBECONFIG: kubeconfig };
    if (sandbox.network) {
      const r = await sandbox.network.run('kubectl', args, { inside: true, env, input, timeoutMs: 30_000 });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    }
    return new Promise((resolve) => {
      const child = spawn('kubectl', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.stdin.end(input ?? '');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('applies a multi-document manifest and waits for the rollout', async () => {
    const kubeconfig = await kubeconfigFor('deployer');
    const applied = await kubectl(kubeconfig, ['apply', '--namespace', 'web', '-f', '-'], MANIFEST);
    assert.strictEqual(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /namespace\/web created/);
    assert.match(applied.stdout, /deployment\.apps\/shop created/);
    const rollout = await kubectl(kubeconfig, ['rollout', 'status', 'deployment/shop', '-n', 'web', '--timeout=20s']);
    assert.strictEqual(rollout.code, 0, rollout.stderr);
    assert.match(rollout.stdout, /successfully rolled out/);
  });

  it('refuses a token that is not an Entra token for the cluster (401)', async () => {
    const kubeconfig = await kubeconfigFor('deployer', 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln');
    const r = await kubectl(kubeconfig, ['get', 'configmaps', '-n', 'web']);
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /You must be logged in to the server \(Unauthorized\)/);
  });

  it('refuses a principal without an Azure RBAC data role (403)', async () => {
    const kubeconfig = await kubeconfigFor('onlyUser');
    const r = await kubectl(kubeconfig, ['apply', '--namespace', 'web', '-f', '-'], MANIFEST);
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /is forbidden: User "[0-9a-f-]{36}" cannot .*User does not have access to the resource in Azure/);
  });

  it('keeps the private name private: outside the VNet it does not resolve', async function () {
    if (!sandbox.network) this.skip();
    const kubeconfig = await kubeconfigFor('deployer');
    const r = await sandbox.network!.run('kubectl', ['get', 'ns', '--request-timeout=5s'], {
      inside: false,
      env: { PATH: process.env.PATH ?? '', HOME: sandbox.tempDir, KUBECONFIG: kubeconfig },
      timeoutMs: 30_000,
    });
    assert.notStrictEqual(r.code, 0);
    assert.match(r.stderr, /no such host/);
  });
});
