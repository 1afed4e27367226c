import { invalidInput } from '../pipeline/explainedError';
import { forgetSourceText, type ManifestObject } from './manifests';

/** An image reference split as the KubernetesManifest task matches it: the repository, then a tag or digest. */
export interface ImageReference {
  repository: string;
  reference: string;
}

// registry[:port]/path/name then :tag or @sha256:digest
const IMAGE =
  /^((?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::([\w][\w.-]{0,127})|@(sha256:[a-f0-9]{64}))?$/;

export function parseImage(input: string, value: string): ImageReference & { full: string } {
  const m = IMAGE.exec(value.trim());
  if (!m) {
    throw invalidInput(
      input,
      `'${value}' is not an image reference (registry/repository:tag or registry/repository@sha256:digest).`,
      'Write one image per line, e.g. contosoprod.azurecr.io/shop/web:$(Build.BuildId).',
    );
  }
  return { repository: m[1], reference: m[2] ? `:${m[2]}` : m[3] ? `@${m[3]}` : '', full: value.trim() };
}

/** Where pod templates live in the workload kinds, as paths of keys. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/**
 * Replaces the image of every container whose repository matches one of the given images (tag
 * or digest ignored when matching), in containers, initContainers and ephemeralContainers.
 * Returns how many images were replaced per given image.
 */
export function substituteImages(objects: ManifestObject[], images: (ImageReference & { full: string })[]): Map<string, number> {
  const counts = new Map(images.map((i) => [i.full, 0]));
  for (const o of objects) {
    const specPath = POD_SPEC_PATHS[o.kind];
    if (!specPath) continue;
    let spec: unknown = o;
    for (const key of specPath) spec = (spec as Record<string, unknown> | undefined)?.[key];
    if (!spec || typeof spec !== 'object') continue;
    for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
      const containers = (spec as Record<string, unknown>)[list];
      if (!Array.isArray(containers)) continue;
      for (const c of containers as { image?: string }[]) {
        if (typeof c.image !== 'string') continue;
        const current = IMAGE.exec(c.image)?.[1];
        const replacement = images.find((i) => i.repository === current);
        if (replacement) {
          c.image = replacement.full;
          forgetSourceText(o);
          counts.set(replacement.full, (counts.get(replacement.full) ?? 0) + 1);
        }
      }
    }
  }
  return counts;
}
