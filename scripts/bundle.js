// Bundles each task's entry points into tasks/<Task>/<entry>.js: one file each, no node_modules in the
// package. Writes esbuild's metafile of each bundle to build/bundles/<Task>/<entry>.json (what went in,
// read by the package tests and the bench) and the third-party notices of what the bundles carry.
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');
const { root, taskFolders, entryPointsOf, versionOf } = require('./tasks');
const { bundledPackages, noticesText } = require('./notices');

const bundlesDir = path.join(root, 'build', 'bundles');

/**
 * Modules that no task code path reaches, replaced by stubs that fail with an explanation
 * (shared/pipeline/notShipped/). tests/package/bundles.spec.ts checks they stay out.
 * - open (and default-browser, run-applescript, wsl-utils it pulls in): @azure/identity imports it only
 *   in msal/nodeFlows/msalClient.js createBaseInteractiveRequest, to open a browser for
 *   InteractiveBrowserCredential; the tasks build only the four credentials of connectionCredential.ts.
 * - q: azure-pipelines-task-lib requires it only in toolrunner.js for ToolRunner.exec/execWithPiping,
 *   reached through tl.exec and tl.tool(...).exec; the tasks spawn kubectl themselves (shared/kube/kubectl.ts).
 */
const NOT_SHIPPED = {
  open: path.join(root, 'shared', 'pipeline', 'notShipped', 'open.ts'),
  q: path.join(root, 'shared', 'pipeline', 'notShipped', 'q.ts'),
};

/** The bundle of a task's entry point and where its metafile goes. */
function outputsOf(task, entry) {
  const name = path.basename(entry).replace(/\.ts$/, '');
  return { outfile: path.join(task.dir, `${name}.js`), metafile: path.join(bundlesDir, task.name, `${name}.json`) };
}

/** How every bundle is built (tests/package/bundles.spec.ts builds a probe with the same options). */
function bundleOptions(entry, outfile, taskVersion) {
  return {
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // ES modules first: @azure/arm-authorization's "main" is CommonJS, which would pull in
    // CommonJS copies of core-client, core-rest-pipeline and ts-http-runtime beside the ES ones.
    mainFields: ['module', 'main'],
    alias: NOT_SHIPPED,
    minify: true,
    // No keepNames: it costs ~100 KiB a bundle, and the only names read at run time in bundled
    // code are @azure/identity's tracing span names (`${this.constructor.name}.getToken`), with
    // no tracer in a task. Errors set their own name (ExplainedError, RestError, AbortError).
    keepNames: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { __TASK_VERSION__: JSON.stringify(taskVersion) },
  };
}

/** The largest packages in a bundle, so the build says where its size comes from. */
function largestParts(metafile) {
  const sizes = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/.exec(input)?.[1] ?? 'own code';
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  const top = [...sizes]
    .sort((a, b) => b[1] - a[1])
    .filter(([, bytes]) => bytes >= 32 * 1024)
    .slice(0, 6);
  return top.length ? `: ${top.map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)}`).join(', ')}, …` : '';
}

async function main() {
  const tasks = taskFolders();
  if (tasks.length === 0) throw new Error('no tasks/*/task.json found');
  const builds = tasks.flatMap((task) => entryPointsOf(task).map((entry) => ({ task, entry, ...outputsOf(task, entry) })));
  fs.rmSync(bundlesDir, { recursive: true, force: true });
  const results = await Promise.all(
    builds.map(({ task, entry, outfile }) => esbuild.build(bundleOptions(entry, outfile, versionOf(task.taskJson)))),
  );
  builds.forEach((build, i) => {
    fs.mkdirSync(path.dirname(build.metafile), { recursive: true });
    fs.writeFileSync(build.metafile, JSON.stringify(results[i].metafile));
  });
  // The notices: one per task folder (what agents download) and one for the whole extension.
  for (const task of tasks) {
    const metafiles = builds.map((b, i) => (b.task === task ? results[i].metafile : undefined)).filter(Boolean);
    fs.writeFileSync(
      path.join(bundlesDir, task.name, 'THIRD-PARTY-NOTICES.txt'),
      noticesText(`The ${task.name} task`, bundledPackages(metafiles, root)),
    );
  }
  fs.writeFileSync(
    path.join(bundlesDir, 'THIRD-PARTY-NOTICES.txt'),
    noticesText(
      'This extension',
      bundledPackages(
        results.map((r) => r.metafile),
        root,
      ),
    ),
  );
  builds.forEach(({ outfile }, i) =>
    console.log(
      `bundled ${path.relative(root, outfile)} (${(fs.statSync(outfile).size / 1024).toFixed(0)} KiB${largestParts(results[i].metafile)})`,
    ),
  );
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}

module.exports = { bundleOptions, NOT_SHIPPED };
