import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv-draft-04';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

// The task schema azure-pipelines-task-lib publishes (draft-04), vendored with its origin and the
// few local additions noted in its $comment.
const SCHEMA_PATH = path.join(REPO_ROOT, 'tests', 'package', 'tasks.schema.json');

function validator() {
  // unicodeRegExp off: the upstream pattern `^connectedService\:.+$` is invalid under the u flag.
  // allowUnionTypes: upstream's defaultValue is string or boolean.
  const ajv = new Ajv({ allErrors: true, unicodeRegExp: false, allowUnionTypes: true });
  return ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')));
}

describe('task.json against the published task schema', () => {
  const validate = validator();

  for (const task of ALL_TASKS) {
    it(`${task}/task.json is valid`, () => {
      const def = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', task, 'task.json'), 'utf8'));
      // The schema says so in a description only.
      const friendlyName: string = def.friendlyName;
      assert.ok(friendlyName.length <= 40, `friendlyName '${friendlyName}' is over 40 characters`);
      assert.ok(validate(def), JSON.stringify(validate.errors, null, 2));
    });
  }

  it('rejects what the agent would not run (the schema is really applied)', () => {
    const def = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', ALL_TASKS[0], 'task.json'), 'utf8'));
    assert.strictEqual(validate({ ...def, execution: { Node99: { target: 'index.js' } } }), false);
    assert.strictEqual(validate({ ...def, inputs: [{ name: 'bad name', label: 'x', type: 'string' }] }), false);
    assert.strictEqual(validate({ ...def, version: { Major: 1, Minor: 0 } }), false);
  });

  it('keeps the vendored copy traceable to its origin and licence', () => {
    const schema = JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8'));
    assert.match(schema.$comment, /microsoft\/azure-pipelines-task-lib/);
    assert.match(schema.$comment, /MIT License/);
  });
});
