#!/usr/bin/env node
'use strict';

/*
 * Rasterizes the icon sources (images/src/*.svg) to the PNGs the Marketplace and the task picker show.
 *
 *   npm run icons                        write the PNGs
 *   node scripts/make-icons.js --check   say which PNGs are missing, malformed or out of date
 *
 * resvg renders the same pixels for the same SVG and version, so a PNG counts as up to date when
 * its pixels match a fresh rendering (within a small anti-aliasing tolerance).
 */

const fs = require('fs');
const path = require('path');
const { readPng } = require('./png');

const ROOT = path.resolve(__dirname, '..');

/** Every icon: its SVG source and the PNG it becomes (task icons 32x32, the extension's 128x128). */
const ICONS = [
  { svg: 'images/src/extension-icon.svg', png: 'images/extension-icon.png', size: 128 },
  { svg: 'images/src/private-aks-deploy.svg', png: 'tasks/PrivateAksDeployV1/icon.png', size: 32 },
  { svg: 'images/src/acr-network-rule-sync.svg', png: 'tasks/AcrNetworkRuleSyncV1/icon.png', size: 32 },
  { svg: 'images/src/service-connection-role-check.svg', png: 'tasks/ServiceConnectionRoleCheckV1/icon.png', size: 32 },
];

/** The largest and the mean per-channel difference a PNG may show against a fresh rendering. */
const TOLERANCE = { max: 64, mean: 2 };

function render(icon) {
  // Loaded here so that --help and the ICONS list need no native module.
  const { Resvg } = require('@resvg/resvg-js');
  const svg = fs.readFileSync(path.join(ROOT, icon.svg), 'utf8');
  return new Resvg(svg, { fitTo: { mode: 'width', value: icon.size }, font: { loadSystemFonts: false } }).render().asPng();
}

/** Why the PNG on disk is not what its SVG renders to, or undefined when it is. */
function staleness(icon) {
  const file = path.join(ROOT, icon.png);
  if (!fs.existsSync(file)) return 'missing';
  let onDisk;
  try {
    onDisk = readPng(fs.readFileSync(file));
  } catch (e) {
    return e.message;
  }
  if (onDisk.width !== icon.size || onDisk.height !== icon.size)
    return `${onDisk.width}x${onDisk.height}, expected ${icon.size}x${icon.size}`;
  const fresh = readPng(render(icon)).pixels;
  const seen = onDisk.pixels;
  let max = 0;
  let sum = 0;
  // Compared premultiplied: the colour of a nearly transparent pixel is invisible, whatever it is.
  for (let i = 0; i < fresh.length; i++) {
    const alpha = i % 4 === 3;
    const d = alpha ? Math.abs(fresh[i] - seen[i]) : Math.abs((fresh[i] * fresh[i - (i % 4) + 3] - seen[i] * seen[i - (i % 4) + 3]) / 255);
    sum += d;
    if (d > max) max = d;
  }
  const mean = sum / fresh.length;
  if (max > TOLERANCE.max || mean > TOLERANCE.mean)
    return `differs from ${icon.svg} (max ${max}, mean ${mean.toFixed(2)} per channel): run npm run icons`;
  return undefined;
}

function main() {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const icon of ICONS) {
    if (!check) fs.writeFileSync(path.join(ROOT, icon.png), render(icon));
    const why = staleness(icon);
    if (why) stale++;
    console.log(`${icon.png} (${icon.size}x${icon.size}) from ${icon.svg}: ${why ?? 'up to date'}`);
  }
  if (stale) process.exit(1);
}

if (require.main === module) main();

module.exports = { ICONS, staleness };
