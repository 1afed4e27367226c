import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';

/** Debian's tinyproxy on loopback, with its own config and log, for tests that need a real proxy. */
export interface Tinyproxy {
  url: string;
  /** The log so far (CONNECT lines name every tunnelled host:port). */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Why tinyproxy cannot run here, or undefined when it can. */
export function tinyproxyUnavailable(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v tinyproxy'], { encoding: 'utf8' });
  return which.status === 0 ? undefined : 'tinyproxy is not installed (apt-get install tinyproxy; .ci/run does it)';
}

export async function startTinyproxy(dir: string): Promise<Tinyproxy> {
  const port = await freePort();
  const logFile = path.join(dir, 'tinyproxy.log');
  const configFile = path.join(dir, 'tinyproxy.conf');
  // No ConnectPort line: CONNECT to any port (the sandbox listens on random ones). Foreground, no PID file.
  fs.writeFileSync(
    configFile,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 60',
      `LogFile "${logFile}"`,
      'LogLevel Connect',
      'MaxClients 50',
      'Allow 127.0.0.1',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(logFile, '');
  const child: ChildProcess = spawn('tinyproxy', ['-d', '-c', configFile], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 50; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null) throw new Error(`tinyproxy exited with ${child.exitCode}: ${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => fs.readFileSync(logFile, 'utf8'),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
