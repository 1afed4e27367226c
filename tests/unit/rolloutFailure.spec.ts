import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  evidenceCollection,
  evidenceCommands,
  explainRolloutFailure,
  parseEvidence,
  pullContextOf,
  splitRunCommandLog,
  unfinishedWorkloads,
} from '../../tasks/PrivateAksDeployV1/rolloutFailure';
import type { DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { explainImagePull } from '../../shared/azure/acr/imagePullDiagnosis';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';

const plan: DeployPlan = {
  objects: [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { selector: { matchLabels: { app: 'web', tier: 'front' } } },
    } as never,
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'data' }, spec: {} } as never,
  ],
  namespace: 'shop',
  createNamespace: false,
  serverSideApply: false,
  waitForRollout: true,
  rolloutTimeoutSeconds: 60,
};

describe('rolloutFailure: collecting and reading a failed rollout’s evidence', () => {
  it('the workloads waited for, with their pods’ selector; only the unfinished ones when named', () => {
    assert.deepStrictEqual(unfinishedWorkloads(plan), [
      { kind: 'Deployment', name: 'web', namespace: 'shop', selector: 'app=web,tier=front' },
      { kind: 'StatefulSet', name: 'db', namespace: 'data', selector: undefined },
    ]);
    assert.deepStrictEqual(
      unfinishedWorkloads(plan, ['statefulset/db']).map((w) => w.name),
      ['db'],
    );
  });

  it('one get per namespace (kinds only: kubectl refuses type/name mixed with types), logs by selector, each with a request timeout', () => {
    const { get, logs } = evidenceCommands(unfinishedWorkloads(plan));
    assert.deepStrictEqual(get, [
      ['get', 'deployments,replicasets,pods,events', '--namespace', 'shop', '-o', 'json', '--request-timeout=20s'],
      ['get', 'statefulsets,replicasets,pods,events', '--namespace', 'data', '-o', 'json', '--request-timeout=20s'],
    ]);
    assert.strictEqual(logs.length, 1);
    assert.deepStrictEqual(logs[0].slice(0, 5), ['logs', '--selector', 'app=web,tier=front', '--namespace', 'shop']);
    assert.ok(logs[0].includes('--previous') && logs[0].includes('--prefix') && logs[0].includes('--request-timeout=20s'));
  });

  /** Runs the run command's script tail with a fake kubectl: a failed wait, then the collection. */
  function runScript(kubectl: string): { stdout: string; status: number | null } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollout-evidence-'));
    try {
      fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/bash\n${kubectl}\n`, { mode: 0o755 });
      // As runCommandScript.ts runs it: after a failed wait, keeping the wait's exit code.
      const script = `rc=0; false || rc=$?; if [ "$rc" -ne 0 ]; then ${evidenceCollection(unfinishedWorkloads(plan))}; fi; exit $rc`;
      const r = spawnSync('bash', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
      return { stdout: r.stdout, status: r.status };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('run command: the block keeps the wait’s exit code, and the log splits into what is shown and the evidence', () => {
    const { stdout, status } = runScript(`case "$1" in get) echo '{"kind":"List","items":[]}';; logs) echo '[pod/web-1/main] boom';; esac`);
    assert.strictEqual(status, 1);
    const { shown, evidence } = splitRunCommandLog(`deployment.apps/web configured\n${stdout}after\n`);
    assert.strictEqual(shown, 'deployment.apps/web configured\nafter\n');
    assert.deepStrictEqual(evidence, {
      lists: ['{"kind":"List","items":[]}\n', '{"kind":"List","items":[]}\n'],
      logs: '[pod/web-1/main] boom\n',
    });
  });

  it('a warning kubectl printed before the JSON (stderr shares the run command log) does not make the evidence unreadable', () => {
    const list = JSON.stringify({ kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'p' } }] }, null, 2);
    assert.deepStrictEqual(parseEvidence({ lists: [`Warning: events.k8s.io/v1beta1 is deprecated\n${list}\n`], logs: '' })?.items, [
      { kind: 'Pod', metadata: { name: 'p' } },
    ]);
  });

  it('run command: a get that fails is unreadable, with kubectl’s last line', () => {
    const { stdout } = runScript(`echo 'Error from server (Forbidden): pods is forbidden: User "x" cannot list' >&2; exit 1`);
    const { evidence } = splitRunCommandLog(stdout);
    assert.strictEqual(evidence?.unreadable, 'Error from server (Forbidden): pods is forbidden: User "x" cannot list');
    assert.deepStrictEqual(evidence?.lists, []);
  });

  it('a log without the block has no evidence; a block cut short (size-limited log) is unreadable', () => {
    assert.deepStrictEqual(splitRunCommandLog('applied\n'), { shown: 'applied\n' });
    const { stdout } = runScript(`echo '{"kind":"List","items":[]}'`);
    const cut = stdout.slice(0, stdout.indexOf('logs====='));
    assert.strictEqual(splitRunCommandLog(cut).evidence?.unreadable, 'the run command log was cut short');
  });

  it('registryName: the login server in the connection’s cloud, and the registry’s resource id (from the preflight) as the AcrPull scope', () => {
    const facts = { name: 'aks', kubeletObjectId: '00000000-0000-0000-0000-00000000000k' } as ClusterFacts;
    const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contoso';
    // cloud.ts: AzureUSGovernment's registries are *.azurecr.us (cloud.py acr_login_server_endpoint).
    const pull = pullContextOf(facts, 'Contoso', { environment: 'AzureUSGovernment', resourceId: id });
    assert.deepStrictEqual(pull.registries, [{ loginServer: 'contoso.azurecr.us', resourceId: id }]);
    const why = explainImagePull('contoso.azurecr.us/shop/web:1', 'failed to authorize: 401 Unauthorized', pull);
    assert.strictEqual(why.code, 'ACR_PULL_UNAUTHORIZED');
    assert.ok(why.fix.includes(`--scope ${id}`), why.fix);
    // Without the preflight's read: the public cloud's suffix, and the fix finds the scope with az acr show.
    assert.deepStrictEqual(pullContextOf(facts, 'contoso').registries, [{ loginServer: 'contoso.azurecr.io', resourceId: undefined }]);
  });

  it('no evidence, unparsable evidence or no findings: the original failure stands; findings replace it with the top one', () => {
    const original = new Error('deployment "web" exceeded its progress deadline');
    const pull = { registries: [], clusterName: 'aks' };
    const workloads = unfinishedWorkloads(plan, ['deployment/web']);
    const pages: string[] = [];
    assert.strictEqual(
      explainRolloutFailure(original, workloads, undefined, pull, (m) => pages.push(m)),
      original,
    );
    assert.strictEqual(
      explainRolloutFailure(original, workloads, { lists: ['{not json'], logs: '' }, pull, (m) => pages.push(m)),
      original,
    );
    const empty = JSON.stringify({ kind: 'List', items: [{ kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' } }] });
    assert.strictEqual(
      explainRolloutFailure(original, workloads, { lists: [empty], logs: '' }, pull, (m) => pages.push(m)),
      original,
    );
    assert.strictEqual(pages.length, 0);

    const rs = {
      kind: 'ReplicaSet',
      metadata: { name: 'web-abc', namespace: 'shop', ownerReferences: [{ kind: 'Deployment', name: 'web' }] },
    };
    const pod = {
      kind: 'Pod',
      metadata: { name: 'web-abc-x', namespace: 'shop', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc' }] },
      status: {
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' },
        ],
      },
    };
    const err = explainRolloutFailure(
      original,
      workloads,
      { lists: [JSON.stringify({ kind: 'List', items: [rs, pod] })], logs: '' },
      pull,
      (m) => pages.push(m),
    );
    assert.ok(err instanceof ExplainedError);
    assert.strictEqual(err.code, 'UNSCHEDULABLE');
    assert.strictEqual(err.what, 'Rolling out Deployment/web');
    assert.strictEqual(pages.length, 1);
    assert.match(pages[0], /## Why the rollout failed/);
    assert.match(pages[0], /❌ UNSCHEDULABLE/);
  });
});
