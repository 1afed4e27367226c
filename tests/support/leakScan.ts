import * as fs from 'fs';
import * as path from 'path';
import { liveIssuedSecrets } from '../sandbox/liveSecrets';

/**
 * Every secret found in the text, for leak assertions (reports which, never the value itself).
 * A PEM key is checked line by line: one leaked line of a private key is a leak. A JWT is also
 * checked by its signature alone: a token cut short or split across lines still leaks that.
 */
export function leakedSecrets(text: string, secrets: string[]): string[] {
  const needles = secrets.flatMap((s) => {
    if (s.includes('-----BEGIN')) return s.split(/\r?\n/).filter((line) => line.length >= 40 && !line.startsWith('-----'));
    const jwt = /^[\w-]+\.[\w-]+\.([\w-]{40,})$/.exec(s);
    return jwt ? [s, jwt[1]] : [s];
  });
  return [...new Set(needles.filter((s) => s.length >= 8 && text.includes(s)).map((s) => `${s.slice(0, 4)}…(${s.length} chars)`))];
}

/** What reaches the job log: all output but the setsecret commands the agent consumes to mask. */
export function loggedText(stdout: string, stderr = ''): string {
  return (stdout + '\n' + stderr)
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('##vso[task.setsecret]'))
    .join('\n');
}

/** Files under a directory (recursively), skipping what cannot be read. */
function filesUnder(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(full);
    return e.isFile() ? [full] : [];
  });
}

/** Large rendered manifests are not where a token hides; reading 4 MiB of each keeps the scan quick. */
const MAX_SCANNED_BYTES = 4 * 1024 * 1024;

function head(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(fs.fstatSync(fd).size, MAX_SCANNED_BYTES));
    fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Leaks of anything a running sandbox issued (tokens, secrets, keys, OIDC tokens) into a task's
 * log or into a file left in the agent's temp directory, one line per finding.
 */
export function leaksOfRun(stdout: string, stderr: string, tempDirectory: string | undefined, secrets = liveIssuedSecrets()): string[] {
  if (secrets.length === 0) return [];
  const findings = leakedSecrets(loggedText(stdout, stderr), secrets).map((s) => `log: ${s}`);
  if (tempDirectory) {
    for (const file of filesUnder(tempDirectory)) {
      for (const s of leakedSecrets(head(file), secrets)) findings.push(`${path.relative(tempDirectory, file)}: ${s}`);
    }
  }
  return findings;
}
