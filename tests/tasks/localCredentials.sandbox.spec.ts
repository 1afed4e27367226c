import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { startSandbox, type Sandbox } from '../sandbox';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';

/**
 * What a kubeconfig with a local account carries (a static token; on AKS also a client key) and
 * what a kustomization renders (secretGenerator data) are secrets: masked, kept in the task's own
 * 0700 folder, and gone when the task ends.
 */
describe('Local-account credentials and rendered kustomizations', function () {
  this.timeout(120_000);
  let sandbox: Sandbox;

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }],
        roleAssignments: [
          { principal: 'deployer', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-prod' },
          { principal: 'deployer', role: 'Azure Kubernetes Service RBAC Writer', scope: 'cluster:aks-prod/namespaces/web' },
          { principal: 'deployer', role: 'Azure Kubernetes Service Cluster User Role', scope: 'cluster:aks-legacy' },
          { principal: 'deployer', role: 'Azure Kubernetes Service Cluster Admin Role', scope: 'cluster:aks-legacy' },
        ],
        clusters: [
          DEPLOY_CLUSTER,
          {
            name: 'aks-legacy',
            resourceGroup: 'rg-aks',
            private: true,
            aad: null,
            disableLocalAccounts: false,
            disableRunCommand: true,
            namespaces: ['web'],
            rolloutDelaySeconds: 0,
          },
        ],
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: the direct route needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
    writeDemoManifests(sandbox);
  });

  after(async () => sandbox?.network && sandbox.stop());

  const tempDirectory = () => path.join(sandbox.tempDir, 'agent', '_work', '_temp');

  function deploy(inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<TaskRun> {
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal: 'deployer',
      inputs: { ...DEPLOY_INPUTS, route: 'direct', ...inputs },
      extraEnv,
    });
    const network = sandbox.network!;
    return runTask('PrivateAksDeployV1', env, { timeoutMs: 90_000, wrap: (c, a) => network.spawnArgs(true, c, a) });
  }

  for (const admin of [false, true]) {
    it(`registers the ${admin ? 'admin' : 'local user'} kubeconfig's token with the agent's masking`, async () => {
      const r = await deploy({ clusterName: 'aks-legacy', ...(admin ? { useAdminCredentials: 'true' } : {}) });
      assert.strictEqual(r.result, 'Succeeded', r.stdout);
      // The token ARM's listClusterUserCredential / listClusterAdminCredential put in the kubeconfig.
      const server = sandbox.azure.clusters.get('aks-legacy')!;
      const token = admin ? server.staticAdminToken : server.staticUserToken;
      assert.ok(r.registeredSecrets.includes(token), "the kubeconfig's token was not registered with task.setsecret");
    });
  }

  it('renders a kustomization into its own 0700 folder, never the shared temp directory, and removes it', async () => {
    const password = randomBytes(18).toString('hex');
    const encoded = Buffer.from(password).toString('base64');
    const dir = path.join(sandbox.tempDir, 'agent', '_work', '1', 's', 'with-secret');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      `resources:\n  - cm.yaml\nsecretGenerator:\n  - name: db\n    literals:\n      - password=${password}\n`,
    );
    fs.writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kustomize\ndata:\n  a: b\n');
    // kubectl as the task runs it, which also records, when the task applies, every file of the
    // temp directory that holds the rendered secret, with its folder's and its own mode.
    const realKubectl = spawnSync('bash', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
    const record = path.join(sandbox.tempDir, `kubectl-record-${randomBytes(4).toString('hex')}`);
    const wrapper = path.join(sandbox.tempDir, 'kubectl-recording');
    fs.writeFileSync(
      wrapper,
      `#!/bin/bash\nif [ "$1" != kustomize ]; then\n  grep -rl -e '${encoded}' -e '${password}' "$AGENT_TEMPDIRECTORY" 2>/dev/null | while read -r f; do echo "$(stat -c %a "$(dirname "$f")") $(stat -c %a "$f") $f"; done >> '${record}'\nfi\nexec '${realKubectl}' "$@"\n`,
      { mode: 0o755 },
    );
    const r = await deploy({ manifests: '', kustomizationPath: 'with-secret', kubectlPath: wrapper });
    assert.strictEqual(r.result, 'Succeeded', r.stdout);
    const seen = fs.readFileSync(record, 'utf8').trim().split('\n').filter(Boolean);
    assert.ok(seen.length > 0, 'the rendered Secret was in no file when kubectl applied it');
    for (const line of seen) {
      const [dirMode, fileMode, file] = line.split(' ');
      assert.notStrictEqual(path.dirname(file), tempDirectory(), `rendered into the shared temp directory: ${path.basename(file)}`);
      assert.strictEqual(dirMode, '700', `${file}'s folder is ${dirMode}`);
      assert.strictEqual(fileMode, '600', `${file} is ${fileMode}`);
    }
    const left = spawnSync('grep', ['-rl', '-e', encoded, '-e', password, tempDirectory()], { encoding: 'utf8' }).stdout.trim();
    assert.strictEqual(left, '', 'the rendered secret was left in the temp directory');
  });
});
