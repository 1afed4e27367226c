// Packages the extension into dist/<publisher>.<id>-<version>.vsix with tfx, from a clean staging
// folder that holds only what the Marketplace needs: each task's task.json, icon and bundle, and the
// third-party notices of what the bundles carry (written by scripts/bundle.js), at the top and per task.
//
//   node scripts/package.js [--publisher <id>] [--ext-version <x.y.z>]
//   (or PUBLISHER / EXTENSION_VERSION in the environment)
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { root, taskFolders, entryPointsOf } = require('./tasks');

function option(name, envName) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) {
    const value = process.argv[i + 1];
    if (!value || value.startsWith('--')) throw new Error(`--${name} needs a value`);
    return value;
  }
  return process.env[envName] || undefined;
}

const NOTICES = 'THIRD-PARTY-NOTICES.txt';
const bundlesDir = path.join(root, 'build', 'bundles');

/** What a task folder ships: its definition, its icon and the bundle of each entry point. */
function taskFiles(task) {
  return ['task.json', 'icon.png', ...entryPointsOf(task).map((entry) => path.basename(entry).replace(/\.ts$/, '.js'))];
}

function copyBuilt(source, target) {
  if (!fs.existsSync(source)) throw new Error(`${path.relative(root, source)} is missing: run npm run build first`);
  fs.copyFileSync(source, target);
}

function stage(stageDir, manifest) {
  fs.rmSync(stageDir, { recursive: true, force: true });
  fs.mkdirSync(stageDir, { recursive: true });
  for (const file of ['vss-extension.json', manifest.content.details.path]) {
    fs.copyFileSync(path.join(root, file), path.join(stageDir, file));
  }
  // The icons' SVG sources stay in the repo: the Marketplace shows only the PNGs.
  const iconSources = path.join(root, 'images', 'src');
  fs.cpSync(path.join(root, 'images'), path.join(stageDir, 'images'), { recursive: true, filter: (src) => src !== iconSources });
  copyBuilt(path.join(bundlesDir, NOTICES), path.join(stageDir, NOTICES));
  for (const task of taskFolders()) {
    const target = path.join(stageDir, 'tasks', task.name);
    fs.mkdirSync(target, { recursive: true });
    for (const file of taskFiles(task)) copyBuilt(path.join(task.dir, file), path.join(target, file));
    // Agents download only the task folder: its notice travels with its bundles.
    copyBuilt(path.join(bundlesDir, task.name, NOTICES), path.join(target, NOTICES));
  }
}

function main() {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
  const publisher = option('publisher', 'PUBLISHER');
  const version = option('ext-version', 'EXTENSION_VERSION');
  if (version && !/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`extension version '${version}' is not major.minor.patch`);

  const outDir = path.join(root, 'dist');
  const stageDir = path.join(outDir, 'stage');
  stage(stageDir, manifest);

  const args = [
    'extension',
    'create',
    '--root',
    stageDir,
    '--manifest-globs',
    'vss-extension.json',
    '--output-path',
    outDir,
    '--no-prompt',
    '--json',
  ];
  if (publisher) args.push('--publisher', publisher);
  if (version) args.push('--override', JSON.stringify({ version }));
  const tfx = require.resolve('tfx-cli/_build/tfx-cli.js');
  const out = execFileSync(process.execPath, [tfx, ...args], { cwd: root, encoding: 'utf8' });
  const result = JSON.parse(out.slice(out.indexOf('{')));
  const vsix = result.path;
  console.log(`packaged ${path.relative(root, vsix)} (${(fs.statSync(vsix).size / 1024).toFixed(1)} KiB)`);
}

try {
  main();
} catch (err) {
  console.error(`package failed: ${err.message}`);
  process.exit(1);
}
