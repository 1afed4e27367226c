import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import {
  loadManifests,
  loadManifestsYielding,
  objectRef,
  toYamlStream,
  validateNamespace,
  MANIFEST_LIMITS,
} from '../../shared/kube/manifests';
import { parseImage, substituteImages } from '../../shared/kube/imageSubstitution';

describe('manifests', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it('reads multi-document YAML, JSON and Lists, skipping empty documents', () => {
    const yaml = write(
      'app.yaml',
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  namespace: web\nspec: {}\n',
    );
    const json = write(
      'cm.json',
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } }] }),
    );
    const loaded = loadManifests('manifests', [yaml, json]);
    assert.deepStrictEqual(
      loaded.map((l) => objectRef(l.object, 'default')),
      [
        { kind: 'Namespace', namespace: undefined, name: 'web' },
        { kind: 'Deployment', namespace: 'web', name: 'shop' },
        { kind: 'ConfigMap', namespace: 'default', name: 'settings' },
      ],
    );
  });

  const refused: [string, string, RegExp][] = [
    ['not YAML', 'kind: [unclosed\n', /not valid YAML/],
    [
      'a YAML bomb',
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
      /YAML bomb|not valid YAML|aliases/,
    ],
    ['no kind', 'apiVersion: v1\nmetadata:\n  name: x\n', /has no apiVersion or kind/],
    [
      'a name that is not a DNS name',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "../etc;rm -rf"\n',
      /is not a valid Kubernetes name/,
    ],
    [
      'a namespace that is not a DNS label',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: Web_Prod\n',
      /namespace 'Web_Prod' .* is not a DNS label/,
    ],
    ['a scalar', '42\n', /is not a Kubernetes object/],
  ];
  for (const [what, text, message] of refused) {
    it(`refuses ${what}, naming the input and the file`, () => {
      const file = write(`${what.replace(/\W/g, '_')}.yaml`, text);
      assert.throws(
        () => loadManifests('manifests', [file]),
        (e: Error) => /input 'manifests'/.test(e.message) && message.test(e.message),
      );
    });
  }

  it('hands kubectl each unchanged document as written and a changed one as JSON, in a stream kubectl reads as YAML', () => {
    const deployment =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: contosoprod.azurecr.io/shop/web:1\n          env: [{ name: A, value: "on" }]\n';
    // A marker with content on its line and a last document without a newline.
    const file = write(
      'mixed.yaml',
      `${deployment}--- # settings\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  enabled: "yes" # quoted on purpose\n---\n{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "listed"}}]}`,
    );
    const objects = loadManifests('manifests', [file]).map((l) => l.object);
    substituteImages(objects, [parseImage('containers', 'contosoprod.azurecr.io/shop/web:2')]);
    const stream = toYamlStream(objects);
    assert.ok(stream.startsWith('---\n'), stream);
    assert.ok(
      stream.includes(
        '# settings\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  enabled: "yes" # quoted on purpose\n',
      ),
      stream,
    );
    assert.ok(stream.includes(`${JSON.stringify(objects[0])}\n`), 'the changed Deployment goes as JSON');
    assert.ok(stream.includes(`${JSON.stringify(objects[2])}\n`), 'a List item has no text of its own');
    const reread = parseAllDocuments(stream)
      .map((d) => d.toJS())
      .filter((o) => o !== null);
    assert.deepStrictEqual(reread, objects);
    assert.match(stream, /"image":"contosoprod.azurecr.io\/shop\/web:2"/);
  });

  it('parses while giving the event loop turns (sign-in goes on meanwhile), to the same objects and the same refusals', async () => {
    const text = Array.from(
      { length: 2000 },
      (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c-${i}\ndata:\n  a: "b"\n`,
    ).join('---\n');
    const file = write('many.yaml', text);
    let turns = 0;
    const ticking = setInterval(() => turns++, 1);
    try {
      const objects = (await loadManifestsYielding('manifests', [file], 2)).map((l) => l.object);
      assert.ok(turns > 0, 'no timer ran while 2000 documents were parsed');
      assert.deepStrictEqual(
        objects,
        loadManifests('manifests', [file]).map((l) => l.object),
      );
    } finally {
      clearInterval(ticking);
    }
    const bad = write('bad-late.yaml', `${text}---\nkind: [unclosed\n`);
    await assert.rejects(loadManifestsYielding('manifests', [bad]), /bad-late.yaml \(document 2001\) is not valid YAML/);
  });

  it('refuses an empty match and an enormous file', () => {
    assert.throws(() => loadManifests('manifests', []), /\[NO_MANIFESTS\].*match no file/);
    const big = write(
      'big.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: "${'a'.repeat(MANIFEST_LIMITS.maxFileBytes)}"\n`,
    );
    assert.throws(() => loadManifests('manifests', [big]), /\[MANIFEST_TOO_LARGE\]/);
  });

  it('checks namespace inputs', () => {
    assert.strictEqual(validateNamespace('namespace', 'team-a'), 'team-a');
    for (const bad of ['Team', 'a_b', '-a', 'a'.repeat(64), '$(whoami)'])
      assert.throws(() => validateNamespace('namespace', bad), /input 'namespace'.*DNS label/);
  });
});

describe('image substitution', () => {
  it('replaces matching repositories in every container list, ignoring the old tag or digest', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop' },
      spec: {
        template: {
          spec: {
            initContainers: [{ image: 'contosoprod.azurecr.io/shop/migrate@sha256:' + 'a'.repeat(64) }],
            containers: [{ image: 'contosoprod.azurecr.io/shop/web:latest' }, { image: 'nginx:1.27' }],
          },
        },
      },
    };
    const cron = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly' },
      spec: { jobTemplate: { spec: { template: { spec: { containers: [{ image: 'contosoprod.azurecr.io/shop/web' }] } } } } },
    };
    const counts = substituteImages(
      [deployment, cron],
      [
        parseImage('containers', 'contosoprod.azurecr.io/shop/web:1.2.3'),
        parseImage('containers', 'contosoprod.azurecr.io/shop/migrate:1.2.3'),
      ],
    );
    assert.deepStrictEqual(
      deployment.spec.template.spec.containers.map((c) => c.image),
      ['contosoprod.azurecr.io/shop/web:1.2.3', 'nginx:1.27'],
    );
    assert.strictEqual(deployment.spec.template.spec.initContainers[0].image, 'contosoprod.azurecr.io/shop/migrate:1.2.3');
    assert.strictEqual(cron.spec.jobTemplate.spec.template.spec.containers[0].image, 'contosoprod.azurecr.io/shop/web:1.2.3');
    assert.deepStrictEqual([...counts.values()], [2, 1]);
  });

  it('refuses what is not an image reference', () => {
    for (const bad of ['', 'UPPER/case:1', 'repo:tag;rm -rf /', 'repo@sha256:short'])
      assert.throws(() => parseImage('containers', bad), /input 'containers'.*not an image reference/);
  });
});
