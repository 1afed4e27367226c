import * as assert from 'assert';
import { deploySummaryMarkdown, type DeploySummary } from '../../tasks/PrivateAksDeployV1/deploySummary';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import type { PreflightOutcome } from '../../tasks/PrivateAksDeployV1/preflight';
import { ruleLifetime } from '../../tasks/AcrNetworkRuleSyncV1/report';
import type { SignedInIdentity } from '../../shared/azure/identity/signedInIdentity';
import { cell, code, table } from '../../shared/pipeline/buildSummary';
import { evaluateIntents } from '../../shared/azure/rbac/intentVerdicts';
import { roleCheckMarkdown } from '../../tasks/ServiceConnectionRoleCheckV1/roleCheckReport';

const FACTS: ClusterFacts = {
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-prod',
  name: 'aks-prod',
  resourceGroup: 'rg',
  subscriptionId: 's',
  location: 'eastus',
  kubernetesVersion: '1.31.2',
  privateCluster: true,
  entraIntegration: true,
  azureRbac: true,
  localAccountsDisabled: true,
  runCommandDisabled: false,
  authorizedIpRanges: [],
};

const IDENTITY: SignedInIdentity = {
  connectionId: 'c',
  scheme: 'WorkloadIdentityFederation',
  schemeLabel: 'workload identity federation',
  environment: 'AzureCloud',
  authorityHost: 'https://login.microsoftonline.com',
  tenantId: 'tenant-1',
  clientId: 'app-1',
  objectId: 'oid-1',
  identityType: 'service principal',
  subscriptionId: 'sub-1',
  subscriptionName: 'prod',
  tokenExpiresOn: new Date(0),
};

function outcome(label: string, host: string, failing?: { code: string; reason: string; fix: string }): PreflightOutcome {
  const probe = { label, host, port: 443, path: '/', reachableStatuses: [401] };
  const steps = failing
    ? [{ step: 'dns' as const, ok: false, detail: 'nx', errorCode: 'ENOTFOUND', ms: 3 }]
    : (['dns', 'tcp', 'tls', 'http'] as const).map((step) => ({ step, ok: true, detail: '', ms: 2 }));
  return {
    target: { probe, context: { kind: 'aksApiServer', resourceName: 'aks-prod' } },
    result: { probe, steps, addresses: [], ok: !failing },
    diagnosis: failing ? { ok: false, ...failing } : { ok: true, code: 'REACHABLE', reason: '', fix: '' },
  };
}

const PLAN = {
  objects: [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop' } },
  ],
  namespace: 'web',
  createNamespace: false,
  serverSideApply: true,
  waitForRollout: true,
  rolloutTimeoutSeconds: 300,
};

function deployPage(over: Partial<DeploySummary> = {}): string {
  return deploySummaryMarkdown({
    facts: FACTS,
    identity: IDENTITY,
    plan: PLAN,
    applied: [
      { kind: 'Deployment', namespace: 'web', name: 'shop' },
      { kind: 'Service', namespace: 'web', name: 'shop' },
    ],
    requestedRoute: 'auto',
    chosenRoute: 'runCommand',
    credential: 'builtIn',
    outcomes: [
      outcome('AKS API server', 'aks.privatelink.eastus.azmk8s.io', {
        code: 'PRIVATE_DNS_UNRESOLVED',
        reason: 'The agent cannot resolve it.',
        fix: 'Link the zone.',
      }),
      outcome('ACR login server', 'contosoprod.azurecr.io'),
    ],
    ...over,
  });
}

