import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { REPO_ROOT } from '../support/taskRun';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

const CHILD_PROCESS = new Set(['child_process', 'node:child_process']);
const TASK_LIB = new Set(['azure-pipelines-task-lib/task', 'azure-pipelines-task-lib']);
/** child_process functions that always run a shell (Node's docs: exec and execSync spawn a shell). */
const ALWAYS_SHELL = new Set(['exec', 'execSync']);
/** child_process functions that run a shell only when options.shell is set. */
const STARTS_PROCESS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork']);
/** task-lib's tool runner: ToolRunner.exec() may go through a shell, and takes command lines as strings. */
const TASK_LIB_TOOL_RUNNER = new Set(['exec', 'execSync', 'execAsync', 'tool']);

export interface ProcessStart {
  line: number;
  api: string;
  /** Why the start is refused, or undefined when it is proven shell-free. */
  problem?: string;
}

/**
 * Every way a source file starts a process, found from its imports and calls with TypeScript's
 * parser instead of text patterns: `import * as cp`, `import cp = require(…)`, `require(…)`,
 * named and renamed imports, destructuring, `cp.x(…)` and `cp['x'](…)`. A start is proven safe only
 * when its options are an object literal with `shell: false`; anything the analysis cannot follow
 * (the module passed around, options from a variable) is refused too.
 */
export function processStarts(fileName: string, text: string): ProcessStart[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const modules = new Map<string, 'child_process' | 'task-lib'>(); // local name → the module it is
  const functions = new Map<string, { module: 'child_process' | 'task-lib'; name: string }>(); // local name → imported function
  const starts: ProcessStart[] = [];
  const lineOf = (node: ts.Node) => file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
  const moduleOf = (specifier: string) =>
    CHILD_PROCESS.has(specifier) ? 'child_process' : TASK_LIB.has(specifier) ? 'task-lib' : undefined;
  const requiredModule = (node: ts.Node | undefined) =>
    node &&
    ts.isCallExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'require' &&
    node.arguments.length === 1 &&
    ts.isStringLiteral(node.arguments[0])
      ? moduleOf(node.arguments[0].text)
      : undefined;

  function bindPattern(pattern: ts.BindingName, module: 'child_process' | 'task-lib'): void {
    if (ts.isIdentifier(pattern)) modules.set(pattern.text, module);
    else if (ts.isObjectBindingPattern(pattern)) {
      for (const element of pattern.elements) {
        const imported =
          element.propertyName && ts.isIdentifier(element.propertyName)
            ? element.propertyName.text
            : ts.isIdentifier(element.name)
              ? element.name.text
              : undefined;
        if (imported && ts.isIdentifier(element.name)) functions.set(element.name.text, { module, name: imported });
      }
    }
  }

  // Bindings first, wherever they are.
  (function collect(node: ts.Node): void {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const module = moduleOf(node.moduleSpecifier.text);
      const clause = node.importClause;
      if (module && clause) {
        if (clause.name) modules.set(clause.name.text, module);
        const bindings = clause.namedBindings;
        if (bindings && ts.isNamespaceImport(bindings)) modules.set(bindings.name.text, module);
        if (bindings && ts.isNamedImports(bindings))
          for (const e of bindings.elements) functions.set(e.name.text, { module, name: (e.propertyName ?? e.name).text });
      }
    }
    if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      const module = moduleOf(node.moduleReference.expression.text);
      if (module) modules.set(node.name.text, module);
    }
    if (ts.isVariableDeclaration(node) && node.initializer) {
      const module =
        requiredModule(node.initializer) ?? (ts.isIdentifier(node.initializer) ? modules.get(node.initializer.text) : undefined);
      if (module) bindPattern(node.name, module);
    }
    ts.forEachChild(node, collect);
  })(file);

  const memberName = (node: ts.Expression): string | undefined => {
    if (ts.isPropertyAccessExpression(node)) return node.name.text;
    if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) return node.argumentExpression.text;
    return undefined;
  };
  const receiverModule = (node: ts.Expression): 'child_process' | 'task-lib' | undefined => {
    if (!ts.isPropertyAccessExpression(node) && !ts.isElementAccessExpression(node)) return undefined;
    const receiver = node.expression;
    return ts.isIdentifier(receiver) ? modules.get(receiver.text) : requiredModule(receiver);
  };

  function judge(call: ts.CallExpression, module: 'child_process' | 'task-lib', api: string): void {
    const line = lineOf(call);
    if (module === 'task-lib') {
      if (TASK_LIB_TOOL_RUNNER.has(api)) starts.push({ line, api: `task-lib ${api}`, problem: 'task-lib tool runner' });
      return;
    }
    if (ALWAYS_SHELL.has(api)) return void starts.push({ line, api, problem: `${api} always runs a shell` });
    if (!STARTS_PROCESS.has(api)) return;
    // (file, args?, options?, callback?): options is the object literal after the file, or the argument after args.
    const rest = call.arguments.slice(1).filter((a) => !ts.isArrowFunction(a) && !ts.isFunctionExpression(a));
    const options = rest.find((a) => ts.isObjectLiteralExpression(a)) ?? rest[1];
    if (!options || !ts.isObjectLiteralExpression(options))
      return void starts.push({ line, api, problem: 'no options object literal with shell: false' });
    const shell = options.properties.find(
      (p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'shell',
    );
    if (options.properties.some((p) => ts.isSpreadAssignment(p)))
      return void starts.push({ line, api, problem: 'options spread in: shell cannot be proven false' });
    if (!shell || shell.initializer.kind !== ts.SyntaxKind.FalseKeyword)
      return void starts.push({ line, api, problem: 'shell is not false' });
    starts.push({ line, api });
  }

  (function visit(node: ts.Node): void {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const fn = ts.isIdentifier(callee) ? functions.get(callee.text) : undefined;
      const viaModule = receiverModule(callee);
      const member = memberName(callee);
      if (fn) judge(node, fn.module, fn.name);
      else if (viaModule && member) judge(node, viaModule, member);
    } else if (ts.isIdentifier(node) && modules.get(node.text) === 'child_process') {
      // The module itself used other than as the receiver of a call: where it goes, the analysis cannot follow.
      const parent = node.parent;
      const isReceiver =
        (ts.isPropertyAccessExpression(parent) || ts.isElementAccessExpression(parent)) &&
        parent.expression === node &&
        ts.isCallExpression(parent.parent) &&
        parent.parent.expression === parent;
      const isBinding =
        ts.isImportClause(parent) ||
        ts.isNamespaceImport(parent) ||
        ts.isImportEqualsDeclaration(parent) ||
        (ts.isVariableDeclaration(parent) && parent.name === node);
      const isDestructured = ts.isVariableDeclaration(parent) && parent.initializer === node && ts.isObjectBindingPattern(parent.name);
      if (!isReceiver && !isBinding && !isDestructured)
        starts.push({ line: lineOf(node), api: node.text, problem: 'child_process passed around: its calls cannot be checked' });
    }
    ts.forEachChild(node, visit);
  })(file);
  return starts;
}

