/**
 * Drives the sandbox AKS API server with the real kubectl (whatever `kubectl` is on PATH, or
 * $KUBECTL): client-side and server-side apply, get, rollout status, delete, CRDs, and the
 * failures a deployment meets on a private Entra-only cluster (401, Azure RBAC 403, TLS name).
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { strToU8, zipSync } from 'fflate';
import { AKS_AUDIENCE, AZURE_RBAC_DENIED_REASON, AksApiServer, dataActionFor } from './aksApiServer';
import { startSandbox, type Sandbox } from '../index';
import { runCommand } from './runCommand';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const PRIVATE_FQDN = 'aks-web-3f2a1b9c.5d0c1a2e-8b7f-4e0e-9a51-2c7d4a9f6b13.privatelink.eastus.azmk8s.io';
const P = 'Microsoft.ContainerService/managedClusters';

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: web
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: web
data:
  GREETING: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: web
type: Opaque
data:
  password: c2VjcmV0
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
  namespace: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: contoso.azurecr.io/web:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: web-config
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: web
spec:
  rules:
  - host: web.contoso.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
`;

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.contoso.com
spec:
  group: contoso.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wdg]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`;

const WIDGET = `apiVersion: contoso.com/v1
kind: Widget
metadata:
  name: blue
  namespace: web
spec:
  size: 3
`;

interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

describe('sandbox AKS API server (real kubectl)', function () {
  this.timeout(30_000);
  this.slow(20_000);

  let sandbox: Sandbox;
  let server: AksApiServer;
  let clusterId: string;
  let kubeDir: string;
  const authorizeCalls: Array<{ oid: string; action: string; scope: string }> = [];
  const tokens: Record<'deployer' | 'reader', string> = { deployer: '', reader: '' };

  /** Runs the real kubectl asynchronously with a deadline. */
  function kubectl(kubeconfig: string, args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(kubeDir, 'home'), KUBECONFIG: path.join(kubeDir, kubeconfig) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
      child.stdin.end(options.stdin ?? '');
    });
  }

  function ok(result: KubectlResult): KubectlResult {
    assert.equal(result.code, 0, `kubectl failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
    return result;
  }

  function lines(text: string): string[] {
    return text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  /** One-shot HTTPS request to the API server on loopback, checking the cluster's certificate by its private FQDN. */
  function request(
    pathname: string,
    token?: string,
    target: AksApiServer = server,
    servername = PRIVATE_FQDN,
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: target.port,
          path: pathname,
          servername,
          ca: target.caPem,
          agent: false,
          headers: token ? { Authorization: `Bearer ${token}` } : {},
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    sandbox = await startSandbox({ principals: [{ name: 'deployer' }, { name: 'reader' }] });
    clusterId = `/subscriptions/${sandbox.scenario.subscriptionId}/resourceGroups/rg-web/providers/Microsoft.ContainerService/managedClusters/aks-web`;
    const deployer = sandbox.principal('deployer');
    const reader = sandbox.principal('reader');
    server = await AksApiServer.start(
      sandbox.context,
      { name: 'aks-web', resourceGroup: 'rg-web' },
      {
        clusterResourceId: clusterId,
        privateFqdn: PRIVATE_FQDN,
        // Stand-in for the ARM service's role assignments: the deployer may write in namespace
        // 'web' and manage namespaces and CRDs at the cluster; the reader may only read.
        authorize: (oid, action, scope) => {
          authorizeCalls.push({ oid, action, scope });
          if (oid === deployer.objectId) {
            if (scope === `${clusterId}/namespaces/web`) return true;
            return scope === clusterId && (action.startsWith(`${P}/namespaces/`) || action.startsWith(`${P}/apiextensions.k8s.io/`));
          }
          if (oid === reader.objectId) return action.endsWith('/read');
          return false;
        },
      },
    );
    const options = { authorityHost: sandbox.authorityHost, disableInstanceDiscovery: true, tlsOptions: sandbox.tlsOptions() };
    for (const name of ['deployer', 'reader'] as const) {
      const p = sandbox.principal(name);
      const token = await new ClientSecretCredential(sandbox.tenantId, p.clientId, p.secret!, options).getToken(`${AKS_AUDIENCE}/.default`);
      tokens[name] = token.token;
    }

    kubeDir = path.join(sandbox.tempDir, 'kube');
    await fs.mkdir(path.join(kubeDir, 'home'), { recursive: true, mode: 0o700 });
    const write = (name: string, text: string): Promise<void> => fs.writeFile(path.join(kubeDir, name), text, { mode: 0o600 });
    sandbox.scenario.tokenLifetimeSeconds = -120;
    const expired = sandbox.services.entra.mintAccessToken(deployer, AKS_AUDIENCE, '1').accessToken;
    sandbox.scenario.tokenLifetimeSeconds = 3600;
    await Promise.all([
      write('deployer.yaml', server.loopbackKubeconfig({ token: tokens.deployer })),
      write('reader.yaml', server.loopbackKubeconfig({ token: tokens.reader })),
      write('expired.yaml', server.loopbackKubeconfig({ token: expired })),
      write('garbage.yaml', server.loopbackKubeconfig({ token: 'not-a-jwt' })),
      // By IP, without tls-server-name: the serving certificate names only the FQDNs.
      write('by-ip.yaml', server.loopbackKubeconfig({ token: tokens.deployer }).replace(/^\s*tls-server-name:.*\n/m, '')),
    ]);
  });

  after(async () => {
    await server?.close();
    await sandbox?.stop();
  });

  it('serves a certificate for the cluster FQDN signed by the cluster CA, and what ARM puts in kubeconfigs', async () => {
    assert.notEqual(server.caPem, sandbox.caPem);
    assert.deepEqual(server.endpoint(), { server: `https://${PRIVATE_FQDN}:443`, caPem: server.caPem });
    const kubeconfig = await fs.readFile(path.join(kubeDir, 'deployer.yaml'), 'utf8');
    assert.match(kubeconfig, new RegExp(`server: "${server.origin}"`));
    assert.match(kubeconfig, new RegExp(`tls-server-name: "${PRIVATE_FQDN.replace(/\./g, '\\.')}"`));
    assert.equal((await fs.stat(path.join(kubeDir, 'deployer.yaml'))).mode & 0o777, 0o600);
  });

  it('answers 401 with a Kubernetes Status to anonymous requests, health to authenticated ones', async () => {
    const anonymous = await request('/readyz');
    assert.equal(anonymous.status, 401);
    assert.deepEqual(JSON.parse(anonymous.body), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    assert.deepEqual(await request('/readyz', tokens.reader), { status: 200, body: 'ok' });
    const version = JSON.parse((await request('/version', tokens.reader)).body) as { gitVersion: string };
    assert.equal(version.gitVersion, 'v1.31.2');
  });

  it('applies a multi-document manifest client-side, re-applies it unchanged, then server-side', async () => {
    const created = ok(await kubectl('deployer.yaml', ['apply', '-f', '-'], { stdin: MANIFEST }));
    assert.deepEqual(lines(created.stdout), [
      'namespace/web created',
      'configmap/web-config created',
      'secret/web-secret created',
      'serviceaccount/web created',
      'service/web created',
      'deployment.apps/web created',
      'ingress.networking.k8s.io/web created',
    ]);
    const deployment = server.store.get('Deployment', 'web', 'web')!;
    const annotations = (deployment.metadata as { annotations: Record<string, string> }).annotations;
    assert.match(annotations['kubectl.kubernetes.io/last-applied-configuration'], /"image":"contoso.azurecr.io\/web:1.0.0"/);
    assert.equal((server.store.get('svc', 'web', 'web')!.spec as { type: string }).type, 'ClusterIP');

    const again = ok(await kubectl('deployer.yaml', ['apply', '-f', '-'], { stdin: MANIFEST }));
    assert.ok(
      lines(again.stdout).every((l) => l.endsWith(' unchanged')),
      again.stdout,
    );

    const rvBefore = server.store.resourceVersion;
    const ssa = ok(await kubectl('deployer.yaml', ['apply', '--server-side', '-f', '-'], { stdin: MANIFEST }));
    assert.ok(
      lines(ssa.stdout).every((l) => l.endsWith(' serverside-applied')),
      ssa.stdout,
    );
    const managers = (
      server.store.get('Deployment', 'web', 'web')!.metadata as { managedFields: Array<{ manager: string; operation: string }> }
    ).managedFields.map((m) => `${m.manager}/${m.operation}`);
    assert.ok(managers.includes('kubectl/Apply'), managers.join(', '));
    assert.ok(
      !managers.includes('kubectl-client-side-apply/Update'),
      `kubectl migrates client-side apply ownership: ${managers.join(', ')}`,
    );
    assert.ok(server.store.resourceVersion > rvBefore);

    // Writes were authorized as Azure RBAC data actions at the namespace scope.
    const deployerOid = sandbox.principal('deployer').objectId;
    assert.ok(
      authorizeCalls.some(
        (c) => c.oid === deployerOid && c.action === `${P}/apps/deployments/write` && c.scope === `${clusterId}/namespaces/web`,
      ),
    );
    assert.ok(authorizeCalls.some((c) => c.action === `${P}/namespaces/write` && c.scope === clusterId));
    assert.ok(authorizeCalls.some((c) => c.action === `${P}/networking.k8s.io/ingresses/write`));
  });

  it('gets the deployment as JSON, with the status the rollout reached', async () => {
    const result = ok(await kubectl('reader.yaml', ['get', 'deploy', '-n', 'web', '-o', 'json']));
    const list = JSON.parse(result.stdout) as {
      kind: string;
      items: Array<{
        kind: string;
        metadata: { name: string; generation: number };
        spec: { replicas: number };
        status: { observedGeneration?: number };
      }>;
    };
    assert.equal(list.kind, 'List');
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].kind, 'Deployment');
    assert.equal(list.items[0].metadata.name, 'web');
    assert.equal(list.items[0].spec.replicas, 2);
    assert.equal(list.items[0].status.observedGeneration, list.items[0].metadata.generation);
    const table = ok(await kubectl('reader.yaml', ['get', 'deploy', 'web', '-n', 'web']));
    assert.match(table.stdout, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
  });

  it('rollout status waits for a new generation to become available after rolloutDelaySeconds', async () => {
    server.cluster.rolloutDelaySeconds = 2;
    try {
      ok(await kubectl('deployer.yaml', ['apply', '--server-side', '-f', '-'], { stdin: MANIFEST.replace('web:1.0.0', 'web:1.1.0') }));
    } finally {
      server.cluster.rolloutDelaySeconds = 1;
    }
    const rollout = ok(await kubectl('deployer.yaml', ['rollout', 'status', 'deploy/web', '-n', 'web', '--timeout=10s']));
    assert.match(rollout.stdout, /Waiting for deployment "web" rollout to finish: /);
    assert.match(rollout.stdout, /deployment "web" successfully rolled out/);
    assert.ok(rollout.ms >= 1000, `rollout took ${rollout.ms} ms`);
    const status = server.store.get('Deployment', 'web', 'web')!.status as {
      availableReplicas: number;
      conditions: Array<{ type: string; reason: string }>;
    };
    assert.equal(status.availableReplicas, 2);
    assert.equal(status.conditions.find((c) => c.type === 'Progressing')?.reason, 'NewReplicaSetAvailable');
  });

  it('rollout status times out when the cluster never completes rollouts', async () => {
    server.cluster.rolloutDelaySeconds = 'never';
    try {
      ok(await kubectl('deployer.yaml', ['apply', '--server-side', '-f', '-'], { stdin: MANIFEST.replace('web:1.0.0', 'web:1.2.0') }));
      const rollout = await kubectl('deployer.yaml', ['rollout', 'status', 'deploy/web', '-n', 'web', '--timeout=2s']);
      assert.equal(rollout.code, 1);
      assert.match(rollout.stderr, /timed out waiting for the condition/);
      assert.match(rollout.stdout, /Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination/);
    } finally {
      server.cluster.rolloutDelaySeconds = 1;
    }
  });

  it('registers a CRD, serves its resource in discovery, and applies an instance', async () => {
    assert.match(
      ok(await kubectl('deployer.yaml', ['apply', '-f', '-'], { stdin: CRD })).stdout,
      /customresourcedefinition.apiextensions.k8s.io\/widgets.contoso.com created/,
    );
    const resources = ok(await kubectl('deployer.yaml', ['api-resources', '--api-group=contoso.com']));
    assert.match(resources.stdout, /widgets\s+wdg\s+contoso.com\/v1\s+true\s+Widget/);
    assert.match(ok(await kubectl('deployer.yaml', ['apply', '-f', '-'], { stdin: WIDGET })).stdout, /widget.contoso.com\/blue created/);
    assert.match(
      ok(await kubectl('deployer.yaml', ['apply', '-f', '-'], { stdin: WIDGET.replace('size: 3', 'size: 4') })).stdout,
      /widget.contoso.com\/blue configured/,
    );
    assert.deepEqual(server.store.get('widgets.contoso.com', 'web', 'blue')!.spec, { size: 4 });
    assert.ok(authorizeCalls.some((c) => c.action === `${P}/customresources/write` && c.scope === `${clusterId}/namespaces/web`));
  });

  it('rejects an expired or garbage token with 401 (kubectl: Unauthorized)', async () => {
    for (const kubeconfig of ['expired.yaml', 'garbage.yaml']) {
      const result = await kubectl(kubeconfig, ['get', 'deploy', '-n', 'web']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /You must be logged in to the server \(Unauthorized\)/);
    }
    assert.ok(sandbox.requests.for('aks').some((r) => r.status === 401 && r.note?.auth === 'expired'));
  });

  it('forbids the reader to write, with the Azure RBAC denial AKS gives', async () => {
    const readerOid = sandbox.principal('reader').objectId;
    const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: reader-config\n  namespace: web\ndata:\n  a: b\n';
    const result = await kubectl('reader.yaml', ['apply', '-f', '-'], { stdin: configMap });
    assert.equal(result.code, 1);
    assert.ok(
      result.stderr.includes(
        `configmaps is forbidden: User "${readerOid}" cannot create resource "configmaps" in API group "" in the namespace "web": ${AZURE_RBAC_DENIED_REASON}`,
      ),
      result.stderr,
    );
    const denied = sandbox.requests.for('aks').find((r) => r.status === 403 && r.note?.user === readerOid);
    assert.equal(denied?.note?.dataAction, `${P}/configmaps/write`);
    assert.equal(denied?.note?.scope, `${clusterId}/namespaces/web`);
    assert.equal(server.store.get('ConfigMap', 'web', 'reader-config'), undefined);

    const canI = await kubectl('reader.yaml', ['auth', 'can-i', 'create', 'configmaps', '-n', 'web']);
    assert.equal(canI.code, 1);
    assert.equal(canI.stdout.trim(), `no - ${AZURE_RBAC_DENIED_REASON}`);
    assert.equal(ok(await kubectl('reader.yaml', ['auth', 'can-i', 'get', 'deployments', '-n', 'web'])).stdout.trim(), 'yes');
  });

  it('accepts local accounts only where the cluster has them', async () => {
    const local = await AksApiServer.start(
      sandbox.context,
      { name: 'aks-local', resourceGroup: 'rg-web', aad: null },
      {
        clusterResourceId: `${clusterId}-local`,
        privateFqdn: 'aks-local.privatelink.eastus.azmk8s.io',
        authorize: () => false,
      },
    );
    try {
      const fqdn = 'aks-local.privatelink.eastus.azmk8s.io';
      assert.equal((await request('/api/v1/namespaces', local.staticUserToken, local, fqdn)).status, 200);
      assert.equal((await request('/api/v1/namespaces', local.staticAdminToken, local, fqdn)).status, 200);
      assert.equal(
        (await request('/api/v1/namespaces', tokens.deployer, local, fqdn)).status,
        401,
        'a cluster without Entra integration does not take Entra tokens',
      );
    } finally {
      await local.close();
    }
    // Entra clusters disable local accounts by default.
    assert.equal((await request('/api/v1/namespaces', server.staticAdminToken)).status, 401);
  });

  it('fails the TLS handshake when kubectl connects by IP without tls-server-name', async () => {
    const result = await kubectl('by-ip.yaml', ['get', 'ns']);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /x509: (cannot validate certificate for 127\.0\.0\.1 because it doesn't contain any IP SANs|certificate is valid for .*, not 127\.0\.0\.1)/,
    );
  });

  it('runs a run-command with a zipped context: kubectl apply -f . from inside the cluster', async () => {
    // As az aks command invoke --file . builds it (azure-cli acs/custom.py _get_command_context):
    // entries stored, named './<file>' relative to the folder, base64.encodebytes' 76-column lines.
    const archive = zipSync(
      {
        './cm.yaml': strToU8(
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-run-command\n  namespace: web\ndata:\n  via: runCommand\n',
        ),
      },
      { level: 0 },
    );
    const context = Buffer.from(archive).toString('base64').replace(/.{76}/g, '$&\n') + '\n';
    const tempRoot = path.join(sandbox.tempDir, 'run-command');
    await fs.mkdir(tempRoot);
    const result = await runCommand(
      server,
      { command: 'kubectl apply -f .', context, clusterToken: tokens.deployer },
      { tempRoot, timeoutMs: 15_000 },
    );
    assert.equal(result.exitCode, 0, result.logs);
    assert.match(result.logs, /configmap\/from-run-command created/);
    assert.deepEqual(server.store.get('ConfigMap', 'web', 'from-run-command')!.data, { via: 'runCommand' });
    assert.deepEqual(await fs.readdir(tempRoot), [], 'the working directory is removed');

    const denied = await runCommand(
      server,
      { command: 'kubectl delete configmap from-run-command -n web', clusterToken: tokens.reader },
      { tempRoot },
    );
    assert.equal(denied.exitCode, 1);
    assert.match(denied.logs, /cannot delete resource "configmaps"/);
    const slow = await runCommand(server, { command: 'echo started; sleep 10' }, { tempRoot, timeoutMs: 300 });
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, 124);
    assert.match(slow.logs, /^started/);
  });

  it('applies injected faults: a dropped connection and a 503 Status', async () => {
    sandbox.faults.inject('aks', { dropConnection: true, times: 1, pathIncludes: '/api/v1/namespaces/web/configmaps' });
    await assert.rejects(request('/api/v1/namespaces/web/configmaps', tokens.reader), /socket hang up|ECONNRESET/);
    sandbox.faults.inject('aks', { status: 503, times: 1, pathIncludes: '/api/v1/namespaces/web/configmaps' });
    const unavailable = await request('/api/v1/namespaces/web/configmaps', tokens.reader);
    assert.equal(unavailable.status, 503);
    assert.equal((JSON.parse(unavailable.body) as { reason: string }).reason, 'ServiceUnavailable');
    assert.equal((await request('/api/v1/namespaces/web/configmaps', tokens.reader)).status, 200);
  });

  it('deletes what it applied; the namespace goes away with its contents', async () => {
    ok(await kubectl('deployer.yaml', ['delete', '-f', '-'], { stdin: WIDGET }));
    const deleted = ok(await kubectl('deployer.yaml', ['delete', '-f', '-'], { stdin: MANIFEST }));
    assert.match(deleted.stdout, /namespace "web" deleted/);
    assert.match(deleted.stdout, /deployment.apps "web" deleted/);
    assert.equal(server.store.get('Namespace', undefined, 'web'), undefined);
    assert.equal(server.store.get('ConfigMap', 'web', 'from-run-command'), undefined);
    assert.equal(dataActionFor('', 'namespaces', 'delete'), `${P}/namespaces/delete`);
  });
});
