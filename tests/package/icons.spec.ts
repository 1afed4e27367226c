import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ALL_TASKS, REPO_ROOT } from '../support/taskRun';

interface Icon {
  svg: string;
  png: string;
  size: number;
}

// The icon script and the PNG reader are plain Node scripts; the test uses them as they are.
const { ICONS, staleness } = require(path.join(REPO_ROOT, 'scripts', 'make-icons.js')) as {
  ICONS: Icon[];
  staleness: (icon: Icon) => string | undefined;
};
const { readPng } = require(path.join(REPO_ROOT, 'scripts', 'png.js')) as {
  readPng: (buf: Buffer) => { width: number; height: number; pixels: Buffer };
};

describe('icons', () => {
  it('has an SVG source for the extension icon and each task icon', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'vss-extension.json'), 'utf8'));
    const wanted = [{ png: manifest.icons.default, size: 128 }, ...ALL_TASKS.map((t) => ({ png: `tasks/${t}/icon.png`, size: 32 }))];
    for (const w of wanted) {
      const icon = ICONS.find((i) => i.png === w.png);
      assert.ok(icon, `${w.png} has no entry in scripts/make-icons.js`);
      assert.strictEqual(icon.size, w.size, `${w.png} size`);
      assert.match(fs.readFileSync(path.join(REPO_ROOT, icon.svg), 'utf8'), /^<svg [^>]*viewBox="0 0 128 128"/, `${icon.svg} is an SVG`);
    }
  });

  for (const icon of ICONS) {
    it(`${icon.png} is an 8-bit RGBA PNG of ${icon.size}x${icon.size}, up to date with ${icon.svg}`, () => {
      const png = readPng(fs.readFileSync(path.join(REPO_ROOT, icon.png)));
      assert.deepStrictEqual([png.width, png.height], [icon.size, icon.size]);
      assert.strictEqual(staleness(icon), undefined);
    });
  }

  it('gives each task a distinct icon', () => {
    const pixels = ALL_TASKS.map((t) => readPng(fs.readFileSync(path.join(REPO_ROOT, 'tasks', t, 'icon.png'))).pixels);
    for (let i = 0; i < pixels.length; i++)
      for (let j = i + 1; j < pixels.length; j++)
        assert.ok(!pixels[i].equals(pixels[j]), `${ALL_TASKS[i]} and ${ALL_TASKS[j]} look the same`);
  });

  it('notices a PNG that another SVG drew (the comparison is real)', () => {
    const other = ICONS.find((i) => i.png.startsWith('tasks/ServiceConnectionRoleCheckV1/'))!;
    const deploySvg = ICONS.find((i) => i.png.startsWith('tasks/PrivateAksDeployV1/'))!.svg;
    assert.match(staleness({ ...other, svg: deploySvg }) ?? '', /differs from/);
  });

  it('refuses what is not a PNG', () => {
    assert.throws(() => readPng(fs.readFileSync(path.join(REPO_ROOT, ICONS[0].svg))), /not a PNG signature/);
    const png = fs.readFileSync(path.join(REPO_ROOT, ICONS[0].png));
    const corrupt = Buffer.from(png);
    corrupt[40] ^= 0xff;
    assert.throws(() => readPng(corrupt), /bad CRC|truncated/);
  });
});
