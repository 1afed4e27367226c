// Bundles each task's entry point into tasks/<Task>/index.js: one file, no node_modules in the package.
const path = require('path');
const esbuild = require('esbuild');
const { taskFolders, versionOf } = require('./tasks');

async function main() {
  const tasks = taskFolders();
  if (tasks.length === 0) throw new Error('no tasks/*/task.json found');
  await Promise.all(
    tasks.map((task) =>
      esbuild.build({
        entryPoints: [path.join(task.dir, 'index.ts')],
        outfile: path.join(task.dir, 'index.js'),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        minify: true,
        keepNames: true,
        legalComments: 'none',
        logLevel: 'warning',
        define: { __TASK_VERSION__: JSON.stringify(versionOf(task.taskJson)) },
      }),
    ),
  );
  for (const task of tasks) console.log(`bundled ${path.relative(process.cwd(), path.join(task.dir, 'index.js'))}`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
