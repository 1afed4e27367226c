/**
 * Low-level helpers for the sandbox's private network: running iproute2 (always asynchronously,
 * except in the process-exit hook), checking that network namespaces can be used at all, the
 * names everything gets (so leftovers can be recognised), removal of leftovers from crashed runs,
 * and a last-resort synchronous cleanup when the test process exits without `stop()`.
 *
 * Names (all start with the prefix, and carry the owning test process's pid):
 *   namespaces        pad-<pid>-<n>-in, pad-<pid>-<n>-out   (+ /etc/netns/<same name>/)
 *   host-side veths   pd<pid>-<n>i, pd<pid>-<n>o             (≤ 15 characters: IFNAMSIZ)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const NETNS_ETC_DIR = '/etc/netns';
const NAMESPACE_RE = /^pad-(\d+)-(\d+)-(in|out)$/;
const HOST_LINK_RE = /^pd(\d+)-(\d+)[io]$/;

export function namespaceName(pid: number, index: number, role: 'in' | 'out'): string {
  return `pad-${pid}-${index}-${role}`;
}

export function hostLinkName(pid: number, index: number, role: 'in' | 'out'): string {
  return `pd${pid}-${index % 1000}${role === 'in' ? 'i' : 'o'}`;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously and collects its output. Never throws for a non-zero exit; rejects only when it cannot start. */
