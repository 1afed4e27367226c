import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { deployDirect } from '../../tasks/PrivateAksDeployV1/directRoute';
import type { DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/**
 * The direct route's waits against a stand-in kubectl whose `rollout status` takes 2 s per
 * workload and, like kubectl, gives up at its --timeout with "timed out waiting for the condition".
 */
describe('direct route: rolloutTimeoutSeconds', function () {
  this.timeout(30_000);
  let dir: string;
  let kubectl: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-route-'));
    kubectl = path.join(dir, 'kubectl');
    fs.writeFileSync(
      kubectl,
      [
        '#!/bin/bash',
        'if [ "$1" = rollout ]; then',
        '  t=$(printf "%s\\n" "$@" | sed -n "s/^--timeout=\\([0-9]*\\)s$/\\1/p")',
        '  if [ "$t" -lt 2 ]; then sleep "$t"; echo "error: timed out waiting for the condition" >&2; exit 1; fi',
        '  sleep 2; echo "$3 successfully rolled out"; exit 0',
        'fi',
        'echo applied',
      ].join('\n'),
      { mode: 0o755 },
    );
    // A kubeconfig as AKS returns one (kubectl's environment is derived from its API server for the proxy settings).
    fs.writeFileSync(
      path.join(dir, 'kubeconfig'),
      'apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://aks.example:443\ncontexts:\n- name: aks\n  context:\n    cluster: aks\n    user: u\ncurrent-context: aks\nusers:\n- name: u\n  user:\n    token: not-used\n',
      { mode: 0o600 },
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const deployment = (name: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: {} });
  const plan = (rolloutTimeoutSeconds: number): DeployPlan => ({
    objects: [deployment('a'), deployment('b'), deployment('c')],
    namespace: 'web',
    createNamespace: false,
    serverSideApply: false,
    waitForRollout: true,
    rolloutTimeoutSeconds,
  });
  const options = () => ({
    kubectl,
    kubeconfigPath: path.join(dir, 'kubeconfig'),
    env: {},
    applyDeadlineMs: 10_000,
    failureContext: { server: 'https://aks.example:443', clusterName: 'aks', azureRbac: true },
  });

  it('is one deadline for all workloads: three 2 s rollouts do not fit in 3 s', async () => {
    const started = Date.now();
    await assert.rejects(deployDirect(plan(3), options()), (err: unknown) => {
      assert.ok(err instanceof ExplainedError, String(err));
      assert.strictEqual(err.code, 'KUBECTL_TIMEOUT');
      assert.match(
        err.reason,
        /did not finish within rolloutTimeoutSeconds \(3 s for all workloads together\); still waiting for deployment\/b, deployment\/c/,
      );
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took < 5_000, `gave up after ${took} ms`);
  });

  it('succeeds when all rollouts fit in the one deadline', async () => {
    await deployDirect(plan(10), options());
  });

  it('an old kubectl that lacks a flag the task passes: names the flag and the version it needs', async () => {
    // What kubectl 1.25 prints for --prune-allowlist (cobra/pflag's unknown-flag error and kubectl's usage hint).
    const old = path.join(dir, 'kubectl-1.25');
    fs.writeFileSync(
      old,
      [
        '#!/bin/bash',
        'echo "error: unknown flag: --prune-allowlist" >&2',
        'echo "See \'kubectl apply --help\' for usage." >&2',
        'exit 1',
      ].join('\n'),
      { mode: 0o755 },
    );
    await assert.rejects(deployDirect({ ...plan(10), pruneSelector: 'app=shop' }, { ...options(), kubectl: old }), (err: unknown) => {
      assert.ok(err instanceof ExplainedError, String(err));
      assert.strictEqual(err.code, 'KUBECTL_TOO_OLD');
      assert.match(err.message, /does not know the flag --prune-allowlist, which the task passes \(kubectl 1\.26 added it\)/);
      assert.match(
        err.message,
        /Install kubectl 1\.27 or later: a KubectlInstaller@0 step before this task, or point kubectlPath at a newer kubectl/,
      );
      return true;
    });
  });
});
