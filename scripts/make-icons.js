#!/usr/bin/env node
'use strict';

/*
 * Draws the task icons and the extension icon as RGBA PNGs.
 *
 *   node scripts/make-icons.js          write the PNGs
 *   node scripts/make-icons.js --check  verify the PNGs on disk (size, CRCs, pixel data)
 *
 * Each design is a stack of shapes in a unit square (x to the right, y down,
 * both 0..1). Every pixel is sampled on a SUPERSAMPLE x SUPERSAMPLE grid and
 * the samples are averaged, which gives anti-aliased edges at any size.
 * Only Node's zlib is used.
 */

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.resolve(__dirname, '..');
const SUPERSAMPLE = 5;

// ---------------------------------------------------------------- shapes

function polygon(points) {
  return (x, y) => {
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [xi, yi] = points[i];
      const [xj, yj] = points[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  };
}

function regularPolygon(cx, cy, radius, sides, rotation) {
  const points = [];
  for (let k = 0; k < sides; k++) {
    const a = rotation + (k * 2 * Math.PI) / sides;
    points.push([cx + radius * Math.cos(a), cy + radius * Math.sin(a)]);
  }
  return points;
}

function circle(cx, cy, r) {
  return (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function ring(cx, cy, rOuter, rInner) {
  return (x, y) => {
    const d2 = (x - cx) ** 2 + (y - cy) ** 2;
    return d2 <= rOuter * rOuter && d2 >= rInner * rInner;
  };
}

function rect(x0, y0, x1, y1) {
  return (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
}

function roundedRect(x0, y0, x1, y1, r) {
  return (x, y) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const cx = Math.min(Math.max(x, x0 + r), x1 - r);
    const cy = Math.min(Math.max(y, y0 + r), y1 - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
}

/** A thick polyline with round joins and caps. */
function stroke(points, width) {
  const half = width / 2;
  return (x, y) => {
    for (let i = 0; i + 1 < points.length; i++) {
      const [ax, ay] = points[i];
      const [bx, by] = points[i + 1];
      const dx = bx - ax;
      const dy = by - ay;
      const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
      if ((x - (ax + t * dx)) ** 2 + (y - (ay + t * dy)) ** 2 <= half * half) return true;
    }
    return false;
  };
}

const union = (...shapes) => (x, y) => shapes.some((s) => s(x, y));
const intersect = (...shapes) => (x, y) => shapes.every((s) => s(x, y));
const subtract = (a, b) => (x, y) => a(x, y) && !b(x, y);

/** A heater shield: flat top with rounded shoulders, sides curving to a point. */
function shieldPoints(cx, top, halfWidth, height) {
  const points = [];
  const steps = 48;
  // right side, from the shoulder down to the tip
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    const y = top + height * t;
    const x = cx + halfWidth * Math.cos((Math.PI / 2) * t ** 1.6);
    points.push([x, y]);
  }
  // left side, from the tip back up
  for (let i = steps; i >= 0; i--) {
    const t = i / steps;
    const y = top + height * t;
    const x = cx - halfWidth * Math.cos((Math.PI / 2) * t ** 1.6);
    points.push([x, y]);
  }
  return points;
}

/** A padlock centred on cx: shackle (upper half ring with legs) and body with a keyhole. */
function padlock(cx, cy, size) {
  const bodyHalfW = 0.5 * size;
  const bodyTop = cy - 0.05 * size;
  const bodyBottom = cy + 0.62 * size;
  const shackleR = 0.32 * size;
  const shackleW = 0.13 * size;
  const shackleCy = bodyTop - 0.2 * size;
  const shackle = union(
    intersect(ring(cx, shackleCy, shackleR + shackleW / 2, shackleR - shackleW / 2), (x, y) => y <= shackleCy),
    rect(cx - shackleR - shackleW / 2, shackleCy, cx - shackleR + shackleW / 2, bodyTop + 0.01),
    rect(cx + shackleR - shackleW / 2, shackleCy, cx + shackleR + shackleW / 2, bodyTop + 0.01),
  );
  const body = roundedRect(cx - bodyHalfW, bodyTop, cx + bodyHalfW, bodyBottom, 0.1 * size);
  const keyholeCy = bodyTop + 0.27 * size;
  const keyhole = union(
    circle(cx, keyholeCy, 0.1 * size),
    polygon([
      [cx - 0.045 * size, keyholeCy],
      [cx + 0.045 * size, keyholeCy],
      [cx + 0.07 * size, keyholeCy + 0.24 * size],
      [cx - 0.07 * size, keyholeCy + 0.24 * size],
    ]),
  );
  return { lock: union(shackle, body), keyhole };
}

/** Rows of bricks (a firewall) clipped to a region. */
function brickWall(x0, y0, x1, y1, rows, bricksPerRow, mortar) {
  const rowH = (y1 - y0) / rows;
  const brickW = (x1 - x0) / bricksPerRow;
  return (x, y) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const row = Math.min(rows - 1, Math.floor((y - y0) / rowH));
    const inRowY = y - y0 - row * rowH;
    if (inRowY < mortar / 2 || inRowY > rowH - mortar / 2) return false;
    const offset = row % 2 === 1 ? brickW / 2 : 0;
    const u = (((x - x0 + offset) % brickW) + brickW) % brickW;
    return u >= mortar / 2 && u <= brickW - mortar / 2;
  };
}

// ---------------------------------------------------------------- designs

const WHITE = [255, 255, 255, 255];

function hexLockDesign(base, edge, detailed) {
  const hex = polygon(regularPolygon(0.5, 0.5, 0.48, 6, -Math.PI / 2));
  const inner = polygon(regularPolygon(0.5, 0.5, 0.4, 6, -Math.PI / 2));
  const innerLine = polygon(regularPolygon(0.5, 0.5, 0.43, 6, -Math.PI / 2));
  const { lock, keyhole } = padlock(0.5, 0.5, 0.36);
  const layers = [
    { shape: hex, color: edge },
    { shape: innerLine, color: base },
  ];
  if (detailed) {
    layers.push({ shape: subtract(innerLine, inner), color: [255, 255, 255, 70] });
  }
  layers.push({ shape: lock, color: WHITE }, { shape: keyhole, color: base });
  return layers;
}

function shieldWallDesign(base, edge) {
  const outer = polygon(shieldPoints(0.5, 0.04, 0.44, 0.92));
  const inner = polygon(shieldPoints(0.5, 0.1, 0.37, 0.8));
  const wall = intersect(inner, brickWall(0.1, 0.22, 0.9, 0.68, 3, 3, 0.07));
  return [
    { shape: outer, color: edge },
    { shape: inner, color: base },
    { shape: wall, color: WHITE },
  ];
}

function badgeCheckDesign(base, edge) {
  const outer = circle(0.5, 0.5, 0.48);
  const inner = circle(0.5, 0.5, 0.42);
  const check = stroke([[0.27, 0.52], [0.43, 0.68], [0.74, 0.34]], 0.13);
  return [
    { shape: outer, color: edge },
    { shape: inner, color: base },
    { shape: check, color: WHITE },
  ];
}

const ICONS = [
  {
    file: 'tasks/PrivateAksDeployV1/icon.png',
    size: 32,
    layers: hexLockDesign([50, 108, 229, 255], [28, 70, 160, 255], false),
  },
  {
    file: 'tasks/AcrNetworkRuleSyncV1/icon.png',
    size: 32,
    layers: shieldWallDesign([232, 89, 12, 255], [168, 58, 4, 255]),
  },
  {
    file: 'tasks/ServiceConnectionRoleCheckV1/icon.png',
    size: 32,
    layers: badgeCheckDesign([111, 66, 193, 255], [74, 38, 140, 255]),
  },
  {
    file: 'images/extension-icon.png',
    size: 128,
    layers: hexLockDesign([50, 108, 229, 255], [28, 70, 160, 255], true),
  },
];

// ---------------------------------------------------------------- raster

function render(size, layers) {
  const out = Buffer.alloc(size * size * 4);
  const n = SUPERSAMPLE;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // premultiplied accumulation over the subsamples
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const x = (px + (sx + 0.5) / n) / size;
          const y = (py + (sy + 0.5) / n) / size;
          let cr = 0;
          let cg = 0;
          let cb = 0;
          let ca = 0;
          for (const { shape, color } of layers) {
            if (!shape(x, y)) continue;
            const la = color[3] / 255;
            // "over" in premultiplied space
            cr = color[0] * la + cr * (1 - la);
            cg = color[1] * la + cg * (1 - la);
            cb = color[2] * la + cb * (1 - la);
            ca = la + ca * (1 - la);
          }
          r += cr;
          g += cg;
          b += cb;
          a += ca;
        }
      }
      const samples = n * n;
      const alpha = a / samples;
      const o = (py * size + px) * 4;
      if (alpha > 0) {
        out[o] = Math.round(r / samples / alpha);
        out[o + 1] = Math.round(g / samples / alpha);
        out[o + 2] = Math.round(b / samples / alpha);
        out[o + 3] = Math.round(alpha * 255);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- PNG

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([len, typeAndData, crc]);
}

function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); // width
  ihdr.writeUInt32BE(size, 4); // height
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method
  ihdr[12] = 0; // no interlace
  const stride = size * 4;
  const raw = Buffer.alloc((stride + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    rgba.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Parses a PNG written by encodePng and checks its structure; returns { width, height, colorType }. */
function readPng(buf) {
  if (!buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG signature');
  let offset = 8;
  let header = null;
  const idat = [];
  let ended = false;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('ascii', offset + 4, offset + 8);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    if (crc !== crc32(buf.subarray(offset + 4, offset + 8 + length))) throw new Error(`bad CRC in ${type}`);
    if (type === 'IHDR') {
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        bitDepth: data[8],
        colorType: data[9],
      };
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    }
    offset += 12 + length;
  }
  if (!header) throw new Error('no IHDR');
  if (!ended) throw new Error('no IEND');
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const expected = (header.width * 4 + 1) * header.height;
  if (header.bitDepth !== 8 || header.colorType !== 6) throw new Error('not 8-bit RGBA');
  if (raw.length !== expected) throw new Error(`pixel data is ${raw.length} bytes, expected ${expected}`);
  return header;
}

// ---------------------------------------------------------------- main

function main() {
  const checkOnly = process.argv.includes('--check');
  let failed = false;
  for (const icon of ICONS) {
    const file = path.join(ROOT, icon.file);
    if (!checkOnly) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, encodePng(icon.size, render(icon.size, icon.layers)));
    }
    try {
      const { width, height } = readPng(fs.readFileSync(file));
      if (width !== icon.size || height !== icon.size) {
        throw new Error(`is ${width}x${height}, expected ${icon.size}x${icon.size}`);
      }
      console.log(`${icon.file}: ${width}x${height} RGBA, ${fs.statSync(file).size} bytes`);
    } catch (e) {
      failed = true;
      console.error(`${icon.file}: ${e.message}`);
    }
  }
  if (failed) process.exit(1);
}

if (require.main === module) main();

module.exports = { encodePng, readPng, crc32 };
