import * as assert from 'assert';
import * as fs from 'fs';
import { uploadedSummaries } from '../support/uploadedSummaries';
import { randomUUID } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { ALL_SCHEMES, type ConnectionScheme, SCHEME_PRINCIPAL } from '../support/agentEnvironment';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runTask, type TaskRun } from '../support/taskRun';

/**
 * ServiceConnectionRoleCheck as the agent runs it (the bundle, a child process, the agent's
 * environment) against the sandbox's Resource Manager, which enforces RBAC from the scenario's role
 * assignments and answers the permissions API from them. No private network: the task only talks
 * to Entra ID and Resource Manager (it makes no SelfSubjectAccessReview).
 */
describe('ServiceConnectionRoleCheck against the sandbox', function () {
  this.timeout(60_000);
  let sandbox: Sandbox;
  const runs: TaskRun[] = [];
  const WIF = randomUUID();
  const AKS = 'Microsoft.ContainerService/managedClusters';
  const principalFor = SCHEME_PRINCIPAL;

  before(async () => {
    sandbox = await startSandbox(
      {
        principals: [
          { name: 'wif', federated: [{ subject: 'sc://contoso/web/prod-wif' }] },
          { name: 'secret' },
          { name: 'cert', certificate: true },
          { name: 'msi', managedIdentity: true, systemAssigned: true },
          { name: 'nothing' },
          { name: 'clusterUserOnly' },
          { name: 'k8sBound' },
          { name: 'writerOnly' },
          { name: 'both' },
          { name: 'contributorViaGroup' },
          { name: 'customNot' },
          { name: 'customNotPlusUser' },
          { name: 'auditor' },
          { name: 'kubelet', managedIdentity: true },
        ],
        serviceConnections: [{ id: WIF, name: 'prod-wif', principal: 'wif' }],
        azureDevOps: { organization: 'contoso', projectName: 'web' },
        groups: [
          { name: 'deployers', members: ['wif', 'secret', 'cert', 'msi'] },
          { name: 'platform', members: ['contributorViaGroup'] },
        ],
        customRoles: [
          {
            name: 'Cluster operator without user credential or secrets',
            actions: [`${AKS}/*`],
            notActions: [`${AKS}/listClusterUserCredential/action`],
            dataActions: [`${AKS}/*`],
            notDataActions: [`${AKS}/secrets/*`],
          },
        ],
        roleAssignments: [
          { principal: 'deployers', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployers', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'clusterUserOnly', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'clusterUserOnly', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-k8srbac' },
          // On the Kubernetes-RBAC cluster the sandbox's in-cluster decision follows this data role, as a RoleBinding would.
          { principal: 'k8sBound', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-k8srbac' },
          { principal: 'k8sBound', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-k8srbac/namespaces/web' },
          { principal: 'writerOnly', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'both', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'both', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'platform', role: 'Contributor', scope: 'resourceGroup:rg-aks' },
          { principal: 'customNot', role: 'Cluster operator without user credential or secrets', scope: 'cluster:aks-prod' },
          { principal: 'customNotPlusUser', role: 'Cluster operator without user credential or secrets', scope: 'cluster:aks-prod' },
          { principal: 'customNotPlusUser', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'auditor', role: 'Reader', scope: 'resourceGroup:rg-aks' },
          { principal: 'kubelet', role: 'AcrPull', scope: 'registry:contosoprod' },
        ],
        clusters: [
          {
            name: 'aks-prod',
            resourceGroup: 'rg-aks',
            private: true,
            aad: { managed: true, enableAzureRBAC: true },
            disableLocalAccounts: true,
            oidcIssuer: true,
            workloadIdentity: true,
            azurePolicy: true,
            keyVaultSecretsProvider: true,
            networkPolicy: 'azure',
            defender: true,
            kubeletIdentity: 'kubelet',
            namespaces: ['web'],
          },
          // What `az aks create` gives without hardening flags.
          { name: 'aks-default', resourceGroup: 'rg-aks', private: false, aad: null, disableLocalAccounts: false },
          { name: 'aks-k8srbac', resourceGroup: 'rg-aks', aad: { managed: true, enableAzureRBAC: false } },
        ],
        registries: [
          {
            name: 'contosoprod',
            resourceGroup: 'rg-aks',
            publicNetworkAccess: 'Disabled',
            adminUserEnabled: false,
            networkRuleBypassOptions: 'AzureServices',
            privateEndpoints: [{ name: 'pe-aks', status: 'Approved' }],
          },
          {
            name: 'contosodefault',
            resourceGroup: 'rg-aks',
            publicNetworkAccess: 'Enabled',
            defaultAction: 'Allow',
            adminUserEnabled: true,
            networkRuleBypassOptions: 'None',
            privateEndpoints: [{ name: 'pe-new', status: 'Pending' }],
          },
        ],
      },
      { privateNetwork: true },
    );
  });

  after(async () => {
    if (!sandbox) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  const rgId = () => `/subscriptions/${sandbox.scenario.subscriptionId}/resourceGroups/rg-aks`;
  const clusterId = (name = 'aks-prod') => `${rgId()}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const registryId = (name: string) => `${rgId()}/providers/Microsoft.ContainerRegistry/registries/${name}`;
  const command = (principal: string, role: string, scope: string) =>
    `az role assignment create --assignee-object-id ${sandbox.principal(principal).objectId} --assignee-principal-type ServicePrincipal --role "${role}" --scope ${scope}`;

  async function check(
    principal: string,
    inputs: Record<string, string> = {},
    scheme: ConnectionScheme = 'ServicePrincipalSecret',
    where?: 'insideVnet' | 'outsideVnet',
  ): Promise<TaskRun> {
    const env = sandboxJobEnv(sandbox, {
      connectionId: scheme === 'WorkloadIdentityFederation' ? WIF : `sc-${principal}`,
      scheme,
      principal,
      debug: true,
      inputs: {
        resourceGroupName: 'rg-aks',
        clusterName: 'aks-prod',
        namespace: 'web',
        intents: 'deploy',
        checkHardening: 'false',
        ...inputs,
      },
    });
    const network = sandbox.network;
    const r = await runTask('ServiceConnectionRoleCheckV1', env, {
      wrap: where && network ? (c, a) => network.spawnArgs(where === 'insideVnet', c, a) : undefined,
    });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  const log = (r: TaskRun) => r.lines.join('\n');
  /** The verdict column of the permission table row for an operation (first row that names it). */
  function verdictOf(r: TaskRun, operation: string, intent = 'deploy'): string {
    const short = operation.replace(`${AKS}/`, 'managedClusters/').replace('Microsoft.ContainerRegistry/registries/', 'registries/');
    const row = r.lines.find((l) => new RegExp(`^\\s+${intent}\\s+${short.replace(/[.*/]/g, '\\$&')}\\s`).test(l));
    assert.ok(row, `no row for ${intent} ${short}:\n${log(r)}`);
    return row!.trim().split(/\s{2,}/)[4];
  }
  /** OK, MISSING or IN-CLUSTER, without the detail. */
  const statusOf = (r: TaskRun, operation: string, intent = 'deploy') => verdictOf(r, operation, intent).split(' ')[0];
  const DATA_WRITES = ['apps/deployments', 'services', 'configmaps', 'secrets', 'networking.k8s.io/ingresses'].flatMap((k) => [
    `${AKS}/${k}/read`,
    `${AKS}/${k}/write`,
  ]);

  for (const scheme of ALL_SCHEMES) {
    it(`reports the identity first with ${scheme}, then the deploy permissions it holds through its group`, async () => {
      const r = await check(principalFor[scheme], {}, scheme);
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      const p = sandbox.principal(principalFor[scheme]);
      const text = log(r);
      assert.ok(text.indexOf('Signed in to Azure:') < text.indexOf('Effective permissions'), 'identity is not shown first');
      assert.match(text, new RegExp(`Tenant\\s+: ${sandbox.tenantId}`));
      assert.match(text, new RegExp(`Application \\(client\\) id\\s+: ${p.clientId}`));
      assert.match(text, new RegExp(`Object id\\s+: ${p.objectId}`));
      assert.match(
        text,
        scheme === 'ManagedServiceIdentity' ? /Identity type\s+: managed identity/ : /Identity type\s+: service principal/,
      );
      assert.match(
        text,
        new RegExp(
          `Scheme\\s+: ${scheme === 'ServicePrincipalSecret' || scheme === 'ServicePrincipalCertificate' ? 'ServicePrincipal' : scheme}`,
        ),
      );
      if (scheme === 'WorkloadIdentityFederation') {
        assert.ok(text.includes(`Federated issuer        : ${sandbox.oidcIssuer}`), text);
        assert.ok(text.includes('Federated subject       : sc://contoso/web/prod-wif'), text);
      }
      assert.strictEqual(r.outputs.principalObjectId, p.objectId);
      assert.strictEqual(r.outputs.missingPermissionCount, '0');
      assert.match(text, /All permissions the intents need are present/);
    });
  }

  describe('verdicts for the deploy intent (Azure RBAC cluster, namespace web)', () => {
    it('nothing assigned: everything missing; Cluster User at the cluster plus RBAC Writer at the namespace, not Cluster Admin', async () => {
      const r = await check('nothing');
      assert.strictEqual(r.result, 'Failed', r.stdout);
      assert.match(r.resultMessage!, /\[MISSING_PERMISSIONS\]/);
      assert.strictEqual(r.outputs.missingPermissionCount, '12');
      assert.strictEqual(statusOf(r, `${AKS}/read`), 'MISSING');
      assert.strictEqual(statusOf(r, `${AKS}/apps/deployments/write`), 'MISSING');
      const text = log(r);
      assert.ok(text.includes(command('nothing', 'Azure Kubernetes Service Cluster User Role', clusterId())), text);
      assert.ok(text.includes(command('nothing', 'Azure Kubernetes Service RBAC Writer', `${clusterId()}/namespaces/web`)), text);
      assert.ok(!/Cluster Admin|RBAC Cluster Admin/.test(text), 'suggested an admin role for deploy');
      assert.ok(!/--role "(Contributor|Owner)"/.test(text));
    });

    it('Cluster User only: the Kubernetes data actions missing, RBAC Writer at the namespace suggested', async () => {
      const r = await check('clusterUserOnly');
      assert.strictEqual(r.result, 'Failed');
      assert.strictEqual(r.outputs.missingPermissionCount, '10');
      assert.strictEqual(statusOf(r, `${AKS}/listClusterUserCredential/action`), 'OK');
      for (const op of DATA_WRITES) assert.strictEqual(statusOf(r, op), 'MISSING');
      const text = log(r);
      assert.ok(text.includes(command('clusterUserOnly', 'Azure Kubernetes Service RBAC Writer', `${clusterId()}/namespaces/web`)), text);
      assert.ok(!text.includes('--role "Azure Kubernetes Service Cluster User Role"'), text);
      assert.match(r.resultMessage!, /Assign 'Azure Kubernetes Service RBAC Writer' at .*\/namespaces\/web/);
    });

    it('RBAC Writer only: the cluster read and user credential missing, Cluster User suggested', async () => {
      const r = await check('writerOnly');
      assert.strictEqual(r.result, 'Failed');
      assert.strictEqual(r.outputs.missingPermissionCount, '2');
      for (const op of DATA_WRITES) assert.strictEqual(statusOf(r, op), 'OK');
      assert.strictEqual(statusOf(r, `${AKS}/listClusterUserCredential/action`), 'MISSING');
      assert.ok(log(r).includes(command('writerOnly', 'Azure Kubernetes Service Cluster User Role', clusterId())), log(r));
      assert.ok(!log(r).includes('--role "Azure Kubernetes Service RBAC Writer"'));
    });

    it('both: nothing missing, the task succeeds', async () => {
      const r = await check('both');
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.strictEqual(r.outputs.missingPermissionCount, '0');
      assert.ok(!log(r).includes('az role assignment create'));
    });

    it('Contributor through a group: every ARM action granted, but no Kubernetes data action (Contributor has none)', async () => {
      const r = await check('contributorViaGroup', { intents: 'deploy,deployRunCommand,adminCredentials,aksAuthorizedIpRanges' });
      assert.strictEqual(r.result, 'Failed');
      for (const [intent, op] of [
        ['deploy', `${AKS}/listClusterUserCredential/action`],
        ['deployRunCommand', `${AKS}/runcommand/action`],
        ['deployRunCommand', `${AKS}/commandResults/read`],
        ['adminCredentials', `${AKS}/listClusterAdminCredential/action`],
        ['aksAuthorizedIpRanges', `${AKS}/write`],
      ]) {
        assert.strictEqual(statusOf(r, op, intent), 'OK', `${intent} ${op}`);
      }
      for (const op of DATA_WRITES) assert.strictEqual(statusOf(r, op), 'MISSING');
      assert.strictEqual(r.outputs.missingPermissionCount, '10');
      assert.ok(log(r).includes(command('contributorViaGroup', 'Azure Kubernetes Service RBAC Writer', `${clusterId()}/namespaces/web`)));
      assert.match(log(r), /Resource group rg-aks: read yes, deploy templates yes, assign roles no/);
    });

    it('a custom role whose notActions / notDataActions remove what deploy needs: those are missing, and say why', async () => {
      const r = await check('customNot');
      assert.strictEqual(r.result, 'Failed');
      assert.strictEqual(statusOf(r, `${AKS}/read`), 'OK');
      assert.match(
        verdictOf(r, `${AKS}/listClusterUserCredential/action`),
        /^MISSING \(granted by a role but removed by its notActions Microsoft\.ContainerService\/managedClusters\/listClusterUserCredential\/action\)/,
      );
      assert.match(
        verdictOf(r, `${AKS}/secrets/write`),
        /^MISSING \(.*notDataActions Microsoft\.ContainerService\/managedClusters\/secrets\/\*\)/,
      );
      assert.strictEqual(statusOf(r, `${AKS}/apps/deployments/write`), 'OK');
      assert.strictEqual(r.outputs.missingPermissionCount, '3');
      assert.ok(log(r).includes(command('customNot', 'Azure Kubernetes Service Cluster User Role', clusterId())));
      assert.ok(log(r).includes(command('customNot', 'Azure Kubernetes Service RBAC Writer', `${clusterId()}/namespaces/web`)));
    });

    it("the same custom role plus Cluster User: a notAction is no deny, the other role's grant counts", async () => {
      const r = await check('customNotPlusUser');
      assert.strictEqual(statusOf(r, `${AKS}/listClusterUserCredential/action`), 'OK');
      assert.match(verdictOf(r, `${AKS}/secrets/read`), /^MISSING/);
      assert.strictEqual(r.outputs.missingPermissionCount, '2');
    });

    it('failOn never: reports the gaps and succeeds', async () => {
      const r = await check('nothing', { failOn: 'never' });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.strictEqual(r.outputs.missingPermissionCount, '12');
    });

    describe('a cluster with Kubernetes RBAC (the agent in the private network)', () => {
      before(function () {
        if (!sandbox.network) this.skip();
      });

      it('inside the VNet: asks the API server (SelfSubjectAccessReview) and reports what the RoleBindings deny', async () => {
        const r = await check('clusterUserOnly', { clusterName: 'aks-k8srbac', failOn: 'never' }, 'ServicePrincipalSecret', 'insideVnet');
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        assert.strictEqual(r.outputs.missingPermissionCount, '10');
        assert.match(
          verdictOf(r, `${AKS}/apps/deployments/write`),
          /^MISSING \(in-cluster RBAC \(SelfSubjectAccessReview\) denies create, patch deployments\.apps in 'web'/,
        );
        assert.ok(
          r.warnings.some((w) =>
            w.includes(
              `kubectl create rolebinding private-aks-deploy --clusterrole=edit --user=${sandbox.principal('clusterUserOnly').objectId} --namespace web`,
            ),
          ),
          r.warnings.join('\n'),
        );
      });

      it('inside the VNet: an identity the cluster allows passes', async () => {
        const r = await check('k8sBound', { clusterName: 'aks-k8srbac' }, 'ServicePrincipalSecret', 'insideVnet');
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        assert.strictEqual(r.outputs.missingPermissionCount, '0');
        assert.match(verdictOf(r, `${AKS}/apps/deployments/write`), /^OK/);
      });

      it('outside the VNet: says the in-cluster binding was not checked, and why', async () => {
        const r = await check('clusterUserOnly', { clusterName: 'aks-k8srbac' }, 'ServicePrincipalSecret', 'outsideVnet');
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        assert.strictEqual(r.outputs.missingPermissionCount, '0');
        assert.match(verdictOf(r, `${AKS}/apps/deployments/write`), /^IN-CLUSTER/);
        assert.ok(
          r.warnings.some((w) => /not checked: the API server is not reachable from this agent \[PRIVATE_DNS_UNRESOLVED\]/.test(w)),
          r.warnings.join('\n'),
        );
      });
    });
  });

  describe('the other intents and their suggestions', () => {
    it('run command: the honest built-in pair (Cluster Admin Role + Reader on the cluster), explained', async () => {
      const r = await check('nothing', { intents: 'deployRunCommand', failOn: 'never' });
      const text = log(r);
      assert.strictEqual(statusOf(r, `${AKS}/runcommand/action`, 'deployRunCommand'), 'MISSING');
      assert.strictEqual(statusOf(r, `${AKS}/commandResults/read`, 'deployRunCommand'), 'MISSING');
      assert.ok(text.includes(command('nothing', 'Azure Kubernetes Service Cluster Admin Role', clusterId())), text);
      assert.ok(text.includes(command('nothing', 'Reader', clusterId())), text);
      assert.ok(text.includes(command('nothing', 'Azure Kubernetes Service RBAC Writer', `${clusterId()}/namespaces/web`)), text);
      assert.match(text, /No built-in role below Contributor grants runcommand\/action with commandResults\/read/);
      assert.ok(
        !text.includes('--role "Azure Kubernetes Service Cluster User Role"'),
        'Cluster User suggested although Cluster Admin covers the read',
      );
    });

    it('pull and push together: one AcrPush assignment on the registry', async () => {
      const r = await check('nothing', { intents: 'acrPull,acrPush', registryName: 'contosoprod', clusterName: '' });
      assert.strictEqual(r.result, 'Failed');
      assert.strictEqual(r.outputs.missingPermissionCount, '2');
      assert.ok(log(r).includes(command('nothing', 'AcrPush', registryId('contosoprod'))), log(r));
      assert.ok(!log(r).includes('--role "AcrPull"'));
    });

    it('registry firewall rules and AKS authorized IP ranges: the configuration roles, plus Reader for listUsages', async () => {
      const r = await check('nothing', { intents: 'acrNetworkRules,aksAuthorizedIpRanges', registryName: 'contosoprod' });
      const text = log(r);
      assert.ok(
        text.includes(
          command('nothing', 'Container Registry Contributor and Data Access Configuration Administrator', registryId('contosoprod')),
        ),
        text,
      );
      assert.ok(text.includes(command('nothing', 'Reader', registryId('contosoprod'))), text);
      assert.ok(text.includes(command('nothing', 'Azure Kubernetes Service Contributor Role', clusterId())), text);
    });

    it('admin credentials on a cluster without local accounts: the role, and why it will not help', async () => {
      const r = await check('nothing', { intents: 'adminCredentials', failOn: 'never' });
      assert.ok(log(r).includes(command('nothing', 'Azure Kubernetes Service Cluster Admin Role', clusterId())));
      // The connection holds nothing, so it cannot read the cluster either: the note says so instead.
      assert.ok(
        r.warnings.some((w) => /could not read 'aks-prod'/.test(w)),
        r.warnings.join('\n'),
      );
    });
  });

  describe('hardening checklist', () => {
    it('a hardened cluster and registry: every item passes, score 100, the summary uploaded', async () => {
      const r = await check('auditor', {
        intents: 'acrPull',
        registryName: 'contosoprod',
        checkHardening: 'true',
        failOn: 'postureFailures',
      });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.strictEqual(r.outputs.postureScore, '100');
      const text = log(r);
      for (const title of [
        'Entra ID integration (managed)',
        'Azure RBAC for Kubernetes authorization',
        'Local accounts disabled',
        'Private cluster or authorized IP ranges',
        'OIDC issuer and workload identity',
        'Azure Policy add-on',
        'Key Vault secrets provider',
        'Network policy',
        'Microsoft Defender for Containers',
        'Admin user disabled',
        'Public network access',
        'Private endpoints approved',
        'Trusted Azure services may bypass the firewall',
        'Kubelet identity holds AcrPull on the registry',
      ]) {
        assert.match(text, new RegExp(`${title.replace(/[()]/g, '\\$&')}\\s+PASS`), `${title}:\n${text}`);
      }
      const [uploaded] = uploadedSummaries(r.stdout);
      assert.ok(uploaded && fs.existsSync(uploaded.file), 'no summary uploaded');
      assert.strictEqual(uploaded.title, 'Service connection role check');
      const summary = fs.readFileSync(uploaded.file, 'utf8');
      assert.match(summary, /#### Hardening checklist: score 100\/100/);
      assert.match(summary, new RegExp(`\\| \\*\\*Object id\\*\\* \\| \`${sandbox.principal('auditor').objectId}\` \\|`));
      // The permission matrix: one row per permission and scope, one column per intent.
      assert.match(summary, /\| Permission \| Scope \| `acrPull` \|/);
      assert.match(summary, /\| `registries\/pull\/read` \| registry contosoprod \| ✅ \|/);
    });

    it('a default cluster and registry: failures and warnings with their fix commands; postureFailures fails the task', async () => {
      const r = await check('auditor', {
        clusterName: 'aks-default',
        registryName: 'contosodefault',
        intents: 'acrPull',
        checkHardening: 'true',
        failOn: 'postureFailures',
      });
      assert.strictEqual(r.result, 'Failed', r.stdout);
      assert.match(r.resultMessage!, /\[POSTURE_FAILURES\]/);
      const text = log(r);
      const status = (title: string) => new RegExp(`${title.replace(/[()]/g, '\\$&')}\\s+(PASS|WARN|FAIL)`).exec(text)?.[1];
      assert.deepStrictEqual(
        Object.fromEntries(
          [
            'Entra ID integration (managed)',
            'Azure RBAC for Kubernetes authorization',
            'Local accounts disabled',
            'Private cluster or authorized IP ranges',
            'OIDC issuer and workload identity',
            'Azure Policy add-on',
            'Key Vault secrets provider',
            'Network policy',
            'Microsoft Defender for Containers',
            'Admin user disabled',
            'Public network access',
            'Private endpoints approved',
            'Trusted Azure services may bypass the firewall',
            'Kubelet identity holds AcrPull on the registry',
          ].map((t) => [t, status(t)]),
        ),
        {
          'Entra ID integration (managed)': 'FAIL',
          'Azure RBAC for Kubernetes authorization': 'WARN',
          'Local accounts disabled': 'FAIL',
          'Private cluster or authorized IP ranges': 'FAIL',
          'OIDC issuer and workload identity': 'WARN',
          'Azure Policy add-on': 'WARN',
          'Key Vault secrets provider': 'WARN',
          'Network policy': 'WARN',
          'Microsoft Defender for Containers': 'WARN',
          'Admin user disabled': 'FAIL',
          'Public network access': 'FAIL',
          'Private endpoints approved': 'WARN',
          'Trusted Azure services may bypass the firewall': 'WARN',
          'Kubelet identity holds AcrPull on the registry': 'FAIL',
        },
      );
      // 0 for 6 failures, 4 for 8 warnings, over 14 items.
      assert.strictEqual(r.outputs.postureScore, String(Math.round((100 * 4) / 14)));
      for (const fix of [
        'az aks update --resource-group rg-aks --name aks-default --disable-local-accounts',
        'az aks update --resource-group rg-aks --name aks-default --enable-aad',
        'az aks enable-addons --resource-group rg-aks --name aks-default --addons azure-policy',
        'az aks update --resource-group rg-aks --name aks-default --enable-defender',
        'az acr update --resource-group rg-aks --name contosodefault --admin-enabled false',
        'az acr private-endpoint-connection approve --registry-name contosodefault --name pe-new',
        'az acr update --resource-group rg-aks --name contosodefault --allow-trusted-services true',
        `az aks update --resource-group rg-aks --name aks-default --attach-acr ${registryId('contosodefault')}`,
      ])
        assert.ok(text.includes(fix), `missing fix: ${fix}\n${text}`);
    });

    it('the same default resources with failOn missingPermissions: reported, not failed', async () => {
      const r = await check('auditor', {
        clusterName: 'aks-default',
        registryName: 'contosodefault',
        intents: 'acrPull',
        checkHardening: 'true',
      });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.ok(Number(r.outputs.postureScore) < 50);
    });

    it('a connection that may not read role assignments: the kubelet item warns and says why', async () => {
      const r = await check('both', { registryName: 'contosoprod', checkHardening: 'true' });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      assert.match(
        log(r),
        /Kubelet identity holds AcrPull on the registry\s+WARN\s+not known: the connection may not read role assignments on the registry/,
      );
      assert.match(log(r), /Registry 'contosoprod' readable\s+WARN/);
    });
  });

  describe('inputs', () => {
    it('an unknown intent is named', async () => {
      const r = await check('both', { intents: 'deploy,deployEverything' });
      assert.strictEqual(r.result, 'Failed');
      assert.match(r.resultMessage!, /input 'intents'.*\[INVALID_INPUT\]: 'deployEverything' is not an intent/);
    });

    it('a registry intent without a registry name is refused', async () => {
      const r = await check('both', { intents: 'deploy,acrPush' });
      assert.strictEqual(r.result, 'Failed');
      assert.match(r.resultMessage!, /input 'registryName'.*acrPush concern a container registry/);
    });
  });

  describe('an Azure Stack Hub connection', () => {
    it("without an authority or audience: reads them from the stamp's metadata/endpoints, signs in and checks", async () => {
      const env = sandboxJobEnv(sandbox, {
        connectionId: 'sc-stack',
        scheme: 'ServicePrincipalSecret',
        principal: 'both',
        inputs: { resourceGroupName: 'rg-aks', clusterName: 'aks-prod', namespace: 'web', intents: 'deploy', checkHardening: 'false' },
      });
      for (const key of Object.keys(env))
        if (/_(ENVIRONMENTAUTHORITYURL|ACTIVEDIRECTORYSERVICEENDPOINTRESOURCEID)$/.test(key)) delete env[key];
      env['ENDPOINT_DATA_sc-stack_ENVIRONMENT'] = 'AzureStack';
      const seen = sandbox.requests.filter((e) => e.service === 'arm' && e.path === '/metadata/endpoints').length;
      const r = await runTask('ServiceConnectionRoleCheckV1', env);
      runs.push(r);
      assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.stdout}`);
      assert.strictEqual(r.outputs.missingPermissionCount, '0');
      const lookups = sandbox.requests.filter((e) => e.service === 'arm' && e.path === '/metadata/endpoints');
      assert.strictEqual(lookups.length - seen, 1, 'no metadata/endpoints lookup');
      assert.match(lookups[lookups.length - 1].query, /api-version=2015-01-01/);
    });
  });
});
