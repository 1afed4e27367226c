import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

// What the task bundles carry, by esbuild's own account of them: the metafile `npm run build` writes
// to build/bundles/<Task>/<entry>.json (scripts/bundle.js).

const run = promisify(execFile);

interface Metafile {
  inputs: Record<string, { imports: Array<{ path: string }> }>;
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

function metafilesOf(task: string): Array<{ entry: string; meta: Metafile }> {
  const dir = path.join(REPO_ROOT, 'build', 'bundles', task);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  assert.ok(files.length > 0, `no esbuild metafile in ${path.relative(REPO_ROOT, dir)}: run npm run build`);
  return files.map((f) => ({
    entry: `${task}/${f.replace(/\.json$/, '.js')}`,
    meta: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Metafile,
  }));
}

/** The npm packages with code in a bundle. */
function packagesIn(meta: Metafile): Set<string> {
  const names = new Set<string>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/[^]*$/.exec(input);
      if (m && bytesInOutput > 0) names.add(m[1]);
    }
  }
  return names;
}

/** Every TypeScript source of the tasks (what can call into the bundled libraries). */
function taskSources(): Array<{ file: string; text: string }> {
  const walk = (dir: string): string[] =>
    fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  return [...walk(path.join(REPO_ROOT, 'shared')), ...walk(path.join(REPO_ROOT, 'tasks'))].map((file) => ({
    file: path.relative(REPO_ROOT, file),
    text: fs.readFileSync(file, 'utf8'),
  }));
}

// Browser launchers (@azure/identity's interactive sign-in), Q promises (task-lib's deprecated exec),
// and the zip stack the run command archive no longer needs.
const NEVER_SHIPPED = [
  'open',
  'default-browser',
  'default-browser-id',
  'run-applescript',
  'wsl-utils',
  'is-wsl',
  'bundle-name',
  'q',
  'jszip',
  'pako',
  'readable-stream',
];

