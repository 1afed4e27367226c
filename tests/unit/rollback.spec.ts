import * as assert from 'assert';
import { deleteArgs, deleteScript } from '../../tasks/PrivateAksDeployV1/deleteManifests';
import { MARK, markedTargets, rollbackFromLogs, rollbackMarkdown } from '../../tasks/PrivateAksDeployV1/rollback';

describe('rollback (run command log) and deleteManifests', () => {
  const logs = [
    `${MARK.changed} deployment/shop web`,
    `${MARK.created} deployment/new web`,
    'error: deployment "shop" exceeded its progress deadline',
    `${MARK.undone} deployment/shop web`,
    `${MARK.undone} statefulset/db data`,
    `${MARK.undoRolledOut} deployment/shop web`,
  ].join('\n');

  it('reads what the script undid, created and rolled out back from its log', () => {
    assert.deepStrictEqual(markedTargets(logs, MARK.changed), [{ ref: 'deployment/shop', namespace: 'web' }]);
    assert.deepStrictEqual(rollbackFromLogs(logs), {
      undone: [
        { target: { ref: 'deployment/shop', namespace: 'web' }, rolledOut: true },
        { target: { ref: 'statefulset/db', namespace: 'data' }, rolledOut: false },
      ],
      created: [{ ref: 'deployment/new', namespace: 'web' }],
    });
  });

  it('the summary page lists each undone and created workload', () => {
    const md = rollbackMarkdown(rollbackFromLogs(logs));
    assert.match(md, /2 workload\(s\) rolled back/);
    assert.match(md, /\| Deployment \| `web` \| `shop` \| ✅ rolled back \|/);
    assert.match(md, /\| StatefulSet \| `data` \| `db` \| ❌ undone, rollout not finished \|/);
    assert.match(md, /\| Deployment \| `web` \| `new` \| created by this run, left in place \|/);
  });

  it('kubectl delete: only the file, not-found ignored, waited for within rolloutTimeoutSeconds', () => {
    const plan = {
      objects: [],
      namespace: 'web',
      createNamespace: true,
      serverSideApply: false,
      waitForRollout: true,
      rolloutTimeoutSeconds: 90,
    };
    assert.deepStrictEqual(deleteArgs(plan, 'm.yaml'), [
      'delete',
      '-f',
      'm.yaml',
      '--ignore-not-found',
      '--wait',
      '--timeout=90s',
      '--namespace',
      'web',
    ]);
    assert.strictEqual(
      deleteScript({ ...plan, namespace: undefined }),
      'kubectl delete -f manifests.yaml --ignore-not-found --wait --timeout=90s',
    );
  });
});
