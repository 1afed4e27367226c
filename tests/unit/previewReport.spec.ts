import * as assert from 'assert';
import type { ClusterFacts } from '../../shared/azure/aks/clusterFacts';
import type { KubectlFailureContext } from '../../shared/kube/kubectlErrors';
import type { DeployPlan } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { diffArgs, dryRunArgs } from '../../tasks/PrivateAksDeployV1/deployPlan';
import { explainKubectlOutput, stageWhat } from '../../tasks/PrivateAksDeployV1/kubectlFailure';
import { MAX_OBJECT_DIFF, previewObjects, previewSummaryMarkdown } from '../../tasks/PrivateAksDeployV1/previewReport';
import { previewScript } from '../../tasks/PrivateAksDeployV1/runCommandRoute';
import { reportPlan } from '../../tasks/PrivateAksDeployV1/report';
import { DRY_RUN_PASSED, runCommandScript } from '../../tasks/PrivateAksDeployV1/runCommandScript';

const plan: DeployPlan = {
  objects: [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } },
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop', namespace: 'other' } },
  ],
  namespace: 'web',
  createNamespace: true,
  serverSideApply: true,
  waitForRollout: true,
  rolloutTimeoutSeconds: 60,
};

const context: KubectlFailureContext = { server: 'https://aks.example:443', clusterName: 'aks-prod', azureRbac: true };

