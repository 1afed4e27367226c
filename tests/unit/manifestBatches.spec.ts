import * as assert from 'assert';
import { splitBySize } from '../../shared/kube/manifestBatches';
import type { ManifestObject } from '../../shared/kube/manifests';

const obj = (kind: string, name: string, size: number): ManifestObject =>
  ({ apiVersion: 'v1', kind, metadata: { name }, size }) as unknown as ManifestObject;
const sizeOf = (batch: ManifestObject[]) => batch.reduce((n, o) => n + (o as unknown as { size: number }).size, 0);
const names = (batches: ManifestObject[][]) => batches.map((b) => b.map((o) => o.metadata.name));

describe('manifestBatches splitBySize', () => {
  it('keeps everything in one batch when it fits, in order', () => {
    const objects = [obj('ConfigMap', 'a', 3), obj('Namespace', 'ns', 1)];
    assert.deepStrictEqual(names(splitBySize(objects, sizeOf, 10).batches), [['a', 'ns']]);
  });

  it('over the budget: namespaces and CRDs first, then the rest greedily, each batch within the budget', () => {
    const objects = [
      obj('ConfigMap', 'a', 4),
      obj('Namespace', 'ns', 1),
      obj('ConfigMap', 'b', 4),
      obj('CustomResourceDefinition', 'crd', 2),
      obj('ConfigMap', 'c', 4),
    ];
    const { batches, tooLarge } = splitBySize(objects, sizeOf, 8);
    assert.strictEqual(tooLarge, undefined);
    assert.deepStrictEqual(names(batches), [['ns', 'crd'], ['a', 'b'], ['c']]);
    assert.ok(batches.every((b) => sizeOf(b) <= 8));
  });

  it('names an object that does not fit alone', () => {
    const big = obj('Secret', 'huge', 9);
    assert.strictEqual(splitBySize([obj('ConfigMap', 'a', 4), big], sizeOf, 8).tooLarge, big);
  });
});
