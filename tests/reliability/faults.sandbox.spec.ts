import * as assert from 'assert';
import { randomUUID } from 'crypto';
import * as https from 'https';
import type { AddressInfo } from 'net';
import { startSandbox, type Sandbox } from '../sandbox';
import type { ConnectionScheme } from '../support/agentEnvironment';
import { DEMO_MANIFEST, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { azureStateOf } from '../support/azureStateSnapshot';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runPostJobStep, runTask, type TaskName, type TaskRun } from '../support/taskRun';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';

/**
 * Faults against every task they apply to, one row each: the run ends in success after the
 * fault clears, or in the explained error named in the row, within the row's deadline, and a
 * failure leaves Azure (Resource Manager and the cluster's objects) as it was.
 *
 * Covered elsewhere, not repeated here:
 * | Fault                                    | Task             | Where                                                           |
 * |------------------------------------------|------------------|-----------------------------------------------------------------|
 * | Azure DevOps OIDC endpoint failing once  | PrivateAksDeploy | tests/tasks/signIn.sandbox.spec.ts ('transient trouble')        |
 * | token endpoint 503 once                  | PrivateAksDeploy | tests/tasks/signIn.sandbox.spec.ts                              |
 * | unreachable authority                    | PrivateAksDeploy | tests/tasks/signIn.sandbox.spec.ts                              |
 * | blackholed TCP to the API server         | PrivateAksDeploy | tests/tasks/privateAksDeploy.sandbox.spec.ts (probe deadline)    |
 * | token expiring mid-rollout (+ cut watch) | PrivateAksDeploy | tests/tasks/privateAksDeploy.sandbox.spec.ts                    |
 * | DNS NXDOMAIN/SERVFAIL, refused, TLS name | line of sight    | tests/net/lineOfSight.spec.ts, tests/sandbox/network/network.spec.ts     |
 * | 429 + failed registry update, 20 jobs    | AcrNetworkRuleSync | tests/tasks/acrNetworkRuleSync.sandbox.spec.ts (lead's)        |
 * | 412 eTag conflicts, 6 jobs               | AcrNetworkRuleSync (AKS) | tests/tasks/acrNetworkRuleSync.sandbox.spec.ts           |
 * Blackholed TCP and DNS failures against AcrNetworkRuleSync and ServiceConnectionRoleCheck: the
 * former's access wait and the latter's in-cluster review only ever report, so they are not rows.
 */