describe('build summaries', () => {
  describe('Markdown helpers', () => {
    it('keeps pipes and line breaks from breaking a table row', () => {
      assert.strictEqual(cell('a|b\nc'), 'a\\|b<br>c');
      assert.strictEqual(code('x|`y`'), "`x\\|'y'`");
      assert.deepStrictEqual(table(['A', 'B'], [['1', '2']]), ['| A | B |', '|---|---|', '| 1 | 2 |']);
    });
  });

  describe('PrivateAksDeploy', () => {
    it('says where and how it deployed, each check with its fix, and the objects with their rollout', () => {
      const page = deployPage();
      assert.match(page, /^### ✅ Deployed 2 object\(s\) to `aks-prod`/);
      assert.match(page, /\| \*\*Route\*\* \| AKS run command \(route: auto\), because the agent has no line of sight/);
      assert.match(
        page,
        /\| ❌\u00a0blocked \| \*\*AKS API server\*\*<br>`aks\.privatelink\.eastus\.azmk8s\.io:443`<br>direct \| ❌\u00a0ENOTFOUND \| — \| — \| — \|/,
      );
      assert.match(page, /\| ✅\u00a0reachable \| \*\*ACR login server\*\*/);
      assert.match(
        page,
        /❌ \*\*AKS API server: PRIVATE_DNS_UNRESOLVED\.\*\* The agent cannot resolve it\.\n\n\*\*Fix:\*\* Link the zone\./,
      );
      assert.match(page, /server-side apply · no prune · rollout wait up to 300 s/);
      assert.match(page, /\| Deployment \| `web` \| `shop` \| ✅ rolled out \|/);
      assert.match(page, /\| Service \| `web` \| `shop` \| {2}\|/);
    });

    it('says which way each line-of-sight check went (the agent proxy, or direct), never the proxy credentials', () => {
      const proxied = outcome('AKS API server', 'aks.privatelink.eastus.azmk8s.io');
      proxied.target.probe = {
        ...proxied.target.probe,
        route: { kind: 'proxy', proxy: { proxyUrl: 'http://proxy.corp:3128', proxyUsername: 'agent', proxyPassword: 'pw-secret' } },
      };
      const bypassed = outcome('Registry myregistry', 'myregistry.azurecr.io');
      bypassed.target.probe = { ...bypassed.target.probe, route: { kind: 'bypass' } };
      const page = deployPage({ chosenRoute: 'direct', requestedRoute: 'auto', outcomes: [proxied, bypassed] });
      assert.match(page, /aks\.privatelink\.eastus\.azmk8s\.io:443`<br>via proxy proxy\.corp:3128/);
      assert.match(page, /myregistry\.azurecr\.io:443`<br>direct \(bypass\)/);
      assert.ok(!page.includes('pw-secret') && !page.includes('agent@'), page);
    });

    it('says the preflight was skipped on route runCommand, and how kubectl got its token on the direct route', () => {
      assert.match(deployPage({ requestedRoute: 'runCommand', outcomes: [] }), /_Not checked: route runCommand/);
      assert.match(
        deployPage({ chosenRoute: 'direct', requestedRoute: 'direct' }),
        /Short-lived Entra ID tokens through the task's exec credential plugin; kubeconfig 0600 in a 0700 temp folder, removed at the end/,
      );
      assert.match(deployPage({ chosenRoute: 'direct', credential: 'kubelogin' }), /through the installed kubelogin/);
    });
  });

  describe('ServiceConnectionRoleCheck', () => {
    it('draws the permission matrix: one row per permission and scope, one column per intent', () => {
      const clusterId = FACTS.id;
      const registryId = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg';
      const evaluation = evaluateIntents(['deploy', 'acrPull'], {
        scopeIds: { cluster: clusterId, namespace: `${clusterId}/namespaces/web`, registry: registryId },
        permissions: {
          cluster: [{ actions: ['Microsoft.ContainerService/managedClusters/read'], notActions: [], dataActions: [], notDataActions: [] }],
          namespace: [],
          registry: [],
        },
        clusterAuthorization: 'azureRbac',
        namespace: 'web',
      });
      const page = roleCheckMarkdown({
        identity: IDENTITY,
        intents: ['deploy', 'acrPull'],
        evaluation,
        ctx: {
          principalObjectId: 'oid-1',
          scopeLabels: { cluster: 'cluster aks-prod', namespace: 'namespace web', registry: 'registry reg' },
        },
        notes: [],
      });
      assert.match(page, /^### ❌ \d+ permission\(s\) missing for `deploy`, `acrPull`/);
      assert.match(page, /\| Permission \| Scope \| `deploy` \| `acrPull` \|/);
      assert.match(page, /\| `managedClusters\/read` \| cluster aks-prod \| ✅ \| {2}\|/);
      assert.match(page, /\| `registries\/pull\/read` \| registry reg \| {2}\| ❌ \|/);
      assert.match(
        page,
        /az role assignment create --assignee-object-id oid-1 --assignee-principal-type ServicePrincipal --role "AcrPull"/,
      );
    });
  });

  describe('AcrNetworkRuleSync', () => {
    it('states the rule lifetime for each action', () => {
      const at = new Date('2030-01-01T10:00:00Z');
      assert.match(
        ruleLifetime('addForJob', { minutes: 120, expiresOn: at }),
        /^Until this job ends: the task's post-job step removes it.*lease 120 min, until about 2030-01-01 10:00 UTC/,
      );
      assert.match(ruleLifetime('add', { minutes: 60, expiresOn: at }), /^Until a `remove` step in this run, or the lease 60 min/);
      assert.match(ruleLifetime('remove', { minutes: 60, expiresOn: at }), /^Removed now, unless another job still holds a lease/);
      assert.match(ruleLifetime('prune', { minutes: 60, expiresOn: at }), /rules the task did not add are never touched/);
    });
  });
});
