import * as assert from 'assert';
import * as fs from 'fs';
import { startSandbox, type Sandbox } from '../sandbox';
import type { AksApiServer } from '../sandbox/kubernetes/aksApiServer';
import { DEMO_MANIFEST, DEPLOY_CLUSTER, DEPLOY_INPUTS, writeDemoManifests } from '../support/deployInputs';
import { RUN_COMMAND_INVOKER, deployerAssignments } from '../support/deployerAccess';
import { sandboxJobEnv } from '../support/sandboxAgent';
import { runTask, type TaskRun } from '../support/taskRun';
import { uploadedSummaries } from '../support/uploadedSummaries';

/**
 * PrivateAksDeploy's action preview (kubectl diff, nothing changed) and serverDryRunFirst (the whole
 * batch as a server-side dry run before the apply), on both routes, with the real kubectl against
 * the sandbox's API server, which refuses what a real one refuses at apply time with the real texts
 * (tests/sandbox/kubernetes: servedVersions, immutableFields, quota, policyWebhooks, schema).
 */

/** Azure Policy's "allowed images" constraint, as tests/sandbox/kubernetes/deployTimeFailures.spec.ts seeds it. */
const ALLOWED_IMAGES = {
  template: 'k8sazurev2containerallowedimages' as const,
  imageRegex: '^contosoprod\\.azurecr\\.io/.+$',
  hash: '1b10f0111a41c36df80c',
};

function deployment(name: string, o: { app?: string; image?: string; apiVersion?: string; extra?: string } = {}): string {
  const app = o.app ?? name;
  return `apiVersion: ${o.apiVersion ?? 'apps/v1'}
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: { app: ${app} }
  template:
    metadata:
      labels: { app: ${app} }
    spec:
      containers:
        - name: web
          image: ${o.image ?? 'contosoprod.azurecr.io/shop/web:1.0.0'}
${o.extra ?? ''}`;
}

