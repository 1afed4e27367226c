import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

interface TaskInput {
  name: string;
  type: string;
  aliases?: string[];
  groupName?: string;
  visibleRule?: string;
  helpMarkDown?: string;
  options?: Record<string, string>;
  properties?: Record<string, string>;
}

const STABLE_IDS: Record<string, string> = {
  PrivateAksDeployV1: '64af446c-773c-420f-b8a3-502ed496dff6',
  AcrNetworkRuleSyncV1: 'f81dd7c7-2b06-47c2-a54a-7ca62c497f38',
  ServiceConnectionRoleCheckV1: '622d20fc-3616-411c-af79-0be641376892',
};

function readTask(task: string) {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', task, 'task.json'), 'utf8'));
}

/** Input names a visibleRule mentions: "a = x && b != y || c = z". */
function namesInRule(rule: string): string[] {
  return rule.split(/&&|\|\|/).map((clause) => clause.trim().split(/\s*(?:!=|=|<|>)\s*/)[0]);
}

describe('task.json definitions', () => {
  for (const task of ALL_TASKS) {
    describe(task, () => {
      const def = readTask(task);
      const inputs: TaskInput[] = def.inputs;
      const names = new Set(inputs.map((i) => i.name));

      it('keeps its stable id and name', () => {
        assert.strictEqual(def.id, STABLE_IDS[task]);
        assert.strictEqual(def.name, task.replace(/V1$/, ''));
        assert.strictEqual(def.version.Major, 1);
      });

      it('runs on the Node20_1 and Node24 handlers from the bundle', () => {
        assert.deepStrictEqual(Object.keys(def.execution).sort(), ['Node20_1', 'Node24']);
        for (const handler of Object.values<{ target: string }>(def.execution)) assert.strictEqual(handler.target, 'index.js');
        assert.ok(!def.prejobexecution, 'no pre-job step');
        if (task === 'AcrNetworkRuleSyncV1') {
          // The post-job step removes the job's rule, even when the job failed or was cancelled. Its own
          // entry: the agent runs it also when the main step never ran (JobExtension.cs, condition always).
          assert.deepStrictEqual(Object.keys(def.postjobexecution).sort(), ['Node20_1', 'Node24']);
          for (const handler of Object.values<{ target: string }>(def.postjobexecution)) assert.strictEqual(handler.target, 'post.js');
        } else {
          assert.ok(!def.postjobexecution, 'no post-job step until a task needs one');
        }
      });

      it('takes an Azure Resource Manager connection aliased azureSubscription', () => {
        const conn = inputs.find((i) => i.name === 'connectedServiceNameARM');
        assert.ok(conn);
        assert.strictEqual(conn.type, 'connectedService:AzureRM');
        assert.deepStrictEqual(conn.aliases, ['azureSubscription']);
      });

      it('documents every input and puts it in a declared group', () => {
        const groups = new Set<string>(def.groups.map((g: { name: string }) => g.name));
        for (const input of inputs) {
          assert.ok(input.helpMarkDown && input.helpMarkDown.length > 20, `${input.name} has no helpMarkDown`);
          assert.ok(input.groupName && groups.has(input.groupName), `${input.name} is in no declared group`);
        }
        if (task !== 'ServiceConnectionRoleCheckV1') {
          assert.ok(
            def.groups.some((g: { isExpanded: boolean }) => g.isExpanded === false),
            'advanced inputs sit in a collapsed group',
          );
        }
      });

      it('only names existing inputs in visibleRules and data source bindings', () => {
        for (const input of inputs.filter((i) => i.visibleRule)) {
          for (const ref of namesInRule(input.visibleRule!))
            assert.ok(names.has(ref), `${input.name}'s visibleRule names unknown input ${ref}`);
        }
        for (const binding of def.dataSourceBindings) {
          assert.ok(names.has(binding.target), `binding targets unknown input ${binding.target}`);
          assert.strictEqual(binding.endpointId, '$(connectedServiceNameARM)');
          for (const ref of (binding.endpointUrl ?? '').match(/\$\((\w+)\)/g) ?? []) {
            assert.ok(names.has(ref.slice(2, -1)), `binding URL names unknown input ${ref}`);
          }
        }
      });

      it('lets a typed name through every picker bound to the connection', () => {
        for (const binding of def.dataSourceBindings) {
          const input = inputs.find((i) => i.name === binding.target)!;
          assert.strictEqual(input.type, 'pickList');
          assert.strictEqual(input.properties?.EditableOptions, 'True', `${input.name} is not editable`);
        }
      });

      it('declares its output variables', () => {
        assert.ok(def.outputVariables.length >= 1);
        for (const o of def.outputVariables) assert.ok(o.description, `${o.name} has no description`);
      });
    });
  }
});
