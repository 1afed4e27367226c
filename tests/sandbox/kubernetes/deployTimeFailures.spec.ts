/**
 * What a deployment meets at apply time on a real API server, driven with the real kubectl
 * (whatever `kubectl` is on PATH, or $KUBECTL) against the sandbox: server-side dry run and diff,
 * API versions the cluster no longer serves, immutable fields, ResourceQuota, Azure Policy
 * (Gatekeeper) denials and strict field validation. Exit codes and stderr are the real kubectl's.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import type { AksApiServer } from './aksApiServer';
import { constraintName, podPolicyDenial } from './policyWebhooks';
import { startSandbox, type Sandbox } from '../index';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';

const NO_PRIVILEGE = { template: 'k8sazurev2noprivilege' as const, hash: 'bba3aab5a745b0e81725' };
const ALLOWED_IMAGES = {
  template: 'k8sazurev2containerallowedimages' as const,
  imageRegex: '^contoso\\.azurecr\\.io/.+$',
  hash: '1b10f0111a41c36df80c',
};

function deployment(name: string, options: { image?: string; app?: string; privileged?: boolean; extra?: string } = {}): string {
  const app = options.app ?? name;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${app}
  template:
    metadata:
      labels:
        app: ${app}
    spec:
      containers:
      - name: web
        image: ${options.image ?? 'contoso.azurecr.io/web:1.0.0'}
${options.privileged ? '        securityContext:\n          privileged: true\n' : ''}${options.extra ?? ''}`;
}

interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('sandbox API server: deploy-time failures as the real kubectl meets them', function () {
  this.timeout(60_000);
  this.slow(30_000);

  let sandbox: Sandbox;
  let dir: string;

  before(async () => {
    sandbox = await startSandbox({
      principals: [],
      clusters: [
        {
          name: 'aks-new',
          resourceGroup: 'rg-web',
          aad: null,
          disableLocalAccounts: false,
          kubernetesVersion: '1.31.2',
          namespaces: ['web', 'batch', 'quota'],
          resourceQuotas: [
            { namespace: 'quota', name: 'web-quota', hard: { 'services.loadbalancers': '1', 'count/deployments.apps': '1' } },
          ],
          azurePolicy: true,
          policyConstraints: [NO_PRIVILEGE, ALLOWED_IMAGES],
          policyExpansionTemplate: 'expand-deployments',
        },
        {
          name: 'aks-old',
          resourceGroup: 'rg-web',
          aad: null,
          disableLocalAccounts: false,
          kubernetesVersion: '1.24.9',
          namespaces: ['web'],
        },
      ],
    });
    dir = path.join(sandbox.tempDir, 'deploy-time');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    for (const name of ['aks-new', 'aks-old']) {
      const server = cluster(name);
      await fs.writeFile(path.join(dir, `${name}.kubeconfig`), server.loopbackKubeconfig({ token: server.staticAdminToken }), {
        mode: 0o600,
      });
    }
  });

  after(() => sandbox?.stop());

  function cluster(name: 'aks-new' | 'aks-old' | string): AksApiServer {
    return sandbox.azure.clusters.get(name)!;
  }

  let homes = 0;
  /** The real kubectl with a deadline, run in `dir` (manifests are passed by their file name). Each call has a fresh discovery cache. */
  function kubectl(clusterName: string, args: string[]): Promise<KubectlResult> {
    const home = path.join(dir, `home-${++homes}`);
    return new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, args, {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: path.join(dir, `${clusterName}.kubeconfig`) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** One request to the API server as the local admin, checking its certificate. */
  function call(server: AksApiServer, method: string, pathname: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method,
          path: pathname,
          servername: new URL(server.endpoint().server).hostname,
          ca: server.caPem,
          agent: false,
          timeout: 10_000,
          headers: { Authorization: `Bearer ${server.staticAdminToken}` },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: no answer in 10 s`)));
      req.on('error', reject);
      req.end();
    });
  }

  async function file(name: string, text: string): Promise<string> {
    await fs.writeFile(path.join(dir, name), text);
    return name;
  }

  function ok(r: KubectlResult): KubectlResult {
    assert.equal(r.code, 0, `kubectl failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r;
  }

  /**
   * Runs `action` and asserts it stored nothing for the objects named `names`: every resourceVersion
   * handed out meanwhile belongs to an event (the cluster's controllers keep writing status), and
   * none of those events is about these objects.
   */
  async function unchanged<T>(server: AksApiServer, names: string[], action: () => Promise<T>): Promise<T> {
    const rv = server.store.resourceVersion;
    const result = await action();
    const events = server.store.eventsSince(rv);
    assert.equal(server.store.resourceVersion - rv, events.length, 'a resourceVersion was handed out without an event');
    const touched = events.map((e) => String((e.object.metadata as { name?: string }).name)).filter((n) => names.includes(n));
    assert.deepEqual(touched, [], `events for ${touched.join(', ')}`);
    return result;
  }

  // -------------------------------------------------------------------------------------------
  describe('dry run (dryRun=All): validation and admission, nothing stored', () => {
    it('kubectl apply --dry-run=server creates nothing and says so', async () => {
      const server = cluster('aks-new');
      const manifest = await file('dry-create.yaml', deployment('dry'));
      const r = await unchanged(server, ['dry'], () => kubectl('aks-new', ['apply', '--dry-run=server', '-f', manifest]));
      ok(r);
      assert.equal(r.stdout.trim(), 'deployment.apps/dry created (server dry run)');
      assert.equal(server.store.get('Deployment', 'web', 'dry'), undefined);
    });

    it('server-side apply, client-side apply and kubectl diff of a change leave the stored object as it was', async () => {
      const server = cluster('aks-new');
      ok(await kubectl('aks-new', ['apply', '-f', await file('web-1.yaml', deployment('web'))]));
      ok(await kubectl('aks-new', ['rollout', 'status', 'deployment/web', '-n', 'web', '--timeout=20s']));
      const before = server.store.get('Deployment', 'web', 'web')!;
      const changed = await file('web-2.yaml', deployment('web', { image: 'contoso.azurecr.io/web:2.0.0' }));

      const ssa = await unchanged(server, ['web'], () =>
        kubectl('aks-new', ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', changed]),
      );
      assert.equal(ok(ssa).stdout.trim(), 'deployment.apps/web serverside-applied (server dry run)');
      const csa = await unchanged(server, ['web'], () => kubectl('aks-new', ['apply', '--dry-run=server', '-f', changed]));
      assert.equal(ok(csa).stdout.trim(), 'deployment.apps/web configured (server dry run)');
      const yaml = await unchanged(server, ['web'], () =>
        kubectl('aks-new', [
          'apply',
          '--dry-run=server',
          '-o',
          'jsonpath={.spec.template.spec.containers[0].image} {.metadata.resourceVersion}',
          '-f',
          changed,
        ]),
      );
      // The response is the object as it would be, at the stored resourceVersion.
      assert.equal(
        ok(yaml).stdout,
        `contoso.azurecr.io/web:2.0.0 ${String((before.metadata as { resourceVersion: string }).resourceVersion)}`,
      );

      // kubectl diff: 1 when there are differences (diff's own exit status), 0 when none.
      const diff = await unchanged(server, ['web'], () => kubectl('aks-new', ['diff', '-f', changed]));
      assert.equal(diff.code, 1, diff.stderr);
      assert.match(diff.stdout, /^-\s+- image: contoso\.azurecr\.io\/web:1\.0\.0$/m);
      assert.match(diff.stdout, /^\+\s+- image: contoso\.azurecr\.io\/web:2\.0\.0$/m);
      assert.match(diff.stdout, /^-\s+generation: 1$/m);
      assert.match(diff.stdout, /^\+\s+generation: 2$/m);
      const same = await unchanged(server, ['web'], () => kubectl('aks-new', ['diff', '-f', 'web-1.yaml']));
      assert.equal(same.code, 0, same.stderr + same.stdout);
      assert.equal(same.stdout, '');
      const ssaDiff = await unchanged(server, ['web'], () =>
        kubectl('aks-new', ['diff', '--server-side', '--force-conflicts', '-f', changed]),
      );
      assert.equal(ssaDiff.code, 1, ssaDiff.stderr);
      assert.match(ssaDiff.stdout, /^\+\s+- image: contoso\.azurecr\.io\/web:2\.0\.0$/m);

      assert.deepEqual(server.store.get('Deployment', 'web', 'web'), before);
    });

    it('kubectl delete --dry-run=server deletes nothing', async () => {
      const server = cluster('aks-new');
      ok(await kubectl('aks-new', ['apply', '-f', await file('keep.yaml', deployment('keep'))]));
      ok(await kubectl('aks-new', ['rollout', 'status', 'deployment/keep', '-n', 'web', '--timeout=20s']));
      const r = await unchanged(server, ['keep'], () => kubectl('aks-new', ['delete', '--dry-run=server', '-f', 'keep.yaml']));
      assert.equal(ok(r).stdout.trim(), 'deployment.apps "keep" deleted (server dry run)');
      assert.ok(server.store.get('Deployment', 'web', 'keep'));
      // A namespace comes back as the deletion would leave it.
      const ns = await unchanged(server, ['batch'], () => kubectl('aks-new', ['delete', 'namespace', 'batch', '--dry-run=server']));
      assert.equal(ok(ns).stdout.trim(), 'namespace "batch" deleted (server dry run)');
      const body = await unchanged(server, ['batch'], () => call(server, 'DELETE', '/api/v1/namespaces/batch?dryRun=All'));
      assert.equal(body.status, 200);
      assert.equal(JSON.parse(body.text).status.phase, 'Terminating');
      assert.equal((server.store.get('Namespace', undefined, 'batch')!.status as { phase: string }).phase, 'Active');
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('API versions by the cluster Kubernetes version (deprecation guide)', () => {
    const LEGACY = `apiVersion: extensions/v1beta1
kind: Deployment
metadata:
  name: legacy
  namespace: web
spec:
  template:
    metadata:
      labels:
        app: legacy
    spec:
      containers:
      - name: web
        image: contoso.azurecr.io/web:1.0.0
`;
    const PDB = `apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: web
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app: web
`;

    it('a 1.31 cluster does not serve extensions/v1beta1: kubectl fails before sending anything', async () => {
      const manifest = await file('legacy.yaml', LEGACY);
      const r = await unchanged(cluster('aks-new'), ['legacy'], () => kubectl('aks-new', ['apply', '-f', manifest]));
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: resource mapping not found for name: "legacy" namespace: "web" from "legacy.yaml": no matches for kind "Deployment" in version "extensions/v1beta1"\nensure CRDs are installed first\n',
      );
      const dry = await kubectl('aks-new', ['apply', '--dry-run=server', '-f', manifest]);
      assert.equal(dry.code, 1);
      assert.match(dry.stderr, /no matches for kind "Deployment" in version "extensions\/v1beta1"/);
    });

    it('policy/v1beta1 is served up to 1.24 and gone once ARM upgrades the cluster to 1.25', async () => {
      const manifest = await file('pdb.yaml', PDB);
      const versions = ok(await kubectl('aks-old', ['api-versions'])).stdout.split('\n');
      assert.ok(versions.includes('policy/v1beta1') && versions.includes('policy/v1'), versions.join(' '));
      assert.ok(versions.includes('batch/v1beta1') && versions.includes('autoscaling/v2beta2'));
      assert.ok(!versions.includes('extensions/v1beta1') && !versions.includes('networking.k8s.io/v1beta1'));
      assert.equal(ok(await kubectl('aks-old', ['apply', '-f', manifest])).stdout.trim(), 'poddisruptionbudget.policy/web created');
      // Stored once, served under both versions.
      assert.equal(
        ok(await kubectl('aks-old', ['get', 'poddisruptionbudgets.v1.policy', 'web', '-n', 'web', '-o', 'jsonpath={.apiVersion}'])).stdout,
        'policy/v1',
      );

      sandbox.azure.state.updateCluster('aks-old', { kubernetesVersion: '1.25.16' });
      const after = ok(await kubectl('aks-old', ['api-versions'])).stdout.split('\n');
      assert.ok(
        !after.includes('policy/v1beta1') && !after.includes('batch/v1beta1') && after.includes('autoscaling/v2beta2'),
        after.join(' '),
      );
      assert.match(ok(await kubectl('aks-old', ['version', '-o', 'json'])).stdout, /"gitVersion": "v1\.25\.16"/);
      const r = await kubectl('aks-old', ['apply', '-f', manifest]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'error: resource mapping not found for name: "web" namespace: "web" from "pdb.yaml": no matches for kind "PodDisruptionBudget" in version "policy/v1beta1"\nensure CRDs are installed first\n',
      );
      const v1 = await kubectl('aks-new', ['api-versions']);
      for (const gone of ['flowcontrol.apiserver.k8s.io/v1beta2', 'autoscaling/v2beta2', 'networking.k8s.io/v1beta1'])
        assert.ok(!ok(v1).stdout.includes(`${gone}\n`), gone);
      assert.ok(v1.stdout.includes('flowcontrol.apiserver.k8s.io/v1beta3\n') && v1.stdout.includes('flowcontrol.apiserver.k8s.io/v1\n'));
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('immutable fields (422 Invalid)', () => {
    it('a Deployment selector change', async () => {
      ok(await kubectl('aks-new', ['apply', '-f', await file('sel-1.yaml', deployment('sel'))]));
      const r = await kubectl('aks-new', ['apply', '-f', await file('sel-2.yaml', deployment('sel', { app: 'sel2' }))]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'The Deployment "sel" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"sel2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable\n',
      );
      // The same through server-side apply, and caught by a dry run.
      const ssa = await kubectl('aks-new', ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', 'sel-2.yaml']);
      assert.equal(ssa.code, 1);
      assert.match(
        ssa.stderr,
        /spec\.selector: Invalid value: v1\.LabelSelector\{MatchLabels:map\[string\]string\{"app":"sel2"\}.*: field is immutable/,
      );
    });

    it('a StatefulSet volumeClaimTemplates change', async () => {
      const sts = (size: string): string => `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: web
spec:
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: contoso.azurecr.io/db:1.0.0
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: ${size}
`;
      ok(await kubectl('aks-new', ['apply', '-f', await file('sts-1.yaml', sts('1Gi'))]));
      const r = await kubectl('aks-new', ['apply', '-f', await file('sts-2.yaml', sts('2Gi'))]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `The StatefulSet "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden\n`,
      );
      // Replicas and template may change.
      ok(
        await kubectl('aks-new', [
          'apply',
          '-f',
          await file('sts-3.yaml', sts('1Gi').replace('image: contoso.azurecr.io/db:1.0.0', 'image: contoso.azurecr.io/db:1.1.0')),
        ]),
      );
    });

    it('a Job template change and a PersistentVolumeClaim storage class change', async () => {
      const job = (image: string): string => `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: batch
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ${image}
`;
      ok(await kubectl('aks-new', ['apply', '-f', await file('job-1.yaml', job('contoso.azurecr.io/migrate:1'))]));
      const r = await kubectl('aks-new', ['apply', '-f', await file('job-2.yaml', job('contoso.azurecr.io/migrate:2'))]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'The Job "migrate" is invalid: spec.template: Invalid value: core.PodTemplateSpec{…}: field is immutable\n');

      const pvc = (storageClass: string, size: string): string => `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: batch
spec:
  storageClassName: ${storageClass}
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: ${size}
`;
      ok(await kubectl('aks-new', ['apply', '-f', await file('pvc-1.yaml', pvc('managed-csi', '1Gi'))]));
      ok(await kubectl('aks-new', ['apply', '-f', await file('pvc-2.yaml', pvc('managed-csi', '2Gi'))]));
      const p = await kubectl('aks-new', ['apply', '-f', await file('pvc-3.yaml', pvc('managed-csi-premium', '2Gi'))]);
      assert.equal(p.code, 1);
      assert.match(
        p.stderr,
        /^The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation except resources\.requests for bound claims\n/,
      );
      assert.match(p.stderr, /-\s+StorageClassName: "managed-csi",\n\+\s+StorageClassName: "managed-csi-premium",/);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('ResourceQuota (403 exceeded quota)', () => {
    const lb = (name: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: quota
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
  - port: 80
`;

    it('a second LoadBalancer Service against a seeded services.loadbalancers=1 quota, caught by a dry run too', async () => {
      ok(await kubectl('aks-new', ['apply', '-f', await file('lb-1.yaml', lb('web-lb'))]));
      const manifest = await file('lb-2.yaml', lb('web-lb2'));
      const message =
        'services "web-lb2" is forbidden: exceeded quota: web-quota, requested: services.loadbalancers=1, used: services.loadbalancers=1, limited: services.loadbalancers=1';
      const dry = await unchanged(cluster('aks-new'), ['web-lb2', 'priv'], () =>
        kubectl('aks-new', ['apply', '--dry-run=server', '-f', manifest]),
      );
      assert.equal(dry.code, 1);
      assert.equal(dry.stderr, `Error from server (Forbidden): error when creating "lb-2.yaml": ${message}\n`);
      const r = await kubectl('aks-new', ['apply', '-f', manifest]);
      assert.equal(r.stderr, `Error from server (Forbidden): error when creating "lb-2.yaml": ${message}\n`);
      // A ClusterIP Service is not a load balancer.
      ok(
        await kubectl('aks-new', [
          'apply',
          '-f',
          await file('lb-3.yaml', lb('web-internal').replace('type: LoadBalancer', 'type: ClusterIP')),
        ]),
      );
      // Turning it into one is charged on update.
      const upd = await kubectl('aks-new', ['apply', '-f', await file('lb-4.yaml', lb('web-internal'))]);
      assert.equal(upd.code, 1);
      assert.match(upd.stderr, /services "web-internal" is forbidden: exceeded quota: web-quota, requested: services\.loadbalancers=1/);
    });

    it('object counts: count/deployments.apps and a quota applied with kubectl (kube-root-ca.crt counts as a ConfigMap)', async () => {
      ok(
        await kubectl('aks-new', [
          'apply',
          '-f',
          await file('q-dep-1.yaml', deployment('one').replace(/namespace: web/g, 'namespace: quota')),
        ]),
      );
      const dep = await kubectl('aks-new', [
        'apply',
        '--server-side',
        '-f',
        await file('q-dep-2.yaml', deployment('two').replace(/namespace: web/g, 'namespace: quota')),
      ]);
      assert.equal(dep.code, 1);
      assert.match(
        dep.stderr,
        /deployments\.apps "two" is forbidden: exceeded quota: web-quota, requested: count\/deployments\.apps=1, used: count\/deployments\.apps=1, limited: count\/deployments\.apps=1\n$/,
      );
      const quota = `apiVersion: v1
kind: ResourceQuota
metadata:
  name: objects
  namespace: web
spec:
  hard:
    configmaps: "2"
`;
      ok(await kubectl('aks-new', ['apply', '-f', await file('cm-quota.yaml', quota)]));
      const cm = (name: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: web\ndata:\n  a: b\n`;
      ok(await kubectl('aks-new', ['apply', '-f', await file('cm-1.yaml', cm('settings'))]));
      const r = await kubectl('aks-new', ['apply', '-f', await file('cm-2.yaml', cm('more'))]);
      assert.equal(
        r.stderr,
        'Error from server (Forbidden): error when creating "cm-2.yaml": configmaps "more" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=2, limited: configmaps=2\n',
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('Azure Policy (Gatekeeper validating webhook)', () => {
    const noPrivilege = constraintName(NO_PRIVILEGE);
    const allowedImages = constraintName(ALLOWED_IMAGES);

    it('constraint names are cut to 63 characters as Azure Policy names them', () => {
      assert.equal(noPrivilege, 'azurepolicy-k8sazurev2noprivilege-bba3aab5a745b0e81725');
      assert.equal(allowedImages, 'azurepolicy-k8sazurev2containerallowedimag-1b10f0111a41c36df80c');
    });

    it('a privileged Deployment is denied at apply (and by a dry run) through the expansion template', async () => {
      const manifest = await file('priv.yaml', deployment('priv', { privileged: true }));
      const expected = `Error from server (Forbidden): error when creating "priv.yaml": admission webhook "validation.gatekeeper.sh" denied the request: [${noPrivilege}] [Implied by expand-deployments] Privileged container is not allowed: web, securityContext: {"privileged": true}\n`;
      const dry = await unchanged(cluster('aks-new'), ['web-lb2', 'priv'], () =>
        kubectl('aks-new', ['apply', '--dry-run=server', '-f', manifest]),
      );
      assert.equal(dry.code, 1);
      assert.equal(dry.stderr, expected);
      const r = await kubectl('aks-new', ['apply', '-f', manifest]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, expected);
      assert.equal(cluster('aks-new').store.get('Deployment', 'web', 'priv'), undefined);
    });

    it('a Pod is denied without the expansion prefix; every violation is listed; kube-system is exempt', async () => {
      const pod = `apiVersion: v1
kind: Pod
metadata:
  name: shell
  namespace: web
spec:
  containers:
  - name: shell
    image: docker.io/library/ubuntu:24.04
    securityContext:
      privileged: true
`;
      const r = await kubectl('aks-new', ['apply', '-f', await file('pod.yaml', pod)]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `Error from server (Forbidden): error when creating "pod.yaml": admission webhook "validation.gatekeeper.sh" denied the request: [${noPrivilege}] Privileged container is not allowed: shell, securityContext: {"privileged": true}\n[${allowedImages}] Container image docker.io/library/ubuntu:24.04 for container shell has not been allowed.\n`,
      );
      ok(await kubectl('aks-new', ['apply', '-f', await file('pod-system.yaml', pod.replace('namespace: web', 'namespace: kube-system'))]));
      // What a controller creating the pods of an admitted workload would be told.
      assert.match(
        podPolicyDenial(
          { constraints: [NO_PRIVILEGE] },
          { metadata: { namespace: 'web' }, spec: { containers: [{ name: 'a', securityContext: { privileged: true } }] } },
        )!,
        /^admission webhook "validation\.gatekeeper\.sh" denied the request: \[azurepolicy-k8sazurev2noprivilege-bba3aab5a745b0e81725\] Privileged/,
      );
    });

    it('an image outside the allowed registry, on update', async () => {
      const r = await kubectl('aks-new', [
        'apply',
        '-f',
        await file('web-3.yaml', deployment('web', { image: 'docker.io/library/nginx:1.27' })),
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error from server \(Forbidden\): error when applying patch:\n/);
      assert.match(
        r.stderr,
        new RegExp(
          `admission webhook "validation\\.gatekeeper\\.sh" denied the request: \\[${allowedImages}\\] \\[Implied by expand-deployments\\] Container image docker\\.io/library/nginx:1\\.27 for container web has not been allowed\\.\\n$`,
        ),
      );
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('strict field validation', () => {
    const typo = deployment('typo').replace(
      '        image: contoso.azurecr.io/web:1.0.0\n',
      '        imagee: contoso.azurecr.io/web:1.0.0\n        image: contoso.azurecr.io/web:1.0.0\n',
    );

    it('client-side apply: 400 strict decoding error naming the nested field', async () => {
      const manifest = await file('typo.yaml', typo);
      const r = await kubectl('aks-new', ['apply', '-f', manifest]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'Error from server (BadRequest): error when creating "typo.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagee"\n',
      );
      const two = await kubectl('aks-new', [
        'apply',
        '-f',
        await file('typo2.yaml', typo.replace('  replicas: 1\n', '  replicas: 1\n  replica: 2\n')),
      ]);
      assert.match(
        two.stderr,
        /strict decoding error: unknown field "spec\.replica", unknown field "spec\.template\.spec\.containers\[0\]\.imagee"\n$/,
      );
    });

    it('--validate=warn warns and drops the field; server-side apply refuses it with the structured-merge-diff text', async () => {
      const warn = await kubectl('aks-new', ['apply', '--validate=warn', '-f', 'typo.yaml']);
      ok(warn);
      assert.match(warn.stderr, /^Warning: unknown field "spec\.template\.spec\.containers\[0\]\.imagee"$/m);
      // Dropped from the object (the last-applied-configuration annotation keeps kubectl's copy of the manifest).
      const stored = cluster('aks-new').store.get('Deployment', 'web', 'typo')!;
      assert.ok(!JSON.stringify(stored.spec).includes('imagee'));

      const ssa = await kubectl('aks-new', [
        'apply',
        '--server-side',
        '-f',
        await file('typo-ssa.yaml', typo.replace('name: typo', 'name: typo-ssa')),
      ]);
      assert.equal(ssa.code, 1);
      assert.match(
        ssa.stderr,
        /failed to create typed patch object \(web\/typo-ssa; apps\/v1, Kind=Deployment\): \.spec\.template\.spec\.containers\[name="web"\]\.imagee: field not declared in schema\n$/,
      );
    });
  });
});
