import type { Sandbox } from '../sandbox';

/** Kinds a deployment to the sandbox's clusters writes; enough to see whether anything was applied. */
const KINDS = ['ConfigMap', 'Deployment', 'Service', 'Namespace'];

export interface AzureStateSnapshot {
  clusters: unknown;
  registries: unknown;
  /** Per cluster, the objects of the kinds above with their resourceVersions. */
  objects: Record<string, unknown>;
}

/**
 * What a run could have changed in Azure, as comparable JSON: the clusters and registries as
 * Resource Manager holds them, and the Kubernetes objects on each cluster.
 */
export function azureStateOf(sandbox: Sandbox): AzureStateSnapshot {
  const objects: Record<string, unknown> = {};
  for (const [name, server] of sandbox.azure.clusters) {
    objects[name] = KINDS.flatMap((kind) => server.store.list(kind).map((o) => JSON.stringify(o)));
  }
  return {
    clusters: JSON.parse(JSON.stringify(sandbox.azure.state.clusters)),
    // The firewall's previous rules and when it changed are the sandbox's propagation bookkeeping, not state.
    registries: JSON.parse(
      JSON.stringify(sandbox.azure.state.registries, (key, value) =>
        key === 'lastNetworkChangeAt' || key === 'previousNetwork' ? undefined : value,
      ),
    ),
    objects,
  };
}