describe('PrivateAksDeploy preview and server-side dry run', () => {
  it('dry run and diff take the apply flags (field manager, force-conflicts, namespace)', () => {
    assert.deepStrictEqual(dryRunArgs(plan, 'm.yaml'), [
      ...['apply', '-f', 'm.yaml', '--namespace', 'web', '--server-side', '--field-manager=private-aks-deploy', '--force-conflicts'],
      '--dry-run=server',
    ]);
    assert.deepStrictEqual(diffArgs(plan, 'm.yaml'), [
      ...['diff', '-f', 'm.yaml', '--namespace', 'web', '--server-side', '--field-manager=private-aks-deploy', '--force-conflicts'],
    ]);
  });

  it('run command: the dry run comes first, its failure ending the script before the apply; without the input, no dry run', () => {
    const script = runCommandScript({ ...plan, createNamespace: false, serverDryRunFirst: true });
    const lines = script.split('\n');
    assert.match(lines[0], /^kubectl apply -f manifests\.yaml .*--dry-run=server \|\| exit \$\?$/);
    assert.strictEqual(lines[1], `echo '${DRY_RUN_PASSED}'`);
    const apply = lines.findIndex((l) => /^kubectl apply -f manifests\.yaml .*--force-conflicts \|\| exit \$\?$/.test(l));
    const wait = lines.findIndex((l) => /wait_for deployment\/shop/.test(l));
    assert.ok(apply > 1 && wait > apply, script);
    // createNamespace: the Namespace alone is applied for real before the dry run (a dry run stores nothing), without prune.
    const withNamespace = runCommandScript({ ...plan, serverDryRunFirst: true, pruneSelector: 'app=shop' }).split('\n');
    assert.match(withNamespace[0], /^echo 'serverDryRunFirst: creating the namespace '\\''web'\\'' first/);
    assert.match(
      withNamespace[1],
      /^kubectl apply -f - --namespace web --server-side .*<<< '\{"apiVersion":"v1","kind":"Namespace","metadata":\{"name":"web"\}\}' \|\| exit \$\?$/,
    );
    assert.doesNotMatch(withNamespace[1], /--prune/);
    assert.match(withNamespace[2], /--dry-run=server \|\| exit \$\?$/);
    assert.ok(!runCommandScript(plan).includes('--dry-run'));
    assert.match(previewScript(plan), /^kubectl diff -f manifests\.yaml --namespace web --server-side/);
  });

  it('a refused dry run says nothing was applied; the apply does not', () => {
    const quota =
      'Error from server (Forbidden): error when creating "manifests.yaml": deployments.apps "two" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1';
    const dry = explainKubectlOutput(quota, context, 'dryRun')!;
    assert.strictEqual(dry.code, 'QUOTA_EXCEEDED');
    assert.match(dry.reason, /Nothing was applied: the server-side dry run refused the batch\.$/);
    const apply = explainKubectlOutput(quota, context, 'apply')!;
    assert.strictEqual(apply.code, 'QUOTA_EXCEEDED');
    assert.doesNotMatch(apply.reason, /Nothing was applied/);
    // kubectlErrors still explains what is not a refusal of a manifest.
    assert.strictEqual(explainKubectlOutput('dial tcp 10.0.0.4:443: i/o timeout', context, 'apply')!.code, 'KUBECTL_UNREACHABLE');
    assert.strictEqual(explainKubectlOutput('something else', context, 'apply'), undefined);
    assert.strictEqual(stageWhat('dryRun', 'runCommand'), 'Checking the manifests with a server-side dry run through AKS run command');
  });

  it('a namespace missing in a preview or dry run: said so, with what to do', () => {
    const missing = 'Error from server (NotFound): error when creating "manifests.yaml": namespaces "shop" not found';
    const diff = explainKubectlOutput(missing, context, 'diff')!;
    assert.strictEqual(diff.code, 'KUBECTL_NAMESPACE_MISSING');
    assert.match(diff.reason, /stores nothing, so a namespace the deployment would create does not exist yet/);
    assert.match(diff.fix, /Create the namespace once before/);
    // Before a dry run createNamespace's namespace is created for real: a missing one is one the manifests use without creating.
    const dry = explainKubectlOutput(missing, context, 'dryRun')!;
    assert.strictEqual(dry.code, 'KUBECTL_NAMESPACE_MISSING');
    assert.match(
      dry.reason,
      /every namespace the manifests use must exist before it; only the namespace input with createNamespace: true is created first\. Nothing was applied\.$/,
    );
    assert.match(dry.fix, /Create the namespace before this deploy/);
    assert.doesNotMatch(explainKubectlOutput(missing, context, 'apply')!.reason, /stores nothing/);
  });

  it('the plan line says what the action does with the objects', () => {
    const log = console.log;
    const lines: string[] = [];
    console.log = (line: string) => lines.push(line);
    try {
      for (const action of ['deploy', 'preview', 'delete'] as const) reportPlan(plan, action);
    } finally {
      console.log = log;
    }
    assert.deepStrictEqual(lines, ['2 object(s) to apply.', '2 object(s) to preview.', '2 object(s) to delete.']);
  });

  it('kubectl diff without a diff program is PREVIEW_NO_DIFF, not a missing credential plugin', () => {
    // What the real kubectl 1.32 printed (exit 2) with a PATH holding only kubectl.
    const out = 'error: failed to run "diff": executable file not found in $PATH\n';
    assert.strictEqual(explainKubectlOutput(out, context, 'diff')!.code, 'PREVIEW_NO_DIFF');
  });

  it('the summary page: counts, one row per object (namespace object first), diffs fenced and cut', () => {
    const objects = previewObjects(plan);
    assert.deepStrictEqual(
      objects.map((o) => `${o.kind} ${o.namespace}/${o.name}`),
      ['Namespace /web', 'ConfigMap web/settings', 'Deployment other/shop'],
    );
    objects[0].verdict = 'created';
    objects[0].diff = '+kind: Namespace';
    objects[2].verdict = 'changed';
    objects[2].diff = `-  image: a\n+  image: b \`\`\`\n${'+x\n'.repeat(MAX_OBJECT_DIFF)}`;
    const page = previewSummaryMarkdown({
      facts: { name: 'aks-prod', resourceGroup: 'rg', kubernetesVersion: '1.31.2' } as ClusterFacts,
      route: 'runCommand',
      diffs: objects,
    });
    assert.match(page, /^### ℹ️ Preview for `aks-prod`: 1 to create, 1 to change, 1 unchanged\n/);
    assert.match(page, /Nothing was applied/);
    assert.match(page, /\| 🆕 created \| Namespace \| {2}\| `web` \|/);
    assert.match(page, /\| ➖ unchanged \| ConfigMap \| `web` \| `settings` \|/);
    // A backtick run in the diff cannot close the fence.
    assert.match(page, /\n````diff\n- {2}image: a\n/);
    assert.match(page, /… \d+ more line\(s\) not shown\n````\n/);
    assert.ok(page.length < 6_000, `${page.length}`);
  });
});
