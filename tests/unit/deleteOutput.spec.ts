import * as assert from 'assert';
import { deleteReport, deletedLines } from '../../shared/kube/deleteOutput';
import type { ManifestObject } from '../../shared/kube/manifests';

const obj = (kind: string, name: string, namespace?: string): ManifestObject => ({
  apiVersion: 'v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

describe('deleteOutput', () => {
  // kubectl delete's lines (staging/src/k8s.io/kubectl/pkg/cmd/delete/delete.go PrintObj).
  const output = 'configmap "settings" deleted\ndeployment.apps "shop" deleted\nnamespace "review-42" deleted\n';

  it('reads the objects kubectl says it deleted, the group left out', () => {
    assert.deepStrictEqual(deletedLines(output), [
      { kind: 'configmap', name: 'settings' },
      { kind: 'deployment', name: 'shop' },
      { kind: 'namespace', name: 'review-42' },
    ]);
    assert.deepStrictEqual(deletedLines('warning: deleting cluster-scoped resources\n'), []);
  });

  it('splits the manifests into deleted and not found, namespaces as the plan gives them', () => {
    const report = deleteReport(
      [obj('ConfigMap', 'settings'), obj('Deployment', 'shop', 'shop-ns'), obj('Service', 'shop'), obj('Namespace', 'review-42')],
      'web',
      output,
    );
    assert.deepStrictEqual(report.deleted, [
      { kind: 'ConfigMap', namespace: 'web', name: 'settings' },
      { kind: 'Deployment', namespace: 'shop-ns', name: 'shop' },
      { kind: 'Namespace', namespace: undefined, name: 'review-42' },
    ]);
    assert.deepStrictEqual(report.notFound, [{ kind: 'Service', namespace: 'web', name: 'shop' }]);
  });

  it('one line stands for one object: the same kind and name twice needs two lines', () => {
    const report = deleteReport([obj('ConfigMap', 'x', 'a'), obj('ConfigMap', 'x', 'b')], undefined, 'configmap "x" deleted\n');
    assert.strictEqual(report.deleted.length, 1);
    assert.deepStrictEqual(report.notFound, [{ kind: 'ConfigMap', namespace: 'b', name: 'x' }]);
  });
});
