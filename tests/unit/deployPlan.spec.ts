import * as assert from 'assert';
import {
  applyArgs,
  appliedObjects,
  namespaceObject,
  pruneAllowlist,
  rolloutTargets,
  shellWord,
  type DeployPlan,
} from '../../tasks/PrivateAksDeployV1/deployPlan';
import { spawnSync } from 'child_process';
import { runCommandScript } from '../../tasks/PrivateAksDeployV1/runCommandRoute';

const plan: DeployPlan = {
  objects: [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop' } },
    { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'data' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'reader' } },
  ],
  namespace: 'web',
  createNamespace: true,
  serverSideApply: true,
  pruneSelector: 'app in (shop, db)',
  waitForRollout: true,
  rolloutTimeoutSeconds: 120,
};

describe('deploy plan', () => {
  it('builds kubectl apply with server-side apply and a prune allowlist of the kinds deployed', () => {
    assert.deepStrictEqual(applyArgs(plan, 'm.yaml'), [
      'apply',
      '-f',
      'm.yaml',
      '--namespace',
      'web',
      '--server-side',
      '--field-manager=private-aks-deploy',
      '--force-conflicts',
      '--prune',
      '--selector',
      'app in (shop, db)',
      '--prune-allowlist',
      'apps/v1/Deployment',
      '--prune-allowlist',
      'apps/v1/StatefulSet',
      '--prune-allowlist',
      'core/v1/ConfigMap',
      '--prune-allowlist',
      'rbac.authorization.k8s.io/v1/ClusterRole',
    ]);
    assert.deepStrictEqual(pruneAllowlist({ ...plan, objects: [plan.objects[0], plan.objects[0]] }), ['core/v1/ConfigMap']);
  });

  it('waits for the rollout of workloads in their own namespace', () => {
    assert.deepStrictEqual(rolloutTargets(plan), [
      { ref: 'deployment/shop', namespace: 'web' },
      { ref: 'statefulset/db', namespace: 'data' },
    ]);
  });

  it('creates the namespace only when asked and not already in the manifests', () => {
    assert.deepStrictEqual(namespaceObject(plan), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } });
    assert.strictEqual(namespaceObject({ ...plan, createNamespace: false }), undefined);
    assert.strictEqual(
      namespaceObject({ ...plan, objects: [...plan.objects, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }] }),
      undefined,
    );
  });

  it('reports cluster-scoped objects without a namespace', () => {
    assert.deepStrictEqual(
      appliedObjects(plan).map((o) => `${o.kind}/${o.namespace ?? '-'}/${o.name}`),
      ['ConfigMap/web/settings', 'Deployment/web/shop', 'StatefulSet/data/db', 'ClusterRole/-/reader'],
    );
  });

  it('quotes what the run command bash must not expand', () => {
    const script = runCommandScript({ ...plan, pruneSelector: "app=$(touch /tmp/pwned);x='y'" });
    assert.match(script, /^kubectl apply -f manifests\.yaml --namespace web --server-side.* \|\| exit \$\?$/m);
    assert.ok(script.includes(`'app=$(touch /tmp/pwned);x='\\''y'\\'''`), script);
    // One deadline for all waits (runCommandScript.spec.ts runs it).
    assert.match(script, /^deadline=\$\(\(SECONDS \+ 120\)\)$/m);
    assert.match(script, /wait_for deployment\/shop web && wait_for statefulset\/db data \|\| rc=\$\?$/m);
    // Only when a wait failed: the evidence of why, between its markers, before the script's own exit.
    assert.match(script, /^if \[ "\$rc" -ne 0 \]; then echo .*; fi$/m);
  });

  it('shellWord: one quoting for every run command script; bash reads back each word as it was', () => {
    const words = ['deployments,replicasets,pods,events', '--selector', 'app in (a, b)', "x'y", '$(touch /tmp/pwned)', '*', '~', 'a;b', ''];
    assert.strictEqual(shellWord('deployments,replicasets,pods,events'), 'deployments,replicasets,pods,events');
    assert.strictEqual(shellWord('--timeout=5s'), '--timeout=5s');
    assert.strictEqual(shellWord('a b'), `'a b'`);
    const r = spawnSync('bash', ['-c', `printf '%s\\n' ${words.map(shellWord).join(' ')}`], { encoding: 'utf8' });
    assert.deepStrictEqual(r.stdout.split('\n').slice(0, -1), words);
  });
});
