/**
 * The registry's side of a kubelet image pull from an ACR of the scenario, decided from ARM state
 * when the cluster has `acrPullChecks` (otherwise such pulls succeed):
 *
 *   1. network: the node's path to the registry. Through an Approved private endpoint when the
 *      cluster says its nodes use them (`registryPrivateEndpoints`); else public, where a
 *      virtualNetworkRule naming the node subnet admits it (service endpoint), else the firewall as
 *      the data endpoint enforces it (`AcrDataEndpoint.decide` with the node egress IP: public
 *      network access, default action, IP rules, propagation). Denied → 403 Forbidden;
 *   2. authorization: the kubelet identity needs `Microsoft.ContainerRegistry/registries/pull/read`
 *      (AcrPull, AcrPush, Contributor…) at the registry, unless anonymous pull is on. Without it the
 *      token request fails → 401 Unauthorized;
 *   3. the repository:tag must be in the registry's `images` (when the scenario lists them) → not found.
 *
 * Error texts are containerd's CRI PullImage errors as kubelet reports them (`Failed to pull image
 * "x": <this>`): `rpc error: code = <code> desc = failed to pull and unpack image "<ref>": failed to
 * resolve reference "<ref>": …` with, for the token endpoint, containerd remotes/docker/auth
 * fetch.go `failed to fetch anonymous token: ` + remotes/errors.go ErrUnexpectedStatus
 * (`unexpected status from GET request to <url>: <status>`) under docker/authorizer.go
 * `failed to authorize: `; and for a missing manifest resolver.go `<ref>: not found`
 * (errdefs.ErrNotFound → code NotFound). These are the texts AKS's "Troubleshoot image pull
 * errors" / "Can't pull images from ACR" articles show (401 for a missing AcrPull assignment, 403
 * Forbidden when the registry firewall blocks the node, whose documented ACR denial is "client with
 * IP '<ip>' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.").
 */
import type { ArmState } from '../arm/armState';
import type { ClusterSpec, RegistrySpec } from '../arm/azureResources';
import { normalizeReference, type PullVerdict } from '../kubernetes/workloads';
import type { AcrDataEndpoint } from './acrDataEndpoint';

export const DEFAULT_NODE_EGRESS_IP = '20.62.100.10';
const PULL_PERMISSION = 'Microsoft.ContainerRegistry/registries/pull/read';

export interface AcrPullContext {
  state: ArmState;
  cluster: ClusterSpec;
  registries: ReadonlyMap<string, AcrDataEndpoint>;
  registrySpecs: readonly RegistrySpec[];
}

/** The verdict for `image` pulled by the cluster's kubelet; undefined when the image is not on a registry of the scenario. */
export function acrPullVerdict(context: AcrPullContext, image: string): PullVerdict | undefined {
  const ref = normalizeReference(image);
  const host = ref.split('/')[0].toLowerCase();
  const record = context.state.findRegistryByLoginServer(host);
  if (!record) return undefined;
  if (context.cluster.acrPullChecks !== true) return { ok: true };
  const path = ref.slice(host.length + 1);
  const repository = path.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  const tokenUrl = `https://${host}/oauth2/token?scope=${encodeURIComponent(`repository:${repository}:pull`)}&service=${host}`;
  const prefix = `failed to pull and unpack image "${ref}": failed to resolve reference "${ref}"`;
  const tokenFailure = (status: string): PullVerdict => ({
    ok: false,
    error: `rpc error: code = Unknown desc = ${prefix}: failed to authorize: failed to fetch anonymous token: unexpected status from GET request to ${tokenUrl}: ${status}`,
  });

  const cluster = context.cluster;
  const viaPrivateEndpoint = cluster.registryPrivateEndpoints === true && record.privateEndpoints.some((p) => p.status === 'Approved');
  if (!viaPrivateEndpoint) {
    const serviceEndpoint =
      record.network.publicNetworkAccess === 'Enabled' &&
      cluster.nodeSubnetId !== undefined &&
      record.network.virtualNetworkRules.some((s) => s.toLowerCase() === cluster.nodeSubnetId!.toLowerCase());
    const endpoint = context.registries.get(record.name);
    const allowed =
      serviceEndpoint || (endpoint ? endpoint.decide(cluster.nodeEgressIp ?? DEFAULT_NODE_EGRESS_IP, 'public').allowed : true);
    if (!allowed) return tokenFailure('403 Forbidden');
  }

  const kubelet = context.state.cluster(cluster.name).kubeletIdentity;
  if (!record.anonymousPullEnabled && !context.state.isAllowed(kubelet.objectId, PULL_PERMISSION, record.id, 'action'))
    return tokenFailure('401 Unauthorized');

  const images = context.registrySpecs.find((r) => r.name.toLowerCase() === record.name.toLowerCase())?.images;
  if (images && !path.includes('@') && !images.includes(path))
    return { ok: false, error: `rpc error: code = NotFound desc = ${prefix}: ${ref}: not found` };
  return { ok: true };
}
