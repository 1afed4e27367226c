import * as assert from 'assert';
import * as fs from 'fs';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';
import { uploadedSummaries } from '../support/uploadedSummaries';

/**
 * Why a rollout failed, from the cluster's own evidence, on both routes, with the real kubectl: the
 * sandbox's kubelet, scheduler and controllers leave the evidence (tests/sandbox/README.md, Workloads;
 * the texts are kubelet's, containerd's, the scheduler's, Gatekeeper's and ResourceQuota admission's,
 * sources in tests/sandbox/kubernetes/workloads.ts and acr/acrPull.ts), and the task's message must
 * say what the evidence says.
 */
const NODE_EGRESS = '20.62.100.10';
const CASES = ['pull401', 'pull403', 'notag', 'crash', 'cpu', 'policy', 'quota', 'healthy', 'unread'] as const;
const ROUTES = [
  { route: 'direct', prefix: 'd' },
  { route: 'runCommand', prefix: 'r' },
] as const;

function manifest(image: string, o: { replicas?: number; cpu?: string } = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: ${o.replicas ?? 1}
  selector:
    matchLabels: { app: app }
  template:
    metadata:
      labels: { app: app }
    spec:
      containers:
        - name: main
          image: ${image}
${o.cpu ? `          resources:\n            requests:\n              cpu: "${o.cpu}"\n` : ''}`;
}

describe('PrivateAksDeploy: why a rollout failed, on both routes', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  const namespaces = ROUTES.flatMap(({ prefix }) => CASES.map((c) => `${prefix}-${c}`));

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }, { name: 'kubelet', managedIdentity: true }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: [
          { principal: 'deployer', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployer', role: RUN_COMMAND_INVOKER.name, scope: 'cluster:aks-prod' },
          ...namespaces.map((ns) => ({
            principal: 'deployer',
            role: 'Azure Kubernetes Service RBAC Writer',
            scope: `cluster:aks-prod/namespaces/${ns}`,
          })),
          { principal: 'kubelet', role: 'AcrPull', scope: 'registry:contosoacr' },
          { principal: 'kubelet', role: 'AcrPull', scope: 'registry:lockedacr' },
        ],
        clusters: [
          {
            name: 'aks-prod',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces,
            rolloutDelaySeconds: 0,
            kubeletIdentity: 'kubelet',
            acrPullChecks: true,
            nodeEgressIp: NODE_EGRESS,
            policyConstraints: [{ template: 'k8sazurev2containerallowedimages', imageRegex: '^(?!untrusted/).*$' }],
            resourceQuotas: ROUTES.map(({ prefix }) => ({ namespace: `${prefix}-quota`, name: 'pods-quota', hard: { pods: '1' } })),
            workloads: {
              progressDeadlineSeconds: 3,
              crashingImages: [
                { image: 'ghcr.io/contoso/worker:2.0.0', exitCode: 3, logs: ['starting worker', 'fatal: DATABASE_URL is not set'] },
              ],
            },
          },
        ],
        registries: [
          { name: 'contosoacr', resourceGroup: 'rg-acr', ipRules: [NODE_EGRESS], images: ['web:1.0.0'] },
          { name: 'lockedacr', resourceGroup: 'rg-acr', ipRules: ['198.51.100.7'] },
          { name: 'norolesacr', resourceGroup: 'rg-acr', defaultAction: 'Allow' },
        ],
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: the private network needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
  });

  afterEach(() => sandbox?.faults.clear());
  after(async () => sandbox?.stop());

  async function deploy(
    route: 'direct' | 'runCommand',
    namespace: string,
    text: string,
    inputs: Record<string, string> = {},
  ): Promise<TaskRun> {
    writeDemoManifests(sandbox, text);
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal: 'deployer',
      inputs: { ...DEPLOY_INPUTS, route, namespace, rolloutTimeoutSeconds: '25', ...inputs },
    });
    const network = sandbox.network!;
    const r = await runTask('PrivateAksDeployV1', env, { wrap: (c, a) => network.spawnArgs(true, c, a), timeoutMs: 150_000 });
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  /** The task failed with `code`; its message, the log's findings and the summary section are returned for more checks. */
  function failedWith(r: TaskRun, code: string): { message: string; log: string; summary: string } {
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.ok(r.resultMessage?.startsWith('Rolling out Deployment/app failed'), r.resultMessage);
    assert.ok(r.resultMessage?.includes(`[${code}]`), `expected ${code}: ${r.resultMessage}\n${r.stdout}`);
    const log = r.lines.join('\n');
    assert.match(log, /Why the rollout failed:/);
    assert.match(log, new RegExp(`\\[${code}\\] Deployment/app`));
    // The raw evidence never reaches the user's log.
    assert.doesNotMatch(r.stdout, /rollout-evidence|"kind": "List"|"apiVersion": "v1"/);
    const page = uploadedSummaries(r.stdout).find((s) => s.title === 'Private AKS deploy');
    assert.ok(page, 'a summary page');
    const summary = fs.readFileSync(page.file, 'utf8');
    assert.match(summary, /## Why the rollout failed/);
    assert.match(summary, new RegExp(`❌ ${code}`));
    return { message: r.resultMessage!, log, summary };
  }

  for (const { route, prefix } of ROUTES) {
    describe(`route ${route}`, () => {
      it('image pull 401: the kubelet identity has no AcrPull on the registry → ACR_PULL_UNAUTHORIZED with the assignment command', async () => {
        const r = await deploy(route, `${prefix}-pull401`, manifest('norolesacr.azurecr.io/web:1.0.0'), { registryName: 'norolesacr' });
        const { message } = failedWith(r, 'ACR_PULL_UNAUTHORIZED');
        assert.match(
          message,
          /norolesacr\.azurecr\.io refused the nodes of 'aks-prod' \(401\): the cluster's kubelet identity has no AcrPull role/,
        );
        // The kubelet identity's object id from Resource Manager (identityProfile.kubeletidentity).
        assert.ok(message.includes(`--assignee-object-id ${sandbox.principal('kubelet').objectId}`), message);
      });

      it('image pull 403: the registry firewall does not admit the nodes → ACR_PULL_NETWORK_DENIED', async () => {
        const r = await deploy(route, `${prefix}-pull403`, manifest('lockedacr.azurecr.io/web:1.0.0'));
        const { message } = failedWith(r, 'ACR_PULL_NETWORK_DENIED');
        assert.match(message, /lockedacr\.azurecr\.io refused the nodes' network \(403\)/);
        assert.match(message, /az acr network-rule add --name lockedacr/);
      });

      it('a tag the registry does not hold → IMAGE_NOT_FOUND', async () => {
        const r = await deploy(route, `${prefix}-notag`, manifest('contosoacr.azurecr.io/web:9.9.9'));
        const { message } = failedWith(r, 'IMAGE_NOT_FOUND');
        assert.match(message, /The image contosoacr\.azurecr\.io\/web:9\.9\.9 does not exist on contosoacr\.azurecr\.io: no tag 9\.9\.9/);
      });

      it('crash loop → CRASH_LOOP with the exit code and the last log line', async () => {
        const r = await deploy(route, `${prefix}-crash`, manifest('ghcr.io/contoso/worker:2.0.0'));
        const { message, log } = failedWith(r, 'CRASH_LOOP');
        assert.match(
          message,
          /Container 'main' keeps exiting with code 3 \(Error\), restarted \d+ time\(s\); its last lines: .*fatal: DATABASE_URL is not set/,
        );
        assert.match(log, /\| fatal: DATABASE_URL is not set/);
      });

      it('unschedulable (insufficient cpu) → UNSCHEDULABLE with the scheduler’s message', async () => {
        const r = await deploy(route, `${prefix}-cpu`, manifest('contosoacr.azurecr.io/web:1.0.0', { cpu: '4' }));
        const { message } = failedWith(r, 'UNSCHEDULABLE');
        assert.match(message, /No node can take the pods of Deployment\/app: 0\/3 nodes are available: 3 Insufficient cpu\./);
        assert.match(message, /Lower the containers’ resource requests, or add nodes/);
      });

      it('pods denied by Azure Policy at creation → POD_CREATE_DENIED naming the policy', async () => {
        const r = await deploy(route, `${prefix}-policy`, manifest('untrusted/tool:1'));
        const { message } = failedWith(r, 'POD_CREATE_DENIED');
        assert.match(message, /\(policy azurepolicy-k8sazurev2containerallowedima[a-z]*-[0-9a-f]{20}\)/);
        assert.match(message, /Container image untrusted\/tool:1 for container main has not been allowed\./);
        assert.match(message, /comply with the Azure Policy named/);
      });

      it('pod quota exceeded → POD_QUOTA_EXCEEDED with the quota’s message', async () => {
        const r = await deploy(route, `${prefix}-quota`, manifest('contosoacr.azurecr.io/web:1.0.0', { replicas: 2 }));
        const { message } = failedWith(r, 'POD_QUOTA_EXCEEDED');
        assert.match(message, /exceeded quota: pods-quota, requested: pods=1, used: pods=1, limited: pods=1/);
      });

      it('evidence that cannot be read (pods forbidden): one line says so, and the task fails with the rollout’s own error', async () => {
        const ns = `${prefix}-unread`;
        // What the API server answers a list it does not authorize (k8s.io/apiserver responsewriters.ForbiddenStatus).
        const reason = `pods is forbidden: User "deployer" cannot list resource "pods" in API group "" in the namespace "${ns}"`;
        const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: reason, reason: 'Forbidden', code: 403 };
        sandbox.faults.inject('aks', { status: 403, method: 'GET', pathIncludes: `/namespaces/${ns}/pods`, body, times: 20 });
        const r = await deploy(route, ns, manifest('ghcr.io/contoso/worker:2.0.0'));
        assert.strictEqual(r.result, 'Failed', r.stdout);
        assert.match(r.lines.join('\n'), /Could not read the cluster's evidence of why the rollout failed \(.*pods is forbidden/);
        assert.doesNotMatch(r.stdout, /Why the rollout failed:/);
        assert.doesNotMatch(r.resultMessage ?? '', /CRASH_LOOP/);
        assert.match(r.resultMessage ?? '', /exceeded its progress deadline|\[RUN_COMMAND_FAILED\]/);
      });

      it('a healthy deploy reads no evidence: no pods, ReplicaSets, events or logs requested', async () => {
        const ns = `${prefix}-healthy`;
        const before = sandbox.requests.length;
        const r = await deploy(route, ns, manifest('contosoacr.azurecr.io/web:1.0.0', { replicas: 2 }));
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        const reads = sandbox.requests
          .slice(before)
          .filter((q) => q.service === 'aks' && q.path.includes(`/namespaces/${ns}/`) && /\/(pods|replicasets|events)\b/.test(q.path));
        assert.deepStrictEqual(reads, []);
        // The filter sees this namespace's requests: the apply and the rollout wait went there.
        assert.ok(sandbox.requests.slice(before).some((q) => q.path.includes(`/namespaces/${ns}/deployments`)));
        assert.doesNotMatch(r.stdout, /Why the rollout failed/);
      });
    });
  }
});