describe('reliability: faults, each against every task it applies to', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  const WIF = randomUUID();
  const RG = 'rg-aks';

  before(async () => {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'wif', federated: [{ subject: 'sc://contoso/web/faults-wif' }] }, { name: 'secret' }],
        serviceConnections: [{ id: WIF, name: 'faults-wif', principal: 'wif' }],
        azureDevOps: { organization: 'contoso', projectName: 'web' },
        groups: [{ name: 'deployers', members: ['wif', 'secret'] }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: [
          ...deployerAssignments('deployers'),
          {
            principal: 'deployers',
            role: 'Container Registry Contributor and Data Access Configuration Administrator',
            scope: `resourceGroup:${RG}`,
          },
          { principal: 'deployers', role: 'Reader', scope: `resourceGroup:${RG}` },
        ],
        clusters: [
          { name: 'aks-prod', resourceGroup: RG, private: true, disableLocalAccounts: true, namespaces: ['web'], rolloutDelaySeconds: 0 },
        ],
        registries: [
          { name: 'contosoprod', resourceGroup: RG, defaultAction: 'Deny', ipRules: ['198.51.100.0/24'], firewallPropagationSeconds: 0 },
        ],
        network: { agentEgressIp: '203.0.113.77' },
      },
      { privateNetwork: true },
    );
    writeDemoManifests(sandbox);
  });

  afterEach(() => {
    // A row's fault must not outlive it (a fault left queued would hit the next row).
    sandbox?.faults.clear();
  });

  after(async () => {
    await sandbox?.stop();
  });

  interface Row {
    fault: string;
    task: TaskName;
    scheme?: ConnectionScheme;
    inputs?: Record<string, string>;
    /** Runs the task inside the VNet (network namespaces; skipped without them). */
    inside?: boolean;
    inject: (s: Sandbox) => void | Promise<void>;
    /** Undoes what inject changed beyond the fault queue. */
    restore?: (s: Sandbox) => void | Promise<void>;
    /** 'success', or the explanation code and what its message must say. */
    expect: 'success' | { code: string | RegExp; message?: RegExp };
    /** The whole run must end within this. */
    deadlineMs: number;
    /** Extra checks on the run (e.g. that Retry-After was honoured). */
    check?: (r: TaskRun, s: Sandbox, requestsBefore: number) => void;
  }

  const deployInputs = { ...DEPLOY_INPUTS, route: 'runCommand' };
  let impostor: https.Server | undefined;
  const pointApiServerAt = async (s: Sandbox, port: number) => {
    const fqdn = s.azure.state.cluster('aks-prod').privateFqdn!;
    s.network!.removeName('private', fqdn);
    await s.network!.addNames('private', [{ fqdn, target: { port } }]);
  };
  /** Manifests that differ from what the cluster holds, so that apply has to write. */
  const changedManifests = () =>
    void writeDemoManifests(sandbox, DEMO_MANIFEST.replace('mode: prod', `mode: prod-${randomUUID().slice(0, 8)}`));
  const aclInputs = {
    targetType: 'registry',
    resourceGroupName: RG,
    registryName: 'contosoprod',
    ipSource: 'explicit',
    ipAddresses: '203.0.113.10',
    waitForAccess: 'false',
  };
  const roleCheckInputs = {
    resourceGroupName: RG,
    clusterName: 'aks-prod',
    namespace: 'web',
    intents: 'deploy',
    checkHardening: 'false',
    failOn: 'never',
  };
  const inputsFor = (task: TaskName) =>
    task === 'PrivateAksDeployV1' ? deployInputs : task === 'AcrNetworkRuleSyncV1' ? aclInputs : roleCheckInputs;
  const clusterGet = '/managedClusters/aks-prod';
  const registryPath = '/registries/contosoprod';
  const faultedArm = (s: Sandbox, since: number) => s.requests.slice(since).filter((q) => q.service === 'arm' && q.fault).length;
  /** For each throttled request, how long until the same request was sent again. */
  const retryGapsMs = (s: Sandbox, since: number) => {
    const log = s.requests.slice(since);
    return log.flatMap((q, i) => {
      if (q.service !== 'arm' || !q.fault) return [];
      const again = log.slice(i + 1).find((n) => n.service === 'arm' && n.method === q.method && n.path === q.path);
      return again ? [again.startedAt.getTime() - (q.startedAt.getTime() + q.durationMs)] : [];
    });
  };
  const EVERY_TASK: TaskName[] = ['PrivateAksDeployV1', 'AcrNetworkRuleSyncV1', 'ServiceConnectionRoleCheckV1'];
  /** The first Resource Manager read each task makes. */
  const firstArmRead = (task: TaskName) => (task === 'AcrNetworkRuleSyncV1' ? registryPath : clusterGet);

  const rows: Row[] = [
    ...EVERY_TASK.map((task): Row => ({
      fault: 'ARM 429 with Retry-After 1 s, twice',
      task,
      inject: (s) =>
        void s.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 2, method: 'GET', pathIncludes: firstArmRead(task) }),
      expect: 'success',
      deadlineMs: 30_000,
      check: (_r, s, before) => {
        assert.strictEqual(faultedArm(s, before), 2, 'both throttled answers were met');
        // Honoured: each throttled request sent again only after Retry-After.
        const gaps = retryGapsMs(s, before);
        assert.strictEqual(gaps.length, 2, 'a throttled request was not retried');
        assert.ok(
          gaps.every((ms) => ms >= 950),
          `resent after ${gaps.join(', ')} ms`,
        );
      },
    })),
    {
      fault: 'ARM 429 that never ends: bounded retries, then explained',
      task: 'PrivateAksDeployV1',
      inject: (s) => void s.faults.inject('arm', { status: 429, retryAfterSeconds: 1, times: 50, method: 'GET', pathIncludes: clusterGet }),
      expect: { code: 'ARM_THROTTLED', message: /throttling/ },
      deadlineMs: 40_000,
      check: (_r, s, before) => assert.ok(faultedArm(s, before) <= 6, `${faultedArm(s, before)} attempts`),
    },
    // AcrNetworkRuleSync's reads go through the same SDK retry policy as its 429 row shows; its writes are the lead's concurrency test.
    ...(['PrivateAksDeployV1', 'ServiceConnectionRoleCheckV1'] as TaskName[]).map((task): Row => ({
      fault: 'ARM 500 then 503 burst',
      task,
      inject: (s) => {
        s.faults.inject('arm', { status: 500, times: 1, method: 'GET', pathIncludes: firstArmRead(task) });
        s.faults.inject('arm', { status: 503, times: 1, method: 'GET', pathIncludes: firstArmRead(task) });
      },
      expect: 'success',
      deadlineMs: 40_000,
      check: (_r, s, before) => assert.strictEqual(faultedArm(s, before), 2),
    })),
    {
      fault: 'ARM 503 that never ends: explained',
      task: 'ServiceConnectionRoleCheckV1',
      inject: (s) => void s.faults.inject('arm', { status: 503, retryAfterSeconds: 0, times: 200, method: 'GET' }),
      expect: { code: 'ARM_FAILED', message: /HTTP 503 ServiceUnavailable/ },
      deadlineMs: 60_000,
    },
    {
      fault: 'a long-running operation that fails (run command)',
      task: 'PrivateAksDeployV1',
      inject: (s) => s.azure.arm.failNextOperation('runCommand', { code: 'PodFailed', message: 'command pod could not be scheduled' }),
      expect: { code: 'RUN_COMMAND_FAILED', message: /pod failed before the command ran: command pod could not be scheduled/ },
      deadlineMs: 30_000,
    },
    {
      fault: 'a long-running operation that fails (registry update), then succeeds on the re-read',
      task: 'AcrNetworkRuleSyncV1',
      inject: (s) => s.azure.arm.failNextOperation('registries'),
      expect: 'success',
      deadlineMs: 30_000,
    },
    // Every task signs in through the same credential; AcrNetworkRuleSync shows it in the 'down for good' row.
    ...(['PrivateAksDeployV1', 'ServiceConnectionRoleCheckV1'] as TaskName[]).map((task): Row => ({
      fault: 'token endpoint down for a while (2 dropped connections)',
      task,
      inject: (s) => void s.faults.inject('entra', { dropConnection: true, times: 2, pathIncludes: '/oauth2/v2.0/token' }),
      expect: 'success',
      deadlineMs: 40_000,
    })),
    ...EVERY_TASK.map((task): Row => ({
      fault: 'token endpoint down for good: explained within the token deadline',
      task,
      // The sandbox answers as Entra does when it is briefly unavailable: 503 with AADSTS90033.
      inject: (s) => void s.faults.inject('entra', { status: 503, times: 500, pathIncludes: '/oauth2/v2.0/token' }),
      expect: { code: 'AADSTS90033', message: /transient error.*Run the job again/ },
      deadlineMs: 65_000,
    })),
    ...(['AcrNetworkRuleSyncV1', 'ServiceConnectionRoleCheckV1'] as TaskName[]).map((task): Row => ({
      fault: 'Azure DevOps OIDC endpoint failing once',
      task,
      scheme: 'WorkloadIdentityFederation',
      inject: (s) => void s.faults.inject('oidc', { status: 500, times: 1 }),
      expect: 'success',
      deadlineMs: 30_000,
    })),
    {
      fault: 'DNS SERVFAIL for the private API server name (route direct)',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { route: 'direct' },
      inject: (s) => s.network!.setDnsFault(s.azure.state.cluster('aks-prod').privateFqdn!, { kind: 'servfail' }),
      restore: (s) => s.network!.setDnsFault(s.azure.state.cluster('aks-prod').privateFqdn!, undefined),
      expect: { code: /DNS_UNRESOLVED|PRIVATE_DNS_UNRESOLVED/, message: /privatelink/ },
      deadlineMs: 30_000,
    },
    {
      fault: 'DNS SERVFAIL for the private API server name (route auto: falls back to run command)',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { route: 'auto' },
      inject: (s) => s.network!.setDnsFault(s.azure.state.cluster('aks-prod').privateFqdn!, { kind: 'servfail' }),
      restore: (s) => s.network!.setDnsFault(s.azure.state.cluster('aks-prod').privateFqdn!, undefined),
      expect: 'success',
      deadlineMs: 30_000,
      check: (r) => assert.strictEqual(r.outputs.route, 'runCommand'),
    },
    {
      // A server with a certificate from the cluster's own CA, but for another name, answers at its address.
      fault: 'TLS name mismatch at the API server',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { route: 'direct' },
      inject: async (s) => {
        const api = s.azure.clusters.get('aks-prod')!;
        const cert = api.ca.issueServerCertificate(['other-cluster.privatelink.eastus.azmk8s.io'], []);
        impostor = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => res.writeHead(401).end());
        await new Promise<void>((resolve) => impostor!.listen(0, '127.0.0.1', resolve));
        await pointApiServerAt(s, (impostor.address() as AddressInfo).port);
      },
      restore: async (s) => {
        await pointApiServerAt(s, s.azure.clusters.get('aks-prod')!.port);
        await new Promise((resolve) => impostor?.close(resolve));
      },
      expect: { code: 'TLS_NAME_MISMATCH', message: /other-cluster|does not name|another/ },
      deadlineMs: 30_000,
    },
    {
      fault: 'the API server dropping the connection mid-apply (once)',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { route: 'direct' },
      inject: (s) => {
        changedManifests();
        // The first write of the ConfigMap: a create, or a patch once it exists.
        const exists = !!s.azure.clusters.get('aks-prod')!.store.get('ConfigMap', 'web', 'settings');
        s.faults.inject('aks', { dropConnection: true, times: 1, method: exists ? 'PATCH' : 'POST', pathIncludes: '/configmaps' });
      },
      expect: 'success',
      deadlineMs: 60_000,
      check: (r, s, before) => {
        assert.strictEqual(
          s.requests.slice(before).filter((q) => q.service === 'aks' && q.fault).length,
          1,
          s.requests
            .slice(before)
            .filter((q) => q.service === 'aks')
            .map((q) => `${q.method} ${q.path} ${q.status} ${q.fault ?? ''}`)
            .join('\n'),
        );
        assert.match(r.stdout, /connection to the API server was lost; trying once more/);
      },
    },
    {
      fault: 'the API server dropping every write: explained, nothing half-applied',
      task: 'PrivateAksDeployV1',
      inside: true,
      inputs: { route: 'direct' },
      inject: (s) => {
        changedManifests();
        s.faults.inject('aks', { dropConnection: true, times: 100, method: 'PATCH' });
        s.faults.inject('aks', { dropConnection: true, times: 100, method: 'POST' });
      },
      expect: { code: 'KUBECTL_CONNECTION_LOST', message: /closed in the middle of a request, again after a retry/ },
      deadlineMs: 90_000,
    },
  ];

  for (const row of rows) {
    const title = `${row.fault} → ${row.task}: ${row.expect === 'success' ? 'succeeds' : `explained (${row.expect.code})`} within ${row.deadlineMs / 1000} s`;
    it(title, async function () {
      if (row.inside && !sandbox.network) {
        console.log(`      skipped: the private network needs network namespaces (${sandbox.networkUnavailable})`);
        this.skip();
      }
      const scheme = row.scheme ?? 'ServicePrincipalSecret';
      const env = sandboxJobEnv(sandbox, {
        connectionId: scheme === 'WorkloadIdentityFederation' ? WIF : 'sc-faults',
        scheme,
        principal: scheme === 'WorkloadIdentityFederation' ? 'wif' : 'secret',
        debug: true,
        inputs: {
          ...inputsFor(row.task),
          ...(row.task === 'AcrNetworkRuleSyncV1' ? { ipAddresses: `203.0.113.${10 + rows.indexOf(row)}` } : {}),
          ...row.inputs,
        },
        // The job identity AcrNetworkRuleSync keys its lease on, as the agent sets it.
        variables: {
          'System.PlanId': randomUUID(),
          'System.JobId': randomUUID(),
          'System.TaskInstanceId': randomUUID(),
          'System.JobAttempt': '1',
        },
      });
      const wrap = row.inside ? (c: string, a: string[]) => sandbox.network!.spawnArgs(true, c, a) : undefined;
      const stateBefore = azureStateOf(sandbox);
      const requestsBefore = sandbox.requests.length;
      await row.inject(sandbox);
      let r: TaskRun;
      try {
        r = await runTask(row.task, env, { timeoutMs: row.deadlineMs + 5_000, wrap });
      } finally {
        sandbox.faults.clear();
        await row.restore?.(sandbox);
      }
      assert.ok(!r.timedOut, `hung past ${row.deadlineMs} ms:\n${r.lines.slice(-15).join('\n')}`);
      assert.ok(r.durationMs <= row.deadlineMs, `took ${r.durationMs} ms (deadline ${row.deadlineMs})`);
      if (row.expect === 'success') {
        assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-15).join('\n')}`);
      } else {
        assert.strictEqual(r.result, 'Failed', r.lines.slice(-15).join('\n'));
        const message = r.resultMessage ?? '';
        const { code } = row.expect;
        assert.ok(
          typeof code === 'string' ? message.includes(`[${code}]`) : new RegExp(`\\[(${code.source})\\]`).test(message),
          `expected ${code}: ${message}`,
        );
        if (row.expect.message) assert.match(message, row.expect.message);
        assert.deepStrictEqual(azureStateOf(sandbox), stateBefore, 'a failed run changed Azure');
      }
      row.check?.(r, sandbox, requestsBefore);
      // The post-job step, as the agent runs it after every main step (condition always): it takes a rule
      // the main step added away again, and changes nothing after a failed one; the registry ends as it was.
      const post = await runPostJobStep(row.task, env, r, { timeoutMs: 60_000 });
      if (post) {
        assert.strictEqual(post.result, 'Succeeded', post.lines.slice(-15).join('\n'));
        assert.deepStrictEqual(azureStateOf(sandbox).registries, stateBefore.registries, 'the post-job step left the registry changed');
      }
    });
  }
});
