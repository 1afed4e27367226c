/**
 * The sandbox cluster runs pods: the real kubectl sees ReplicaSets, Pods, Events and container logs
 * for each outcome the scenario drives (success, ACR 401 / firewall 403 / missing tag, missing public
 * image, crash loop, unschedulable, policy denial, quota), and `kubectl rollout status` fails on the
 * progress deadline as on a real cluster.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../index';
import type { AksApiServer } from './aksApiServer';

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const NODE_EGRESS = '20.62.100.10';

interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function deployment(
  namespace: string,
  image: string,
  options: { replicas?: number; resources?: string; nodeSelector?: string; securityContext?: string } = {},
): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: ${namespace}
spec:
  replicas: ${options.replicas ?? 1}
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
${options.nodeSelector ? `      nodeSelector:\n        ${options.nodeSelector}\n` : ''}      containers:
      - name: main
        image: ${image}
${options.resources ? `        resources:\n${options.resources}\n` : ''}${options.securityContext ? `        securityContext:\n          ${options.securityContext}\n` : ''}`;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('sandbox cluster workloads: ReplicaSets, Pods, Events and logs (real kubectl)', function () {
  this.timeout(60_000);
  this.slow(30_000);
  let sandbox: Sandbox;
  let server: AksApiServer;
  let kubeDir: string;

  function kubectl(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(KUBECTL, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: path.join(kubeDir, 'home'), KUBECONFIG: path.join(kubeDir, 'admin.yaml') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(options.stdin ?? '');
    });
  }

  async function ok(args: string[], stdin?: string): Promise<string> {
    const r = await kubectl(args, { stdin });
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  }

  async function getJson(args: string[]): Promise<Json> {
    return JSON.parse(await ok([...args, '-o', 'json'])) as Json;
  }

  async function pods(namespace: string): Promise<Json[]> {
    return (await getJson(['get', 'pods', '-n', namespace, '-l', 'app=app'])).items as Json[];
  }

  async function events(namespace: string): Promise<Json[]> {
    return (await getJson(['get', 'events', '-n', namespace])).items as Json[];
  }

  /** Polls until `check` returns a value (kubectl each time), or fails with the last error. */
  async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
    const until = Date.now() + ms;
    let last: unknown;
    for (;;) {
      try {
        const value = await check();
        if (value !== undefined) return value;
      } catch (err) {
        last = err;
      }
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function waitingReason(namespace: string, reason: string): Promise<Json> {
    return eventually(async () => {
      const [pod] = await pods(namespace);
      const cs = pod?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === reason ? pod : undefined;
    }, `${namespace}: container waiting ${reason}`);
  }

  async function rolloutFailsOnDeadline(namespace: string): Promise<void> {
    const r = await kubectl(['rollout', 'status', 'deploy/app', '-n', namespace, '--timeout=30s'], { timeoutMs: 40_000 });
    assert.notEqual(r.code, 0, r.stdout);
    // kubectl polymorphichelpers/rollout_status.go: DeploymentStatusViewer.
    assert.match(r.stderr, /error: deployment "app" exceeded its progress deadline/);
    const deploy = await getJson(['get', 'deploy', 'app', '-n', namespace]);
    const progressing = (deploy.status.conditions as Json[]).find((c) => c.type === 'Progressing')!;
    assert.equal(progressing.status, 'False');
    assert.equal(progressing.reason, 'ProgressDeadlineExceeded');
    assert.match(progressing.message, /^ReplicaSet "app-[a-z0-9]{10}" has timed out progressing\.$/);
    assert.ok(!deploy.status.availableReplicas, 'no replica available');
  }

  async function failedPullMessage(namespace: string, image: string): Promise<string> {
    return eventually(async () => {
      const failed = (await events(namespace)).find((e) => e.reason === 'Failed' && String(e.message).startsWith('Failed to pull image'));
      if (!failed) return undefined;
      assert.equal(failed.type, 'Warning');
      assert.equal(failed.source.component, 'kubelet');
      assert.equal(failed.involvedObject.fieldPath, 'spec.containers{main}');
      assert.ok(String(failed.message).startsWith(`Failed to pull image "${image}": `), failed.message);
      return String(failed.message);
    }, `${namespace}: Failed pull event`);
  }

  before(async () => {
    sandbox = await startSandbox({
      principals: [{ name: 'kubelet', managedIdentity: true }],
      roleAssignments: [
        { principal: 'kubelet', role: 'AcrPull', scope: 'registry:contosoacr' },
        { principal: 'kubelet', role: 'AcrPull', scope: 'registry:lockedacr' },
      ],
      clusters: [
        {
          name: 'aks-pods',
          resourceGroup: 'rg-aks',
          aad: null,
          kubeletIdentity: 'kubelet',
          acrPullChecks: true,
          rolloutDelaySeconds: 1,
          nodeEgressIp: NODE_EGRESS,
          policyConstraints: [{ template: 'k8sazurev2containerallowedimages', imageRegex: '^(?!untrusted/).*$' }],
          workloads: {
            progressDeadlineSeconds: 3,
            missingImages: ['nginx:does-not-exist'],
            crashingImages: [
              { image: 'ghcr.io/contoso/worker:2.0.0', exitCode: 3, logs: ['starting worker', 'fatal: DATABASE_URL is not set'] },
            ],
          },
        },
      ],
      registries: [
        { name: 'contosoacr', resourceGroup: 'rg-acr', ipRules: [NODE_EGRESS], images: ['web:1.0.0'] },
        { name: 'lockedacr', resourceGroup: 'rg-acr', ipRules: ['198.51.100.7'] },
        { name: 'norolesacr', resourceGroup: 'rg-acr', defaultAction: 'Allow' },
      ],
    });
    server = sandbox.azure.clusters.get('aks-pods')!;
    kubeDir = path.join(sandbox.tempDir, 'kube-workloads');
    await fs.mkdir(path.join(kubeDir, 'home'), { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(kubeDir, 'admin.yaml'), server.loopbackKubeconfig({ token: server.staticAdminToken }), { mode: 0o600 });
    const quota = `---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: pods-quota
  namespace: quota
spec:
  hard:
    pods: "1"
`;
    const manifests = [
      deployment('ok', 'contosoacr.azurecr.io/web:1.0.0', { replicas: 2 }),
      deployment('unauthorized', 'norolesacr.azurecr.io/web:1.0.0'),
      deployment('firewall', 'lockedacr.azurecr.io/web:1.0.0'),
      deployment('missingtag', 'contosoacr.azurecr.io/web:9.9.9'),
      deployment('missingpublic', 'nginx:does-not-exist'),
      deployment('crash', 'ghcr.io/contoso/worker:2.0.0'),
      deployment('bigcpu', 'nginx:1.27', { resources: '          requests:\n            cpu: "4"' }),
      deployment('selector', 'nginx:1.27', { nodeSelector: 'kubernetes.io/os: windows' }),
      deployment('policy', 'untrusted/tool:1'),
      deployment('quota', 'nginx:1.27', { replicas: 2 }).replace(/\n---\n/, `\n${quota}---\n`),
    ];
    await ok(['apply', '-f', '-'], manifests.join('---\n'));
  });

  after(() => sandbox?.stop());

  it('success: a ReplicaSet <deploy>-<hash> owns ready, scheduled pods; rollout status succeeds; events tell the story', async () => {
    await ok(['rollout', 'status', 'deploy/app', '-n', 'ok', '--timeout=20s']);
    const deploy = await getJson(['get', 'deploy', 'app', '-n', 'ok']);
    const [rs, ...others] = (await getJson(['get', 'replicasets', '-n', 'ok'])).items as Json[];
    assert.equal(others.length, 0);
    const hash = rs.metadata.labels['pod-template-hash'];
    assert.equal(rs.metadata.name, `app-${hash}`);
    assert.equal(rs.metadata.annotations['deployment.kubernetes.io/revision'], '1');
    assert.deepEqual(rs.metadata.ownerReferences, [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'app', uid: deploy.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    const list = await eventually(async () => {
      const items = await pods('ok');
      return items.length === 2 && items.every((p) => p.status.containerStatuses?.[0]?.ready === true) ? items : undefined;
    }, 'two ready pods');
    for (const pod of list) {
      assert.match(pod.metadata.name, new RegExp(`^app-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      assert.equal(pod.metadata.ownerReferences[0].uid, rs.metadata.uid);
      assert.equal(pod.metadata.labels['pod-template-hash'], hash);
      assert.match(pod.spec.nodeName, /^aks-nodepool1-\d+-vmss\d{6}$/);
      assert.equal(pod.status.phase, 'Running');
      assert.ok(pod.status.containerStatuses[0].state.running.startedAt);
      assert.equal((pod.status.conditions as Json[]).find((c) => c.type === 'Ready')!.status, 'True');
    }
    const reasons = new Set((await events('ok')).map((e) => e.reason));
    for (const r of ['ScalingReplicaSet', 'SuccessfulCreate', 'Scheduled', 'Pulling', 'Pulled', 'Created', 'Started'])
      assert.ok(reasons.has(r), r);
    const log = await ok(['logs', list[0].metadata.name, '-n', 'ok']);
    assert.equal(log, '');
  });

  it('ACR without AcrPull for the kubelet identity: ErrImagePull → ImagePullBackOff with the 401 token error; the rollout hits its deadline', async () => {
    const image = 'norolesacr.azurecr.io/web:1.0.0';
    const message = await failedPullMessage('unauthorized', image);
    assert.equal(
      message,
      `Failed to pull image "${image}": rpc error: code = Unknown desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://norolesacr.azurecr.io/oauth2/token?scope=repository%3Aweb%3Apull&service=norolesacr.azurecr.io: 401 Unauthorized`,
    );
    const pod = await waitingReason('unauthorized', 'ImagePullBackOff');
    assert.equal(pod.status.containerStatuses[0].state.waiting.message, `Back-off pulling image "${image}"`);
    assert.equal(pod.status.phase, 'Pending');
    const evs = await events('unauthorized');
    assert.ok(evs.some((e) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull'));
    assert.ok(evs.some((e) => e.reason === 'BackOff' && e.message === `Back-off pulling image "${image}"`));
    const logs = await kubectl(['logs', pod.metadata.name, '-n', 'unauthorized']);
    assert.match(
      logs.stderr,
      new RegExp(
        `container "main" in pod "${pod.metadata.name}" is waiting to start: (trying and failing to pull image|image can't be pulled)`,
      ),
    );
    await rolloutFailsOnDeadline('unauthorized');
  });

  it('without acrPullChecks (the default), pulls from the scenario registries succeed as on an attached cluster', async () => {
    const spec = sandbox.scenario.azure.clusters!.find((c) => c.name === 'aks-pods')!;
    spec.acrPullChecks = false;
    try {
      await ok(['apply', '-f', '-'], deployment('attached', 'norolesacr.azurecr.io/web:1.0.0'));
      await ok(['rollout', 'status', 'deploy/app', '-n', 'attached', '--timeout=20s']);
      const [pod] = await pods('attached');
      assert.equal(pod.status.containerStatuses[0].state.waiting, undefined);
    } finally {
      spec.acrPullChecks = true;
    }
  });

  it('ACR firewall without the node egress IP: the token request gets 403 Forbidden', async () => {
    const message = await failedPullMessage('firewall', 'lockedacr.azurecr.io/web:1.0.0');
    assert.match(
      message,
      /failed to fetch anonymous token: unexpected status from GET request to https:\/\/lockedacr\.azurecr\.io\/oauth2\/token\?scope=repository%3Aweb%3Apull&service=lockedacr\.azurecr\.io: 403 Forbidden$/,
    );
    await rolloutFailsOnDeadline('firewall');
  });

  it('a tag the registry does not hold, and a missing public image: not found', async () => {
    const acr = await failedPullMessage('missingtag', 'contosoacr.azurecr.io/web:9.9.9');
    assert.match(acr, /rpc error: code = NotFound desc = .*: contosoacr\.azurecr\.io\/web:9\.9\.9: not found$/);
    const pub = await failedPullMessage('missingpublic', 'nginx:does-not-exist');
    assert.match(
      pub,
      /failed to resolve reference "docker\.io\/library\/nginx:does-not-exist": docker\.io\/library\/nginx:does-not-exist: not found$/,
    );
    await waitingReason('missingtag', 'ImagePullBackOff');
  });

  it('crash loop: lastState.terminated with the exit code, CrashLoopBackOff, BackOff events, logs --previous', async () => {
    const pod = await waitingReason('crash', 'CrashLoopBackOff');
    const cs = pod.status.containerStatuses[0];
    const desc = `${pod.metadata.name}_crash(${pod.metadata.uid})`;
    assert.match(
      cs.state.waiting.message,
      new RegExp(`^back-off \\d+(s|m\\d+s) restarting failed container=main pod=${desc.replace(/[()]/g, '\\$&')}$`),
    );
    assert.equal(cs.lastState.terminated.exitCode, 3);
    assert.equal(cs.lastState.terminated.reason, 'Error');
    assert.ok(cs.lastState.terminated.startedAt && cs.lastState.terminated.finishedAt);
    assert.ok(cs.restartCount >= 1);
    const backOff = (await events('crash')).find((e) => e.reason === 'BackOff')!;
    assert.equal(backOff.type, 'Warning');
    assert.equal(backOff.message, `Back-off restarting failed container main in pod ${desc}`);
    assert.equal(await ok(['logs', pod.metadata.name, '-n', 'crash', '--previous']), 'starting worker\nfatal: DATABASE_URL is not set\n');
    assert.equal(await ok(['logs', pod.metadata.name, '-n', 'crash', '--previous', '--tail=1']), 'fatal: DATABASE_URL is not set\n');
    await rolloutFailsOnDeadline('crash');
    const later = await eventually(async () => {
      const [p] = await pods('crash');
      return p.status.containerStatuses[0].restartCount >= 2 ? p : undefined;
    }, 'restartCount climbing');
    assert.ok(later.status.containerStatuses[0].restartCount >= 2);
  });

  it('unschedulable: FailedScheduling from default-scheduler with the scheduler’s message, PodScheduled False', async () => {
    const cpu = await eventually(async () => {
      const [pod] = await pods('bigcpu');
      return pod?.status?.conditions?.[0]?.reason === 'Unschedulable' ? pod : undefined;
    }, 'unschedulable pod');
    const expected =
      '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
    assert.deepEqual(
      { type: cpu.status.conditions[0].type, status: cpu.status.conditions[0].status, message: cpu.status.conditions[0].message },
      { type: 'PodScheduled', status: 'False', message: expected },
    );
    assert.equal(cpu.spec.nodeName, undefined);
    const failed = (await events('bigcpu')).find((e) => e.reason === 'FailedScheduling')!;
    assert.equal(failed.source.component, 'default-scheduler');
    assert.equal(failed.message, expected);
    const selector = await eventually(
      async () => (await events('selector')).find((e) => e.reason === 'FailedScheduling'),
      'FailedScheduling for the node selector',
    );
    assert.equal(
      selector.message,
      "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    const [pending] = await pods('selector');
    const logs = await kubectl(['logs', pending.metadata.name, '-n', 'selector']);
    assert.match(logs.stderr, new RegExp(`pod ${pending.metadata.name} does not have a host assigned`));
    await rolloutFailsOnDeadline('bigcpu');
  });

  it('policy denial at pod creation: the ReplicaSet reports FailedCreate with Gatekeeper’s message; no pods', async () => {
    const rs = await eventually(async () => {
      const [r] = (await getJson(['get', 'rs', '-n', 'policy'])).items as Json[];
      return r?.status?.conditions?.length ? r : undefined;
    }, 'ReplicaFailure');
    const cond = rs.status.conditions[0];
    assert.equal(cond.type, 'ReplicaFailure');
    assert.equal(cond.status, 'True');
    assert.equal(cond.reason, 'FailedCreate');
    assert.match(
      cond.message,
      /^admission webhook "validation\.gatekeeper\.sh" denied the request: \[azurepolicy-k8sazurev2containerallowedima[a-z]*-[0-9a-f]{20}\] Container image untrusted\/tool:1 for container main has not been allowed\.$/,
    );
    const ev = (await events('policy')).find((e) => e.reason === 'FailedCreate')!;
    assert.equal(ev.involvedObject.kind, 'ReplicaSet');
    assert.equal(ev.source.component, 'replicaset-controller');
    assert.equal(ev.message, `Error creating: ${cond.message}`);
    assert.equal((await pods('policy')).length, 0);
    await rolloutFailsOnDeadline('policy');
  });

  it('quota exceeded at pod creation: one pod created, the second refused with the quota message', async () => {
    const ev = await eventually(async () => (await events('quota')).find((e) => e.reason === 'FailedCreate'), 'FailedCreate');
    assert.match(
      ev.message,
      /^Error creating: pods "app-[a-z0-9]{10}-[a-z0-9]{5}" is forbidden: exceeded quota: pods-quota, requested: pods=1, used: pods=1, limited: pods=1$/,
    );
    assert.equal((await pods('quota')).length, 1);
    await rolloutFailsOnDeadline('quota');
  });

  it('a new template scales the old ReplicaSet to 0 (its pods go) and a deleted Deployment takes its ReplicaSets and pods', async () => {
    await ok(['set', 'image', 'deploy/app', 'main=contosoacr.azurecr.io/web:1.0.0', '-n', 'missingpublic']);
    await ok(['rollout', 'status', 'deploy/app', '-n', 'missingpublic', '--timeout=20s']);
    const rsList = (await getJson(['get', 'rs', '-n', 'missingpublic'])).items as Json[];
    assert.equal(rsList.length, 2);
    const revisions = rsList.map((r) => [r.metadata.annotations['deployment.kubernetes.io/revision'], r.spec.replicas]).sort();
    assert.deepEqual(revisions, [
      ['1', 0],
      ['2', 1],
    ]);
    const current = await eventually(async () => {
      const items = await pods('missingpublic');
      return items.length === 1 && items[0].spec.containers[0].image === 'contosoacr.azurecr.io/web:1.0.0' ? items : undefined;
    }, 'old pods gone');
    assert.equal(current.length, 1);
    await ok(['delete', 'deploy/app', '-n', 'missingpublic']);
    await eventually(async () => {
      const rs = (await getJson(['get', 'rs', '-n', 'missingpublic'])).items as Json[];
      return rs.length === 0 && (await pods('missingpublic')).length === 0 ? true : undefined;
    }, 'garbage collection');
  });
});
