import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// shared/ in layers and the tasks above them (ARCHITECTURE.md "Layers, one direction"): the rules are
// .dependency-cruiser.cjs, run here through dependency-cruiser's own API over shared/ and tasks/, plus
// the folder cycles, computed from the same cruise result.

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}
interface CruiseModule {
  source: string;
  dependencies: Array<{ resolved: string; coreModule?: boolean; couldNotResolve?: boolean }>;
}
interface Cruise {
  modules: CruiseModule[];
  summary: { violations: Violation[] };
}

// dependency-cruiser is ES modules only; TypeScript's CommonJS output would turn import() into require().
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/** Cruises shared/ and tasks/ under `root` with the repository's rules (the config's options included). */
export async function cruiseLayers(root: string): Promise<Cruise> {
  const config = require(path.join(ROOT, '.dependency-cruiser.cjs'));
  const { cruise } = (await importEsm('dependency-cruiser')) as {
    cruise: (files: string[], options: object, resolve?: object, transpile?: object) => Promise<{ output: Cruise }>;
  };
  const { default: extractTsConfig } = (await importEsm('dependency-cruiser/config-utl/extract-ts-config')) as {
    default: (file: string) => object;
  };
  const tsConfigFile = path.join(root, 'tsconfig.json');
  // baseDir: the start paths and the module names (what the rules match) are relative to root.
  const { output } = await cruise(
    ['shared', 'tasks'].filter((d) => fs.existsSync(path.join(root, d))),
    { ...config.options, baseDir: root, tsConfig: { fileName: tsConfigFile }, validate: true, ruleSet: { forbidden: config.forbidden } },
    {},
    { tsConfig: extractTsConfig(tsConfigFile) },
  );
  return output;
}

/** The folder of a module: shared/azure/arm/armErrors.ts → shared/azure/arm. */
export const folderOf = (module: string) => path.posix.dirname(module);

/**
 * The layer a module belongs to, subfolders included: shared/<layer>, shared/azure/<service>, or
 * tasks/<Task>; shared/firewall/targets/x.ts → shared/firewall.
 */
export const layerOf = (module: string) => {
  const parts = module.split('/');
  return parts.slice(0, parts[0] === 'shared' && parts[1] === 'azure' ? 3 : 2).join('/');
};

/**
 * The folder cycles in a module graph: the strongly connected components (Tarjan) of the graph whose
 * nodes are folders (by `unitOf`) and whose edges are the imports between modules of two different ones.
 */