/**
 * The product code starts processes only with an argument list, never through a shell: a name or
 * path from an input cannot become a command. (badInput.sandbox.spec.ts checks the same at run time.)
 */
describe('reliability: no process is started through a shell', () => {
  const files = [...sources(path.join(REPO_ROOT, 'shared')), ...sources(path.join(REPO_ROOT, 'tasks'))];
  const rel = (f: string) => path.relative(REPO_ROOT, f);

  it('finds the product sources, and in them the process starts there are', () => {
    assert.ok(
      files.some((f) => f.endsWith(path.join('kube', 'kubectl.ts'))),
      files.map(rel).join(', '),
    );
    const all = files.flatMap((f) => processStarts(f, fs.readFileSync(f, 'utf8')).map((s) => `${rel(f)}: ${s.api}`));
    assert.ok(
      all.includes(path.join('shared', 'kube', 'kubectl.ts') + ': spawn'),
      `kubectl's spawn not found: this test would prove nothing (${all.join(', ')})`,
    );
  });

  it("every process start in the product has options with shell: false, and nothing runs a shell or task-lib's tool runner", () => {
    const offenders = files.flatMap((f) =>
      processStarts(f, fs.readFileSync(f, 'utf8'))
        .filter((s) => s.problem)
        .map((s) => `${rel(f)}:${s.line}: ${s.api}: ${s.problem}`),
    );
    assert.deepStrictEqual(offenders, []);
  });

  describe('negative controls: each way of starting a shell is caught', () => {
    const cases: [string, string][] = [
      ['cp.execSync through a namespace import', "import * as cp from 'child_process';\ncp.execSync('kubectl version');\n"],
      ['import = require', "import cp = require('node:child_process');\ncp.exec('ls');\n"],
      ['a renamed named import', "import { exec as run } from 'child_process';\nrun('ls');\n"],
      ['destructured require', "const { execSync } = require('child_process');\nexecSync('ls');\n"],
      ['element access', "import * as cp from 'child_process';\ncp['execSync']('ls');\n"],
      ['require(…).exec', "require('child_process').exec('ls');\n"],
      ['shell: true', "import { spawn } from 'child_process';\nspawn('kubectl', ['apply'], { shell: true });\n"],
      ['shell: a string', "import { spawnSync } from 'child_process';\nspawnSync('kubectl', [], { shell: '/bin/bash' });\n"],
      ['options from a variable', "import { spawn } from 'child_process';\nconst o = { shell: true };\nspawn('kubectl', [], o);\n"],
      ['options spread in', "import { execFile } from 'child_process';\nexecFile('kubectl', [], { ...o, shell: false });\n"],
      ['no options', "import { spawn } from 'child_process';\nspawn('kubectl', ['apply']);\n"],
      ['the module passed on', "import * as cp from 'child_process';\nrunWith(cp);\n"],
      ['task-lib tool runner', "import * as tl from 'azure-pipelines-task-lib/task';\ntl.tool('kubectl').arg('apply').execSync();\n"],
    ];
    for (const [what, text] of cases) {
      it(what, () =>
        assert.ok(
          processStarts('fixture.ts', text).some((s) => s.problem),
          JSON.stringify(processStarts('fixture.ts', text)),
        ),
      );
    }

    it('and an argument list with shell: false passes', () => {
      const starts = processStarts(
        'fixture.ts',
        "import { spawn } from 'child_process';\nspawn('kubectl', ['apply', '-f', file], { env, shell: false, windowsHide: true });\n",
      );
      assert.deepStrictEqual(starts, [{ line: 2, api: 'spawn' }]);
    });
  });
});
