import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import { apiServerOf, parseKubeconfig, usesEntraExec, withExecCredential, writeKubeconfig } from '../../shared/kube/kubeconfig';

const AKS_USER_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ${Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64')}
    server: https://aks-prod-1a2b3c4d.5e6f.privatelink.eastus.azmk8s.io:443
  name: aks-prod
contexts:
- context:
    cluster: aks-prod
    user: clusterUser_rg-aks-prod_aks-prod
  name: aks-prod
current-context: aks-prod
users:
- name: clusterUser_rg-aks-prod_aks-prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
`;

describe('kubeconfig', () => {
  it('reads the API server and CA of the current context', () => {
    const k = parseKubeconfig(AKS_USER_KUBECONFIG);
    assert.deepStrictEqual(apiServerOf(k), {
      server: 'https://aks-prod-1a2b3c4d.5e6f.privatelink.eastus.azmk8s.io:443',
      caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      tlsServerName: undefined,
    });
    assert.ok(usesEntraExec(k));
  });

  it('swaps the device-code kubelogin user for a plugin that never prompts', () => {
    const k = withExecCredential(
      parseKubeconfig(AKS_USER_KUBECONFIG),
      { command: '/agent/node', args: ['/tasks/execCredential.js'] },
      'web',
    );
    const text = JSON.stringify(k);
    assert.ok(!text.includes('devicecode') && !text.includes('kubelogin'));
    assert.deepStrictEqual(k.users, [
      {
        name: 'private-aks-deploy',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: '/agent/node',
            args: ['/tasks/execCredential.js'],
            interactiveMode: 'Never',
            provideClusterInfo: false,
          },
        },
      },
    ]);
    assert.deepStrictEqual(k.contexts[0].context, { cluster: 'aks-prod', user: 'private-aks-deploy', namespace: 'web' });
  });

  it('is written 0600 in a 0700 folder and removed without trace', function () {
    if (process.platform === 'win32') this.skip();
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-test-'));
    try {
      const written = writeKubeconfig(temp, parseKubeconfig(AKS_USER_KUBECONFIG));
      assert.strictEqual(fs.statSync(written.path).mode & 0o777, 0o600);
      assert.strictEqual(fs.statSync(path.dirname(written.path)).mode & 0o777, 0o700);
      assert.strictEqual(parse(fs.readFileSync(written.path, 'utf8'))['current-context'], 'aks-prod');
      written.remove();
      assert.deepStrictEqual(fs.readdirSync(temp), []);
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
  });

  const broken: [string, string, RegExp][] = [
    ['not YAML', 'clusters: [unclosed', /is not YAML/],
    ['no clusters', 'apiVersion: v1\nkind: Config\n', /has no clusters, users and contexts/],
    [
      'a dangling context',
      AKS_USER_KUBECONFIG.replace('current-context: aks-prod', 'current-context: other'),
      /current context 'other' does not exist/,
    ],
    [
      'a YAML bomb',
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n',
      /is not YAML|no clusters/,
    ],
  ];
  for (const [what, text, message] of broken) {
    it(`refuses ${what} with an explanation`, () => {
      assert.throws(
        () => parseKubeconfig(text),
        (e: Error) => /\[INVALID_KUBECONFIG\]/.test(e.message) && message.test(e.message),
      );
    });
  }
});
