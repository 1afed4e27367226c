import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { INTENT_NAMES, operationsFor } from '../../shared/azure/rbac/intents';
import { leastPrivilegedRoleFor } from '../../shared/azure/rbac/leastPrivilegedRoles';
import { REPO_ROOT } from '../support/taskRun';

// The Marketplace page promises what the code does: these checks keep the two together.
const overview = fs.readFileSync(path.join(REPO_ROOT, 'overview.md'), 'utf8');

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}`);
  assert.ok(start >= 0, `overview.md has no '## ${heading}' section`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [fs.readFileSync(p, 'utf8')] : [];
  });
}

describe('overview.md (the Marketplace page)', () => {
  const code = [...sources(path.join(REPO_ROOT, 'shared')), ...sources(path.join(REPO_ROOT, 'tasks'))].join('\n');
  const troubleshooting = section(overview, 'Troubleshooting');
  const documented = new Set([...troubleshooting.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));

  it('lists every error code the tasks raise in its troubleshooting table', () => {
    const raised = new Set([...code.matchAll(/code: '([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]));
    raised.delete('REACHABLE'); // a diagnosis that found nothing wrong
    const missing = [...raised].filter((c) => !documented.has(c));
    assert.deepStrictEqual(missing, [], 'add these codes to the Troubleshooting table of overview.md');
  });

  it('documents no code the tasks do not raise', () => {
    const unknown = [...documented].filter((c) => (c.startsWith('AADSTS') ? !code.includes(`${c}:`) : !code.includes(`'${c}'`)));
    assert.deepStrictEqual(unknown, []);
  });

  it('names, for every intent, the least-privileged roles ServiceConnectionRoleCheck suggests', () => {
    const roles = section(overview, 'Roles each task needs');
    for (const intent of INTENT_NAMES) {
      assert.ok(roles.includes(`\`${intent}\``), `no row for the intent ${intent}`);
      for (const op of operationsFor(intent)) {
        const role = leastPrivilegedRoleFor(op.operation)?.role.name;
        assert.ok(role && roles.includes(role), `${intent} needs ${op.operation}: the table should name '${role}'`);
      }
    }
  });

  it('shows images that exist and are packaged', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'vss-extension.json'), 'utf8'));
    assert.ok(
      manifest.files.some((f: { path: string; addressable?: boolean }) => f.path === 'images' && f.addressable),
      'images/ is addressable',
    );
    const images = [...overview.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(images.length >= 3, 'the three build summaries are shown');
    for (const image of images) {
      assert.match(image, /^images\/[\w.-]+\.png$/);
      assert.ok(fs.existsSync(path.join(REPO_ROOT, image)), `${image} is missing: npm run screenshots`);
    }
  });
});

describe('task help that points into the docs', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const headings = new Set([...`${overview}\n${readme}`.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1].trim().toLowerCase()));
  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
  const anchors = new Set([...headings].map((h) => h.replace(/[^\w\- ]/g, '').replace(/ /g, '-')));

  for (const task of fs.readdirSync(path.join(REPO_ROOT, 'tasks'))) {
    it(`${task}: every section its help names or links exists in overview.md or README.md`, () => {
      const def = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', task, 'task.json'), 'utf8'));
      const texts: string[] = [
        def.description,
        def.helpMarkDown,
        ...def.inputs.map((i: { helpMarkDown?: string }) => i.helpMarkDown),
      ].filter(Boolean);
      for (const text of texts) {
        // Named sections: the "X" section, or ("X") after what the page lists.
        for (const m of text.matchAll(/"([^"]+)" section|\("([^"]+)"\)/g)) {
          const name = (m[1] ?? m[2]).toLowerCase();
          assert.ok(headings.has(name), `${task} help names the section "${m[1] ?? m[2]}", which neither overview.md nor README.md has`);
        }
        for (const m of text.matchAll(/\]\([^)#]*#([^)]+)\)/g))
          assert.ok(anchors.has(m[1].toLowerCase()), `${task} help links to #${m[1]}, which no heading makes`);
      }
    });
  }
});

describe('the agent version overview.md asks for', () => {
  it("is the tasks' minimumAgentVersion, not an older one", () => {
    const minimums = new Set(
      fs
        .readdirSync(path.join(REPO_ROOT, 'tasks'))
        .map((t) => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tasks', t, 'task.json'), 'utf8')).minimumAgentVersion),
    );
    assert.strictEqual(minimums.size, 1, [...minimums].join(', '));
    const named = [...overview.matchAll(/agent[^|\n]*?(\d+\.\d+(?:\.\d+)?) or later/gi)].map((m) => m[1]);
    assert.ok(named.length > 0, 'overview.md names no agent version');
    for (const v of named) assert.strictEqual(v, [...minimums][0], `overview.md asks for agent ${v}`);
  });
});
