/**
 * Preloaded into a task process (NODE_OPTIONS=--require) by the bad-input spec: records every
 * child process the task starts, and whether through a shell, to the file in SPAWN_RECORD.
 */
// The module object itself: a namespace import would be a copy whose properties cannot be replaced.
import childProcess = require('child_process');
import * as fs from 'fs';

const record = process.env.SPAWN_RECORD;
if (record) {
  const cp = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    const original = cp[name];
    cp[name] = function (this: unknown, ...args: unknown[]) {
      const options = args.find((a) => a !== null && typeof a === 'object' && !Array.isArray(a)) as { shell?: unknown } | undefined;
      const viaShell = name === 'exec' || name === 'execSync' || (options?.shell !== undefined && options.shell !== false);
      fs.appendFileSync(
        record,
        JSON.stringify({ api: name, file: String(args[0]), args: Array.isArray(args[1]) ? args[1].map(String) : [], viaShell }) + '\n',
      );
      return original.apply(this, args);
    };
  }
}
