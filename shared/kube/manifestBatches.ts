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
 * custom resource whose type is not yet served), then the rest, greedily. An object that does not
 * fit alone is refused by the caller (`tooLarge`). Pure.
 *
 * Each object is measured alone once; a growing batch is estimated as its last measured size plus
 * the objects added since, and measured as a whole only when that estimate would pass the budget
 * (then compression across objects counts) and once more when it is closed unmeasured, so the work
 * is about linear in the objects rather than re-measuring the batch for each one added. A closed
 * batch over the budget (a `sizeOf` that is not subadditive) is split again by measuring each step.
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
    let estimate = 0;
    let measured = true;
    const close = () => {
      if (current.length === 0) return;
      if (measured || sizeOf(current) <= budget) batches.push(current);
      else batches.push(...exactSplit(current, sizeOf, budget));
      current = [];
    };
    for (const o of group) {
      const alone = sizeOf([o]);
      if (alone > budget) return { batches: [], tooLarge: o };
      if (current.length > 0 && estimate + alone > budget) {
        const whole = sizeOf([...current, o]);
        if (whole > budget) {
          close();
          [current, estimate, measured] = [[o], alone, true];
        } else {
          current.push(o);
          [estimate, measured] = [whole, true];
        }
        continue;
      }
      current.push(o);
      estimate += alone;
      measured = current.length === 1;
    }
    close();
  }
  return { batches };
}

/** Greedy, measuring the batch as a whole for each object added: every batch within the budget. */
function exactSplit(objects: ManifestObject[], sizeOf: (batch: ManifestObject[]) => number, budget: number): ManifestObject[][] {
  const batches: ManifestObject[][] = [];
  let current: ManifestObject[] = [];
  for (const o of objects) {
    if (current.length > 0 && sizeOf([...current, o]) > budget) {
      batches.push(current);
      current = [];
    }
    current.push(o);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
