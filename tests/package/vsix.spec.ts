import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { strFromU8, unzipSync } from 'fflate';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

const { readPng } = require(path.join(REPO_ROOT, 'scripts', 'png.js')) as { readPng: (buf: Buffer) => { width: number; height: number } };

const run = promisify(execFile);

interface BundledPackage {
  name: string;
  version: string;
  licenceText: string;
}

/** The packages esbuild put into a task's bundles (build/bundles/<task>/*.json, its metafiles), with their licence file. */
function packagesInBundlesOf(task: string): BundledPackage[] {
  const dir = path.join(REPO_ROOT, 'build', 'bundles', task);
  const metafiles = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  assert.ok(
    metafiles.length > 0,
    `no esbuild metafile in ${path.relative(REPO_ROOT, dir)}: the build does not record what the bundles carry`,
  );
  const packageDirs = new Set<string>();
  for (const file of metafiles) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
      outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
    };
    for (const output of Object.values(meta.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
        if (m && bytesInOutput > 0) packageDirs.add(path.resolve(REPO_ROOT, m[1]));
      }
    }
  }
  return [...packageDirs].map((pkgDir) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { name: string; version: string };
    const licence = fs.readdirSync(pkgDir).find((f) => /^licen[cs]e/i.test(f));
    assert.ok(licence, `${pkg.name} ${pkg.version} has no licence file`);
    return { name: pkg.name, version: pkg.version, licenceText: fs.readFileSync(path.join(pkgDir, licence), 'utf8').trim() };
  });
}