const CONFIG = (name: string, mode: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  mode: ${mode}
`;

/** A batch: a ConfigMap the refusal must not let through, then the refused object. */
const batch = (...docs: string[]) => docs.join('---\n');

interface Refusal {
  title: string;
  namespace: string;
  /** Objects that must be there before (applied without refusal). */
  setup?: string;
  /** The batch, its ConfigMap named `configMap`. */
  manifest: (configMap: string) => string;
  code: string;
  message: RegExp;
}

const REFUSALS: Refusal[] = [
  {
    title: 'an API version the cluster no longer serves',
    namespace: 'web',
    manifest: (cm) => batch(CONFIG(cm, 'a'), deployment('legacy', { apiVersion: 'extensions/v1beta1' })),
    code: 'API_VERSION_REMOVED',
    message: /Deployment 'legacy'.* uses extensions\/v1beta1, which Kubernetes 1\.16 stopped serving.*Change apiVersion to apps\/v1/,
  },
  {
    title: 'a Deployment selector change (immutable)',
    namespace: 'web',
    setup: deployment('sel'),
    manifest: (cm) => batch(CONFIG(cm, 'b'), deployment('sel', { app: 'sel2' })),
    code: 'IMMUTABLE_FIELD',
    message: /Deployment '?sel'? cannot change spec\.selector in place/,
  },
  {
    title: 'a ResourceQuota already used up',
    namespace: 'quota',
    setup: deployment('one'),
    manifest: (cm) => batch(CONFIG(cm, 'c'), deployment('two')),
    code: 'QUOTA_EXCEEDED',
    message: /'two' would exceed the namespace's ResourceQuota 'deployments' \(requested count\/deployments\.apps=1/,
  },
  {
    title: 'an Azure Policy (Gatekeeper) denial',
    namespace: 'web',
    manifest: (cm) => batch(CONFIG(cm, 'd'), deployment('outside', { image: 'docker.io/library/nginx:1.27' })),
    code: 'ADMISSION_DENIED',
    message: /Azure Policy \(Gatekeeper\) refused an object.*azurepolicy-k8sazurev2containerallowedimag.*docker\.io\/library\/nginx:1\.27/,
  },
  {
    title: 'an unknown field (strict decoding)',
    namespace: 'web',
    manifest: (cm) => batch(CONFIG(cm, 'e'), deployment('typo', { extra: '          imagePullPolicyy: Always\n' })),
    code: 'INVALID_MANIFEST_FIELD',
    message: /fields the API does not know: unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolicyy"/,
  },
];

for (const route of ['direct', 'runCommand'] as const) {
  describe(`PrivateAksDeploy preview and server-side dry run (route ${route})`, function () {
    this.timeout(180_000);
    let sandbox: Sandbox;
    let cluster: AksApiServer;

    before(async function () {
      sandbox = await startSandbox(
        {
          principals: [{ name: 'deployer' }, { name: 'admin' }],
          customRoles: [RUN_COMMAND_INVOKER],
          roleAssignments: [
            ...deployerAssignments('deployer'),
            ...deployerAssignments('deployer', 'aks-prod', 'quota').slice(1),
            // Creating a namespace takes a cluster-wide role (namespaces are cluster-scoped).
            ...deployerAssignments('admin'),
            { principal: 'admin', role: 'Azure Kubernetes Service RBAC Cluster Admin', scope: 'cluster:aks-prod' },
          ],
          clusters: [
            {
              ...DEPLOY_CLUSTER,
              kubernetesVersion: '1.31.2',
              namespaces: ['web', 'quota'],
              resourceQuotas: [{ namespace: 'quota', name: 'deployments', hard: { 'count/deployments.apps': '1' } }],
              azurePolicy: true,
              policyConstraints: [ALLOWED_IMAGES],
              policyExpansionTemplate: 'expand-deployments',
            },
          ],
        },
        { privateNetwork: route === 'direct' },
      );
      if (route === 'direct' && !sandbox.network) {
        console.log(`      skipped: route direct needs the private network's namespaces (${sandbox.networkUnavailable})`);
        this.skip();
      }
      cluster = sandbox.azure.clusters.get('aks-prod')!;
    });

    after(async () => sandbox?.stop());

    function run(manifest: string, inputs: Record<string, string> = {}, principal = 'deployer'): Promise<TaskRun> {
      writeDemoManifests(sandbox, manifest);
      const env = sandboxJobEnv(sandbox, {
        connectionId: 'sc-secret',
        scheme: 'ServicePrincipalSecret',
        principal,
        inputs: { ...DEPLOY_INPUTS, route, waitForRollout: 'false', ...inputs },
      });
      const network = sandbox.network;
      return runTask('PrivateAksDeployV1', env, {
        timeoutMs: 120_000,
        wrap: route === 'direct' ? (c, a) => network!.spawnArgs(true, c, a) : undefined,
      });
    }

    /** The stored version of each object (undefined: absent), to show a run changed nothing. */
    function snapshot(namespace: string): Record<string, string | undefined> {
      const out: Record<string, string | undefined> = {};
      for (const kind of ['ConfigMap', 'Deployment', 'Service'])
        for (const o of cluster.store.list(kind, namespace)) {
          const m = o.metadata as { name: string; resourceVersion: string; generation?: number };
          // Controllers write status (new resourceVersions); the spec's generation and the data are what an apply changes.
          out[`${kind}/${m.name}`] = JSON.stringify([m.generation, (o as { data?: unknown }).data, (o as { spec?: unknown }).spec]);
        }
      return out;
    }

    function succeeded(r: TaskRun): void {
      assert.strictEqual(r.result, 'Succeeded', `${r.resultMessage}\n${r.lines.slice(-30).join('\n')}`);
    }

    function failedWith(r: TaskRun, code: string): string {
      assert.strictEqual(r.result, 'Failed', r.lines.slice(-30).join('\n'));
      assert.ok(r.resultMessage?.includes(`[${code}]`), `expected ${code}: ${r.resultMessage}`);
      assert.ok(!('appliedObjects' in r.outputs), 'appliedObjects set after a failure');
      return r.resultMessage!;
    }

    function previewPage(r: TaskRun): string {
      const page = uploadedSummaries(r.stdout).find((s) => s.title === 'Private AKS deploy preview');
      assert.ok(page, `no preview summary attached:\n${r.stdout.slice(-2000)}`);
      return fs.readFileSync(page.file, 'utf8');
    }

    it('preview of a first deploy: every object to create, the diff in the log, nothing applied', async () => {
      const before = snapshot('web');
      const r = await run(DEMO_MANIFEST, { action: 'preview' });
      succeeded(r);
      assert.deepStrictEqual(snapshot('web'), before, 'the preview changed the cluster');
      assert.strictEqual(cluster.store.get('Deployment', 'web', 'shop'), undefined);
      assert.ok(!('appliedObjects' in r.outputs));
      assert.strictEqual(r.outputs.route, route);
      const page = previewPage(r);
      assert.match(page, /Preview for `aks-prod`: 3 to create, 0 to change, 0 unchanged/);
      assert.match(page, /\| 🆕 created \| Deployment \| `web` \| `shop` \|/);
      assert.match(page, /\| 🆕 created \| ConfigMap \| `web` \| `settings` \|/);
      assert.match(page, /```diff\n[\s\S]*\+ {2}name: shop/);
      // The diff itself is in the log (kubectl diff's unified diff of the new Deployment).
      assert.ok(
        r.lines.some((l) => /^\s*(\[run command\] )?\+\s+- image: contosoprod\.azurecr\.io\/shop\/web:1\.0\.0$/.test(l)),
        r.stdout,
      );
      assert.ok(
        r.lines.some((l) =>
          /Preview of 3 object\(s\) on aks-prod via .*: 3 to create, 0 to change, 0 unchanged\. Nothing was applied\./.test(l),
        ),
      );
    });

    it('preview of a changed deploy: the changed Deployment, the rest unchanged, Secret values masked, nothing applied', async () => {
      const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\ndata:\n  password: ${Buffer.from('hunter2-first').toString('base64')}\n`;
      succeeded(await run(batch(DEMO_MANIFEST, secret)));
      const before = snapshot('web');
      const changedSecret = secret.replace(
        Buffer.from('hunter2-first').toString('base64'),
        Buffer.from('hunter2-second').toString('base64'),
      );
      const changed = batch(DEMO_MANIFEST.replace('shop/web:1.0.0', 'shop/web:2.0.0'), changedSecret);
      const r = await run(changed, { action: 'preview' });
      succeeded(r);
      assert.deepStrictEqual(snapshot('web'), before, 'the preview changed the cluster');
      const page = previewPage(r);
      assert.match(page, /0 to create, 2 to change, 2 unchanged/);
      assert.match(page, /\| ✏️ changed \| Deployment \| `web` \| `shop` \|/);
      assert.match(page, /\| ➖ unchanged \| ConfigMap \| `web` \| `settings` \|/);
      assert.match(page, /\| ➖ unchanged \| Service \| `web` \| `shop` \|/);
      assert.match(
        page,
        /-\s+- image: contosoprod\.azurecr\.io\/shop\/web:1\.0\.0\n\+\s+- image: contosoprod\.azurecr\.io\/shop\/web:2\.0\.0/,
      );
      // kubectl diff masks Secret data (kubectl/pkg/cmd/diff/diff.go Masker): "*** (before)" / "*** (after)".
      assert.match(page, /\| ✏️ changed \| Secret \| `web` \| `creds` \|/);
      assert.match(page, /password: '?\*\*\* \(after\)'?/);
      for (const value of ['hunter2-first', 'hunter2-second'])
        for (const text of [r.stdout, page]) assert.ok(!text.includes(Buffer.from(value).toString('base64')), `${value} in the output`);
    });

    it('serverDryRunFirst with createNamespace: a first deploy into a new namespace creates it first, then checks and applies the rest', async () => {
      // A dry run stores nothing: without the Namespace created first, every object in it is NotFound and the deploy can never pass.
      const ns = `fresh-${route.toLowerCase()}`;
      assert.strictEqual(cluster.store.get('Namespace', undefined, ns), undefined);
      const r = await run(DEMO_MANIFEST, { namespace: ns, createNamespace: 'true', serverDryRunFirst: 'true' }, 'admin');
      succeeded(r);
      assert.match(r.stdout, new RegExp(`serverDryRunFirst: creating the namespace '${ns}' first`));
      assert.ok(cluster.store.get('Namespace', undefined, ns), 'the namespace was not created');
      assert.ok(cluster.store.get('Deployment', ns, 'shop'), 'the manifests were not applied');
      assert.ok(r.lines.includes('3 object(s) to apply.'), r.stdout);
      assert.strictEqual(r.outputs.route, route);
    });

    for (const refusal of REFUSALS) {
      it(`serverDryRunFirst refuses ${refusal.title}: ${refusal.code}, nothing applied`, async () => {
        const ns = { namespace: refusal.namespace };
        if (refusal.setup) succeeded(await run(refusal.setup, ns));
        const before = snapshot(refusal.namespace);
        const r = await run(refusal.manifest('fresh'), { ...ns, serverDryRunFirst: 'true' });
        const message = failedWith(r, refusal.code);
        assert.match(message, refusal.message);
        assert.match(
          message,
          /^Checking the manifests with a server-side dry run.*Nothing was applied: the server-side dry run refused the batch\./,
        );
        assert.deepStrictEqual(snapshot(refusal.namespace), before, 'the refused batch changed the cluster');
        assert.strictEqual(cluster.store.get('ConfigMap', refusal.namespace, 'fresh'), undefined, "the batch's ConfigMap was applied");
      });
    }

    for (const refusal of REFUSALS) {
      it(`without serverDryRunFirst, ${refusal.title} is still explained (${refusal.code})`, async () => {
        const r = await run(refusal.manifest('applied'), { namespace: refusal.namespace });
        const message = failedWith(r, refusal.code);
        assert.match(message, refusal.message);
        assert.doesNotMatch(message, /Nothing was applied/);
        assert.match(message, route === 'direct' ? /^Applying the manifests/ : /^Deploying through AKS run command/);
        // kubectl applies what it can: the batch's ConfigMap went through.
        assert.ok(cluster.store.get('ConfigMap', refusal.namespace, 'applied'), 'the ConfigMap before the refused object was not applied');
      });
    }
  });
}
