/**
 * What an image pull failure means when the image lives on an Azure Container Registry, from
 * kubelet's message (containerd's error, kubelet's "Failed to pull image" event). Pure.
 *
 * containerd resolves a tag by asking the registry's token endpoint first; the status it met is in
 * its error: `failed to authorize: failed to fetch anonymous token: unexpected status from GET
 * request to https://<registry>.azurecr.io/oauth2/token?scope=repository%3A<repo>%3Apull&service=…:
 * 401 Unauthorized` (containerd remotes/docker/authorizer.go, "unexpected status from %s request to
 * %s: %s"). ACR answers:
 *   - 401 when the caller has no pull right: the kubelet identity has no AcrPull on the registry
 *     (https://learn.microsoft.com/azure/aks/cluster-container-registry-integration);
 *   - 403 when its firewall refuses the caller's network ("client with IP '…' is not allowed access",
 *     https://aka.ms/acr/firewall) or public network access is disabled and the nodes came from outside
 *     its private endpoint;
 *   - a missing tag: `<ref>: not found` (containerd remotes/docker/resolver.go ErrNotFound).
 */

export interface RegistryForPull {
  /** `contoso.azurecr.io` */
  loginServer: string;
  /** ARM resource id, for the role assignment command. */
  resourceId?: string;
}

export interface PullExplanation {
  code: 'ACR_PULL_UNAUTHORIZED' | 'ACR_PULL_NETWORK_DENIED' | 'IMAGE_NOT_FOUND' | 'ACR_UNREACHABLE_FROM_NODES' | 'IMAGE_PULL_FAILED';
  reason: string;
  fix: string;
}

/** The ACR an image reference points at, if it is one the caller knows or an *.azurecr.* host. */
export function acrOfImage(image: string, known: RegistryForPull[]): RegistryForPull | undefined {
  const host = image.split('/')[0].toLowerCase();
  if (!host.includes('.')) return undefined;
  return (
    known.find((r) => r.loginServer.toLowerCase() === host) ?? (/\.azurecr\.(io|us|cn)$/.test(host) ? { loginServer: host } : undefined)
  );
}

export function explainImagePull(
  image: string,
  message: string,
  context: { registries: RegistryForPull[]; kubeletObjectId?: string; clusterName: string },
): PullExplanation {
  const registry = acrOfImage(image, context.registries);
  const tagMissing = /: not found\b|manifest unknown|repository name not known/i.test(message);
  if (tagMissing) {
    const [repository, tag] = splitImage(image);
    return {
      code: 'IMAGE_NOT_FOUND',
      reason: `The image ${image} does not exist${registry ? ` on ${registry.loginServer}` : ''}: no tag ${tag} in ${repository}.`,
      fix: registry
        ? `Push the image first, or correct the tag (az acr repository show-tags --name ${registry.loginServer.split('.')[0]} --repository ${repository.split('/').slice(1).join('/')}).`
        : 'Push the image first, or correct the image reference.',
    };
  }
  if (!registry) {
    return {
      code: 'IMAGE_PULL_FAILED',
      reason: `The nodes cannot pull ${image}: ${message}`,
      fix: 'Check the image reference and that the nodes may pull from its registry (an imagePullSecret for a private registry).',
    };
  }
  const name = registry.loginServer.split('.')[0];
  const scope = registry.resourceId ?? `$(az acr show --name ${name} --query id -o tsv)`;
  if (/\b403 Forbidden\b|not allowed access|denied: client with IP/i.test(message)) {
    return {
      code: 'ACR_PULL_NETWORK_DENIED',
      reason: `${registry.loginServer} refused the nodes' network (403): its firewall does not admit the node subnet's egress address, or public access is off and the nodes do not reach it through its private endpoint.`,
      fix: `Give the registry a private endpoint in (or peered with) the cluster's VNet with the privatelink.azurecr.io zone linked, or allow the node pool's egress IP: az acr network-rule add --name ${name} --ip-address <nodes' egress IP>.`,
    };
  }
  if (/\b401 Unauthorized\b|unauthorized: authentication required/i.test(message)) {
    return {
      code: 'ACR_PULL_UNAUTHORIZED',
      reason: `${registry.loginServer} refused the nodes of '${context.clusterName}' (401): the cluster's kubelet identity has no AcrPull role on the registry.`,
      fix: context.kubeletObjectId
        ? `az role assignment create --assignee-object-id ${context.kubeletObjectId} --assignee-principal-type ServicePrincipal --role AcrPull --scope ${scope} (or az aks update --attach-acr ${name}).`
        : `az aks update --name ${context.clusterName} --resource-group <resource group> --attach-acr ${name} (grants the kubelet identity AcrPull).`,
    };
  }
  if (/no such host|i\/o timeout|dial tcp|connection refused|context deadline exceeded/i.test(message)) {
    return {
      code: 'ACR_UNREACHABLE_FROM_NODES',
      reason: `The nodes cannot reach ${registry.loginServer}: ${message.slice(0, 300)}`,
      fix: `Check the nodes' DNS for ${registry.loginServer} (privatelink.azurecr.io zone linked to the cluster's VNet) and that egress to the registry (and its data endpoints) is allowed.`,
    };
  }
  return {
    code: 'IMAGE_PULL_FAILED',
    reason: `The nodes cannot pull ${image} from ${registry.loginServer}: ${message}`,
    fix: `Check that the kubelet identity has AcrPull on ${name} and that the nodes reach the registry.`,
  };
}

function splitImage(image: string): [string, string] {
  const at = image.indexOf('@');
  if (at >= 0) return [image.slice(0, at), image.slice(at + 1)];
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
}
