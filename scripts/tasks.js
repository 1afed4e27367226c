// The task folders of the extension, shared by the build and package scripts.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const tasksDir = path.join(root, 'tasks');

function taskFolders() {
  return fs
    .readdirSync(tasksDir)
    .filter((name) => fs.existsSync(path.join(tasksDir, name, 'task.json')))
    .map((name) => ({
      name,
      dir: path.join(tasksDir, name),
      taskJson: JSON.parse(fs.readFileSync(path.join(tasksDir, name, 'task.json'), 'utf8')),
    }));
}

/**
 * A task's entry points: the TypeScript files at the top of its folder that no other file there
 * imports (index.ts, post.ts, the plugin kubectl runs). The others are the task's own modules
 * (inputs, flow, report), bundled into the entry points that import them.
 */
function entryPointsOf(task) {
  const files = fs.readdirSync(task.dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const imported = new Set();
  for (const f of files) {
    for (const m of fs.readFileSync(path.join(task.dir, f), 'utf8').matchAll(/\bfrom '\.\/([\w.-]+)'/g)) imported.add(`${m[1]}.ts`);
  }
  return files.filter((f) => !imported.has(f)).map((f) => path.join(task.dir, f));
}

function versionOf(taskJson) {
  const v = taskJson.version;
  return `${v.Major}.${v.Minor}.${v.Patch}`;
}

module.exports = { root, tasksDir, taskFolders, entryPointsOf, versionOf };
