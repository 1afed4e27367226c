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

/**
 * rollbackOnFailure, serverDryRunFirst with createNamespace, and the command lines shown, against a
 * stand-in kubectl that records each call (and what it got on stdin) and plays the cluster's side:
 * a rollout that fails with kubectl's "exceeded its progress deadline", a pod template that changes
 * across the apply (or not), an undo that loses its connection, and a server-side dry run that
 * answers NotFound for objects in a namespace that does not exist yet, as the API server does
 * (a dry run stores nothing: kubectl apply --dry-run=server, dryRun=All).
 */
describe('direct route: rollback, dry run into a new namespace, the lines shown', function () {
  this.timeout(30_000);
  let dir: string;
  let kubectl: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-route-'));
    kubectl = path.join(dir, 'kubectl');
    fs.writeFileSync(
      kubectl,
      [
        '#!/bin/bash',
        'd="$STANDIN"',
        'echo "$*" >> "$d/calls"',
        'stdin=""; if printf "%s\\n" "$@" | grep -qx -- "-"; then stdin=$(cat); fi',
        'case "$1 $2" in',
        '  "get "*) n=$(( $(cat "$d/gets" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$d/gets"',
        '    if [ -f "$d/same" ]; then echo "T"; else echo "T$n"; fi ;;',
        '  "rollout status") echo "error: deployment \\"a\\" exceeded its progress deadline" >&2; exit 1 ;;',
        '  "rollout undo") echo "error: http2: client connection lost" >&2; exit 1 ;;',
        '  "apply "*)',
        '    if printf "%s\\n" "$@" | grep -qx -- "--dry-run=server"; then',
        '      if [ ! -f "$d/namespace" ]; then echo "Error from server (NotFound): error when creating \\"manifests.yaml\\": namespaces \\"web\\" not found" >&2; exit 1; fi',
        '      echo "configmap/settings created (server dry run)"; exit 0',
        '    fi',
        '    if printf "%s" "$stdin" | grep -q Namespace; then touch "$d/namespace"; fi',
        '    echo "deployment.apps/a configured" ;;',
        'esac',
      ].join('\n'),
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(dir, 'kubeconfig'),
      'apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: https://aks.example:443\ncontexts:\n- name: aks\n  context:\n    cluster: aks\n    user: u\ncurrent-context: aks\nusers:\n- name: u\n  user:\n    token: not-used\n',
      { mode: 0o600 },
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const plan = (p: Partial<DeployPlan> = {}): DeployPlan => ({
    objects: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a' }, spec: {} }],
    namespace: 'web',
    createNamespace: false,
    serverSideApply: false,
    waitForRollout: true,
    rolloutTimeoutSeconds: 10,
    ...p,
  });
  const options = () => ({
    kubectl,
    kubeconfigPath: path.join(dir, 'kubeconfig'),
    env: { STANDIN: dir },
    applyDeadlineMs: 10_000,
    failureContext: { server: 'https://aks.example:443', clusterName: 'aks', azureRbac: true },
  });
  const calls = () => fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n');

  /** What the task wrote to stdout (its log lines and logging commands) while `work` ran. */
  async function output(work: () => Promise<unknown>): Promise<{ text: string; error: unknown }> {
    const write = process.stdout.write.bind(process.stdout);
    let text = '';
    process.stdout.write = ((chunk: string | Uint8Array) => {
      text += chunk.toString();
      return true;
    }) as typeof process.stdout.write;
    try {
      await work();
      return { text, error: undefined };
    } catch (error) {
      return { text, error };
    } finally {
      process.stdout.write = write;
    }
  }

  it('a failed undo is run once (not idempotent), reported, and the rollout failure stays the error', async () => {
    const { text, error } = await output(() => deployDirect(plan({ rollbackOnFailure: true }), options()));
    assert.ok(error instanceof ExplainedError, String(error));
    assert.strictEqual(error.what, 'Waiting for the rollout of deployment/a in web');
    assert.match(error.reason, /exceeded its progress deadline/);
    assert.match(error.reason, /Could not roll back: deployment\/a in web \(error: http2: client connection lost\)\./);
    assert.doesNotMatch(error.reason, /Nothing was rolled back/);
    // kubectlStep would have tried a lost connection once more: a second undo goes back to the failed revision.
    assert.strictEqual(calls().filter((c) => c.startsWith('rollout undo')).length, 1, calls().join('\n'));
    assert.match(text, /##vso\[task\.setvariable variable=rolledBack;[^\]]*\]\[\]/);
  });

  it('rollbackOnFailure when the run changed no workload: no rollback reported, no rolledBack output, as on run command', async () => {
    fs.writeFileSync(path.join(dir, 'same'), '');
    const { text, error } = await output(() => deployDirect(plan({ rollbackOnFailure: true }), options()));
    assert.ok(error instanceof ExplainedError, String(error));
    assert.match(error.reason, /exceeded its progress deadline/);
    assert.doesNotMatch(error.reason, /rolled back/i);
    assert.doesNotMatch(text, /rolledBack|private-aks-deploy-rollback/);
    assert.ok(!calls().some((c) => c.startsWith('rollout undo')));
  });

  it('a plan with a secret on stdin shows `apply -f -`, not the file name spliced into `-f`', async () => {
    fs.writeFileSync(path.join(dir, 'namespace'), '');
    const { text } = await output(() =>
      deployDirect(plan({ carriesSecrets: true, waitForRollout: false, serverDryRunFirst: true }), options()),
    );
    const lines = text.split('\n');
    assert.ok(lines.includes('kubectl apply -f - --namespace web --dry-run=server (the manifests and the secret on stdin)'), text);
    assert.ok(lines.includes('kubectl apply -f - --namespace web (the manifests and the secret on stdin)'), text);
    assert.doesNotMatch(text, /manifests\.yamlf/);
  });

  it('serverDryRunFirst with createNamespace into a new namespace: the Namespace alone is created first, then the dry run passes', async () => {
    const { text, error } = await output(() =>
      deployDirect(plan({ createNamespace: true, serverDryRunFirst: true, waitForRollout: false, pruneSelector: 'app=a' }), options()),
    );
    assert.strictEqual(error, undefined, `${String(error)}\n${text}`);
    const c = calls();
    assert.strictEqual(c.length, 3, c.join('\n'));
    // No prune on the namespace's own apply: it would take every other object the selector matches.
    assert.match(c[0], /^apply -f - --namespace web$/);
    assert.match(c[1], /^apply -f \S+manifests\.yaml --namespace web --prune .*--dry-run=server$/);
    assert.match(c[2], /^apply -f \S+manifests\.yaml --namespace web --prune /);
    assert.match(text, /serverDryRunFirst: creating the namespace 'web' first/);
  });
});
