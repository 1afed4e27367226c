import * as assert from 'assert';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { booleanInput, choiceInput, integerInput, linesInput, optionalInput, requiredInput } from '../../shared/pipeline/taskInputs';
import { ExplainedError } from '../../shared/pipeline/explainedError';
import { taskInputsEnv } from '../support/agentEnvironment';

/**
 * Inputs as the agent hands them over: one `INPUT_<NAME>` variable each, which task-lib moves into its
 * vault when it loads (azure-pipelines-task-lib node/internal.ts _loadData; the agent's side:
 * azure-pipelines-agent src/Agent.Worker/Handlers/Handler.cs AddInputsToEnvironment).
 */
function asTheAgent(inputs: Record<string, string>): void {
  Object.assign(process.env, taskInputsEnv(inputs));
  taskLibInternal._loadData();
}

const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });

function refusal(name: string, reason: RegExp, fix: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ExplainedError, String(err));
    assert.strictEqual(err.code, 'INVALID_INPUT');
    assert.strictEqual(err.what, `Reading the input '${name}'`);
    assert.match(err.reason, reason);
    assert.match(err.fix, fix);
    return true;
  };
}

describe('taskInputs: reading and validating task inputs', () => {
  // task-lib's getInput debug-logs every value it returns: kept off the test's output.
  before(() => tl.setStdStream(quiet));
  after(() => {
    taskLibInternal._loadData();
    tl.setStdStream(process.stdout);
  });

  it('optionalInput trims, and an empty or blank input is undefined', () => {
    asTheAgent({ namespace: '  web  ', blank: '   ', empty: '' });
    assert.strictEqual(optionalInput('namespace'), 'web');
    assert.strictEqual(optionalInput('blank'), undefined);
    assert.strictEqual(optionalInput('empty'), undefined);
    assert.strictEqual(optionalInput('neverSet'), undefined);
  });

  it('requiredInput refuses an empty input, naming it', () => {
    asTheAgent({ clusterName: ' aks1 ', blank: ' ' });
    assert.strictEqual(requiredInput('clusterName'), 'aks1');
    assert.throws(() => requiredInput('blank'), refusal('blank', /^It is empty\.$/, /^Set 'blank'\.$/));
    assert.throws(() => requiredInput('neverSet'), refusal('neverSet', /empty/, /Set 'neverSet'/));
  });

  const booleans: { value: string | undefined; fallback: boolean; expected: boolean | RegExp }[] = [
    { value: undefined, fallback: true, expected: true },
    { value: undefined, fallback: false, expected: false },
    { value: 'true', fallback: false, expected: true },
    { value: 'FALSE', fallback: true, expected: false },
    { value: ' True ', fallback: false, expected: true },
    { value: 'yes', fallback: false, expected: /^'yes' is not true or false\.$/ },
    { value: '1', fallback: false, expected: /^'1' is not true or false\.$/ },
    { value: 'truely', fallback: false, expected: /not true or false/ },
  ];
  for (const b of booleans) {
    it(`booleanInput '${b.value ?? '(unset)'}' (default ${b.fallback}) → ${b.expected}`, () => {
      asTheAgent(b.value === undefined ? {} : { useAdminCredentials: b.value });
      if (typeof b.expected === 'boolean') assert.strictEqual(booleanInput('useAdminCredentials', b.fallback), b.expected);
      else
        assert.throws(
          () => booleanInput('useAdminCredentials', b.fallback),
          refusal('useAdminCredentials', b.expected, /to true or false/),
        );
    });
  }

  const integers: { value: string | undefined; expected: number | RegExp }[] = [
    { value: undefined, expected: 300 },
    { value: '60', expected: 60 },
    { value: '1', expected: 1 },
    { value: '3600', expected: 3600 },
    { value: ' 90 ', expected: 90 },
    { value: '0', expected: /^'0' is not a whole number between 1 and 3600\.$/ },
    { value: '3601', expected: /between 1 and 3600/ },
    { value: '-5', expected: /between 1 and 3600/ },
    { value: '1.5', expected: /between 1 and 3600/ },
    { value: '1e3', expected: /between 1 and 3600/ },
    { value: '0x10', expected: /between 1 and 3600/ },
    { value: 'ten', expected: /between 1 and 3600/ },
  ];
  for (const n of integers) {
    it(`integerInput '${n.value ?? '(unset)'}' within 1..3600 (default 300) → ${n.expected}`, () => {
      asTheAgent(n.value === undefined ? {} : { timeoutSeconds: n.value });
      if (typeof n.expected === 'number') assert.strictEqual(integerInput('timeoutSeconds', 300, 1, 3600), n.expected);
      else
        assert.throws(() => integerInput('timeoutSeconds', 300, 1, 3600), refusal('timeoutSeconds', n.expected, /a number in that range/));
    });
  }

  it('choiceInput matches case-insensitively and returns the choice as spelled in the list', () => {
    const choices = ['auto', 'direct', 'runCommand'] as const;
    asTheAgent({ route: 'RUNCOMMAND' });
    assert.strictEqual(choiceInput('route', choices, 'auto'), 'runCommand');
    asTheAgent({});
    assert.strictEqual(choiceInput('route', choices, 'auto'), 'auto');
    asTheAgent({ route: 'ssh' });
    assert.throws(
      () => choiceInput('route', choices, 'auto'),
      refusal('route', /^'ssh' is not one of auto, direct, runCommand\.$/, /one of them/),
    );
  });

  it('linesInput: trimmed non-empty lines, CRLF or LF, # comments skipped', () => {
    asTheAgent({ manifests: '  k8s/a.yaml \r\n\n# old one\n   # indented comment\nk8s/b.yaml\n\t\n' });
    assert.deepStrictEqual(linesInput('manifests'), ['k8s/a.yaml', 'k8s/b.yaml']);
    asTheAgent({});
    assert.deepStrictEqual(linesInput('manifests'), []);
  });
});
