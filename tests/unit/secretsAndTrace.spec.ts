import * as assert from 'assert';
import type { ManifestObject } from '../../shared/kube/manifests';
import { genericSecret } from '../../shared/kube/secretObjects';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { withSecretsAndTrace } from '../../tasks/PrivateAksDeployV1/secretsAndTrace';

const manifests = (): ManifestObject[] => [
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop' }, spec: { template: { spec: {} } } },
];

describe('PrivateAksDeploy: the secret inputs applied to the plan', () => {
  it('nothing asked, nothing changed', () => {
    const objects = manifests();
    const out = withSecretsAndTrace({ imagePullSecrets: [] }, objects);
    assert.deepStrictEqual(out, { objects: manifests(), carriesSecrets: false });
  });

  it('the Secret first, annotated with the others, and the plan marked as carrying it', () => {
    const secret = genericSecret('db', undefined, [{ key: 'k', value: 'v' }]);
    const out = withSecretsAndTrace({ secret, imagePullSecrets: ['db'], annotations: { 'azure-pipelines/run': '7' } }, manifests());
    assert.strictEqual(out.carriesSecrets, true);
    assert.deepStrictEqual(
      out.objects.map((o) => [o.kind, (o.metadata.annotations as Record<string, string>)['azure-pipelines/run']]),
      [
        ['Secret', '7'],
        ['ConfigMap', '7'],
        ['Deployment', '7'],
      ],
    );
    assert.deepStrictEqual((out.objects[2].spec as { template: { spec: unknown } }).template.spec, { imagePullSecrets: [{ name: 'db' }] });
  });

  it('refuses a secretName the manifests already hold as a Secret', () => {
    const own: ManifestObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db' } };
    assert.throws(
      () => withSecretsAndTrace({ secret: genericSecret('db', undefined, []), imagePullSecrets: [] }, [own]),
      (e: unknown) => e instanceof ExplainedError && e.code === 'INVALID_INPUT' && /already hold a Secret named 'db'/.test(e.reason),
    );
  });
});