describe('the task bundles', () => {
  it('carry none of the modules that never run in a task', () => {
    for (const task of ALL_TASKS) {
      for (const { entry, meta } of metafilesOf(task)) {
        const shipped = [...packagesIn(meta)].filter((p) => NEVER_SHIPPED.includes(p));
        assert.deepStrictEqual(shipped, [], `${entry} carries ${shipped.join(', ')}`);
      }
    }
  });

  it('carry one copy of each Azure core library (no CommonJS copy beside the ES module one)', () => {
    for (const task of ALL_TASKS) {
      for (const { entry, meta } of metafilesOf(task)) {
        // The ES builds import their CommonJS state file on purpose, to share one state with CommonJS callers.
        const commonJs = Object.keys(meta.inputs).filter(
          (f) => /node_modules\/@(azure|typespec)\/[^/]+\/dist\/commonjs\//.test(f) && !/\/state(-cjs)?\.js$/.test(f),
        );
        assert.deepStrictEqual(commonJs, [], `${entry}`);
      }
    }
  });

  // A ceiling against regressions, not the goal: the generated ARM management clients (~220-310 KiB a bundle)
  // and MSAL (~190 KiB) are most of what is left (the bundle-size figures: npm run bench).
  it('stay under 1.15 MiB each', () => {
    for (const task of ALL_TASKS) {
      for (const { entry, meta } of metafilesOf(task)) {
        const bytes = Object.values(meta.outputs).reduce((sum, o) => sum + o.bytes, 0);
        assert.ok(bytes <= 1.15 * 1024 * 1024, `${entry} is ${bytes} bytes`);
      }
    }
  });

  // kubectl starts the plugin for every token it needs: it carries the broker protocol (shared/azure/aks/tokenBrokerProtocol)
  // and nothing else of ours, and no npm package (no task-lib, no Azure SDK).
  it('keep the exec credential plugin tiny: no npm package, only the broker protocol from shared/', () => {
    const plugin = metafilesOf('PrivateAksDeployV1').find((m) => m.entry.endsWith('/execCredential.js'));
    assert.ok(plugin, 'no metafile for execCredential.js');
    assert.deepStrictEqual([...packagesIn(plugin.meta)], []);
    const ours = Object.keys(plugin.meta.inputs).filter((f) => !f.includes('node_modules'));
    assert.deepStrictEqual(ours.sort(), ['shared/azure/aks/tokenBrokerProtocol.ts', 'tasks/PrivateAksDeployV1/execCredential.ts']);
    const bytes = Object.values(plugin.meta.outputs).reduce((sum, o) => sum + o.bytes, 0);
    assert.ok(bytes <= 16 * 1024, `execCredential.js is ${bytes} bytes`);
  });

  it("stub open and q only where the stubs say: identity's interactive sign-in and task-lib's ToolRunner", () => {
    const importers = (stub: string) => {
      const found = new Set<string>();
      for (const task of ALL_TASKS) {
        for (const { meta } of metafilesOf(task)) {
          for (const [input, { imports }] of Object.entries(meta.inputs))
            if (imports.some((i) => i.path === stub)) found.add(input.replace(/^.*node_modules\//, ''));
        }
      }
      return [...found].sort();
    };
    assert.deepStrictEqual(importers('shared/pipeline/notShipped/open.ts'), ['@azure/identity/dist/esm/msal/nodeFlows/msalClient.js']);
    assert.deepStrictEqual(importers('shared/pipeline/notShipped/q.ts'), ['azure-pipelines-task-lib/toolrunner.js']);
  });

  it("cannot reach the stubs: no task signs in interactively or runs a tool through task-lib's exec", () => {
    // msalClient's openBrowser runs only for InteractiveBrowserCredential (and the broker flows built on it);
    // ToolRunner.exec/execWithPiping, Q's only users, are reached through tl.exec and tl.tool(...).
    const credentialsUsed = new Set<string>();
    for (const { file, text } of taskSources().filter((s) => !s.file.startsWith(path.join('shared', 'pipeline', 'notShipped')))) {
      assert.doesNotMatch(text, /\btl\.(exec|tool)\(|\bToolRunner\b/, `${file} runs a tool through task-lib`);
      for (const [, names] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@azure\/identity'/g)) {
        for (const name of names
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n && !n.startsWith('type ')))
          credentialsUsed.add(name);
      }
    }
    assert.deepStrictEqual([...credentialsUsed].sort(), [
      'ClientAssertionCredential',
      'ClientCertificateCredential',
      'ClientSecretCredential',
      'ManagedIdentityCredential',
    ]);
  });

  it('explain a stubbed module if one is ever reached', async function () {
    this.timeout(60_000);
    const { bundleOptions } = require(path.join(REPO_ROOT, 'scripts', 'bundle.js')) as {
      bundleOptions: (entry: string, outfile: string, version: string) => object;
    };
    const esbuild = require('esbuild') as { build: (options: object) => Promise<unknown> };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'not-shipped-'));
    try {
      // A probe bundled as the tasks are, calling into both stubbed paths.
      const probe = path.join(dir, 'probe.ts');
      fs.writeFileSync(
        probe,
        [
          `import * as tl from ${JSON.stringify(path.join(REPO_ROOT, 'node_modules', 'azure-pipelines-task-lib', 'task'))};`,
          `const open = require('open');`,
          `try { tl.tool('true').exec(); } catch (e) { console.log((e as Error).message); }`,
          `open.default('https://example.invalid').catch((e: Error) => console.log(e.message));`,
        ].join('\n'),
      );
      await esbuild.build({ ...bundleOptions(probe, path.join(dir, 'probe.js'), '0.0.0'), metafile: false });
      const { stdout } = await run(process.execPath, [path.join(dir, 'probe.js')], { cwd: dir, env: { PATH: process.env.PATH } });
      assert.match(stdout, /Running a tool through azure-pipelines-task-lib failed \[NOT_SHIPPED\]: The task does not ship the 'q' module/);
      assert.match(
        stdout,
        /Opening a browser to sign in failed \[NOT_SHIPPED\]: The task does not ship the 'open' module, which only opens a browser for interactive sign-in\. Fix: This is a bug in the task: report it with this log\./,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
