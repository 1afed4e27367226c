import * as assert from 'assert';
import { diagnoseRollout, evidenceItems, type KubeJson } from '../../shared/kube/rolloutDiagnosis';

// Evidence shaped as the controllers and kubelet write it (sources in shared/kube/rolloutDiagnosis.ts).
const web = { kind: 'Deployment', name: 'web', namespace: 'shop' };
const deployment = (conditions: KubeJson[] = []): KubeJson => ({
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  status: { conditions },
});
const replicaSet = (conditions: KubeJson[] = []): KubeJson => ({
  kind: 'ReplicaSet',
  metadata: { name: 'web-7c9f8d6b5d', namespace: 'shop', ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] },
  status: { conditions },
});
const pod = (status: KubeJson, name = 'web-7c9f8d6b5d-x2x7q'): KubeJson => ({
  kind: 'Pod',
  metadata: { name, namespace: 'shop', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7c9f8d6b5d', controller: true }] },
  status,
});
const event = (kind: string, name: string, reason: string, message: string, at = '2026-11-26T03:00:00Z'): KubeJson => ({
  kind: 'Event',
  metadata: { name: `${name}.1`, namespace: 'shop' },
  involvedObject: { kind, name, namespace: 'shop' },
  reason,
  message,
  lastTimestamp: at,
});
const IMAGE = 'contosoprod.azurecr.io/shop/web:1.4.2';
const PULL_401 = `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://contosoprod.azurecr.io/oauth2/token?scope=repository%3Ashop%2Fweb%3Apull&service=contosoprod.azurecr.io: 401 Unauthorized`;

describe('rolloutDiagnosis: why a rollout did not finish, from the cluster', () => {
  it('an image pull: kubelet\u2019s own error from the Failed event, not the back-off line', () => {
    const items = [
      deployment(),
      replicaSet(),
      pod({
        containerStatuses: [
          {
            name: 'web',
            image: IMAGE,
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${IMAGE}"` } },
          },
        ],
      }),
      event('Pod', 'web-7c9f8d6b5d-x2x7q', 'Failed', PULL_401),
      event('Pod', 'web-7c9f8d6b5d-x2x7q', 'BackOff', `Back-off pulling image "${IMAGE}"`, '2026-11-26T03:00:05Z'),
      event('Pod', 'other-pod', 'Failed', 'Failed to pull image "x": not ours'),
    ];
    const [f, ...rest] = diagnoseRollout(web, { items });
    assert.strictEqual(rest.length, 0);
    assert.strictEqual(f.code, 'IMAGE_PULL_FAILED');
    assert.strictEqual(f.image, IMAGE);
    assert.strictEqual(f.container, 'web');
    assert.match(f.message, /401 Unauthorized/);
  });

  it('a crash loop: exit code, termination reason and the last log lines of that container', () => {
    const items = [
      deployment(),
      replicaSet(),
      pod({
        containerStatuses: [
          {
            name: 'web',
            image: IMAGE,
            ready: false,
            restartCount: 4,
            state: {
              waiting: {
                reason: 'CrashLoopBackOff',
                message: 'back-off 1m20s restarting failed container=web pod=web-7c9f8d6b5d-x2x7q_shop(1f0c)',
              },
            },
            lastState: { terminated: { exitCode: 3, reason: 'Error' } },
          },
        ],
      }),
    ];
    const logs =
      '[pod/web-7c9f8d6b5d-x2x7q/web] starting\n[pod/web-7c9f8d6b5d-x2x7q/sidecar] noise\n[pod/web-7c9f8d6b5d-x2x7q/web] FATAL: DATABASE_URL is not set\n';
    const [f] = diagnoseRollout(web, { items, logs });
    assert.strictEqual(f.code, 'CRASH_LOOP');
    assert.strictEqual(f.exitCode, 3);
    assert.deepStrictEqual(f.lastLogLines, ['starting', 'FATAL: DATABASE_URL is not set']);
    assert.match(
      f.reason,
      /keeps exiting with code 3 \(Error\), restarted 4 time\(s\); its last lines: starting \| FATAL: DATABASE_URL is not set/,
    );
    assert.match(f.fix, /kubectl logs web-7c9f8d6b5d-x2x7q -c web --previous -n shop/);
  });

  it('OOMKilled says memory', () => {
    const items = [
      replicaSet(),
      pod({
        containerStatuses: [
          {
            name: 'web',
            ready: false,
            restartCount: 2,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
          },
        ],
      }),
    ];
    assert.match(diagnoseRollout(web, { items })[0].fix, /memory limit/);
  });

  it('unschedulable: the scheduler\u2019s message', () => {
    const message =
      '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';
    const items = [
      replicaSet(),
      pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] }),
    ];
    const [f] = diagnoseRollout(web, { items });
    assert.strictEqual(f.code, 'UNSCHEDULABLE');
    assert.match(f.reason, /3 Insufficient cpu/);
    assert.match(f.fix, /resource requests/);
  });

  it('pods refused by Azure Policy: the ReplicaSet\u2019s FailedCreate, the policy named', () => {
    const denial =
      'Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [azurepolicy-k8sazurev2containerallowedimages-77a3] Container image docker.io/nginx for container web has not been allowed.';
    const items = [
      deployment(),
      replicaSet([{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: denial }]),
      event('ReplicaSet', 'web-7c9f8d6b5d', 'FailedCreate', denial),
    ];
    const findings = diagnoseRollout(web, { items });
    assert.strictEqual(findings.length, 1, 'condition and event say the same: one finding');
    assert.strictEqual(findings[0].code, 'POD_CREATE_DENIED');
    assert.match(findings[0].reason, /policy azurepolicy-k8sazurev2containerallowedimages-77a3/);
    assert.match(findings[0].fix, /Azure Policy/);
  });

  it('pods refused by a quota', () => {
    const items = [
      replicaSet(),
      event(
        'ReplicaSet',
        'web-7c9f8d6b5d',
        'FailedCreate',
        'Error creating: pods "web-7c9f8d6b5d-abcde" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=3, limited: requests.cpu=4',
      ),
    ];
    assert.strictEqual(diagnoseRollout(web, { items })[0].code, 'POD_QUOTA_EXCEEDED');
  });

  it('a missing Secret, a failing readiness probe', () => {
    const items = [
      replicaSet(),
      pod(
        {
          containerStatuses: [
            { name: 'web', ready: false, state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "db" not found' } } },
          ],
        },
        'web-7c9f8d6b5d-aaaaa',
      ),
      pod(
        { containerStatuses: [{ name: 'web', ready: false, state: { running: { startedAt: '2026-11-26T03:00:00Z' } } }] },
        'web-7c9f8d6b5d-bbbbb',
      ),
      event('Pod', 'web-7c9f8d6b5d-bbbbb', 'Unhealthy', 'Readiness probe failed: HTTP probe failed with statuscode: 503'),
    ];
    assert.deepStrictEqual(
      diagnoseRollout(web, { items }).map((f) => f.code),
      ['CONTAINER_CONFIG_ERROR', 'NOT_READY'],
    );
  });

  it('a progress deadline with nothing else to show; nothing at all when healthy; other workloads\u2019 pods ignored', () => {
    const deadline = deployment([
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "web-7c9f8d6b5d" has timed out progressing.',
      },
    ]);
    assert.strictEqual(diagnoseRollout(web, { items: [deadline, replicaSet()] })[0].code, 'PROGRESS_DEADLINE');
    const healthy = pod({ containerStatuses: [{ name: 'web', ready: true, state: { running: {} } }] });
    assert.deepStrictEqual(diagnoseRollout(web, { items: [deployment(), replicaSet(), healthy] }), []);
    const stranger = {
      ...pod({ containerStatuses: [{ name: 'x', state: { waiting: { reason: 'CrashLoopBackOff' } } }] }),
      metadata: { name: 'api-1', namespace: 'shop', ownerReferences: [{ kind: 'ReplicaSet', name: 'api-5d' }] },
    };
    assert.deepStrictEqual(diagnoseRollout(web, { items: [replicaSet(), stranger] }), []);
  });

  it('StatefulSet pods belong to the StatefulSet directly; evidenceItems opens a List', () => {
    const db = { kind: 'StatefulSet', name: 'db', namespace: 'shop' };
    const list = {
      kind: 'List',
      items: [
        {
          kind: 'Pod',
          metadata: { name: 'db-0', namespace: 'shop', ownerReferences: [{ kind: 'StatefulSet', name: 'db' }] },
          status: {
            containerStatuses: [
              { name: 'db', ready: false, state: { waiting: { reason: 'ErrImagePull', message: 'rpc error: not found' } } },
            ],
          },
        },
      ],
    };
    assert.strictEqual(diagnoseRollout(db, { items: evidenceItems(list) })[0].code, 'IMAGE_PULL_FAILED');
  });
});
