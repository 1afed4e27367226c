import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

/**
 * The classic designer: the pickers' Resource Manager URLs and the step name, as Azure DevOps renders
 * them from task.json. What "right" means comes from Microsoft's own tasks in
 * microsoft/azure-pipelines-tasks (Tasks/KubernetesManifestV1/task.json: `{{{endpoint.url}}}/subscriptions/
 * {{{endpoint.subscriptionId}}}/resourceGroups/$(azureResourceGroup)/providers/…`, with the slash, and
 * `"instanceNameFormat": "$(action)"`, an input that is always shown): a picker or step name that
 * reads an input the designer hides at that moment gets an empty value.
 */

interface TaskInput {
  name: string;
  type: string;
  visibleRule?: string;
  options?: Record<string, string>;
}

interface Binding {
  target: string;
  endpointId?: string;
  endpointUrl?: string;
}

function readTask(task: string): { inputs: TaskInput[]; dataSourceBindings?: Binding[]; instanceNameFormat: string } {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', task, 'task.json'), 'utf8'));
}

/** A visibleRule ("a = x && b != y || c = z") evaluated against input values. Only = and != occur in these tasks. */
export function ruleHolds(rule: string | undefined, values: Record<string, string>): boolean {
  if (!rule) return true;
  return rule.split('||').some((any) =>
    any.split('&&').every((clause) => {
      const m = /^\s*(\w+)\s*(!=|=)\s*(.*?)\s*$/.exec(clause);
      if (!m) throw new Error(`visibleRule clause not understood: '${clause}'`);
      const actual = (values[m[1]] ?? '').toLowerCase();
      return m[2] === '=' ? actual === m[3].toLowerCase() : actual !== m[3].toLowerCase();
    }),
  );
}

/** Every combination of values of the inputs the rules can test (choices: their options; booleans; others: empty or set). */
function assignments(inputs: readonly TaskInput[]): Record<string, string>[] {
  const tested = new Set(
    inputs.flatMap((i) =>
      (i.visibleRule ?? '')
        .split(/&&|\|\|/)
        .map((c) => c.trim().split(/\s*!?=\s*/)[0])
        .filter(Boolean),
    ),
  );
  let out: Record<string, string>[] = [{}];
  for (const name of tested) {
    const input = inputs.find((i) => i.name === name);
    assert.ok(input, `a visibleRule names '${name}', which is no input`);
    const domain = input!.options ? Object.keys(input!.options) : input!.type === 'boolean' ? ['true', 'false'] : ['', 'set'];
    out = out.flatMap((a) => domain.map((v) => ({ ...a, [name]: v })));
  }
  return out;
}

const variablesIn = (text: string | undefined) => [...(text ?? '').matchAll(/\$\((\w+)\)/g)].map((m) => m[1]);

describe('Classic designer: pickers and step names', () => {
  for (const task of ALL_TASKS) {
    const def = readTask(task);
    const byName = new Map(def.inputs.map((i) => [i.name, i]));
    const visible = (name: string, values: Record<string, string>) => ruleHolds(byName.get(name)?.visibleRule, values);

    it(`${task}: every picker URL is the connection's ARM URL, a slash, then /subscriptions/… (as Microsoft's tasks write it)`, () => {
      for (const b of def.dataSourceBindings ?? []) {
        if (!b.endpointUrl) continue;
        assert.ok(
          b.endpointUrl.startsWith('{{{endpoint.url}}}/subscriptions/{{{endpoint.subscriptionId}}}/'),
          `${b.target}: ${b.endpointUrl}`,
        );
      }
    });

    it(`${task}: every input a picker reads is shown whenever the picker is`, () => {
      for (const b of def.dataSourceBindings ?? []) {
        for (const name of [...variablesIn(b.endpointUrl), ...variablesIn(b.endpointId)]) {
          assert.ok(byName.has(name), `${b.target}'s picker reads $(${name}), which is no input`);
          for (const values of assignments(def.inputs)) {
            if (visible(b.target, values))
              assert.ok(
                visible(name, values),
                `${b.target} is shown but $(${name}), which its picker reads, is hidden when ${JSON.stringify(values)}`,
              );
          }
        }
      }
    });

    it(`${task}: the step name reads only inputs that are always shown`, () => {
      const names = variablesIn(def.instanceNameFormat);
      for (const name of names) {
        assert.ok(byName.has(name), `instanceNameFormat reads $(${name}), which is no input`);
        for (const values of assignments(def.inputs))
          assert.ok(visible(name, values), `the step name reads $(${name}), hidden when ${JSON.stringify(values)}: the name renders blank`);
      }
    });
  }

  it('PrivateAksDeploy: each action shows the inputs it uses and hides the ones it ignores', () => {
    const rules = new Map(readTask('PrivateAksDeployV1').inputs.map((i) => [i.name, i.visibleRule]));
    const shown = (name: string, values: Record<string, string>) => ruleHolds(rules.get(name), values);
    const deploy = { action: 'deploy', waitForRollout: 'true', prune: 'true' };
    for (const name of ['waitForRollout', 'rollbackOnFailure', 'rolloutTimeoutSeconds', 'prune', 'pruneSelector'])
      assert.ok(shown(name, deploy), `${name} hidden for deploy`);
    // Only deploy waits for rollouts and rolls back (deploy.ts: preview and delete return before the rollout).
    for (const action of ['preview', 'delete'])
      for (const name of ['waitForRollout', 'rollbackOnFailure'])
        assert.ok(!shown(name, { ...deploy, action }), `${name} shown for ${action}`);
    // delete passes rolloutTimeoutSeconds as kubectl delete --timeout (deleteManifests.ts deleteArgs), whatever waitForRollout says.
    assert.ok(shown('rolloutTimeoutSeconds', { action: 'delete', waitForRollout: 'false' }));
    assert.ok(!shown('rolloutTimeoutSeconds', { action: 'deploy', waitForRollout: 'false' }));
    // delete ignores prune (deleteArgs passes no --prune).
    for (const name of ['prune', 'pruneSelector']) assert.ok(!shown(name, { ...deploy, action: 'delete' }), `${name} shown for delete`);
  });

  it('the rule evaluator reads = and != with && and ||', () => {
    assert.strictEqual(ruleHolds('a = x && b != y || c = z', { a: 'x', b: 'q' }), true);
    assert.strictEqual(ruleHolds('a = x && b != y || c = z', { a: 'x', b: 'y' }), false);
    assert.strictEqual(ruleHolds('a = x && b != y || c = z', { c: 'z' }), true);
    assert.strictEqual(ruleHolds(undefined, {}), true);
  });
});