describe('the Marketplace package', function () {
  this.timeout(60_000);
  let entries: Record<string, Uint8Array>;
  let vsixPath: string;
  /** The files in the .vsix (not its folder entries). */
  const files = () => Object.keys(entries).filter((f) => !f.endsWith('/'));
  const text = (name: string) => (entries[name] ? strFromU8(entries[name]) : undefined);

  before(async () => {
    const { stdout } = await run(process.execPath, ['scripts/package.js', '--publisher', 'test-publisher', '--ext-version', '9.8.7'], {
      cwd: REPO_ROOT,
    });
    vsixPath = path.join(REPO_ROOT, 'dist', 'test-publisher.private-aks-deploy-9.8.7.vsix');
    assert.ok(stdout.includes('packaged dist/test-publisher.private-aks-deploy-9.8.7.vsix'), stdout);
    entries = unzipSync(new Uint8Array(fs.readFileSync(vsixPath)));
  });

  after(() => fs.rmSync(vsixPath, { force: true }));

  it('takes the publisher and version from the command line', () => {
    const manifest = text('extension.vsixmanifest')!;
    assert.match(manifest, /Publisher="test-publisher"/);
    assert.match(manifest, /Version="9\.8\.7"/);
  });

  it('holds, per task, exactly task.json, its icon, the bundle of each entry point and their third-party notices', () => {
    for (const task of ALL_TASKS) {
      const packaged = files()
        .filter((f) => f.startsWith(`tasks/${task}/`))
        .sort();
      // What runs: the scripts task.json's handlers name, and the scripts those run by path (kubectl's
      // credential plugin); the task's other modules (inputs, flow, report) are inside those bundles.
      const dir = path.join(REPO_ROOT, 'tasks', task);
      const taskJson = JSON.parse(fs.readFileSync(path.join(dir, 'task.json'), 'utf8'));
      const targets = ['execution', 'prejobexecution', 'postjobexecution'].flatMap((stage) =>
        Object.values<{ target: string }>(taskJson[stage] ?? {}).map((h) => h.target),
      );
      const sources = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
        .join('\n');
      const runByPath = [...sources.matchAll(/'(\w+\.js)'/g)].map((m) => m[1]);
      const bundles = [...new Set([...targets, ...runByPath])].map((f) => `tasks/${task}/${f}`);
      assert.ok(bundles.includes(`tasks/${task}/index.js`));
      assert.deepStrictEqual(
        packaged,
        [`tasks/${task}/THIRD-PARTY-NOTICES.txt`, `tasks/${task}/icon.png`, ...bundles, `tasks/${task}/task.json`].sort(),
      );
    }
  });

  it('has, for every task the manifest contributes, task.json, a 32x32 icon and the bundle each handler runs', () => {
    // The contributions as the Marketplace reads them from the package.
    const manifest = JSON.parse(text('extension.vsomanifest')!);
    const folders: string[] = manifest.contributions
      .filter((c: { type: string }) => c.type === 'ms.vss-distributed-task.task')
      .map((c: { properties: { name: string } }) => c.properties.name);
    assert.deepStrictEqual(folders.map((f) => path.basename(f)).sort(), [...ALL_TASKS].sort());
    for (const folder of folders) {
      const taskJson = text(`${folder}/task.json`);
      assert.ok(taskJson, `${folder}/task.json`);
      const def = JSON.parse(taskJson);
      const icon = readPng(Buffer.from(entries[`${folder}/icon.png`]));
      assert.deepStrictEqual([icon.width, icon.height], [32, 32], `${folder}/icon.png`);
      for (const stage of ['execution', 'prejobexecution', 'postjobexecution']) {
        for (const [handler, { target }] of Object.entries<{ target: string }>(def[stage] ?? {})) {
          assert.ok(entries[`${folder}/${target}`], `${folder}: ${stage}.${handler} runs ${target}, which is not packaged`);
        }
      }
    }
  });

  it('carries the extension icon and the images the overview shows, not their sources', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'vss-extension.json'), 'utf8'));
    const icon = readPng(Buffer.from(fs.readFileSync(path.join(REPO_ROOT, manifest.icons.default))));
    assert.deepStrictEqual([icon.width, icon.height], [128, 128]);
    assert.ok(entries[manifest.icons.default], manifest.icons.default);
    const overview = fs.readFileSync(path.join(REPO_ROOT, 'overview.md'), 'utf8');
    for (const [, image] of overview.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(entries[image], `${image} is not packaged`);
    assert.deepStrictEqual(
      files().filter((f) => f.startsWith('images/src/') || f.endsWith('.svg')),
      [],
    );
  });

  it('carries the third-party notices of every package the bundles hold, with its licence text, at the top and per task', () => {
    const everything = new Map<string, BundledPackage>();
    for (const task of ALL_TASKS) {
      const notice = text(`tasks/${task}/THIRD-PARTY-NOTICES.txt`);
      assert.ok(notice, `tasks/${task}/THIRD-PARTY-NOTICES.txt is not packaged`);
      const bundled = packagesInBundlesOf(task);
      assert.ok(
        bundled.some((p) => p.name === 'azure-pipelines-task-lib'),
        `${task}: the metafile lists no packages`,
      );
      for (const p of bundled) {
        everything.set(`${p.name}@${p.version}`, p);
        assert.ok(notice.includes(`- ${p.name} ${p.version} (`), `${task}'s notice does not list ${p.name} ${p.version}`);
        assert.ok(notice.includes(p.licenceText), `${task}'s notice lacks the licence text of ${p.name} ${p.version}`);
      }
    }
    const notice = text('THIRD-PARTY-NOTICES.txt');
    assert.ok(notice, 'THIRD-PARTY-NOTICES.txt is not packaged');
    for (const p of everything.values())
      assert.ok(
        notice.includes(`- ${p.name} ${p.version} (`) && notice.includes(p.licenceText),
        `the extension's notice lacks ${p.name} ${p.version}`,
      );
  });

  it('stays small (agents download the task folders from it)', () => {
    const bytes = fs.statSync(vsixPath).size;
    console.log(`      .vsix: ${(bytes / 1024 / 1024).toFixed(2)} MB`);
    assert.ok(bytes < 3 * 1024 * 1024, `${bytes} bytes`);
  });

  it('ships no node_modules, sources, source maps or tests', () => {
    const unwanted = files().filter((f) => /node_modules|\.ts$|\.map$|(^|\/)tests?\/|\.spec\./.test(f));
    assert.deepStrictEqual(unwanted, []);
  });

  it('keeps the packaged bundle runnable on its own', async () => {
    const bundle = text('tasks/ServiceConnectionRoleCheckV1/index.js')!;
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'vsix-bundle-'));
    try {
      fs.writeFileSync(path.join(dir, 'index.js'), bundle);
      // No node_modules anywhere near: the bundle must carry all it needs.
      const result = await run(process.execPath, [path.join(dir, 'index.js')], { cwd: dir, env: { PATH: process.env.PATH } }).catch(
        (e) => e,
      );
      // The version stamped into the bundle is task.json's.
      const { Major, Minor, Patch } = JSON.parse(
        fs.readFileSync(path.join(REPO_ROOT, 'tasks', 'ServiceConnectionRoleCheckV1', 'task.json'), 'utf8'),
      ).version;
      assert.ok(result.stdout.includes(`ServiceConnectionRoleCheck ${Major}.${Minor}.${Patch}\n`), result.stdout);
      assert.match(result.stdout, /\[MISSING_CONNECTION\]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