export function folderCycles(
  modules: Array<{ source: string; dependencies: Array<{ resolved: string }> }>,
  unitOf: (module: string) => string = folderOf,
): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const m of modules) {
    const from = unitOf(m.source);
    if (!edges.has(from)) edges.set(from, new Set());
    for (const d of m.dependencies) {
      const to = unitOf(d.resolved);
      if (to !== from) edges.get(from)!.add(to);
    }
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** Our modules only (no node_modules, no Node core modules), as the rules see them. */
const ourModules = (cruise: Cruise) =>
  cruise.modules
    .filter((m) => /^(shared|tasks)\//.test(m.source))
    .map((m) => ({
      source: m.source,
      dependencies: m.dependencies.filter((d) => !d.coreModule && !d.couldNotResolve && /^(shared|tasks)\//.test(d.resolved)),
    }));

const describeViolation = (v: Violation) =>
  `${v.from} → ${v.to}  [${v.rule.name}]${v.cycle ? `  cycle: ${v.cycle.map((c) => c.name).join(' → ')}` : ''}`;

describe('layers: shared/ in layers, the tasks above them, no cycles (.dependency-cruiser.cjs)', function () {
  this.timeout(60_000);

  describe('the rules catch what they are for (a fixture with one of each)', () => {
    let fixture: string;
    let result: Cruise;
    const files: Record<string, string> = {
      'shared/pipeline/explainedError.ts': 'export const e = 1;\n',
      // kube → azure: Azure knowledge in the Kubernetes layer
      'shared/kube/kubeconfig.ts': "import { cloud } from '../azure/connection/cloud';\nexport const k = cloud;\n",
      // an upward import into the agent boundary, and a module cycle with it
      'shared/azure/connection/cloud.ts': "import { r } from '../arm/rawArmCall';\nexport const cloud = r;\n",
      'shared/azure/arm/rawArmCall.ts': "import { cloud } from '../connection/cloud';\nexport const r = typeof cloud;\n",
      // one service reaching into another, and the engine into a target
      'shared/azure/aks/clusterFacts.ts': "import { a } from '../acr/acrDenied';\nexport const f = a;\n",
      'shared/azure/acr/acrDenied.ts': "import { e } from '../../pipeline/explainedError';\nexport const a = e;\n",
      'shared/firewall/ruleSync.ts': "import { t } from './targets/registryFirewall';\nexport const s = t;\n",
      'shared/firewall/targets/registryFirewall.ts': 'export const t = 1;\n',
      // shared → a task, and a task → another task
      'shared/net/ipv4.ts': "import { p } from '../../tasks/AV1/plan';\nexport const ip = p;\n",
      'tasks/AV1/plan.ts': "import { q } from '../BV1/other';\nexport const p = q;\n",
      'tasks/BV1/other.ts': 'export const q = 1;\n',
      // a folder cycle with no module cycle: lineOfSight/one → kube/two, kube/three → lineOfSight/four

      'shared/lineOfSight/one.ts': "import { two } from '../kube/two';\nexport const one = two;\n",
      'shared/kube/two.ts': 'export const two = 2;\n',
      'shared/kube/three.ts': "import { four } from '../lineOfSight/four';\nexport const three = four;\n",
      'shared/lineOfSight/four.ts': 'export const four = 4;\n',
      // a layer cycle through a subfolder: the engine → acr, acr → the engine's targets
      'shared/firewall/accessWait.ts': "import { a } from '../azure/acr/acrDenied';\nexport const w = a;\n",
      'shared/azure/acr/registryNetwork.ts': "import { t } from '../../firewall/targets/registryFirewall';\nexport const n = t;\n",
    };

    before(async () => {
      fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-'));
      for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.join(fixture, path.dirname(file)), { recursive: true });
        fs.writeFileSync(path.join(fixture, file), text);
      }
      fs.writeFileSync(
        path.join(fixture, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'commonjs', moduleResolution: 'node10', strict: true }, include: ['**/*.ts'] }),
      );
      result = await cruiseLayers(fixture);
    });
    after(() => fs.rmSync(fixture, { recursive: true, force: true }));

    it('reports each upward import under its rule', () => {
      const found = result.summary.violations
        .filter((v) => v.rule.name !== 'no-circular')
        .map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)
        .sort();
      assert.deepStrictEqual(found, [
        'azure-below-line-of-sight-and-firewall: shared/azure/acr/registryNetwork.ts → shared/firewall/targets/registryFirewall.ts',
        'azure-connection-bottom: shared/azure/connection/cloud.ts → shared/azure/arm/rawArmCall.ts',
        'azure-services-side-by-side: shared/azure/aks/clusterFacts.ts → shared/azure/acr/acrDenied.ts',
        'firewall-engine-below-targets: shared/firewall/ruleSync.ts → shared/firewall/targets/registryFirewall.ts',
        'kube-no-azure: shared/kube/kubeconfig.ts → shared/azure/connection/cloud.ts',
        'kube-no-azure: shared/kube/three.ts → shared/lineOfSight/four.ts',
        'net-bottom: shared/net/ipv4.ts → tasks/AV1/plan.ts',
        'shared-not-tasks: shared/net/ipv4.ts → tasks/AV1/plan.ts',
        'task-not-other-task: tasks/AV1/plan.ts → tasks/BV1/other.ts',
      ]);
    });

    it('reports a module cycle (once, from either end)', () => {
      const cycles = result.summary.violations.filter((v) => v.rule.name === 'no-circular');
      assert.deepStrictEqual(
        cycles.map((v) => [v.from, v.to].sort()),
        [['shared/azure/arm/rawArmCall.ts', 'shared/azure/connection/cloud.ts']],
      );
    });

    it('finds the folder cycles, including one made of modules that form no cycle', () => {
      assert.deepStrictEqual(folderCycles(ourModules(result)), [
        ['shared/azure/arm', 'shared/azure/connection'],
        ['shared/kube', 'shared/lineOfSight'],
      ]);
    });

    it('finds the layer cycles, a layer counting its subfolders', () => {
      assert.deepStrictEqual(layerOf('shared/firewall/targets/registryFirewall.ts'), 'shared/firewall');
      assert.deepStrictEqual(layerOf('shared/azure/arm/rawArmCall.ts'), 'shared/azure/arm');
      assert.deepStrictEqual(layerOf('tasks/AV1/plan.ts'), 'tasks/AV1');
      assert.deepStrictEqual(folderCycles(ourModules(result), layerOf), [
        ['shared/azure/acr', 'shared/firewall'],
        ['shared/azure/arm', 'shared/azure/connection'],
        ['shared/kube', 'shared/lineOfSight'],
      ]);
    });
  });

  describe('the repository', () => {
    let result: Cruise;
    before(async () => {
      result = await cruiseLayers(ROOT);
    });

    it('cruises every module of shared/ and tasks/ (control)', () => {
      const sources = result.modules.map((m) => m.source);
      for (const expected of ['shared/pipeline/explainedError.ts', 'shared/azure/arm/armClient.ts', 'tasks/PrivateAksDeployV1/index.ts']) {
        assert.ok(sources.includes(expected), `${expected} not cruised: ${sources.length} modules`);
      }
      const unresolved = result.modules.flatMap((m) =>
        m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.resolved}`),
      );
      assert.deepStrictEqual(
        unresolved.filter((u) => /→ \./.test(u)),
        [],
        'relative imports dependency-cruiser could not resolve',
      );
    });

    it('no module imports upward, across tasks or in a cycle', () => {
      const violations = result.summary.violations.map(describeViolation);
      assert.deepStrictEqual(violations, [], `\n${violations.join('\n')}\n`);
    });

    it('no folder cycles, and no layer cycles (a layer with its subfolders)', () => {
      const cycles = [...folderCycles(ourModules(result)), ...folderCycles(ourModules(result), layerOf)];
      assert.deepStrictEqual(cycles, [], `\n${cycles.map((c) => c.join(' ⇄ ')).join('\n')}\n`);
    });
  });
});
