// THIRD-PARTY-NOTICES: the name, version, licence and licence text of every package a bundle carries,
// taken from esbuild's metafile (the inputs that reached an output) and each package's own files.
// MIT, ISC, BSD and Apache-2.0 all ask that the notice travel with copies of the code.
const fs = require('fs');
const path = require('path');

const LICENCE_FILE = /^(licen[cs]e|copying|notice)([-.](md|txt|mit|bsd))?$/i;

/** The folder of the package an esbuild input path belongs to (the innermost node_modules/<name>). */
function packageDirOf(input, absWorkingDir) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replace(/\\/g, '/'));
  return m ? path.resolve(absWorkingDir, m[1]) : undefined;
}

/** The packages whose code ended up in an output of the given metafiles, by name@version. */
function bundledPackages(metafiles, absWorkingDir) {
  const packages = new Map();
  for (const metafile of metafiles) {
    for (const output of Object.values(metafile.outputs)) {
      for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
        const dir = packageDirOf(input, absWorkingDir);
        if (!dir || bytesInOutput === 0) continue;
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
        const key = `${pkg.name}@${pkg.version}`;
        if (packages.has(key)) continue;
        const licenceFiles = fs
          .readdirSync(dir)
          .filter((f) => LICENCE_FILE.test(f))
          .sort();
        packages.set(key, { name: pkg.name, version: pkg.version, license: licenseOf(pkg), dir, licenceFiles });
      }
    }
  }
  return [...packages.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

function licenseOf(pkg) {
  if (typeof pkg.license === 'string') return pkg.license;
  if (pkg.license && pkg.license.type) return pkg.license.type;
  if (Array.isArray(pkg.licenses)) return pkg.licenses.map((l) => l.type).join(' OR ');
  return 'UNKNOWN';
}

/** The notice text; throws when a package carries no licence text, so the build cannot ship without it. */
function noticesText(title, packages) {
  const missing = packages.filter((p) => p.licenceFiles.length === 0);
  if (missing.length)
    throw new Error(
      `no licence file in ${missing.map((p) => `${p.name}@${p.version}`).join(', ')}: add its licence text to scripts/notices.js`,
    );
  const parts = [
    `THIRD-PARTY SOFTWARE NOTICES\n\n${title}\nincludes the following third-party packages, each under its own licence below.\n\n` +
      packages.map((p) => `- ${p.name} ${p.version} (${p.license})`).join('\n') +
      '\n',
  ];
  for (const p of packages) {
    const texts = p.licenceFiles.map((f) => fs.readFileSync(path.join(p.dir, f), 'utf8').trim());
    parts.push(`${'='.repeat(78)}\n${p.name} ${p.version} (${p.license})\n${'='.repeat(78)}\n\n${texts.join('\n\n')}\n`);
  }
  return parts.join('\n');
}

module.exports = { bundledPackages, noticesText, packageDirOf };
