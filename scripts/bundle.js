// Bundles each task's entry point into tasks/<Task>/index.js: one file, no node_modules in the package.
const path = require('path');
const esbuild = require('esbuild');
const { taskFolders, entryPointsOf, versionOf } = require('./tasks');

async function main() {
  const tasks = taskFolders();
  if (tasks.length === 0) throw new Error('no tasks/*/task.json found');
  const builds = tasks.flatMap((task) => entryPointsOf(task).map((entry) => ({ task, entry })));
  await Promise.all(
    builds.map(({ task, entry }) =>
      esbuild.build({
        entryPoints: [entry],
        outfile: entry.replace(/\.ts$/, '.js'),
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
  for (const { entry } of builds) console.log(`bundled ${path.relative(process.cwd(), entry.replace(/\.ts$/, '.js'))}`);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
