import * as assert from 'assert';
import { acrOfImage, explainImagePull } from '../../shared/azure/acr/imagePullDiagnosis';

// containerd's errors as kubelet quotes them (sources in shared/azure/acr/imagePullDiagnosis.ts).
const IMAGE = 'contosoprod.azurecr.io/shop/web:1.4.2';
const token = (status: string) =>
  `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://contosoprod.azurecr.io/oauth2/token?scope=repository%3Ashop%2Fweb%3Apull&service=contosoprod.azurecr.io: ${status}`;
const registry = {
  loginServer: 'contosoprod.azurecr.io',
  resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoprod',
};
const ctx = { registries: [registry], kubeletObjectId: '5b1c7e0a-0000-4000-8000-000000000001', clusterName: 'aks-prod' };

describe('imagePullDiagnosis: what a failed pull from ACR means', () => {
  it('401: the kubelet identity lacks AcrPull, with the exact grant', () => {
    const e = explainImagePull(IMAGE, token('401 Unauthorized'), ctx);
    assert.strictEqual(e.code, 'ACR_PULL_UNAUTHORIZED');
    assert.match(e.reason, /kubelet identity has no AcrPull/);
    assert.strictEqual(
      e.fix,
      `az role assignment create --assignee-object-id 5b1c7e0a-0000-4000-8000-000000000001 --assignee-principal-type ServicePrincipal --role AcrPull --scope ${registry.resourceId} (or az aks update --attach-acr contosoprod).`,
    );
  });
  it('403: the registry firewall or private endpoint', () => {
    const e = explainImagePull(IMAGE, token('403 Forbidden'), ctx);
    assert.strictEqual(e.code, 'ACR_PULL_NETWORK_DENIED');
    assert.match(e.fix, /private endpoint/);
    assert.match(e.fix, /az acr network-rule add --name contosoprod/);
  });
  it('a tag that does not exist', () => {
    const e = explainImagePull(
      IMAGE,
      `Failed to pull image "${IMAGE}": rpc error: code = NotFound desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": ${IMAGE}: not found`,
      ctx,
    );
    assert.strictEqual(e.code, 'IMAGE_NOT_FOUND');
    assert.match(e.reason, /no tag 1.4.2 in contosoprod.azurecr.io\/shop\/web/);
    assert.match(e.fix, /show-tags --name contosoprod --repository shop\/web/);
  });
  it('the nodes cannot resolve the registry', () => {
    const e = explainImagePull(IMAGE, 'dial tcp: lookup contosoprod.azurecr.io on 168.63.129.16:53: no such host', ctx);
    assert.strictEqual(e.code, 'ACR_UNREACHABLE_FROM_NODES');
  });
  it('not an ACR: said plainly; an unknown azurecr.io host is still an ACR', () => {
    assert.strictEqual(explainImagePull('docker.io/library/nginx:1', 'toomanyrequests', ctx).code, 'IMAGE_PULL_FAILED');
    assert.strictEqual(acrOfImage('nginx:1', ctx.registries), undefined);
    assert.deepStrictEqual(acrOfImage('other.azurecr.io/a:1', []), { loginServer: 'other.azurecr.io' });
    assert.strictEqual(
      explainImagePull('other.azurecr.io/a:1', token('401 Unauthorized'), { registries: [], clusterName: 'aks-prod' }).code,
      'ACR_PULL_UNAUTHORIZED',
    );
  });
});
