import * as assert from 'assert';
import { diffFileName, objectDiffs, splitDiff, truncateDiff } from '../../shared/kube/kubectlDiff';

/**
 * kubectl diff's output as the real kubectl 1.32 printed it against the sandbox (tests/tasks/
 * privateAksDeployPreview.sandbox.spec.ts): `diff -u -N LIVE-<n>/<file> MERGED-<n>/<file>` per object
 * that differs, `@@ -0,0` for an object that does not exist yet, Secret values masked.
 */
const OUTPUT = `diff -u -N /tmp/LIVE-2096196127/apps.v1.Deployment.web.shop /tmp/MERGED-260462296/apps.v1.Deployment.web.shop
--- /tmp/LIVE-2096196127/apps.v1.Deployment.web.shop\t2026-11-26 02:49:53.063571416 +0000
+++ /tmp/MERGED-260462296/apps.v1.Deployment.web.shop\t2026-11-26 02:49:53.067571416 +0000
@@ -28,7 +28,7 @@
       containers:
-      - image: contosoprod.azurecr.io/shop/web:1.0.0
+      - image: contosoprod.azurecr.io/shop/web:2.0.0
         imagePullPolicy: IfNotPresent
diff -u -N /tmp/LIVE-2096196127/v1.Secret.web.creds /tmp/MERGED-260462296/v1.Secret.web.creds
--- /tmp/LIVE-2096196127/v1.Secret.web.creds\t2026-11-26 02:49:53.095571415 +0000
+++ /tmp/MERGED-260462296/v1.Secret.web.creds\t2026-11-26 02:49:53.095571415 +0000
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  password: '*** (before)'
+  password: '*** (after)'
diff -u -N /tmp/LIVE-2096196127/rbac.authorization.k8s.io.v1.ClusterRole..reader /tmp/MERGED-260462296/rbac.authorization.k8s.io.v1.ClusterRole..reader
--- /tmp/LIVE-2096196127/rbac.authorization.k8s.io.v1.ClusterRole..reader\t1970-01-01 00:00:00.000000000 +0000
+++ /tmp/MERGED-260462296/rbac.authorization.k8s.io.v1.ClusterRole..reader\t2026-11-26 02:49:53.095571415 +0000
@@ -0,0 +1,3 @@
+apiVersion: rbac.authorization.k8s.io/v1
+kind: ClusterRole
+metadata:
diff -u -N /tmp/LIVE-2096196127/v1.ConfigMap.web.old /tmp/MERGED-260462296/v1.ConfigMap.web.old
--- /tmp/LIVE-2096196127/v1.ConfigMap.web.old\t2026-11-26 02:49:53.095571415 +0000
+++ /tmp/MERGED-260462296/v1.ConfigMap.web.old\t1970-01-01 00:00:00.000000000 +0000
@@ -1,2 +0,0 @@
-apiVersion: v1
-kind: ConfigMap
`;

const OBJECTS = [
  { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'web', name: 'settings' },
  { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'web', name: 'shop' },
  { apiVersion: 'v1', kind: 'Secret', namespace: 'web', name: 'creds' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', namespace: '', name: 'reader' },
];

describe('kubectlDiff', () => {
  it("names each object's file as kubectl diff does (diff.go InfoObject.Name)", () => {
    assert.strictEqual(diffFileName(OBJECTS[1]), 'apps.v1.Deployment.web.shop');
    assert.strictEqual(diffFileName(OBJECTS[0]), 'v1.ConfigMap.web.settings');
    assert.strictEqual(diffFileName(OBJECTS[3]), 'rbac.authorization.k8s.io.v1.ClusterRole..reader');
  });

  it('splits the output into one block per object, each starting at its diff header', () => {
    const blocks = splitDiff(OUTPUT);
    assert.deepStrictEqual(
      [...blocks.keys()],
      ['apps.v1.Deployment.web.shop', 'v1.Secret.web.creds', 'rbac.authorization.k8s.io.v1.ClusterRole..reader', 'v1.ConfigMap.web.old'],
    );
    assert.match(blocks.get('v1.Secret.web.creds')!, /^diff -u -N [\s\S]*\+ {2}password: '\*\*\* \(after\)'$/);
  });

  it('tells created, changed and unchanged objects apart, and lists what prune would delete', () => {
    const diffs = objectDiffs(OUTPUT, OBJECTS);
    assert.deepStrictEqual(
      diffs.map((d) => `${d.verdict} ${d.apiVersion} ${d.kind} ${d.namespace}/${d.name}`),
      [
        'unchanged v1 ConfigMap web/settings',
        'changed apps/v1 Deployment web/shop',
        'changed v1 Secret web/creds',
        'created rbac.authorization.k8s.io/v1 ClusterRole /reader',
        'deleted v1 ConfigMap web/old',
      ],
    );
    assert.strictEqual(diffs[0].diff, '');
  });

  it('reads no differences from empty output (exit 0) and ignores lines before the first header', () => {
    assert.ok(objectDiffs('', OBJECTS).every((d) => d.verdict === 'unchanged'));
    assert.ok(objectDiffs('Warning: something\n', OBJECTS).every((d) => d.verdict === 'unchanged'));
  });

  it('truncates a long diff on a line boundary and says how much is left', () => {
    const diff = Array.from({ length: 100 }, (_, i) => `+line ${i}`).join('\n');
    const cut = truncateDiff(diff, 50);
    assert.ok(cut.length < 90, cut);
    assert.match(cut, /^\+line 0\n[\s\S]*\n… \d+ more line\(s\) not shown$/);
    assert.strictEqual(truncateDiff('short', 50), 'short');
  });
});
