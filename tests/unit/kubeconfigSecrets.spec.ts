import * as assert from 'assert';
import { generateKeyPairSync } from 'crypto';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { stringify } from 'yaml';
import { parseKubeconfig } from '../../shared/kube/kubeconfig';

/** The values parseKubeconfig registers with task.setsecret, read from task-lib's command output. */
function registeredWhileParsing(text: string): string[] {
  let out = '';
  tl.setStdStream(new Writable({ write: (chunk, _encoding, done) => ((out += chunk.toString()), done()) }));
  try {
    parseKubeconfig(text);
  } finally {
    tl.setStdStream(process.stdout);
  }
  return out
    .split('\n')
    .filter((l) => l.startsWith('##vso[task.setsecret]'))
    .map((l) => l.slice('##vso[task.setsecret]'.length));
}

describe('parseKubeconfig registers the credentials a kubeconfig carries', () => {
  // What AKS returns for a local account (listClusterUserCredential without Entra ID, listClusterAdminCredential):
  // a client certificate, its key, and a static token.
  const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const kubeconfig = (user: Record<string, unknown>) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'aks',
      clusters: [{ name: 'aks', cluster: { server: 'https://aks.example:443', 'certificate-authority-data': 'Q0E=' } }],
      contexts: [{ name: 'aks', context: { cluster: 'aks', user: 'clusterAdmin_rg_aks' } }],
      users: [{ name: 'clusterAdmin_rg_aks', user }],
    });

  it('the token and the client key, as written (base64) and decoded (each key line)', () => {
    const keyData = Buffer.from(keyPem).toString('base64');
    const token = 'a'.repeat(20) + 'f00dcafe';
    const registered = registeredWhileParsing(kubeconfig({ 'client-certificate-data': 'Y2VydA==', 'client-key-data': keyData, token }));
    assert.ok(registered.includes(token), 'token');
    assert.ok(registered.includes(keyData), 'client-key-data as written');
    for (const line of keyPem.split('\n').filter((l) => l && !l.startsWith('-----')))
      assert.ok(registered.includes(line), `key line ${line.slice(0, 6)}…`);
    assert.ok(!registered.includes('Y2VydA=='), 'a certificate is public: not registered');
  });

  it('a password and the legacy auth-provider tokens', () => {
    const registered = registeredWhileParsing(
      kubeconfig({
        username: 'admin',
        password: 'hunter2-but-longer',
        'auth-provider': {
          name: 'azure',
          config: {
            'access-token': 'eyJhY2Nlc3MiOjF9.x.y',
            'refresh-token': 'refresh-0123456789',
            'apiserver-id': '6dae42f8-4368-4678-94ff-3960e28e3630',
          },
        },
      }),
    );
    assert.deepStrictEqual(registered.sort(), ['eyJhY2Nlc3MiOjF9.x.y', 'hunter2-but-longer', 'refresh-0123456789']);
  });

  it('nothing for an exec user (an Entra ID cluster): it holds no credential', () => {
    assert.deepStrictEqual(
      registeredWhileParsing(
        kubeconfig({
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: 'kubelogin',
            args: ['get-token', '--server-id', '6dae42f8-4368-4678-94ff-3960e28e3630'],
          },
        }),
      ),
      [],
    );
  });
});
