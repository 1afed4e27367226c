import * as assert from 'assert';
import { randomBytes } from 'crypto';
import { startSandbox, type Sandbox } from '../sandbox';
import { MAX_ARM_REQUEST_BYTES } from '../sandbox/arm/arm';
import { DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { leakedSecrets, loggedText, runTask, type TaskRun } from '../support/taskRun';
import { uploadedSummaries } from '../support/uploadedSummaries';
import { rawRequest } from '../support/rawRequest';
import { contextArchive } from '../../tasks/PrivateAksDeployV1/runCommandRoute';
import * as fs from 'fs';

type Route = 'direct' | 'runCommand';

const GOOD = 'nginx:1.25';
/** The sandbox's kubelet reports this public image `not found` (workloads.missingImages). */
const MISSING = 'nginx:does-not-exist';

function deployment(name: string, image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: main
          image: ${image}
`;
}

function configMap(name: string, data: Record<string, string> = { mode: 'prod' }, namespace?: string): string {
  const ns = namespace ? `\n  namespace: ${namespace}` : '';
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}${ns}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: ${v}`)
    .join('\n')}\n`;
}

const join = (...docs: string[]) => docs.join('---\n');

/**
 * rollbackOnFailure, action: delete, run command batches over Resource Manager's request limit, and
 * one rollout deadline on the run command route: PrivateAksDeploy with the real kubectl against the
 * sandbox cluster, on both routes (direct from inside the VNet, run command from outside).
 */
describe('PrivateAksDeploy: rollback, delete, run command at scale, one rollout deadline', function () {
  this.timeout(240_000);
  let sandbox: Sandbox;
  const runs: TaskRun[] = [];

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }, { name: 'admin' }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: [
          ...deployerAssignments('deployer'),
          ...deployerAssignments('deployer', 'aks-slow'),
          { principal: 'admin', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'admin', role: 'Azure Kubernetes Service RBAC Cluster Admin', scope: 'cluster:aks-prod' },
          { principal: 'admin', role: RUN_COMMAND_INVOKER.name, scope: 'cluster:aks-prod' },
        ],
        clusters: [
          {
            name: 'aks-prod',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
            workloads: { progressDeadlineSeconds: 3, missingImages: [MISSING] },
          },
          // Rollouts that never finish: only the deadline ends the wait.
          {
            name: 'aks-slow',
            resourceGroup: 'rg-aks',
            private: true,
            disableLocalAccounts: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 'never',
          },
        ],
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: route direct needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
  });

  after(async () => {
    if (!sandbox?.network) return;
    const leaks = runs.flatMap((r) => leakedSecrets(loggedText(r.stdout, r.stderr), sandbox.issuedSecrets()));
    await sandbox.stop();
    assert.deepStrictEqual(leaks, [], 'secrets leaked into task output');
  });

  async function run(route: Route, manifests: string, inputs: Record<string, string> = {}, principal = 'deployer'): Promise<TaskRun> {
    writeDemoManifests(sandbox, manifests);
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal,
      inputs: { ...DEPLOY_INPUTS, route, ...inputs },
    });
    const network = sandbox.network!;
    // Direct: an agent inside the cluster's VNet; run command: one outside it.
    const r = await runTask('PrivateAksDeployV1', env, { wrap: (c, a) => network.spawnArgs(route === 'direct', c, a), timeoutMs: 150_000 });
    runs.push(r);
    assert.ok(!r.timedOut, `the task hung:\n${r.stdout}`);
    return r;
  }

  const store = (cluster = 'aks-prod') => sandbox.azure.clusters.get(cluster)!.store;
  const imageOf = (name: string) =>
    (store().get('Deployment', 'web', name) as { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined)?.spec
      .template.spec.containers[0].image;
  const generationOf = (name: string) =>
    (store().get('Deployment', 'web', name) as { metadata: { generation?: number } } | undefined)?.metadata.generation;

  for (const route of ['direct', 'runCommand'] as const) {
    describe(`route ${route}`, () => {
      const app = `app-${route.toLowerCase()}`;
      const fresh = `new-${route.toLowerCase()}`;

      it('rollbackOnFailure: a failed rollout goes back to the previous revision, reported; a workload the run created is left', async () => {
        const first = await run(route, deployment(app, GOOD), { rollbackOnFailure: 'true' });
        assert.strictEqual(first.result, 'Succeeded', first.stdout);
        assert.ok(!('rolledBack' in first.outputs), 'rolledBack set on a run whose rollout succeeded');
        const generation = generationOf(app)!;

        const r = await run(route, join(deployment(app, MISSING), deployment(fresh, MISSING)), { rollbackOnFailure: 'true' });
        assert.strictEqual(r.result, 'Failed', r.stdout);
        // The rollout's own failure, as kubectl reported it (deployment "x" exceeded its progress deadline).
        assert.match(r.stdout, new RegExp(`deployment "${app}" exceeded its progress deadline`));
        assert.match(r.resultMessage ?? '', new RegExp(`Rolled back to the previous revision: deployment/${app} in web\\.`));
        assert.match(r.resultMessage ?? '', new RegExp(`Created by this run and left in place: deployment/${fresh} in web\\.`));
        // In the cluster: the template of the previous revision again (kubectl rollout undo).
        assert.strictEqual(imageOf(app), GOOD);
        // Two template changes after the first run's: the failed one and the undo.
        assert.strictEqual(generationOf(app), generation + 2);
        assert.strictEqual(imageOf(fresh), MISSING, 'the workload this run created was changed');
        assert.deepStrictEqual(JSON.parse(r.outputs.rolledBack), [{ kind: 'Deployment', namespace: 'web', name: app, rolledOut: true }]);
        const page = uploadedSummaries(r.stdout).find((s) => s.title.includes('rollback'));
        assert.ok(page, 'no rollback summary page');
        const markdown = fs.readFileSync(page.file, 'utf8');
        assert.match(markdown, new RegExp(`\`${app}\` \\| ✅ rolled back`));
        assert.match(markdown, new RegExp(`\`${fresh}\` \\| created by this run, left in place`));
      });

      it('without rollbackOnFailure a failed rollout is left as it is', async () => {
        const name = `${app}-keep`;
        assert.strictEqual((await run(route, deployment(name, GOOD))).result, 'Succeeded');
        const r = await run(route, deployment(name, MISSING));
        assert.strictEqual(r.result, 'Failed', r.stdout);
        assert.doesNotMatch(r.resultMessage ?? '', /Rolled back/);
        assert.ok(!('rolledBack' in r.outputs));
        assert.doesNotMatch(r.stdout, /rollout undo/);
        assert.strictEqual(imageOf(name), MISSING);
      });

      it('action delete removes exactly the manifests objects and reports the ones that were not there', async () => {
        const cm = `cm-${route.toLowerCase()}`;
        const keep = `bystander-${route.toLowerCase()}`;
        const dep = `del-${route.toLowerCase()}`;
        const applied = await run(route, join(configMap(cm), configMap(keep), deployment(dep, GOOD)));
        assert.strictEqual(applied.result, 'Succeeded', applied.stdout);
        const r = await run(route, join(configMap(cm), deployment(dep, GOOD), configMap(`never-${route.toLowerCase()}`)), {
          action: 'delete',
        });
        assert.strictEqual(r.result, 'Succeeded', r.stdout);
        assert.strictEqual(store().get('ConfigMap', 'web', cm), undefined);
        assert.strictEqual(store().get('Deployment', 'web', dep), undefined);
        assert.ok(store().get('ConfigMap', 'web', keep), 'an object not in the manifests was deleted');
        assert.deepStrictEqual(JSON.parse(r.outputs.deletedObjects), [
          { kind: 'ConfigMap', namespace: 'web', name: cm },
          { kind: 'Deployment', namespace: 'web', name: dep },
        ]);
        assert.ok(r.lines.includes(`Not found (nothing to delete): ConfigMap web/never-${route.toLowerCase()}`), r.stdout);
        assert.ok(
          r.lines.some((l) => /^Deleted 2 object\(s\) from aks-prod via .*; 1 not found\.$/.test(l)),
          r.stdout,
        );
        assert.ok(!('appliedObjects' in r.outputs));
        assert.strictEqual(r.outputs.route, route);
        assert.ok(r.lines.includes('3 object(s) to delete.'), r.stdout);
      });
    });
  }

  it('route runCommand: a batch over the 4 MB request limit goes in parts, namespaces first, and is applied completely', async () => {
    // Random data does not compress: 24 ConfigMaps of 200 KB are about 6.4 MB of request, base64 of a zip.
    const maps = Array.from({ length: 24 }, (_, i) => configMap(`bulk-${i}`, { blob: randomBytes(150_000).toString('base64') }, 'bulk'));
    const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk\n';
    const before = sandbox.requests.filter((q) => q.service === 'arm' && q.method === 'POST' && q.path.endsWith('/runCommand')).length;
    const r = await run('runCommand', join(...maps, namespace), { namespace: '' }, 'admin');
    assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-30).join('\n')}`);
    const posts = sandbox.requests
      .filter((q) => q.service === 'arm' && q.method === 'POST' && q.path.endsWith('/runCommand'))
      .slice(before);
    const parts = Number(/in (\d+) parts, namespaces and CRDs first/.exec(r.stdout)?.[1]);
    assert.ok(parts >= 3, r.stdout);
    assert.strictEqual(posts.length, parts, 'one run command invocation per part');
    assert.ok(
      posts.every((q) => q.status === 202),
      `a part was refused: ${posts.map((q) => q.status).join(',')}`,
    );
    assert.match(r.stdout, /Run command part 1 of \d+: 1 object\(s\)\./);
    for (let i = 0; i < 24; i++) assert.ok(store().get('ConfigMap', 'bulk', `bulk-${i}`), `bulk-${i} missing`);
    assert.strictEqual(Number(MAX_ARM_REQUEST_BYTES), 4 * 1024 * 1024);
  });

  it('route runCommand: a workload in an early part is waited for by the last part, diagnosed, and reported created by the rollback', async () => {
    // The Deployment goes in the first part after the namespace; the last part holds only ConfigMaps.
    const bad = deployment('parted-bad', MISSING).replace('name: parted-bad\n', 'name: parted-bad\n  namespace: web\n');
    const maps = Array.from({ length: 24 }, (_, i) =>
      configMap(`parted-${i}`, { blob: randomBytes(150_000).toString('base64') }, 'parted'),
    );
    const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: parted\n';
    const r = await run('runCommand', join(bad, ...maps, namespace), { namespace: '', rollbackOnFailure: 'true' }, 'admin');
    assert.ok(Number(/in (\d+) parts, namespaces and CRDs first/.exec(r.stdout)?.[1]) >= 3, r.stdout);
    assert.strictEqual(r.result, 'Failed', `the last part did not wait for deployment/parted-bad:\n${r.lines.slice(-30).join('\n')}`);
    assert.match(r.resultMessage ?? '', /parted-bad/);
    assert.match(r.stdout, /Why the rollout failed:/);
    // Its created marker came from an earlier part's log.
    assert.match(r.resultMessage ?? '', /Created by this run and left in place: deployment\/parted-bad in web\./);
  });

  it('route runCommand: prune with a batch that must go in parts is refused before anything is sent', async () => {
    const maps = Array.from({ length: 24 }, (_, i) => configMap(`pruned-${i}`, { blob: randomBytes(150_000).toString('base64') }));
    const count = () => sandbox.requests.filter((q) => q.service === 'arm' && q.method === 'POST' && q.path.endsWith('/runCommand')).length;
    const before = count();
    const r = await run('runCommand', join(...maps), { prune: 'true', pruneSelector: 'owner=pad-parts' }, 'admin');
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.match(r.resultMessage ?? '', /\[PRUNE_NEEDS_ONE_REQUEST\]/);
    assert.match(r.resultMessage ?? '', /route: direct/);
    assert.strictEqual(count(), before, 'a run command was sent');
  });

  it('the sandbox refuses a run command request over the limit (413), as Resource Manager does', async () => {
    // What the task did before: the whole batch in one request.
    const big = contextArchive({ 'manifests.yaml': randomBytes(3_200_000).toString('base64') });
    assert.ok(big.length > MAX_ARM_REQUEST_BYTES);
    const p = sandbox.principal('admin');
    const token = await rawRequest(sandbox, `${sandbox.authorityHost}/${sandbox.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: p.clientId,
        client_secret: p.secret!,
        scope: 'https://management.azure.com/.default',
      }).toString(),
    });
    assert.strictEqual(token.status, 200, token.text);
    const url = `${sandbox.resourceManagerUrl}subscriptions/${sandbox.scenario.subscriptionId}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod/runCommand?api-version=2024-09-01`;
    const send = (context: string) =>
      rawRequest(sandbox, url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.json<{ access_token: string }>().access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'true', context }),
      });
    const refused = await send(big);
    assert.strictEqual(refused.status, 413, refused.text);
    assert.strictEqual(refused.json().error.code, 'RequestEntityTooLarge');
    assert.strictEqual((await send(contextArchive({ 'manifests.yaml': 'x' }))).status, 202);
  });

  it('route runCommand: two workloads that never finish fail after rolloutTimeoutSeconds for both, not twice that', async () => {
    const T = 10;
    const started = Date.now();
    const r = await run('runCommand', join(deployment('slow-a', GOOD), deployment('slow-b', GOOD)), {
      clusterName: 'aks-slow',
      rolloutTimeoutSeconds: String(T),
    });
    const seconds = (Date.now() - started) / 1000;
    assert.strictEqual(r.result, 'Failed', r.stdout);
    assert.match(r.resultMessage ?? '', /\[KUBECTL_TIMEOUT\]/);
    assert.match(
      r.resultMessage ?? '',
      new RegExp(
        `within rolloutTimeoutSeconds \\(${T} s for all workloads together\\); still waiting for deployment/slow-a, deployment/slow-b`,
      ),
    );
    assert.ok(seconds >= T, `${seconds} s`);
    assert.ok(seconds < 2 * T, `the waits did not share one deadline: ${seconds} s`);
  });
});
