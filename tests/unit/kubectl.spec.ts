import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { locateKubectl } from '../../shared/kube/kubectl';
import { ExplainedError } from '../../shared/pipeline/explainedError';

const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });

/**
 * Where the task finds kubectl: the kubectlPath input, else task-lib's `which` over PATH (an executable
 * file: azure-pipelines-task-lib node/task.ts which → _which). Its refusal points at Microsoft's own
 * installer task, KubectlInstaller@0 (microsoft/azure-pipelines-tasks Tasks/KubectlInstallerV0).
 * runKubectl starts a process: the sandbox deploy specs run it with the real kubectl.
 */
describe('kubectl: finding kubectl on the agent', function () {
  if (process.platform === 'win32') return;
  let dir: string;
  let emptyA: string;
  let emptyB: string;
  let savedPath: string | undefined;

  before(() => {
    tl.setStdStream(quiet);
    savedPath = process.env.PATH;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'locate-kubectl-'));
    emptyA = fs.mkdtempSync(path.join(os.tmpdir(), 'locate-kubectl-empty-'));
    emptyB = fs.mkdtempSync(path.join(os.tmpdir(), 'locate-kubectl-empty-'));
    fs.writeFileSync(path.join(dir, 'kubectl'), '#!/bin/sh\n', { mode: 0o755 });
  });
  after(() => {
    process.env.PATH = savedPath;
    tl.setStdStream(process.stdout);
    for (const d of [dir, emptyA, emptyB]) fs.rmSync(d, { recursive: true, force: true });
  });

  function missing(what: string, reason: RegExp, fix: RegExp) {
    return (err: unknown) => {
      assert.ok(err instanceof ExplainedError, String(err));
      assert.strictEqual(err.code, 'KUBECTL_MISSING');
      assert.strictEqual(err.what, what);
      assert.match(err.reason, reason);
      assert.match(err.fix, fix);
      return true;
    };
  }

  it('the kubectlPath input when it names a file', () => {
    assert.strictEqual(locateKubectl(path.join(dir, 'kubectl')), path.join(dir, 'kubectl'));
  });

  it('kubectlPath naming a folder or nothing is refused, PATH not consulted', () => {
    process.env.PATH = dir;
    assert.throws(
      () => locateKubectl(dir),
      missing("Reading the input 'kubectlPath'", new RegExp(`^No kubectl at ${dir}\\.$`), /full path of the kubectl executable/),
    );
    assert.throws(
      () => locateKubectl(path.join(dir, 'nope')),
      missing("Reading the input 'kubectlPath'", /No kubectl at/, /leave the input empty/),
    );
  });

  it('without the input: kubectl on PATH', () => {
    process.env.PATH = [emptyA, dir].join(path.delimiter);
    assert.strictEqual(locateKubectl(), path.join(dir, 'kubectl'));
  });

  it('not on PATH: says where it looked and how to get it', () => {
    process.env.PATH = [emptyA, '', emptyB].join(path.delimiter);
    assert.throws(
      () => locateKubectl(),
      missing(
        'Finding kubectl',
        new RegExp(`^kubectl is not on the agent's PATH \\(searched: ${emptyA}, ${emptyB}\\)\\.$`),
        /KubectlInstaller@0.*'kubectlPath'/,
      ),
    );
  });

  it('an empty PATH is said to be empty', () => {
    process.env.PATH = '';
    assert.throws(() => locateKubectl(), missing('Finding kubectl', /searched: nothing: PATH is empty/, /KubectlInstaller@0/));
  });
});
