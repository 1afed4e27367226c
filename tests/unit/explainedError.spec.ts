import * as assert from 'assert';
import { ExplainedError, invalidInput } from '../../shared/pipeline/explainedError';
import { parseIpv4Range } from '../../shared/net/ipv4';
import { validateResourceGroupName } from '../../shared/azure/arm/resourceId';
import { validateNamespace } from '../../shared/kube/manifests';
import { parseImage } from '../../shared/kube/imageSubstitution';

// The one refusal of a task input, and the layers that refuse inputs through it (pipeline, net, arm, kube).

describe('explainedError: invalidInput, the one refusal of a task input', () => {
  it('names the input as the author wrote it, with INVALID_INPUT unless told otherwise', () => {
    const e = invalidInput('clusterName', "'x' is too short.", 'Give the name of the cluster.');
    assert.ok(e instanceof ExplainedError);
    assert.deepStrictEqual(
      { what: e.what, reason: e.reason, fix: e.fix, code: e.code },
      { what: "Reading the input 'clusterName'", reason: "'x' is too short.", fix: 'Give the name of the cluster.', code: 'INVALID_INPUT' },
    );
    assert.strictEqual(
      e.message,
      "Reading the input 'clusterName' failed [INVALID_INPUT]: 'x' is too short. Fix: Give the name of the cluster.",
    );
    assert.strictEqual(invalidInput('kubectlPath', 'No kubectl at /x.', 'Give the path.', 'KUBECTL_MISSING').code, 'KUBECTL_MISSING');
  });

  it('a value quoted in the reason cannot become an agent logging command', () => {
    const e = invalidInput('ipAddresses', "'##vso[task.setvariable variable=x]1' is not an IPv4 address.", 'Fix it.');
    assert.ok(!e.message.includes('##vso['), e.message);
  });

  it('every layer refuses its inputs the same way', () => {
    const refusals: Array<() => unknown> = [
      () => parseIpv4Range('ipAddresses', '2001:db8::1'),
      () => validateResourceGroupName('resourceGroupName', 'bad name.'),
      () => validateNamespace('namespace', 'Not_A_Label'),
      () => parseImage('images', 'NOT AN IMAGE'),
    ];
    for (const refuse of refusals) {
      assert.throws(
        refuse,
        (err: unknown) =>
          err instanceof ExplainedError && /^Reading the input '\w+' failed \[INVALID_(INPUT|MANIFEST)\]: /.test(err.message),
      );
    }
  });
});
