import * as assert from 'assert';
import { operationsFor, parseApplyOutput } from '../../shared/kube/applyOutput';

describe("kubectl apply's output", () => {
  it('reads the name printer lines, the dry-run suffixes included, and nothing else', () => {
    const out = [
      'namespace/web unchanged',
      'secret/pull created',
      'deployment.apps/shop configured',
      'horizontalpodautoscaler.autoscaling/shop serverside-applied',
      'configmap/old pruned',
      'service/shop created (server dry run)',
      'Warning: resource deployments/shop is missing the kubectl.kubernetes.io/last-applied-configuration annotation',
      '  [run command] noise',
    ].join('\n');
    assert.deepStrictEqual(parseApplyOutput(out), [
      { kind: 'namespace', group: undefined, name: 'web', operation: 'unchanged' },
      { kind: 'secret', group: undefined, name: 'pull', operation: 'created' },
      { kind: 'deployment', group: 'apps', name: 'shop', operation: 'configured' },
      { kind: 'horizontalpodautoscaler', group: 'autoscaling', name: 'shop', operation: 'serverside-applied' },
      { kind: 'configmap', group: undefined, name: 'old', operation: 'pruned' },
      { kind: 'service', group: undefined, name: 'shop', operation: 'created' },
    ]);
  });

  it('matches each line to an object once, in order', () => {
    const changes = parseApplyOutput('configmap/a created\nconfigmap/a unchanged\ndeployment.apps/shop configured');
    assert.deepStrictEqual(
      operationsFor(
        [
          { kind: 'ConfigMap', name: 'a' },
          { kind: 'ConfigMap', name: 'a' },
          { kind: 'Deployment', name: 'shop' },
          { kind: 'Service', name: 'shop' },
        ],
        changes,
      ),
      ['created', 'unchanged', 'configured', undefined],
    );
  });
});
