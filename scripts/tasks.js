// The task folders of the extension, shared by the build and package scripts.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const tasksDir = path.join(root, 'tasks');

function taskFolders() {
  return fs
    .readdirSync(tasksDir)
    .filter((name) => fs.existsSync(path.join(tasksDir, name, 'task.json')))
    .map((name) => ({ name, dir: path.join(tasksDir, name), taskJson: JSON.parse(fs.readFileSync(path.join(tasksDir, name, 'task.json'), 'utf8')) }));
}

/** A task's entry points: every TypeScript file at the top of its folder (index.ts, plugins kubectl runs). */
function entryPointsOf(task) {
  return fs.readdirSync(task.dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join(task.dir, f));
}

function versionOf(taskJson) {
  const v = taskJson.version;
  return `${v.Major}.${v.Minor}.${v.Patch}`;
}

module.exports = { root, tasksDir, taskFolders, entryPointsOf, versionOf };
