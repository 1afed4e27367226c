import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import JSZip from 'jszip';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

const run = promisify(execFile);

describe('the Marketplace package', function () {
  this.timeout(60_000);
  let zip: JSZip;
  let vsixPath: string;

  before(async () => {
    const { stdout } = await run(process.execPath, ['scripts/package.js', '--publisher', 'test-publisher', '--ext-version', '9.8.7'], { cwd: REPO_ROOT });
    vsixPath = path.join(REPO_ROOT, 'dist', 'test-publisher.private-aks-deploy-9.8.7.vsix');
    assert.ok(stdout.includes('packaged dist/test-publisher.private-aks-deploy-9.8.7.vsix'), stdout);
    zip = await JSZip.loadAsync(fs.readFileSync(vsixPath));
  });

  after(() => fs.rmSync(vsixPath, { force: true }));

  it('takes the publisher and version from the command line', async () => {
    const manifest = await zip.file('extension.vsixmanifest')!.async('string');
    assert.match(manifest, /Publisher="test-publisher"/);
    assert.match(manifest, /Version="9\.8\.7"/);
  });

  it('holds, per task, exactly task.json, its icon and the bundle of each entry point', () => {
    for (const task of ALL_TASKS) {
      const files = Object.keys(zip.files)
        .filter((f) => f.startsWith(`tasks/${task}/`) && !zip.files[f].dir)
        .sort();
      const bundles = fs
        .readdirSync(path.join(REPO_ROOT, 'tasks', task))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `tasks/${task}/${f.replace(/\.ts$/, '.js')}`);
      assert.ok(bundles.includes(`tasks/${task}/index.js`));
      assert.deepStrictEqual(files, [`tasks/${task}/icon.png`, ...bundles, `tasks/${task}/task.json`].sort());
    }
  });

  it('ships no node_modules, sources, source maps or tests', () => {
    const unwanted = Object.keys(zip.files).filter((f) => /node_modules|\.ts$|\.map$|(^|\/)tests?\/|\.spec\./.test(f));
    assert.deepStrictEqual(unwanted, []);
  });

  it('keeps the packaged bundle runnable on its own', async () => {
    const bundle = await zip.file('tasks/ServiceConnectionRoleCheckV1/index.js')!.async('string');
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'vsix-bundle-'));
    try {
      fs.writeFileSync(path.join(dir, 'index.js'), bundle);
      // No node_modules anywhere near: the bundle must carry all it needs.
      const result = await run(process.execPath, [path.join(dir, 'index.js')], { cwd: dir, env: { PATH: process.env.PATH } }).catch((e) => e);
      assert.match(result.stdout, /ServiceConnectionRoleCheck 1\.0\.0/);
      assert.match(result.stdout, /\[MISSING_CONNECTION\]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
