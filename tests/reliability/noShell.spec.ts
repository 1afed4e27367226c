import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../support/taskRun';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * The product code starts processes only with an argument list, never through a shell: a name or
 * path from an input cannot become a command. (badInput.sandbox.spec.ts checks the same at run time.)
 */
describe('reliability: no process is started through a shell', () => {
  const files = [...sources(path.join(REPO_ROOT, 'shared')), ...sources(path.join(REPO_ROOT, 'tasks'))];
  const text = (f: string) => fs.readFileSync(f, 'utf8');
  const rel = (f: string) => path.relative(REPO_ROOT, f);

  it('finds the product sources', () => {
    assert.ok(files.some((f) => f.endsWith(path.join('kube', 'kubectl.ts'))), files.map(rel).join(', '));
  });

  it('no shell option, no exec/execSync, no task-lib tool runner', () => {
    const offenders = files.flatMap((f) => {
      const t = text(f);
      const found: string[] = [];
      if (/shell\s*:\s*(true|['"`])/.test(t)) found.push('shell: true');
      if (/\b(exec|execSync)\b[^;\n]*from ['"](node:)?child_process['"]|child_process['"]\)\.(exec|execSync)\b/.test(t)) found.push('child_process exec');
      if (/\btl\.(exec|execSync|execAsync|tool)\(/.test(t)) found.push('task-lib tool runner');
      return found.map((what) => `${rel(f)}: ${what}`);
    });
    assert.deepStrictEqual(offenders, []);
  });

  it('every module that imports child_process starts processes with shell: false', () => {
    const users = files.filter((f) => /from ['"](node:)?child_process['"]/.test(text(f)));
    assert.ok(users.length > 0, 'no module starts processes: this test would prove nothing');
    for (const f of users) {
      const calls = text(f).match(/\b(spawn|execFile|spawnSync|execFileSync|fork)\(/g) ?? [];
      const guarded = text(f).match(/shell:\s*false/g) ?? [];
      assert.ok(guarded.length >= calls.length, `${rel(f)}: ${calls.length} process start(s), ${guarded.length} with shell: false`);
    }
  });
});
