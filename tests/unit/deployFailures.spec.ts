import * as assert from 'assert';
import { explainDeployFailure, removedApi } from '../../shared/kube/deployFailures';

// kubectl's own words for each refusal (sources in shared/kube/deployFailures.ts).
describe('deployFailures: what the API server refuses, told with the fix', () => {
  const cases: [string, string, string, RegExp, RegExp][] = [
    [
      'removed API version (1.16)',
      'error: resource mapping not found for name: "web" namespace: "shop" from "manifests/web.yaml": no matches for kind "Deployment" in version "extensions/v1beta1"\nensure CRDs are installed first',
      'API_VERSION_REMOVED',
      /Deployment 'web' \(manifests\/web.yaml\) uses extensions\/v1beta1, which Kubernetes 1.16 stopped serving/,
      /apiVersion to apps\/v1/,
    ],
    [
      'removed API version (1.25 PDB)',
      'error: resource mapping not found for name: "web" namespace: "" from "pdb.yaml": no matches for kind "PodDisruptionBudget" in version "policy/v1beta1"\nensure CRDs are installed first',
      'API_VERSION_REMOVED',
      /1.25/,
      /policy\/v1/,
    ],
    [
      'a CRD not installed',
      'error: resource mapping not found for name: "c" namespace: "" from "c.yaml": no matches for kind "Certificate" in version "cert-manager.io/v1"\nensure CRDs are installed first',
      'KIND_NOT_SERVED',
      /no kind Certificate in cert-manager.io\/v1/,
      /Install the CRD first/,
    ],
    [
      'immutable selector (client-side apply)',
      'The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
      'IMMUTABLE_FIELD',
      /Deployment 'web' cannot change spec.selector in place/,
      /delete Deployment 'web' and apply again/,
    ],
    [
      'immutable selector (server-side apply)',
      'Error from server (Invalid): Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}}: field is immutable',
      'IMMUTABLE_FIELD',
      /Deployment.apps 'web' cannot change spec.selector/,
      /new name/,
    ],
    [
      'StatefulSet spec',
      "Error from server (Invalid): StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      'IMMUTABLE_FIELD',
      /StatefulSet 'db' changes a field/,
      /--cascade=orphan/,
    ],
    [
      'quota',
      'Error from server (Forbidden): error when creating "svc.yaml": services "lb" is forbidden: exceeded quota: object-counts, requested: services.loadbalancers=1, used: services.loadbalancers=1, limited: services.loadbalancers=1',
      'QUOTA_EXCEEDED',
      /'lb' would exceed the namespace's ResourceQuota 'object-counts' \(requested services.loadbalancers=1, used services.loadbalancers=1, limited services.loadbalancers=1\)/,
      /raise 'object-counts'/,
    ],
    [
      'Azure Policy (Gatekeeper)',
      'Error from server (Forbidden): error when creating "web.yaml": admission webhook "validation.gatekeeper.sh" denied the request: [azurepolicy-k8sazurev2noprivilege-b5c41e2d5ef0b4b5f3a4] Privileged container is not allowed: web, securityContext: {"privileged": true}',
      'ADMISSION_DENIED',
      /Azure Policy \(Gatekeeper\) refused an object \(web.yaml\) under azurepolicy-k8sazurev2noprivilege-b5c41e2d5ef0b4b5f3a4: Privileged container is not allowed/,
      /exemption/,
    ],
    [
      'Azure Policy on a Deployment, through Gatekeeper expansion',
      'Error from server (Forbidden): admission webhook "validation.gatekeeper.sh" denied the request: [azurepolicy-k8sazurev2noprivilege-b5c41e2d5ef0b4b5f3a4] [Implied by expand-deployments] Privileged container is not allowed: web, securityContext: {"privileged": true}',
      'ADMISSION_DENIED',
      /under azurepolicy-k8sazurev2noprivilege-b5c41e2d5ef0b4b5f3a4: Privileged container is not allowed: web/,
      /exemption/,
    ],
    [
      'server-side apply of an unknown field',
      'Error from server: failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="web"].imagee: field not declared in schema',
      'INVALID_MANIFEST_FIELD',
      /\.imagee in shop\/web; apps\/v1, Kind=Deployment/,
      /kubectl explain/,
    ],
    [
      'another webhook',
      'Error from server: error when creating "x.yaml": admission webhook "policy.kyverno.svc" denied the request: require-labels: label app is required',
      'ADMISSION_DENIED',
      /the webhook policy.kyverno.svc refused/,
      /admission policy/,
    ],
    [
      'strict decoding',
      'Error from server (BadRequest): error when creating "web.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagee"',
      'INVALID_MANIFEST_FIELD',
      /unknown field "spec.template.spec.containers\[0\].imagee"/,
      /kubectl explain/,
    ],
    [
      'another 422',
      'Error from server (Invalid): error when creating "svc.yaml": Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'INVALID_MANIFEST',
      /refused a manifest \(svc.yaml\): Service "web" is invalid: spec.ports\[0\].port/,
      /dry run/,
    ],
  ];
  for (const [title, stderr, code, reason, fix] of cases) {
    it(title, () => {
      const e = explainDeployFailure(stderr);
      assert.ok(e, 'recognised');
      assert.strictEqual(e.code, code);
      assert.match(e.reason, reason);
      assert.match(e.fix, fix);
    });
  }

  it('leaves what it does not know to the other explanations', () => {
    assert.strictEqual(explainDeployFailure('Unable to connect to the server: dial tcp 10.1.2.4:443: i/o timeout'), undefined);
    assert.strictEqual(explainDeployFailure('error: You must be logged in to the server (Unauthorized)'), undefined);
  });

  it('knows the removals of the migration guide, and only those', () => {
    assert.deepStrictEqual(removedApi('batch/v1beta1', 'CronJob'), { removedIn: '1.25', use: 'batch/v1' });
    assert.deepStrictEqual(removedApi('networking.k8s.io/v1beta1', 'Ingress'), { removedIn: '1.22', use: 'networking.k8s.io/v1' });
    assert.strictEqual(removedApi('apps/v1', 'Deployment'), undefined);
    assert.strictEqual(removedApi('batch/v1beta1', 'Job'), undefined);
  });
});
