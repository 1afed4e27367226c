/**
 * Preloaded into a task process (NODE_OPTIONS=--require) next to spawnRecorder: each time the task
 * starts a child process (kubectl apply reads its manifests then), every file under the job's
 * Agent.TempDirectory is searched for the values in TEMP_WATCH_VALUES (JSON list), as written and
 * in base64 (also inside base64 runs of the file, as a Secret's data holds them), and each file holding one is appended to TEMP_WATCH_RECORD. It sees files the task
 * removes before it ends, which a scan after the run cannot.
 */
import childProcess = require('child_process');
import * as fs from 'fs';
import * as path from 'path';

const record = process.env.TEMP_WATCH_RECORD;
const values: string[] = JSON.parse(process.env.TEMP_WATCH_VALUES ?? '[]');
const tempDir = process.env.AGENT_TEMPDIRECTORY;

function filesUnder(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

function scan(): void {
  const needles = values.flatMap((v) => [v, Buffer.from(v).toString('base64')]);
  for (const file of filesUnder(tempDir!)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // A Secret's data is base64, and a Docker config nests the password in JSON inside it: decode every base64 run too.
    const decoded = (text.match(/[A-Za-z0-9+/]{16,}={0,2}/g) ?? []).map((run) => Buffer.from(run, 'base64').toString('utf8'));
    if ([text, ...decoded].some((t) => needles.some((n) => t.includes(n))))
      fs.appendFileSync(record!, `${path.relative(tempDir!, file)}\n`);
  }
}

if (record && tempDir && values.length > 0) {
  const cp = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
    const original = cp[name];
    cp[name] = function (this: unknown, ...args: unknown[]) {
      scan();
      return original.apply(this, args);
    };
  }
}
