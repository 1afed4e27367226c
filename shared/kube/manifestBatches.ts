import type { ManifestObject } from './manifests';

/** Kinds other objects depend on: applied in a batch of their own, first (deleted last). */
const FOUNDATION_KINDS = new Set(['Namespace', 'CustomResourceDefinition']);

export function isFoundation(o: ManifestObject): boolean {
  return FOUNDATION_KINDS.has(o.kind);
}

/**
 * Splits objects into batches that each fit `budget` by `sizeOf` (the size the batch travels as),
 * keeping their order. When everything fits it is one batch. Otherwise namespaces and CRDs come
 * first, in batches of their own (kubectl apply of one batch must find the namespaces and types of
 * the next already there: the API server refuses an object in a namespace that does not exist, and a
 * custom resource whose type is not yet served), then the rest, greedily. A batch is measured as a
 * whole, so compression across objects counts; an object that does not fit alone is refused by the
 * caller (`tooLarge`). Pure.
 */
export function splitBySize(
  objects: ManifestObject[],
  sizeOf: (batch: ManifestObject[]) => number,
  budget: number,
): { batches: ManifestObject[][]; tooLarge?: ManifestObject } {
  if (objects.length === 0 || sizeOf(objects) <= budget) return { batches: [objects] };
  const batches: ManifestObject[][] = [];
  for (const group of [objects.filter(isFoundation), objects.filter((o) => !isFoundation(o))]) {
    let current: ManifestObject[] = [];
    for (const o of group) {
      if (sizeOf([o]) > budget) return { batches: [], tooLarge: o };
      if (current.length > 0 && sizeOf([...current, o]) > budget) {
        batches.push(current);
        current = [];
      }
      current.push(o);
    }
    if (current.length > 0) batches.push(current);
  }
  return { batches };
}