export function exec(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** `ip <args>`; throws with iproute2's message on failure. */
export async function ip(args: string[]): Promise<string> {
  const result = await exec('ip', args, { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${result.code ?? result.signal}): ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * Several iproute2 commands in one process (`ip [-n ns] -batch -`): much faster than one process
 * each. With `force`, keeps going after a failing command (used for removal).
 */
export async function ipBatch(commands: string[], options: { netns?: string; force?: boolean } = {}): Promise<void> {
  if (commands.length === 0) return;
  const args = [...(options.netns ? ['-n', options.netns] : []), ...(options.force ? ['-force'] : []), '-batch', '-'];
  const result = await exec('ip', args, { input: `${commands.join('\n')}\n`, timeoutMs: 10_000 });
  if (result.code !== 0 && !options.force) {
    throw new Error(
      `ip ${args.join(' ')} failed (${result.code ?? result.signal}): ${result.stderr.trim()}\ncommands:\n${commands.join('\n')}`,
    );
  }
}

export interface Availability {
  ok: boolean;
  /** Why network namespaces cannot be used (set when ok is false). */
  reason?: string;
}

let availability: Promise<Availability> | undefined;

/** Whether this process can create network namespaces and veth pairs (cached). */
export function namespacesAvailable(): Promise<Availability> {
  availability ??= probe();
  return availability;
}

async function probe(): Promise<Availability> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (platform is ${process.platform})` };
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, reason: `network namespaces need root (uid is ${uid})` };
  try {
    fs.accessSync('/etc', fs.constants.W_OK);
  } catch {
    return { ok: false, reason: `/etc is not writable (needed for ${NETNS_ETC_DIR}/<ns>/resolv.conf)` };
  }
  let version: ExecResult;
  try {
    version = await exec('ip', ['-V'], { timeoutMs: 5000 });
  } catch (err) {
    return { ok: false, reason: `iproute2 'ip' is not installed: ${(err as Error).message}` };
  }
  if (version.code !== 0) return { ok: false, reason: `'ip -V' failed: ${version.stderr.trim()}` };
  // A veth pair inside a throwaway namespace: proves both unshare(CLONE_NEWNET) and veth support
  // without touching the host's own network.
  let probeResult: ExecResult;
  try {
    probeResult = await exec('unshare', ['--net', 'ip', 'link', 'add', 'padprobe0', 'type', 'veth', 'peer', 'name', 'padprobe1'], {
      timeoutMs: 5000,
    });
  } catch (err) {
    return { ok: false, reason: `'unshare' is not available: ${(err as Error).message}` };
  }
  if (probeResult.code !== 0) {
    return {
      ok: false,
      reason: `cannot create a network namespace with a veth pair ('unshare --net ip link add … type veth' failed: ${probeResult.stderr.trim() || `exit ${probeResult.code}`})`,
    };
  }
  return { ok: true };
}

function ownerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return false;
  }
}

/**
 * Where test processes claim /29 blocks of the host-side veth pool: spec files running side by
 * side (mocha --parallel) each allocate networks, and checking the host's addresses alone leaves a
 * window between the check and `ip addr add` in which two processes can pick the same block.
 */
const BLOCK_CLAIMS_DIR = path.join(os.tmpdir(), 'pad-netns-blocks');

/** Claims a block for this process (O_EXCL create); undefined when another process holds or held it. */
export function claimBlock(block: number): string | undefined {
  fs.mkdirSync(BLOCK_CLAIMS_DIR, { recursive: true });
  const file = path.join(BLOCK_CLAIMS_DIR, String(block));
  try {
    fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
    return file;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined; // a dead owner's claim goes in the stale cleanup
    throw err;
  }
}

export function releaseBlockClaim(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Removes claims whose owner no longer runs (only at a process's first start, before it claims anything). */
function removeStaleClaims(stale: (pid: number) => boolean): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(BLOCK_CLAIMS_DIR);
  } catch {
    return;
  }
  for (const entry of entries) {
    const file = path.join(BLOCK_CLAIMS_DIR, entry);
    let owner: number;
    try {
      owner = Number(fs.readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    // An empty file is a claim being written: never stale.
    if (owner > 0 && stale(owner)) fs.rmSync(file, { force: true });
  }
}

export interface StaleCleanupResult {
  namespaces: string[];
  hostLinks: string[];
  etcDirs: string[];
  killedPids: number[];
}

/**
 * Removes namespaces, host-side veths and /etc/netns dirs made by this module for test processes
 * that no longer run (matched by name prefix and owner pid), and kills processes still inside those
 * namespaces (only processes the sandbox started live there). With `includeLive`, also those of
 * other live processes (never this process's).
 */
export async function cleanupStaleNamespaces(options: { includeLive?: boolean } = {}): Promise<StaleCleanupResult> {
  const result: StaleCleanupResult = { namespaces: [], hostLinks: [], etcDirs: [], killedPids: [] };
  const stale = (pid: number): boolean => pid !== process.pid && (options.includeLive || !ownerAlive(pid));

  const list = await exec('ip', ['netns', 'list'], { timeoutMs: 5000 }).catch(() => undefined);
  const namespaces = (list?.stdout ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => {
      const m = n ? NAMESPACE_RE.exec(n) : null;
      return !!m && stale(Number(m[1]));
    });
  for (const ns of namespaces) {
    const pids = await exec('ip', ['netns', 'pids', ns], { timeoutMs: 5000 }).catch(() => undefined);
    for (const pid of (pids?.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
        result.killedPids.push(pid);
      } catch {
        /* already gone */
      }
    }
  }

  const links = await exec('ip', ['-o', 'link', 'show'], { timeoutMs: 5000 }).catch(() => undefined);
  const hostLinks = (links?.stdout ?? '')
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => {
      const m = n ? HOST_LINK_RE.exec(n) : null;
      return !!m && stale(Number(m[1]));
    });

  await ipBatch([...hostLinks.map((l) => `link del ${l}`), ...namespaces.map((n) => `netns del ${n}`)], { force: true });
  result.namespaces.push(...namespaces);
  result.hostLinks.push(...hostLinks);

  let entries: string[] = [];
  try {
    entries = fs.readdirSync(NETNS_ETC_DIR);
  } catch {
    /* no /etc/netns */
  }
  for (const entry of entries) {
    const m = NAMESPACE_RE.exec(entry);
    if (!m || !stale(Number(m[1]))) continue;
    fs.rmSync(path.join(NETNS_ETC_DIR, entry), { recursive: true, force: true });
    result.etcDirs.push(entry);
  }
  removeEtcNetnsIfEmpty();
  removeStaleClaims((pid) => pid !== process.pid && !ownerAlive(pid));
  return result;
}

/** Removes /etc/netns when nothing is left in it (it does not exist on a stock system). */
export function removeEtcNetnsIfEmpty(): void {
  try {
    fs.rmdirSync(NETNS_ETC_DIR);
  } catch {
    /* not empty, or absent */
  }
}

/** What must go if the process exits before `stop()` ran. */
export interface ExitCleanupEntry {
  namespaces: string[];
  hostLinks: string[];
  etcDirs: string[];
  /** Processes started in the namespaces (agents, `run()` children). */
  pids: Set<number>;
  /** This network's claim on its veth block. */
  claimFile?: string;
}

const exitEntries = new Set<ExitCleanupEntry>();
const signalHandlers = new Map<NodeJS.Signals, () => void>();

/**
 * Registers what to remove if the process ends before `stop()`: on 'exit' (mocha's `exit: true`
 * included) and on SIGINT/SIGTERM/SIGHUP. The hooks exist only while something is registered.
 */
export function registerExitCleanup(entry: ExitCleanupEntry): () => void {
  exitEntries.add(entry);
  if (exitEntries.size === 1) installHooks();
  return () => {
    if (exitEntries.delete(entry) && exitEntries.size === 0) uninstallHooks();
  };
}

function installHooks(): void {
  process.on('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      cleanupAllSync();
      // Let the default action (or other handlers, e.g. mocha's) decide what happens next.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    signalHandlers.set(signal, handler);
    process.once(signal, handler);
  }
}

function uninstallHooks(): void {
  process.off('exit', cleanupAllSync);
  for (const [signal, handler] of signalHandlers) process.off(signal, handler);
  signalHandlers.clear();
}

/**
 * Last resort, synchronous because an 'exit' listener cannot wait: kills the namespaces' processes
 * and removes veths, namespaces and /etc/netns dirs of every network not stopped yet.
 */
export function cleanupAllSync(): void {
  const entries = [...exitEntries];
  exitEntries.clear();
  uninstallHooks();
  for (const entry of entries) {
    for (const pid of entry.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of entry.namespaces) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000 });
      for (const pid of (pids.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    const commands = [...entry.hostLinks.map((l) => `link del ${l}`), ...entry.namespaces.map((n) => `netns del ${n}`)];
    if (commands.length)
      spawnSync('ip', ['-force', '-batch', '-'], {
        input: `${commands.join('\n')}\n`,
        stdio: ['pipe', 'ignore', 'ignore'],
        timeout: 10_000,
      });
    for (const dir of entry.etcDirs) fs.rmSync(dir, { recursive: true, force: true });
    if (entry.claimFile) releaseBlockClaim(entry.claimFile);
  }
  removeEtcNetnsIfEmpty();
}

/** Names of this module's namespaces that currently exist (any owner). */
export async function listSandboxNamespaces(): Promise<string[]> {
  const list = await exec('ip', ['netns', 'list'], { timeoutMs: 5000 });
  return list.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => !!n && NAMESPACE_RE.test(n));
}
