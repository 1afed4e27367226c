import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as taskLibInternal from 'azure-pipelines-task-lib/internal';
import { planFromInputs } from '../../shared/aks/planFromInputs';

/** The manifests input as the agent hands it over (INPUT_MANIFESTS), read by the task's own plan builder. */
describe('manifests input: folders', () => {
  let dir: string;
  const saved = process.env.INPUT_MANIFESTS;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-inputs-'));
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
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.INPUT_MANIFESTS;
    else process.env.INPUT_MANIFESTS = saved;
    taskLibInternal._loadData();
  });

  it("a folder stands for its .yaml, .yml and .json files, not its subfolders (as kubectl apply -f <folder>)", async () => {
    process.env.INPUT_MANIFESTS = 'k8s';
    taskLibInternal._loadData(); // task-lib reads INPUT_* into its vault when loaded, as at a task's start
    const plan = await planFromInputs({ sourcesDirectory: dir, tempDir: dir, kubectl: () => 'kubectl' });
    assert.deepStrictEqual(plan.objects.map((o) => o.metadata.name), ['a', 'b', 'c']);
  });
});
