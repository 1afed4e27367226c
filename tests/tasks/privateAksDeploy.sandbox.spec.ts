import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { ALL_SCHEMES, type ConnectionScheme, SCHEME_PRINCIPAL } from '../support/agentEnvironment';
import { DEMO_MANIFEST, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv, type SandboxJobOptions } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runTask, type TaskRun } from '../support/taskRun';
import { uploadedSummaries } from '../support/uploadedSummaries';

/**
 * PrivateAksDeploy as an agent runs it, inside and outside the cluster's VNet (network namespaces),
 * against a private, Entra-only cluster with local accounts disabled, with the real kubectl.
 */
describe('PrivateAksDeploy against a private, Entra-only cluster', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  const runs: TaskRun[] = [];
  const WIF = randomUUID();
  const principalFor = SCHEME_PRINCIPAL;

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [
          { name: 'wif', federated: [{ subject: 'sc://contoso/web/prod-wif' }] },
          { name: 'secret' },
          { name: 'cert', certificate: true },
          { name: 'msi', managedIdentity: true, systemAssigned: true },
          { name: 'readerOnly' },
          { name: 'noDataRole' },
        ],
        serviceConnections: [{ id: WIF, name: 'prod-wif', principal: 'wif' }],
        azureDevOps: { organization: 'contoso', projectName: 'web' },
        groups: [{ name: 'deployers', members: ['wif', 'secret', 'cert', 'msi'] }],
        roleAssignments: [
          { principal: 'deployers', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployers', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'readerOnly', role: 'Reader', scope: 'resourceGroup:rg-aks' },
          // Reading the registry tells the task its data endpoints.
          { principal: 'secret', role: 'Reader', scope: 'registry:contosoprod' },
          { principal: 'noDataRole', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployers', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-legacy' },
        ],
        clusters: [
          {
            name: 'aks-prod',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 1,
          },
          // An older cluster without Entra ID integration: local accounts only.
          {
            name: 'aks-legacy',
            resourceGroup: 'rg-aks',
            private: true,
            aad: null,
            disableLocalAccounts: false,
            disableRunCommand: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
        ],
        registries: [
          { name: 'contosoprod', resourceGroup: 'rg-aks', defaultAction: 'Deny', ipRules: ['198.51.100.0/24'], dataEndpointEnabled: true },
        ],
        network: { agentEgressIp: '203.0.113.77' },
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: the private network needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
    writeDemoManifests(sandbox);
  });

  after(async () => {
    if (!sandbox?.network) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  async function deploy(o: {
    scheme?: ConnectionScheme;
    inside: boolean;
    inputs?: Record<string, string>;
    principal?: string;
    extra?: Partial<SandboxJobOptions>;
  }): Promise<TaskRun> {
    const scheme = o.scheme ?? 'ServicePrincipalSecret';
    const env = sandboxJobEnv(sandbox, {
      connectionId: scheme === 'WorkloadIdentityFederation' ? WIF : `sc-${scheme}`,
      scheme,
      principal: o.principal ?? principalFor[scheme],
      debug: true,
      inputs: { ...DEPLOY_INPUTS, ...o.inputs },
      ...o.extra,
    });
    const network = sandbox.network!;
    const r = await runTask('PrivateAksDeployV1', env, { wrap: (c, a) => network.spawnArgs(o.inside, c, a), timeoutMs: 90_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  const failedWith = (r: TaskRun, code: string) => {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.ok(r.resultMessage?.includes(`[${code}]`), `expected ${code}: ${r.resultMessage}`);
    return r.resultMessage!;
  };

  for (const scheme of ALL_SCHEMES) {
    it(`deploys directly from inside the VNet with ${scheme}, and removes its kubeconfig`, async () => {
      const r = await deploy({ scheme, inside: true, inputs: { route: 'direct', registryName: 'contosoprod' } });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.strictEqual(r.outputs.route, 'direct');
      assert.strictEqual(r.outputs.lineOfSight, 'pass');
      assert.deepStrictEqual(
        JSON.parse(r.outputs.appliedObjects).map((o: { kind: string }) => o.kind),
        ['ConfigMap', 'Deployment', 'Service'],
      );
      assert.match(r.lines.join('\n'), /deployment "shop" successfully rolled out/);
      const temp = path.join(sandbox.tempDir, 'agent', '_work', '_temp');
      assert.deepStrictEqual(
        fs.readdirSync(temp).filter((f) => f.startsWith('private-aks-deploy-') && !f.endsWith('.md')),
        [],
        'kubeconfig folder left behind',
      );
    });
  }

  it('falls back to run command from outside the VNet, saying why', async () => {
    const r = await deploy({
      inside: false,
      principal: 'secret',
      scheme: 'ServicePrincipalSecret',
      inputs: { route: 'auto', registryName: 'contosoprod' },
    });
    // The secret principal has no run command permission: the diagnosis and the fallback still show.
    const log = r.lines.join('\n');
    assert.match(log, /ENOTFOUND/);
    assert.match(log, /privatelink\.eastus\.azmk8s\.io is not linked to the agent's VNet/);
    assert.match(log, /deploying through AKS run command instead \(route: auto\)/);
    // The registry's firewall, with the IP ACR saw.
    assert.ok(
      r.warnings.some((w) => /firewall denies the agent's egress IP 203\.0\.113\.77.*--ip-address 203\.0\.113\.77/.test(w)),
      r.warnings.join('\n'),
    );
    // …at the login server and at the data endpoint ARM lists for it.
    assert.match(log, /ACR data endpoint contosoprod\.eastus\.data\.azurecr\.io:443/);
    assert.strictEqual(r.warnings.filter((w) => /firewall denies/.test(w)).length, 2);
    failedWith(r, 'ARM_AUTHORIZATION_FAILED');
    assert.match(r.resultMessage!, /runcommand\/action/);
  });

  it('diagnoses a blackholed API server within the probe deadline', async () => {
    const fqdn = sandbox.azure.state.cluster('aks-prod').privateFqdn!;
    const network = sandbox.network!;
    network.removeName('private', fqdn);
    await network.addNames('private', [{ fqdn, target: 'blackhole' }]);
    try {
      const r = await deploy({ inside: true, inputs: { route: 'direct', probeTimeoutSeconds: '3' } });
      const message = failedWith(r, 'TCP_BLOCKED');
      assert.match(message, /No answer from 10\.224\.0\.254:443 within the deadline/);
      const tcp = /TCP 443\s+FAIL\s+(\d+) ms/.exec(r.lines.join('\n'));
      console.log(`      (blackholed TCP step: ${tcp?.[1]} ms; task: ${r.durationMs} ms)`);
      assert.ok(tcp && Number(tcp[1]) >= 2_900 && Number(tcp[1]) < 4_000, `TCP step: ${tcp?.[1]} ms`);
      assert.ok(r.durationMs < 3_000 + 10_000, `whole task took ${r.durationMs} ms`);
      // The run's page shows the checks and the fix too, not only the log.
      const page = uploadedSummaries(r.stdout).find((u) => u.title === 'Private AKS deploy');
      assert.ok(page && fs.existsSync(page.file), 'no summary for the blocked deploy');
      const summary = fs.readFileSync(page.file, 'utf8');
      assert.match(summary, /No line of sight to `aks-prod`: nothing deployed/);
      assert.match(summary, /\*\*AKS API server: TCP_BLOCKED\.\*\*/);
      assert.match(summary, /\*\*Fix:\*\* /);
    } finally {
      network.removeName('private', fqdn);
      await network.addNames('private', [{ fqdn, target: { port: sandbox.azure.clusters.get('aks-prod')!.port } }]);
    }
  });

  it('gets a new token when the old one expires during the rollout (WIF outlives its OIDC token)', async () => {
    const server = sandbox.azure.clusters.get('aks-prod')!;
    sandbox.scenario.tokenLifetimeSeconds = 4;
    sandbox.scenario.oidcTokenLifetimeSeconds = 3;
    server.cluster.rolloutDelaySeconds = 9;
    const aksTokensBefore = sandbox.requests.filter(
      (q) => q.service === 'entra' && q.note?.resource === '6dae42f8-4368-4678-94ff-3960e28e3630',
    ).length;
    const oidcBefore = sandbox.requests.count('oidc');
    // Bump the deployment so that a new rollout starts, and cut the watch once the first token expired.
    writeDemoManifests(
      sandbox,
      fs
        .readFileSync(path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'deploy', 'app.yaml'), 'utf8')
        .replace('replicas: 2', 'replicas: 3'),
    );
    const cut = setTimeout(() => server.dropConnections(), 6_000);
    try {
      const r = await deploy({
        scheme: 'WorkloadIdentityFederation',
        inside: true,
        inputs: { route: 'direct', rolloutTimeoutSeconds: '40' },
      });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      const aksTokens =
        sandbox.requests.filter((q) => q.service === 'entra' && q.note?.resource === '6dae42f8-4368-4678-94ff-3960e28e3630').length -
        aksTokensBefore;
      assert.ok(aksTokens >= 2, `only ${aksTokens} AKS token(s) were issued`);
      assert.ok(sandbox.requests.count('oidc') - oidcBefore >= 3, 'no fresh OIDC token for the later exchanges');
    } finally {
      clearTimeout(cut);
      sandbox.scenario.tokenLifetimeSeconds = 3600;
      sandbox.scenario.oidcTokenLifetimeSeconds = 600;
      server.cluster.rolloutDelaySeconds = 1;
    }
  });

  it('deploys to a cluster without Entra ID with its local user credential, and a warning', async () => {
    const r = await deploy({ inside: true, inputs: { route: 'direct', clusterName: 'aks-legacy' } });
    assert.strictEqual(r.result, 'Succeeded', r.stdout);
    assert.ok(
      r.warnings.some((w) => /has no Entra ID integration: deploying with its local user credential/.test(w)),
      r.warnings.join('\n'),
    );
  });

  it('explains that run command is disabled when the agent has no line of sight either', async () => {
    const message = failedWith(
      await deploy({ inside: false, inputs: { route: 'auto', clusterName: 'aks-legacy' } }),
      'RUN_COMMAND_DISABLED',
    );
    assert.match(message, /disables run command/);
  });

  it('prunes, by label selector, what the manifests no longer hold', async () => {
    const labelled = (name: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  labels:\n    owner: pad-test\ndata:\n  a: b\n`;
    writeDemoManifests(sandbox, [labelled('keep-me'), labelled('drop-me')].join('---\n'));
    try {
      assert.strictEqual((await deploy({ inside: true, inputs: { route: 'direct' } })).result, 'Succeeded');
      writeDemoManifests(sandbox, labelled('keep-me'));
      const r = await deploy({ inside: true, inputs: { route: 'direct', prune: 'true', pruneSelector: 'owner=pad-test' } });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      const store = sandbox.azure.clusters.get('aks-prod')!.store;
      assert.ok(store.get('ConfigMap', 'web', 'keep-me'));
      assert.strictEqual(store.get('ConfigMap', 'web', 'drop-me'), undefined);
    } finally {
      writeDemoManifests(sandbox);
    }
  });

  it('a bad manifest fails with its own error while sign-in runs beside the parse, even when sign-in fails too', async () => {
    writeDemoManifests(sandbox, `${DEMO_MANIFEST}---\nkind: [unclosed\n`);
    try {
      const r = await deploy({ inside: true, inputs: { route: 'direct' }, extra: { secretOverride: 'not-the-secret' } });
      assert.match(failedWith(r, 'INVALID_MANIFEST'), /app.yaml \(document 4\) is not valid YAML/);
      assert.ok(
        !r.lines.some((l) => /^Signed in to Azure|^Cluster:/.test(l)),
        `Azure's part was printed before the input error:\n${r.lines.join('\n')}`,
      );
      // The control: the same connection with good manifests fails at sign-in, so sign-in did fail above.
      writeDemoManifests(sandbox);
      const control = await deploy({ inside: true, inputs: { route: 'direct' }, extra: { secretOverride: 'not-the-secret' } });
      assert.match(control.resultMessage ?? '', /AADSTS7000215/);
    } finally {
      writeDemoManifests(sandbox);
    }
  });

  it('hands kubectl quoted "yes"/"on" as strings, in documents it changed and in those it did not', async () => {
    // kubectl reads YAML 1.1 (sigs.k8s.io/yaml on go-yaml v2: resolve.go's bool table has yes/on/y/off),
    // so a plain yes is a bool to it: the author's quotes must survive into what it applies.
    const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quoted\ndata:\n  enabled: "yes"\n  mode: \'on\'\n';
    const deployment = DEMO_MANIFEST.split('---\n')[1].replace(
      '          image: contosoprod.azurecr.io/shop/web:1.0.0\n',
      '          image: contosoprod.azurecr.io/shop/web:1.0.0\n          env:\n            - name: FEATURE\n              value: "on"\n',
    );
    // The changed document first: as JSON, it must not turn kubectl's decoder to a JSON stream.
    writeDemoManifests(sandbox, [deployment, configMap].join('---\n'));
    try {
      const r = await deploy({ inside: true, inputs: { route: 'direct', containers: 'contosoprod.azurecr.io/shop/web:3.0.0' } });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      const store = sandbox.azure.clusters.get('aks-prod')!.store;
      assert.deepStrictEqual((store.get('ConfigMap', 'web', 'quoted') as { data: unknown }).data, { enabled: 'yes', mode: 'on' });
      const container = (
        store.get('Deployment', 'web', 'shop') as { spec: { template: { spec: { containers: { image: string; env: unknown }[] } } } }
      ).spec.template.spec.containers[0];
      assert.strictEqual(container.image, 'contosoprod.azurecr.io/shop/web:3.0.0');
      assert.deepStrictEqual(container.env, [{ name: 'FEATURE', value: 'on' }]);
    } finally {
      writeDemoManifests(sandbox);
    }
  });

  it('substitutes images, applies server-side, and renders a kustomization', async () => {
    const kustomization = path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'overlay');
    fs.mkdirSync(kustomization, { recursive: true });
    fs.writeFileSync(path.join(kustomization, 'kustomization.yaml'), 'resources:\n  - extra.yaml\ncommonLabels:\n  team: shop\n');
    fs.writeFileSync(
      path.join(kustomization, 'extra.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kustomize\ndata:\n  a: b\n',
    );
    const r = await deploy({
      inside: true,
      inputs: {
        route: 'direct',
        serverSideApply: 'true',
        containers: 'contosoprod.azurecr.io/shop/web:2.0.0',
        kustomizationPath: 'overlay',
      },
    });
    assert.strictEqual(r.result, 'Succeeded', r.stdout);
    // Earlier tests applied client-side: taking the fields over is what a migration to server-side apply needs.
    assert.match(r.lines.join('\n'), /--server-side --field-manager=private-aks-deploy --force-conflicts/);
    const store = sandbox.azure.clusters.get('aks-prod')!.store;
    const deployment = store.get('Deployment', 'web', 'shop') as { spec: { template: { spec: { containers: { image: string }[] } } } };
    assert.strictEqual(deployment.spec.template.spec.containers[0].image, 'contosoprod.azurecr.io/shop/web:2.0.0');
    const rendered = store.get('ConfigMap', 'web', 'from-kustomize') as { metadata: { labels: Record<string, string> } };
    assert.strictEqual(rendered.metadata.labels.team, 'shop');
  });

  describe('with the installed kubelogin instead of the built-in helper', () => {
    /** A stand-in kubelogin on PATH: records how kubectl ran it, then does spn's client-credentials exchange itself. */
    function fakeKubelogin(): { dir: string; record: string } {
      const dir = path.join(sandbox.tempDir, 'fake-kubelogin');
      fs.mkdirSync(dir, { recursive: true });
      const record = path.join(dir, 'invocations.jsonl');
      fs.writeFileSync(
        path.join(dir, 'kubelogin'),
        `#!${process.execPath}
const fs = require('fs'), https = require('https');
const env = process.env;
fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), envNames: Object.keys(env).filter((k) => /^(AAD_|AZURESUBSCRIPTION_|SYSTEM_)/.test(k)).sort() }) + '\\n');
const arg = (n) => process.argv[process.argv.indexOf(n) + 1];
const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: env.AAD_SERVICE_PRINCIPAL_CLIENT_ID, client_secret: env.AAD_SERVICE_PRINCIPAL_CLIENT_SECRET, scope: arg('--server-id') + '/.default' }).toString();
const req = https.request(env.FAKE_KUBELOGIN_AUTHORITY + '/' + arg('--tenant-id') + '/oauth2/v2.0/token', { method: 'POST', ca: fs.readFileSync(env.FAKE_KUBELOGIN_CA), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, (res) => {
  let text = ''; res.on('data', (d) => (text += d)); res.on('end', () => {
    const t = JSON.parse(text);
    if (!t.access_token) { process.stderr.write(text); process.exit(1); }
    process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: t.access_token, expirationTimestamp: new Date(Date.now() + t.expires_in * 1000).toISOString() } }));
  });
});
req.end(body);
`,
        { mode: 0o755 },
      );
      return { dir, record };
    }

    it('runs kubelogin get-token in spn mode, with the secret only in its environment', async () => {
      const fake = fakeKubelogin();
      const r = await deploy({
        scheme: 'ServicePrincipalSecret',
        inside: true,
        inputs: { route: 'direct', credentialHelper: 'kubelogin', kubeloginLoginMode: 'spn' },
        extra: {
          extraEnv: {
            PATH: `${fake.dir}:${process.env.PATH}`,
            FAKE_KUBELOGIN_AUTHORITY: sandbox.authorityHost,
            FAKE_KUBELOGIN_CA: sandbox.caFile,
          },
        },
      });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      const calls = fs
        .readFileSync(fake.record, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const principal = sandbox.principal('secret');
      assert.deepStrictEqual(calls[0].argv, [
        'get-token',
        '--login',
        'spn',
        '--server-id',
        '6dae42f8-4368-4678-94ff-3960e28e3630',
        '--environment',
        'AzurePublicCloud',
        '--tenant-id',
        sandbox.tenantId,
        '--client-id',
        principal.clientId,
      ]);
      assert.ok(
        calls.every((c) => !c.argv.join(' ').includes(principal.secret!)),
        'the secret was on a command line',
      );
      assert.ok(calls[0].envNames.includes('AAD_SERVICE_PRINCIPAL_CLIENT_SECRET'));
    });

    it('refuses a mode that would need a token file on disk', async () => {
      const r = await deploy({
        inside: true,
        inputs: { route: 'direct', credentialHelper: 'kubelogin', kubeloginLoginMode: 'workloadidentity' },
      });
      assert.match(failedWith(r, 'KUBELOGIN_MODE_MISMATCH'), /token from a file/);
    });
  });

  describe('the errors users hit today', () => {
    it('no permission to get the cluster user credential', async () => {
      const message = failedWith(await deploy({ inside: true, principal: 'readerOnly' }), 'ARM_AUTHORIZATION_FAILED');
      assert.match(message, /listClusterUserCredential\/action/);
      assert.match(message, /--role "Azure Kubernetes Service Cluster User Role" --scope \/subscriptions\/.*\/managedClusters\/aks-prod/);
    });

    it('no Azure RBAC data role: names the role and the namespace scope', async () => {
      const message = failedWith(await deploy({ inside: true, principal: 'noDataRole', inputs: { route: 'direct' } }), 'KUBECTL_FORBIDDEN');
      assert.match(
        message,
        /--role "Azure Kubernetes Service RBAC Writer" --scope \/subscriptions\/.*\/managedClusters\/aks-prod\/namespaces\/web/,
      );
    });

    it('admin credentials asked of a cluster without local accounts', async () => {
      const message = failedWith(await deploy({ inside: true, inputs: { useAdminCredentials: 'true' } }), 'LOCAL_ACCOUNTS_DISABLED');
      assert.match(message, /disables local accounts/);
    });

    it('kubectl not where the input says', async () => {
      const message = failedWith(
        await deploy({ inside: true, inputs: { route: 'direct', kubectlPath: '/opt/nowhere/kubectl' } }),
        'KUBECTL_MISSING',
      );
      assert.match(message, /No kubectl at \/opt\/nowhere\/kubectl/);
    });

    it('a cluster named by a malformed resource id', async () => {
      const message = failedWith(
        await deploy({
          inside: true,
          inputs: {
            clusterSpecifiedBy: 'resourceId',
            clusterResourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks',
          },
        }),
        'INVALID_INPUT',
      );
      assert.match(message, /input 'clusterResourceId'/);
    });
  });
});
