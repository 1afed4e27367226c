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

  it('measures about linearly: a growing batch is not measured again for each object added', () => {
    const objects = Array.from({ length: 400 }, (_, i) => obj('ConfigMap', `m${i}`, 1));
    let measured = 0;
    const counting = (batch: ManifestObject[]) => {
      measured += batch.length;
      return sizeOf(batch);
    };
    const { batches } = splitBySize(objects, counting, 100);
    assert.deepStrictEqual(
      batches.map((b) => b.length),
      [100, 100, 100, 100],
    );
    // Re-measuring each growing batch would be about 400 * 100 / 2 = 20,000 objects measured.
    assert.ok(measured <= 4 * objects.length, `${measured} objects measured`);
  });

  it('keeps every batch within the budget when a batch is larger than its objects alone (not subadditive)', () => {
    // 1 of overhead per object past the first, as a separator between documents would be.
    const withSeparators = (batch: ManifestObject[]) => sizeOf(batch) + Math.max(0, batch.length - 1);
    const objects = Array.from({ length: 10 }, (_, i) => obj('ConfigMap', `m${i}`, 2));
    const { batches } = splitBySize([obj('Namespace', 'ns', 1), ...objects], withSeparators, 8);
    assert.ok(
      batches.every((b) => withSeparators(b) <= 8),
      JSON.stringify(batches.map(withSeparators)),
    );
    assert.deepStrictEqual(names(batches)[0], ['ns']);
    assert.deepStrictEqual(batches.flat().length, 11);
  });

  it('compression across objects counts: a batch measured as a whole takes more than the sum alone allows', () => {
    // Zipped together, objects alike shrink: the whole is smaller than the objects alone.
    const shared = (batch: ManifestObject[]) => (batch.length === 0 ? 0 : 2 + batch.length);
    const objects = Array.from({ length: 6 }, (_, i) => obj('ConfigMap', `m${i}`, 0));
    const { batches } = splitBySize([obj('Namespace', 'ns', 0), ...objects], shared, 6);
    assert.deepStrictEqual(
      batches.map((b) => b.length),
      [1, 4, 2],
    );
  });
});
