import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadManifests, MANIFEST_LIMITS } from '../../shared/kube/manifests';

/**
 * Every document counts against MANIFEST_LIMITS.maxDocuments, empty ones included, and parsing
 * stops at the limit: a stream of `---` separators must not cost seconds and hundreds of MB.
 */
describe('manifests: the document limit', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-limits-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n';

  it('400,000 empty documents are refused, in a process with 96 MB of heap', () => {
    // The reported attack: 1.6 MB of `---` lines, under the size limits.
    const file = write('separators.yaml', `${CONFIG_MAP}${'---\n'.repeat(400_000)}`);
    const manifests = path.join(__dirname, '..', '..', 'shared', 'kube', 'manifests.js');
    const child = spawnSync(
      process.execPath,
      [
        '--max-old-space-size=96',
        '-e',
        `try { require(${JSON.stringify(manifests)}).loadManifests('manifests', [${JSON.stringify(file)}]); console.log('accepted'); } catch (e) { console.log(e.message); }`,
      ],
      { encoding: 'utf8', timeout: 50_000 },
    );
    assert.strictEqual(child.status, 0, `the loader died (signal ${child.signal}): ${child.stderr.split('\n').slice(0, 3).join(' ')}`);
    assert.match(child.stdout, /\[MANIFEST_TOO_LARGE\]: More than 5000 YAML documents/);
  });

  it('stops parsing at the limit: what follows it is never read', () => {
    // Broken YAML after limit + 1 empty documents: a parser that read on would report the YAML error.
    const file = write('broken-tail.yaml', `${CONFIG_MAP}${'---\n'.repeat(MANIFEST_LIMITS.maxDocuments)}---\nkind: [unclosed\n`);
    assert.throws(() => loadManifests('manifests', [file]), /\[MANIFEST_TOO_LARGE\]: More than 5000 YAML documents/);
  });

  it('counts across files', () => {
    const half = `${CONFIG_MAP}${'---\n'.repeat(MANIFEST_LIMITS.maxDocuments / 2)}`;
    assert.throws(() => loadManifests('manifests', [write('a.yaml', half), write('b.yaml', half)]), /\[MANIFEST_TOO_LARGE\]/);
  });

  it('accepts exactly the limit', () => {
    const file = write('at-limit.yaml', `${CONFIG_MAP}${'---\n'.repeat(MANIFEST_LIMITS.maxDocuments - 1)}`);
    assert.strictEqual(loadManifests('manifests', [file]).length, 1);
  });
});
