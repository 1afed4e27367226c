import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rolloutTargets, type DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { evidenceCollection, unfinishedWorkloads } from '../../tasks/PrivateAksDeployV1/rolloutFailure';
import { runCommandScript, wholePlan } from '../../tasks/PrivateAksDeployV1/runCommandScript';

/**
 * The run command script run by bash, with a kubectl stand-in that logs its arguments: rollout
 * status sleeps its --timeout and fails with kubectl's timeout text (wait.ErrWaitTimeout) for the
 * workloads in SLOW, and a template read answers from TEMPLATE_<n> files.
 */
function runScript(script: string, env: Record<string, string>): { status: number; out: string; calls: string[]; seconds: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-script-'));
  try {
    const log = path.join(dir, 'calls');
    fs.writeFileSync(
      path.join(dir, 'kubectl'),
      `#!/bin/bash
echo "$*" >> ${log}
if [ "$1" = get ]; then f="${dir}/template-\${2//\\//-}-$(cat ${dir}/phase 2>/dev/null || echo before)"; [ -f "$f" ] && cat "$f"; exit 0; fi
if [ "$1" = apply ]; then echo after > ${dir}/phase; exit 0; fi
if [ "$1" = rollout ] && [ "$2" = status ]; then
  case " $SLOW " in *" $3 "*) t=\${5#--timeout=}; t=\${t%s}; [ -z "$t" ] && t=\${6#--timeout=} && t=\${t%s}; sleep "\${t}"; echo "error: timed out waiting for the condition" >&2; exit 1;; esac
fi
exit 0
`,
      { mode: 0o755 },
    );
    for (const [k, v] of Object.entries(env).filter(([k]) => k.startsWith('template-'))) fs.writeFileSync(path.join(dir, k), v);
    const started = Date.now();
    const r = spawnSync('bash', ['-c', script], { env: { PATH: `${dir}:/usr/bin:/bin`, SLOW: env.SLOW ?? '' }, encoding: 'utf8' });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    return { status: r.status ?? -1, out: r.stdout + r.stderr, calls, seconds: (Date.now() - started) / 1000 };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const plan = (over: Partial<DeployPlan> = {}): DeployPlan => ({
  objects: [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'b' } },
  ],
  namespace: 'web',
  createNamespace: false,
  serverSideApply: false,
  waitForRollout: true,
  rolloutTimeoutSeconds: 2,
  ...over,
});

describe('runCommandScript (run by bash)', function () {
  this.timeout(20_000);

  it('gives all rollout waits one deadline: two that never finish take the timeout once, not twice', () => {
    const r = runScript(runCommandScript(plan()), { SLOW: 'deployment/a deployment/b' });
    assert.notStrictEqual(r.status, 0);
    assert.match(r.out, /timed out waiting for the condition/);
    assert.ok(r.seconds < 3.5, `${r.seconds} s`);
    assert.ok(
      r.calls.some((c) => /^rollout status deployment\/a --namespace web --timeout=2s$/.test(c)),
      r.calls.join('\n'),
    );
    // The second wait found nothing left, and did not start kubectl.
    assert.ok(!r.calls.some((c) => c.startsWith('rollout status deployment/b')), r.calls.join('\n'));
  });

  it('succeeds and marks each rollout when they finish', () => {
    const r = runScript(runCommandScript(plan()), {});
    assert.strictEqual(r.status, 0, r.out);
    assert.match(r.out, /private-aks-deploy: rolled out: deployment\/a web\n.*rolled out: deployment\/b web/);
  });

  it('rollbackOnFailure: undoes only what existed and changed, reports the created one, waits for the undo', () => {
    const p = plan({
      rolloutTimeoutSeconds: 3,
      rollbackOnFailure: true,
      objects: [...plan().objects, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'c' } }],
    });
    const r = runScript(runCommandScript(p), {
      SLOW: 'deployment/a',
      'template-deployment-a-before': '{"image":"v1"}',
      'template-deployment-a-after': '{"image":"v2"}',
      'template-deployment-b-before': '{"image":"v1"}',
      'template-deployment-b-after': '{"image":"v1"}',
    });
    assert.notStrictEqual(r.status, 0);
    assert.match(r.out, /private-aks-deploy: template changed: deployment\/a web/);
    assert.match(r.out, /private-aks-deploy: created: deployment\/c web/);
    const undos = r.calls.filter((c) => c.startsWith('rollout undo'));
    assert.deepStrictEqual(undos, ['rollout undo deployment/a --namespace web']);
    assert.match(r.out, /private-aks-deploy: undone: deployment\/a web/);
  });

  it('without rollbackOnFailure nothing is undone', () => {
    const r = runScript(runCommandScript(plan()), { SLOW: 'deployment/a' });
    assert.notStrictEqual(r.status, 0);
    assert.ok(!r.calls.some((c) => c.startsWith('rollout undo') || /^get .*\.spec\.template/.test(c)), r.calls.join('\n'));
    // The failed wait's evidence is read all the same (always on), keeping the wait's exit code.
    assert.ok(
      r.calls.some((c) => c.startsWith('get deployments,replicasets,pods,events')),
      r.calls.join('\n'),
    );
  });

  it('a part that is not the last applies only, and undoes what an earlier part changed when it is last', () => {
    const whole = wholePlan(plan({ rollbackOnFailure: true }));
    const first = runCommandScript(plan({ rollbackOnFailure: true }), { ...whole, targets: [], last: false });
    assert.doesNotMatch(first, /rollout status|rollout undo/);
    const last = runCommandScript(plan({ rollbackOnFailure: true, objects: [] }), {
      ...whole,
      targets: [],
      last: true,
      changedBefore: [{ ref: 'deployment/a', namespace: 'web' }],
    });
    assert.match(last, /^changed\+=\('deployment\/a web'\)$/m);
  });

  it('the last part waits for every workload of the whole plan, those of earlier parts too, and reads the evidence for all of them', () => {
    const whole = plan();
    const lastPart = plan({ objects: [whole.objects[1]] });
    const script = runCommandScript(lastPart, { ...wholePlan(whole), targets: rolloutTargets(lastPart) });
    const r = runScript(script, { SLOW: 'deployment/a' });
    assert.notStrictEqual(r.status, 0);
    assert.ok(
      r.calls.some((c) => c.startsWith('rollout status deployment/a --namespace web')),
      r.calls.join('\n'),
    );
    assert.ok(script.includes(evidenceCollection(unfinishedWorkloads(whole))), script);
  });

  it('rollbackOnFailure: marks that the last part went on to the rollback, before any undo', () => {
    const r = runScript(runCommandScript(plan({ rollbackOnFailure: true })), {
      SLOW: 'deployment/a',
      'template-deployment-a-before': '{"image":"v1"}',
      'template-deployment-a-after': '{"image":"v2"}',
    });
    assert.match(r.out, /private-aks-deploy: rolling back:\n(.*\n)*rollbackOnFailure: undoing deployment\/a in web/);
    assert.doesNotMatch(runScript(runCommandScript(plan({ rollbackOnFailure: true })), {}).out, /rolling back/);
  });
});
