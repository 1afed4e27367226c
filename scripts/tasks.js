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

function versionOf(taskJson) {
  const v = taskJson.version;
  return `${v.Major}.${v.Minor}.${v.Patch}`;
}

module.exports = { root, tasksDir, taskFolders, versionOf };
