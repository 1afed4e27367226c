import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { buildDeployPlan } from '../../tasks/PrivateAksDeployV1/buildPlan';
import { readDeployInputs } from '../../tasks/PrivateAksDeployV1/inputs';
import { agentJobEnv, taskInputsEnv } from '../support/agentEnvironment';
import { agentInputsEnv } from '../support/agentStep';

/**
 * The inputs as the agent hands them over (every PrivateAksDeploy input, defaulted, kustomizationPath
 * rooted: tests/support/agentStep.ts), read by the task's inputs and built into a plan by its plan builder.
 */
describe('manifests input: folders', () => {
  let work: string;
  let dir: string;
  let given: string[] = [];

  /** Sets the step's environment as the agent would, and has task-lib load it, as at a task's start. */
  function asTheAgent(inputs: Record<string, string>): void {
    const env = agentInputsEnv('PrivateAksDeployV1', {
      ...agentJobEnv({ tempDirectory: path.join(work, '_temp'), workFolder: work, collectionUri: 'https://dev.azure.com/contoso/' }),
      ...taskInputsEnv(inputs),
    });
    given = Object.keys(env).filter((k) => !(k in process.env));
    Object.assign(process.env, env);
    taskLibInternal._loadData();
  }

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-inputs-'));
    dir = path.join(work, '1', 's');
    fs.mkdirSync(path.join(work, '_temp'));
    const k8s = path.join(dir, 'k8s');
    fs.mkdirSync(path.join(k8s, 'sub'), { recursive: true });
    const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {}\n`;
    fs.writeFileSync(path.join(k8s, 'a.yaml'), cm('a'));
    fs.writeFileSync(path.join(k8s, 'b.yml'), cm('b'));
    fs.writeFileSync(path.join(k8s, 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }));
    fs.writeFileSync(path.join(k8s, 'notes.txt'), 'not a manifest');
    fs.writeFileSync(path.join(k8s, 'sub', 'd.yaml'), cm('d'));
  });
  after(() => {
    fs.rmSync(work, { recursive: true, force: true });
    for (const key of given) delete process.env[key];
    taskLibInternal._loadData();
  });

  it('a folder stands for its .yaml, .yml and .json files, not its subfolders (as kubectl apply -f <folder>)', async () => {
    asTheAgent({ manifests: 'k8s', resourceGroupName: 'rg', clusterName: 'aks1' });
    const plan = await buildDeployPlan({ ...readDeployInputs(), sourcesDirectory: dir, tempDir: dir }, () => 'kubectl');
    assert.deepStrictEqual(
      plan.objects.map((o) => o.metadata.name),
      ['a', 'b', 'c'],
    );
  });
});
