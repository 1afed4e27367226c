import * as assert from 'assert';
import { kubernetesCheckOf, roleBindingCommand } from '../../shared/azure/rbac/inClusterReview';
import { ROLES } from '../../shared/azure/rbac/leastPrivilegedRoles';

/**
 * Azure RBAC data actions on AKS are `Microsoft.ContainerService/managedClusters/<group>/<resource>/<read|
 * write|delete>`, the core group with no group part (the built-in roles' dataActions, e.g. Azure
 * Kubernetes Service RBAC Writer: `…/managedClusters/apps/deployments/*`, `…/configmaps/*`; MicrosoftDocs/
 * azure-docs articles/role-based-access-control/built-in-roles/containers.md). A SelfSubjectAccessReview
 * asks with resourceAttributes {namespace, group, resource, verb}, "" for the core group
 * (kubernetes/api authorization/v1/types.go ResourceAttributes).
 * The pure parts of inClusterReview; reviewInCluster itself asks an API server (roleCheck sandbox specs).
 */
const AKS = 'Microsoft.ContainerService/managedClusters';

describe('inClusterReview: the Kubernetes check an AKS data action stands for', () => {
  const cases: { dataAction: string; check: { group: string; resource: string; verbs: string[] } | undefined }[] = [
    { dataAction: `${AKS}/apps/deployments/write`, check: { group: 'apps', resource: 'deployments', verbs: ['create', 'patch'] } },
    { dataAction: `${AKS}/apps/deployments/read`, check: { group: 'apps', resource: 'deployments', verbs: ['get', 'list'] } },
    { dataAction: `${AKS}/configmaps/write`, check: { group: '', resource: 'configmaps', verbs: ['create', 'patch'] } },
    { dataAction: `${AKS}/secrets/delete`, check: { group: '', resource: 'secrets', verbs: ['delete'] } },
    {
      dataAction: `${AKS}/networking.k8s.io/ingresses/write`,
      check: { group: 'networking.k8s.io', resource: 'ingresses', verbs: ['create', 'patch'] },
    },
    {
      dataAction: `${AKS}/rbac.authorization.k8s.io/rolebindings/read`,
      check: { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verbs: ['get', 'list'] },
    },
    // A wildcard or an action verb is nothing one review can ask.
    { dataAction: `${AKS}/apps/deployments/*`, check: undefined },
    { dataAction: `${AKS}/pods/exec/action`, check: undefined },
    // Resource Manager actions and other providers are not Kubernetes checks.
    { dataAction: `${AKS}/listClusterUserCredential/action`, check: undefined },
    { dataAction: 'Microsoft.ContainerRegistry/registries/pull/read', check: undefined },
    { dataAction: 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write', check: undefined },
    { dataAction: `${AKS}/read`, check: undefined },
    { dataAction: `${AKS}/`, check: undefined },
  ];
  for (const c of cases) {
    it(`${c.dataAction.startsWith(`${AKS}/`) ? c.dataAction.slice(AKS.length) : c.dataAction} → ${c.check ? `${c.check.verbs.join('/')} ${c.check.resource}${c.check.group ? `.${c.check.group}` : ''}` : 'none'}`, () => {
      assert.deepStrictEqual(kubernetesCheckOf(c.dataAction), c.check);
    });
  }

  it('every data action the RBAC Writer role is recommended for maps to a check', () => {
    for (const grant of ROLES.aksRbacWriter.grants) assert.ok(kubernetesCheckOf(grant), grant);
  });

  it('roleBindingCommand binds the edit ClusterRole to the Entra object id in the namespace', () => {
    assert.strictEqual(
      roleBindingCommand('0c1d2e3f-0000-4000-8000-000000000001', 'web'),
      'kubectl create rolebinding private-aks-deploy --clusterrole=edit --user=0c1d2e3f-0000-4000-8000-000000000001 --namespace web',
    );
  });
});
