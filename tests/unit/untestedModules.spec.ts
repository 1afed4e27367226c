import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/**
 * Every module under shared/ is imported directly by some spec, except those listed here: each does
 * I/O at its edge (an HTTP request, a process, the task's lifetime), is covered through the task
 * bundles by the specs named, and has no pure part left to test on its own. A new module gets a unit
 * spec in tests/unit/ (named after it), or a line here saying which spec covers it and why not directly.
 */
const COVERED_THROUGH_TASKS: Record<string, { why: string; specs: string[] }> = {
  'shared/azure/acr/loginServerAccess': {
    why: "GET /v2/ on the registry through agentGet; its reading of ACR's 403 is acrDenied (unit)",
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/addRule': {
    why: 'addForJob and add: reads and writes the firewall through ARM, waits for access; the engine is ruleSync (unit)',
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts', 'tests/tasks/agentSteps.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/removeRule': {
    why: 'remove and the post-job release: reads and writes the firewall through ARM; its kept-rule lines are report (unit)',
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts', 'tests/tasks/agentSteps.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/pruneRules': {
    why: 'prune: reads and writes the firewall through ARM; the plan is ruleLeases (unit)',
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/postJob': {
    why: "the post-job step: the handed-over lease, sign-in, the target's ARM read",
    specs: ['tests/tasks/agentSteps.sandbox.spec.ts', 'tests/tasks/acrNetworkRuleSync.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/agentIp': {
    why: "the endpoint's refusal, else one GET of the echo URL through agentGet",
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/lease': {
    why: "the agent's job variables and the task variable handed to the post-job step",
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts', 'tests/tasks/agentSteps.sandbox.spec.ts'],
  },
  'tasks/AcrNetworkRuleSyncV1/ruleTarget': {
    why: "the connection's subscription and the ARM clients of the registry or cluster target",
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts', 'tests/reliability/faults.sandbox.spec.ts'],
  },
  'shared/azure/identity/authorityProbe': {
    why: "one GET of the tenant's OpenID configuration through agentGet",
    specs: ['tests/tasks/signIn.sandbox.spec.ts'],
  },
  'shared/azure/identity/signIn': {
    why: 'reads the connection, gets a token from Entra ID and prints the identity',
    specs: ['tests/tasks/signIn.sandbox.spec.ts'],
  },
  'shared/net/agentGet': {
    why: "one anonymous GET through the agent's proxy and CA",
    specs: ['tests/tasks/acrNetworkRuleSync.sandbox.spec.ts', 'tests/net/agentSecretsInLogs.sandbox.spec.ts'],
  },
  'shared/pipeline/runTask': {
    why: "the task process's result, cleanups and cancellation (signals)",
    specs: ['tests/tasks/agentSteps.sandbox.spec.ts', 'tests/tasks/entryPoints.mock.spec.ts'],
  },
  'tasks/PrivateAksDeployV1/deploy': {
    why: "PrivateAksDeploy's flow (sign-in, cluster reads, line of sight, the chosen route); its choice is route (unit)",
    specs: ['tests/tasks/privateAksDeploy.sandbox.spec.ts', 'tests/tasks/agentSteps.sandbox.spec.ts'],
  },
  'tasks/PrivateAksDeployV1/session': {
    why: 'signs in, reads the cluster and its credential through ARM, starts the token broker',
    specs: ['tests/tasks/privateAksDeploy.sandbox.spec.ts', 'tests/tasks/tokensPerScope.sandbox.spec.ts'],
  },
  'tasks/PrivateAksDeployV1/secretInputs': {
    why: "reads the secret inputs and the Docker registry connection through task-lib (the agent's ENDPOINT_* variables); the decisions are pullSecretCredential, secretObjects and runAnnotations (unit)",
    specs: ['tests/tasks/privateAksDeploySecrets.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/inputs': {
    why: "reads the task's inputs from the agent (task-lib); its validation helpers are unit-tested (resourceId, intents)",
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts', 'tests/reliability/badInput.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/roleCheck': {
    why: 'the flow: sign-in, then the three checks over ARM and the cluster',
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts', 'tests/tasks/roleCheckAgreement.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/roleCheckScope': {
    why: 'reads the cluster and registry through ARM to learn the scopes; its verdicts are intentVerdicts (unit)',
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/permissionCheck': {
    why: "lists the principal's permissions through ARM; the evaluation is permissionEvaluator (unit)",
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts', 'tests/tasks/roleCheckAgreement.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/inClusterCheck': {
    why: 'probes the API server and asks it SelfSubjectAccessReviews',
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/hardeningCheck': {
    why: 'reads the cluster and registry through ARM; the checklist itself is hardeningChecklist (unit)',
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts'],
  },
  'tasks/ServiceConnectionRoleCheckV1/report': {
    why: 'prints, uploads the summary and sets outputs; the rendering is roleCheckReport (unit)',
    specs: ['tests/tasks/roleCheck.sandbox.spec.ts'],
  },
};
/** Modules with nothing to run: interfaces and types only. */
const TYPES_ONLY = ['shared/firewall/firewallTarget'];

const ROOT = path.resolve(__dirname, '..', '..', '..');

function filesUnder(dir: string, keep: (file: string) => boolean): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : filesUnder(p, keep);
    return keep(p) ? [p] : [];
  });
}

const moduleName = (file: string) =>
  path
    .relative(ROOT, file)
    .split(path.sep)
    .join('/')
    .replace(/\.(ts|js)$/, '');

/** The modules a source file imports directly (import/export … from, import(), require()), by TypeScript's pre-processor. */
function importsOf(file: string): string[] {
  return ts
    .preProcessFile(fs.readFileSync(file, 'utf8'), true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => moduleName(path.resolve(path.dirname(file), specifier)));
}

/** A task's own modules (inputs, flow, report, routes…): its entry points are covered through the bundles. */
function taskModules(): string[] {
  const { taskFolders, entryPointsOf } = require(path.join(ROOT, 'scripts', 'tasks.js'));
  return taskFolders().flatMap((task: { dir: string }) => {
    const entries = new Set<string>(entryPointsOf(task));
    return filesUnder(task.dir, (f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !entries.has(f));
  });
}

describe('untestedModules: every shared/ module and task module has a spec that imports it', () => {
  const shared = [...filesUnder(path.join(ROOT, 'shared'), (f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), ...taskModules()]
    .map(moduleName)
    .sort();
  const specs = filesUnder(path.join(ROOT, 'tests'), (f) => f.endsWith('.spec.ts'));

  it('the module list is read from the sources (control)', () => {
    assert.ok(
      shared.length > 50 && shared.includes('shared/azure/arm/armErrors') && specs.length > 50,
      `${shared.length} modules, ${specs.length} specs`,
    );
    assert.deepStrictEqual(
      importsOf(path.join(ROOT, 'tests/unit/armErrors.spec.ts'))
        .filter((m) => m.startsWith('shared/'))
        .sort(),
      ['shared/azure/arm/armErrors', 'shared/azure/arm/rawArmCall', 'shared/pipeline/explainedError'],
    );
  });

  it('no module is imported by no spec, but those covered through the tasks or holding types only', () => {
    const imported = new Set(specs.flatMap(importsOf));
    const untested = shared.filter((m) => !imported.has(m));
    const unexplained = untested.filter((m) => !(m in COVERED_THROUGH_TASKS) && !TYPES_ONLY.includes(m));
    assert.deepStrictEqual(
      unexplained,
      [],
      'give each a unit spec in tests/unit/ named after it (or list it above with the spec that covers it)',
    );
    const nowImported = [...Object.keys(COVERED_THROUGH_TASKS), ...TYPES_ONLY].filter((m) => imported.has(m) || !shared.includes(m));
    assert.deepStrictEqual(nowImported, [], 'imported by a spec now, or gone: take it off the list');
  });

  it('the specs named as covering the listed modules exist', () => {
    for (const [module, { specs: covering }] of Object.entries(COVERED_THROUGH_TASKS)) {
      for (const spec of covering) assert.ok(fs.existsSync(path.join(ROOT, spec)), `${module}: ${spec} is gone`);
    }
  });

  it('a types-only module declares nothing that runs', () => {
    for (const module of TYPES_ONLY) {
      const source = ts.createSourceFile(module, fs.readFileSync(path.join(ROOT, `${module}.ts`), 'utf8'), ts.ScriptTarget.Latest, true);
      const running = source.statements.filter(
        (s) => !ts.isInterfaceDeclaration(s) && !ts.isTypeAliasDeclaration(s) && !(ts.isImportDeclaration(s) && s.importClause?.isTypeOnly),
      );
      assert.deepStrictEqual(
        running.map((s) => s.getText().slice(0, 60)),
        [],
        module,
      );
    }
  });
});
