import * as assert from 'assert';
import { explainKubectlFailure, type KubectlFailureContext } from '../../shared/kube/kubectlErrors';

const ctx: KubectlFailureContext = {
  server: 'https://aks-prod-1a2b.5e6f.privatelink.eastus.azmk8s.io:443',
  clusterName: 'aks-prod',
  principalObjectId: '66a87a1b-b2af-4f3e-8c8d-34ea59231412',
  clusterResourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-prod',
  azureRbac: true,
};

describe('kubectl failures users hit today', () => {
  const cases: [string, string, string, RegExp, RegExp, Partial<KubectlFailureContext>?][] = [
    [
      'no such host',
      'Unable to connect to the server: dial tcp: lookup aks-prod-1a2b.5e6f.privatelink.eastus.azmk8s.io on 10.0.0.10:53: no such host',
      'KUBECTL_DNS',
      /could not resolve aks-prod-1a2b/,
      /route auto or runCommand/,
    ],
    [
      'i/o timeout',
      'Unable to connect to the server: dial tcp 10.1.2.4:443: i/o timeout',
      'KUBECTL_UNREACHABLE',
      /could not connect/,
      /TCP 443/,
    ],
    [
      'x509 name',
      'Unable to connect to the server: x509: certificate is valid for other.example, not aks-prod',
      'KUBECTL_TLS',
      /does not trust/,
      /TLS inspection/,
    ],
    [
      '401',
      'error: You must be logged in to the server (Unauthorized)',
      'KUBECTL_UNAUTHORIZED',
      /6dae42f8-4368-4678-94ff-3960e28e3630/,
      /Entra ID integration/,
    ],
    [
      '403 under Azure RBAC',
      'Error from server (Forbidden): deployments.apps "shop" is forbidden: User "66a87a1b-b2af-4f3e-8c8d-34ea59231412" cannot patch resource "deployments" in API group "apps" in the namespace "web": User does not have access to the resource in Azure. Update role assignment to allow access.',
      'KUBECTL_FORBIDDEN',
      /lacks an "Azure Kubernetes Service RBAC Writer"/,
      /az role assignment create --assignee-object-id 66a87a1b-b2af-4f3e-8c8d-34ea59231412 .*--role "Azure Kubernetes Service RBAC Writer" --scope \/subscriptions\/s\/.*\/managedClusters\/aks-prod\/namespaces\/web/,
    ],
    [
      '403 under Kubernetes RBAC',
      'Error from server (Forbidden): configmaps "x" is forbidden: User "abc" cannot get resource "configmaps" in API group "" in the namespace "web"',
      'KUBECTL_FORBIDDEN',
      /Kubernetes RBAC does not let abc get configmaps/,
      /rolebinding/,
      { azureRbac: false },
    ],
    [
      'device code',
      'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABC',
      'KUBECTL_DEVICE_CODE',
      /device-code/,
      /azurepipelines/,
    ],
    [
      'kubelogin missing',
      'Unable to connect to the server: getting credentials: exec: executable kubelogin not found',
      'KUBECTL_PLUGIN_MISSING',
      /kubelogin is not installed/,
      /KubeloginInstaller/,
    ],
  ];
  for (const [name, stderr, code, reason, fix, extra] of cases) {
    it(name, () => {
      const e = explainKubectlFailure(stderr, { ...ctx, ...extra });
      assert.ok(e, 'not recognised');
      assert.strictEqual(e.code, code);
      assert.match(e.reason, reason);
      assert.match(e.fix, fix);
    });
  }

  it("leaves what it does not know to kubectl's own words", () => {
    assert.strictEqual(explainKubectlFailure('error: the path "x.yaml" does not exist', ctx), undefined);
  });
});
