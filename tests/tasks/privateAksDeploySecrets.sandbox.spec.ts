import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { liveIssuedSecrets, startSandbox, type Sandbox } from '../sandbox';
import { dockerRegistryConnectionEnv, type DockerRegistryConnection } from '../support/agentEnvironment';
import { DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { leaksOfRun, loggedText } from '../support/leakScan';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { REPO_ROOT, runTask, type TaskRun } from '../support/taskRun';
import { uploadedSummaries } from '../support/uploadedSummaries';

type Store = { get(kind: string, ns: string, name: string): unknown };
interface SecretObject {
  type: string;
  data: Record<string, string>;
  metadata: { annotations?: Record<string, string> };
}
interface Workload {
  metadata: { annotations?: Record<string, string> };
  spec: { template: { metadata: { annotations?: Record<string, string> }; spec: { imagePullSecrets?: { name: string }[] } } };
}

const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

/**
 * Secrets without files, and the run's traceability, on both routes with the real kubectl: a
 * docker-registry secret from a Docker registry connection and a generic secret from a secret
 * variable land in the cluster with the data `kubectl create secret` would give them, applied with
 * the manifests; their values reach no file under the agent's temp folder, no command line (every
 * spawn recorded) and no log line; imagePullSecrets are on the workloads and KubernetesManifest's
 * annotations on every object.
 */
describe('PrivateAksDeploy: secrets in memory, imagePullSecrets and run annotations', function () {
  this.timeout(180_000);
  let sandbox: Sandbox;
  const recorder = path.join(REPO_ROOT, 'build', 'tests', 'reliability', 'spawnRecorder.js');
  const tempWatch = path.join(REPO_ROOT, 'build', 'tests', 'support', 'tempFileWatch.js');
  const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
  const DB_PASSWORD = `db-${randomBytes(12).toString('hex')} with spaces`;
  const REGISTRY: DockerRegistryConnection = {
    id: 'docker-contoso',
    kind: 'others',
    registry: 'registry.contoso.example',
    username: 'puller',
    password: PASSWORD,
    email: 'ops@contoso.example',
  };
  // What the agent's job knows of the run (KubernetesManifest's annotations read these).
  const RUN_VARIABLES = {
    'Build.BuildNumber': '20261126.3',
    'Build.BuildId': '4242',
    'Build.DefinitionName': 'shop-cd',
    'System.DefinitionId': '17',
    'Agent.JobName': 'Deploy shop',
  };

  before(async function () {
    sandbox = await startSandbox(
      {
        principals: [{ name: 'deployer' }],
        customRoles: [RUN_COMMAND_INVOKER],
        roleAssignments: deployerAssignments('deployer'),
        clusters: [{ ...DEPLOY_CLUSTER }],
      },
      { privateNetwork: true },
    );
    if (!sandbox.network) {
      console.log(`      skipped: route direct runs inside the VNet, which needs network namespaces (${sandbox.networkUnavailable})`);
      await sandbox.stop();
      this.skip();
    }
    writeDemoManifests(sandbox);
  });

  after(async () => sandbox?.stop());

  const store = () => sandbox.azure.clusters.get('aks-prod')!.store as Store;

  async function deploy(
    route: 'direct' | 'runCommand',
    inputs: Record<string, string>,
    job: { connections?: DockerRegistryConnection[]; secretVariables?: Record<string, string>; watch?: string[] } = {},
  ): Promise<{
    run: TaskRun;
    spawns: { file: string; args: string[] }[];
    filesDuringRun: string[];
    env: Record<string, string | undefined>;
  }> {
    const tempDir = fs.mkdtempSync(path.join(sandbox.tempDir, 'job-temp-'));
    const spawnsFile = path.join(os.tmpdir(), `spawns-${randomBytes(6).toString('hex')}.jsonl`);
    const watchFile = path.join(os.tmpdir(), `temp-watch-${randomBytes(6).toString('hex')}.txt`);
    const env = sandboxJobEnv(sandbox, {
      connectionId: 'sc-secret',
      scheme: 'ServicePrincipalSecret',
      principal: 'deployer',
      debug: true,
      tempDirectory: tempDir,
      variables: RUN_VARIABLES,
      secretVariables: job.secretVariables,
      inputs: { ...DEPLOY_INPUTS, route, ...inputs },
      extraEnv: {
        ...Object.assign({}, ...(job.connections ?? []).map(dockerRegistryConnectionEnv)),
        NODE_OPTIONS: `--require ${recorder} --require ${tempWatch}`,
        SPAWN_RECORD: spawnsFile,
        TEMP_WATCH_RECORD: watchFile,
        TEMP_WATCH_VALUES: JSON.stringify(job.watch ?? []),
      },
    });
    const network = sandbox.network!;
    const run = await runTask('PrivateAksDeployV1', env, {
      wrap: (c, a) => network.spawnArgs(route === 'direct', c, a),
      timeoutMs: 120_000,
    });
    assert.ok(!run.timedOut, `the task hung:\n${run.stdout}`);
    const spawns = fs.existsSync(spawnsFile)
      ? fs
          .readFileSync(spawnsFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { file: string; args: string[] })
      : [];
    const filesDuringRun = fs.existsSync(watchFile) ? [...new Set(fs.readFileSync(watchFile, 'utf8').split('\n').filter(Boolean))] : [];
    fs.rmSync(spawnsFile, { force: true });
    fs.rmSync(watchFile, { force: true });
    return { run, spawns, filesDuringRun, env };
  }

  /** The values appear in no log line, no file left under the temp folder, no process's command line. */
  function assertNoLeak(r: Awaited<ReturnType<typeof deploy>>, values: string[]): void {
    assert.deepStrictEqual(r.filesDuringRun, [], 'a secret in a file under the agent temp folder while the task ran');
    assert.deepStrictEqual(
      leaksOfRun(r.run.stdout, r.run.stderr, r.env, [...liveIssuedSecrets(), ...values]),
      [],
      'a secret leaked into the log or a file',
    );
    for (const s of r.spawns) {
      const line = [s.file, ...s.args].join(' ');
      for (const v of values)
        assert.ok(!line.includes(v) && !line.includes(Buffer.from(v).toString('base64')), `a secret on a command line: ${s.file}`);
    }
    assert.ok(
      r.spawns.some((s) => /kubectl/.test(s.file) || s.args.some((a) => /kubectl/.test(a))) || r.run.stdout.includes('[run command]'),
      'kubectl ran (the spawn recorder saw the task)',
    );
  }

  for (const route of ['direct', 'runCommand'] as const) {
    it(`route ${route}: a docker-registry secret from a Docker registry connection, imagePullSecrets and run annotations`, async () => {
      const r = await deploy(
        route,
        {
          secretName: `pull-${route.toLowerCase()}`,
          secretType: 'dockerRegistry',
          dockerRegistryEndpoint: REGISTRY.id,
          imagePullSecrets: `pull-${route.toLowerCase()}\nshared-pull`,
          traceabilityAnnotations: 'true',
        },
        { connections: [REGISTRY], watch: [PASSWORD] },
      );
      assert.strictEqual(r.run.result, 'Succeeded', `${r.run.resultMessage}\n${r.run.stdout}`);
      const secret = store().get('Secret', 'web', `pull-${route.toLowerCase()}`) as SecretObject;
      assert.ok(secret, 'the secret is in the cluster');
      assert.strictEqual(secret.type, 'kubernetes.io/dockerconfigjson');
      // kubectl create secret docker-registry's .dockerconfigjson (create_secret_docker.go).
      assert.deepStrictEqual(JSON.parse(decode(secret.data['.dockerconfigjson'])), {
        auths: {
          'registry.contoso.example': {
            username: 'puller',
            password: PASSWORD,
            email: 'ops@contoso.example',
            auth: Buffer.from(`puller:${PASSWORD}`).toString('base64'),
          },
        },
      });
      const shop = store().get('Deployment', 'web', 'shop') as Workload;
      assert.deepStrictEqual(shop.spec.template.spec.imagePullSecrets, [{ name: `pull-${route.toLowerCase()}` }, { name: 'shared-pull' }]);
      const expected = {
        'azure-pipelines/run': '20261126.3',
        'azure-pipelines/pipeline': 'shop-cd',
        'azure-pipelines/pipelineId': '17',
        'azure-pipelines/jobName': 'Deploy shop',
        'azure-pipelines/runuri': `${sandbox.collectionUri.replace(/\/?$/, '/')}sandbox-project/_build/results?buildId=4242`,
        'azure-pipelines/project': 'sandbox-project',
        'azure-pipelines/org': sandbox.collectionUri,
      };
      for (const [kind, name] of [
        ['Secret', `pull-${route.toLowerCase()}`],
        ['ConfigMap', 'settings'],
        ['Deployment', 'shop'],
        ['Service', 'shop'],
      ]) {
        const annotations =
          (store().get(kind, 'web', name) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {};
        for (const [k, v] of Object.entries(expected)) assert.strictEqual(annotations[k], v, `${kind}/${name} ${k}`);
      }
      // Not on the pod template: annotating it would restart every pod on every run.
      assert.ok(!Object.keys(shop.spec.template.metadata.annotations ?? {}).some((k) => k.startsWith('azure-pipelines/')));
      // The summary lists what this run changed, as kubectl apply reported it.
      const page = uploadedSummaries(r.run.stdout)
        .map((u) => fs.readFileSync(u.file, 'utf8'))
        .find((text) => text.includes('Applied objects'))!;
      assert.match(page, new RegExp(`\\| Secret \\| .* \\| \`pull-${route.toLowerCase()}\` \\| created \\|`));
      assert.match(page, /\| Deployment \| .* \| `shop` \| (created|configured) \|/);
      assertNoLeak(r, [PASSWORD]);
    });

    it(`route ${route}: a generic secret from a secret variable, applied with the manifests`, async () => {
      const name = `db-${route.toLowerCase()}`;
      const r = await deploy(
        route,
        { secretName: name, secretType: 'generic', secretArguments: '--from-literal=user=app\n--from-literal=password="$(dbPassword)"' },
        { secretVariables: { dbPassword: DB_PASSWORD }, watch: [DB_PASSWORD] },
      );
      assert.strictEqual(r.run.result, 'Succeeded', `${r.run.resultMessage}\n${r.run.stdout}`);
      const secret = store().get('Secret', 'web', name) as SecretObject;
      assert.strictEqual(secret.type, 'Opaque');
      assert.deepStrictEqual(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, decode(v)])), {
        user: 'app',
        password: DB_PASSWORD,
      });
      assert.ok(
        JSON.parse(r.run.outputs.appliedObjects).some((o: { kind: string; name: string }) => o.kind === 'Secret' && o.name === name),
      );
      // Without traceabilityAnnotations, nothing is annotated.
      assert.ok(!Object.keys(secret.metadata.annotations ?? {}).some((k) => k.startsWith('azure-pipelines/')));
      assertNoLeak(r, [DB_PASSWORD]);
    });
  }

  it('refuses an ACR connection that gives only short-lived tokens as a pull secret, pointing to AcrPull on the kubelet identity', async () => {
    const wif: DockerRegistryConnection = {
      id: 'acr-wif',
      kind: 'acr',
      loginServer: 'contosoprod.azurecr.io',
      scheme: 'WorkloadIdentityFederation',
      tenantId: sandbox.tenantId,
      servicePrincipalId: '11111111-2222-3333-4444-555555555555',
    };
    const r = await deploy('runCommand', { secretName: 'acr-pull', dockerRegistryEndpoint: wif.id }, { connections: [wif] });
    assert.strictEqual(r.run.result, 'Failed');
    assert.match(r.run.resultMessage ?? '', /\[SHORT_LIVED_PULL_SECRET\]/);
    assert.match(r.run.resultMessage ?? '', /short-lived tokens/);
    assert.match(r.run.resultMessage ?? '', /--attach-acr contosoprod/);
    assert.strictEqual(store().get('Secret', 'web', 'acr-pull'), undefined);
  });

  it('takes a long-lived ACR service principal credential, with a notice that AcrPull on the kubelet identity is the better answer', async () => {
    const KEY = `spkey-${randomBytes(10).toString('hex')}`;
    const spn: DockerRegistryConnection = {
      id: 'acr-spn',
      kind: 'acr',
      loginServer: 'contosoprod.azurecr.io',
      scheme: 'ServicePrincipal',
      tenantId: sandbox.tenantId,
      servicePrincipalId: '11111111-2222-3333-4444-555555555555',
      servicePrincipalKey: KEY,
    };
    const r = await deploy('runCommand', { secretName: 'acr-pull', dockerRegistryEndpoint: spn.id }, { connections: [spn], watch: [KEY] });
    assert.strictEqual(r.run.result, 'Succeeded', `${r.run.resultMessage}\n${r.run.stdout}`);
    assert.ok(
      r.run.lines.some((l) =>
        /Note: contosoprod\.azurecr\.io is an Azure Container Registry: granting AcrPull to the cluster's kubelet identity/.test(l),
      ),
    );
    const auths = JSON.parse(decode((store().get('Secret', 'web', 'acr-pull') as SecretObject).data['.dockerconfigjson'])).auths;
    assert.deepStrictEqual(Object.keys(auths), ['contosoprod.azurecr.io']);
    assert.strictEqual(auths['contosoprod.azurecr.io'].username, spn.servicePrincipalId);
    assertNoLeak(r, [KEY]);
  });

  it('refuses secretArguments other than --from-literal without repeating the value', async () => {
    const r = await deploy('runCommand', {
      secretName: 'bad',
      secretType: 'generic',
      secretArguments: `--from-file=/etc/passwd\n--from-literal=k=${PASSWORD}`,
    });
    assert.strictEqual(r.run.result, 'Failed');
    assert.match(r.run.resultMessage ?? '', /secretArguments/);
    assert.match(r.run.resultMessage ?? '', /--from-file is not supported: only --from-literal=key=value is/);
    assert.ok(!loggedText(r.run.stdout, r.run.stderr).includes(PASSWORD), 'the refused value is in the log');
  });
});
