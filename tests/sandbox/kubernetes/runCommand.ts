/**
 * What AKS run command (`az aks command invoke`, managedClusters/runCommand) does, on the sandbox
 * cluster: the command runs with bash in a fresh directory holding the unzipped `context`, with
 * kubectl on PATH and a KUBECONFIG that reaches the API server from inside the cluster
 * (`kubernetes.default.svc`, the cluster CA) with the caller's `clusterToken` (an Entra token for
 * the AKS audience, validated by the API server like any other request) on a cluster with AKS-managed
 * Entra ID, and with the cluster's local admin credential on any other (see commandPodToken). Output (stdout and
 * stderr interleaved) is capped, a deadline kills the process group, and the directory is removed.
 *
 * The ARM side (runCommand/action permission, disableRunCommand, the async operation and the
 * commandResults resource) is the ARM service's business.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unzipSync } from 'fflate';
import type { AksApiServer } from './aksApiServer';

export interface RunCommandRequest {
  command: string;
  /** base64 of a zip archive whose files become the working directory. */
  context?: string;
  /** Bearer token for the API server (Entra token for the AKS audience). */
  clusterToken?: string;
}

export interface RunCommandOptions {
  /** Deadline for the command. Default 300 s. */
  timeoutMs?: number;
  /** Largest log kept (bytes); the rest is dropped with a marker. Default 512 KiB. */
  maxLogBytes?: number;
  /** Directory under which the working directory is created. Default os.tmpdir(). */
  tempRoot?: string;
}

export interface RunCommandResult {
  exitCode: number;
  logs: string;
  startedAt: Date;
  finishedAt: Date;
  /** The deadline killed the command (exitCode is then 124, as `timeout` reports). */
  timedOut: boolean;
  /** Logs were longer than maxLogBytes. */
  truncated: boolean;
}

export class RunCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunCommandError';
  }
}

let kubectlDir: string | undefined;

function findKubectlDir(): string {
  if (kubectlDir) return kubectlDir;
  const found = spawnSync('bash', ['-c', 'command -v kubectl'], { encoding: 'utf8' });
  const location = found.stdout.trim();
  if (found.status !== 0 || !location) throw new RunCommandError('kubectl is not on PATH; the sandbox run command needs it');
  kubectlDir = path.dirname(location);
  return kubectlDir;
}

/**
 * Unpacks `context` as the service does for what az aks command invoke sends (azure-cli, acs/custom.py
 * _get_command_context): base64 with line breaks (base64.encodebytes), a zip whose entries are
 * stored (Python's zipfile default) or deflated (other clients), names relative to the working
 * directory, "./" prefixed when a whole folder was attached. Entry modes are not kept: the command
 * runs through `bash -c`, and the tasks attach only data files.
 */
async function unzipContext(contextBase64: string, dir: string): Promise<void> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(Buffer.from(contextBase64, 'base64')));
  } catch (err) {
    throw new RunCommandError(`The command context is not a valid base64-encoded zip archive: ${(err as Error).message}`);
  }
  for (const [name, content] of Object.entries(files)) {
    const target = path.resolve(dir, name);
    if (target !== dir && !target.startsWith(dir + path.sep))
      throw new RunCommandError(`The command context holds a path outside its directory: ${name}`);
    if (name.endsWith('/')) {
      await fs.mkdir(target, { recursive: true });
      continue;
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
  }
}

/**
 * The bearer token the command's kubectl presents. `az aks command invoke` sends the caller's token
 * only for a cluster with AKS-managed Entra ID (azure-cli, src/azure-cli/azure/cli/command_modules/acs/
 * custom.py, aks_runcommand: `if mc.aad_profile is not None and mc.aad_profile.managed`), and the command
 * still works on other clusters: there the pod runs with the cluster's own (local admin) credential,
 * and a token sent anyway is not what authenticates it.
 */
function commandPodToken(server: AksApiServer, request: RunCommandRequest): string {
  return server.cluster.aad?.managed ? (request.clusterToken ?? '') : server.staticAdminToken;
}

export async function runCommand(
  server: AksApiServer,
  request: RunCommandRequest,
  options: RunCommandOptions = {},
): Promise<RunCommandResult> {
  if (!request.command || !request.command.trim()) throw new RunCommandError('The command must not be empty');
  const timeoutMs = options.timeoutMs ?? 300_000;
  const maxLogBytes = options.maxLogBytes ?? 512 * 1024;
  const binDir = findKubectlDir();
  const root = await fs.mkdtemp(path.join(options.tempRoot ?? os.tmpdir(), 'aks-run-command-'));
  try {
    const workDir = path.join(root, 'context');
    const home = path.join(root, 'home');
    await fs.mkdir(workDir, { mode: 0o700 });
    await fs.mkdir(home, { mode: 0o700 });
    if (request.context) await unzipContext(request.context, workDir);
    const kubeconfig = path.join(home, 'kubeconfig');
    await fs.writeFile(kubeconfig, server.inClusterKubeconfig(commandPodToken(server, request)), { mode: 0o600 });

    const startedAt = new Date();
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const collect = (chunk: Buffer): void => {
      if (size >= maxLogBytes) {
        truncated = true;
        return;
      }
      const room = maxLogBytes - size;
      if (chunk.length > room) truncated = true;
      const kept = chunk.subarray(0, room);
      chunks.push(kept);
      size += kept.length;
    };
    const child = spawn('bash', ['-c', request.command], {
      cwd: workDir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin`,
        HOME: home,
        KUBECONFIG: kubeconfig,
        LANG: 'C.UTF-8',
      },
    });
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    }).finally(() => clearTimeout(timer));
    let logs = Buffer.concat(chunks).toString('utf8');
    if (truncated) logs += '\n... (output truncated)\n';
    if (timedOut) logs += `\ncommand timed out after ${Math.round(timeoutMs / 1000)}s\n`;
    return { exitCode: timedOut ? 124 : exitCode, logs, startedAt, finishedAt: new Date(), timedOut, truncated };
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
