import * as assert from 'assert';
import type { ManifestObject } from '../../shared/kube/manifests';
import {
  annotateObjects,
  attachImagePullSecrets,
  dockerRegistrySecret,
  genericSecret,
  parseSecretArguments,
  secretForms,
  validateSecretName,
} from '../../shared/kube/secretObjects';
import { ExplainedError } from '../../shared/pipeline/explainedError';

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ExplainedError && e.code === 'INVALID_INPUT' && pattern.test(e.message));

describe('secret objects built in memory', () => {
  it("a docker-registry secret is kubectl create secret docker-registry's object", () => {
    const s = dockerRegistrySecret('pull', undefined, { server: 'r.example', username: 'u', password: 'p@ss', email: 'a@b' });
    assert.deepStrictEqual(
      { ...s, data: undefined },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pull' }, type: 'kubernetes.io/dockerconfigjson', data: undefined },
    );
    // The exact bytes kubectl writes (create_secret_docker.go: username, password, email, auth, in that order).
    assert.strictEqual(
      Buffer.from((s.data as Record<string, string>)['.dockerconfigjson'], 'base64').toString(),
      `{"auths":{"r.example":{"username":"u","password":"p@ss","email":"a@b","auth":"${Buffer.from('u:p@ss').toString('base64')}"}}}`,
    );
    const noEmail = dockerRegistrySecret('pull', 'web', { server: 'r.example', username: 'u', password: 'p' });
    assert.ok(
      !Buffer.from((noEmail.data as Record<string, string>)['.dockerconfigjson'], 'base64')
        .toString()
        .includes('email'),
    );
    assert.strictEqual(noEmail.metadata.namespace, 'web');
  });

  it('secretForms lists every printable form of the values, the Docker password and auth included', () => {
    const s = dockerRegistrySecret('pull', undefined, { server: 'r.example', username: 'u', password: 'longpassword', email: '' });
    const forms = secretForms(s);
    assert.ok(forms.includes('longpassword'));
    assert.ok(forms.includes(Buffer.from('u:longpassword').toString('base64')));
    assert.ok(forms.includes((s.data as Record<string, string>)['.dockerconfigjson']));
    assert.deepStrictEqual(secretForms(genericSecret('g', undefined, [{ key: 'k', value: 'v1' }])), [
      Buffer.from('v1').toString('base64'),
      'v1',
    ]);
  });

  const table: [string, { key: string; value: string }[]][] = [
    ['--from-literal=user=app', [{ key: 'user', value: 'app' }]],
    // kubectl splits at the first '=': the value may hold more.
    ['--from-literal=conn=a=b;c=d', [{ key: 'conn', value: 'a=b;c=d' }]],
    [
      '--from-literal=a=1 --from-literal=b=2\n--from-literal=c=3',
      [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'c', value: '3' },
      ],
    ],
    ['--from-literal=p="with spaces"', [{ key: 'p', value: 'with spaces' }]],
    ['"--from-literal=p=quoted \\"inner\\""', [{ key: 'p', value: 'quoted "inner"' }]],
    ['--from-literal=empty=', [{ key: 'empty', value: '' }]],
  ];
  for (const [text, literals] of table) {
    it(`parses secretArguments ${JSON.stringify(text)}`, () =>
      assert.deepStrictEqual(parseSecretArguments('secretArguments', text), literals));
  }

  it('refuses what kubectl would refuse, and --from-file, without repeating a value', () => {
    refused(() => parseSecretArguments('secretArguments', '--from-file=/etc/passwd'), /--from-file is not supported/);
    refused(() => parseSecretArguments('secretArguments', 'hunter2secret'), /an argument is not supported/);
    refused(() => parseSecretArguments('secretArguments', '--from-literal=novalue'), /expected key=value/);
    refused(() => parseSecretArguments('secretArguments', '--from-literal==v'), /expected key=value/);
    refused(() => parseSecretArguments('secretArguments', '--from-literal=bad/key=v'), /not a valid key name/);
    refused(() => parseSecretArguments('secretArguments', '--from-literal=k=1 --from-literal=k=2'), /given twice/);
    refused(() => parseSecretArguments('secretArguments', '  \n '), /no --from-literal/);
    assert.throws(
      () => parseSecretArguments('secretArguments', '--from-literal=novalue-hunter2'),
      (e: unknown) => !(e as Error).message.includes('hunter2'),
    );
  });

  it('checks Secret names as DNS subdomains', () => {
    assert.strictEqual(validateSecretName('secretName', 'acr-pull.v1'), 'acr-pull.v1');
    refused(() => validateSecretName('secretName', 'Acr_Pull'), /not a valid Secret name/);
  });

  const workloads = (): ManifestObject[] => [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { template: { spec: { imagePullSecrets: [{ name: 'old' }] } } },
    },
    { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: {} } } } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } },
  ];

  it("adds imagePullSecrets after a workload's own, as KubernetesManifest does, and not twice", () => {
    const objects = workloads();
    assert.strictEqual(attachImagePullSecrets(objects, ['new', 'old']), 3);
    const spec = (o: ManifestObject, ...keys: string[]) => keys.reduce((x: any, k) => x[k], o); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepStrictEqual(spec(objects[0], 'spec', 'template', 'spec', 'imagePullSecrets'), [{ name: 'old' }, { name: 'new' }]);
    assert.deepStrictEqual(spec(objects[1], 'spec', 'jobTemplate', 'spec', 'template', 'spec', 'imagePullSecrets'), [
      { name: 'new' },
      { name: 'old' },
    ]);
    assert.deepStrictEqual(spec(objects[2], 'spec', 'imagePullSecrets'), [{ name: 'new' }, { name: 'old' }]);
    assert.strictEqual(spec(objects[3], 'spec').imagePullSecrets, undefined);
    assert.strictEqual(attachImagePullSecrets(objects, ['new']), 0, 'already there: nothing added');
  });

  it('annotates every object over its own annotations, not the pod templates', () => {
    const objects = workloads();
    objects[0].metadata.annotations = { keep: 'me', 'azure-pipelines/run': 'old' };
    annotateObjects(objects, { 'azure-pipelines/run': '42' });
    assert.deepStrictEqual(objects[0].metadata.annotations, { keep: 'me', 'azure-pipelines/run': '42' });
    assert.ok(objects.every((o) => (o.metadata.annotations as Record<string, string>)['azure-pipelines/run'] === '42'));
    assert.strictEqual((objects[0].spec as any).template.metadata, undefined); // eslint-disable-line @typescript-eslint/no-explicit-any
  });
});
