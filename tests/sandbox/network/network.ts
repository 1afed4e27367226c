/**
 * The sandbox's private network: two agent network namespaces on this machine, one "inside the
 * VNet" and one "outside", so that the product's line-of-sight preflight (OS resolver → TCP 443 →
 * TLS → HTTP, as kubectl does it) meets real resolver, socket and TLS behaviour.
 *
 *   const net = await PrivateNetwork.start({
 *     names: [{ fqdn: 'aks-1a2b3c4d.<guid>.privatelink.eastus.azmk8s.io', target: { port: aks.port } }],
 *     publicNames: [{ fqdn: 'myacr.azurecr.io', target: { port: acr.port } }],
 *     loopbackPorts: [entraPort, oidcPort, imdsPort, armPort],
 *     ca: sandbox.context.ca,
 *   });
 *   try {
 *     const r = await net.run(process.execPath, ['tasks/X/index.js'], { inside: true, env: { ...process.env, ...sandbox.env() } });
 *   } finally { await net.stop(); }
 *
 * Topology (per namespace; `inside` shown):
 *
 *   host (test process)                              namespace pad-<pid>-<n>-in
 *   ───────────────────                              ──────────────────────────
 *   pd<pid>-<n>i 10.250.X.1/30  ◄──── veth ────►     eth0 10.250.X.2/30   (only route: this /30)
 *     DNS server   10.250.X.1:53/udp                 /etc/resolv.conf → nameserver 10.250.X.1
 *     relay        10.250.X.1:<eph>  ◄── "<port>\n" ── agent (node): 127.0.0.1:<loopback ports>,
 *       → 127.0.0.1:<port> (sandbox servers)             <private/public addresses>:443 on lo
 *                                                    bh0 ⇄ bh1 veth: blackhole route, frames dropped
 *
 * Name resolution is real DNS from a server in the test process (dns.ts): inside, private-zone
 * names (`names`) resolve to VNet addresses (10.224.0.x); in both namespaces `publicNames` resolve
 * to public-looking addresses (198.51.100.x, TEST-NET-2, assigned only inside the namespaces);
 * everything else is NXDOMAIN. A hosts file cannot say NXDOMAIN-vs-NODATA-vs-SERVFAIL, CNAME
 * chains, or change answers mid-test; a DNS server can, and it is what kubectl's resolver really
 * talks to. /etc/hosts in the namespaces holds only localhost entries; nsswitch says `files dns`.
 *
 * Special endpoints (in both namespaces for the public-looking ones, inside only for 10.224.0.x):
 *   blackhole  10.224.0.254 / 198.51.100.254: routed into the bh0⇄bh1 veth pair with a permanent
 *              neighbour entry whose MAC (00:00:5e:00:53:01, the documentation MAC range) is not
 *              bh1's, so bh1 discards every frame (PACKET_OTHERHOST): a SYN is never answered and
 *              connect() hangs until the client's own timeout. (`ip route add blackhole` fails at
 *              once with EINVAL, an OUTPUT DROP rule gives EPERM, and this kernel has neither
 *              iptables/nft nor the dummy driver.) Nothing leaves the namespace.
 *   refused    10.224.0.253 / 198.51.100.253: a local address with no listener: RST at once.
 *   TLS name mismatch: `tls-mismatch.sandbox.test` (or any name with target 'tls-mismatch') reaches
 *              an HTTPS server whose certificate (issued by `ca`) names another host.
 * Names `blackhole.sandbox.test`, `refused.sandbox.test`, `tls-mismatch.sandbox.test` resolve to them.
 * A namespace has no default route: any other address fails with ENETUNREACH, so no test process can
 * reach anything off this machine.
 *
 * Everything is removed by `stop()`; an 'exit'/signal hook removes what a test left running;
 * `PrivateNetwork.cleanupStale()` (also run by the first `start()` of a process) removes leftovers of
 * crashed runs. Needs root; `PrivateNetwork.available()` says why not otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { DnsServer, normalizeDnsName, type DnsFault, type DnsQueryRecord, type DnsRecord } from './dns';
import { formatIpv4, ipv4InRange, ipv4RangesOverlap, parseIpv4Range, type Ipv4Range } from './ipv4';
import {
  claimBlock,
  cleanupStaleNamespaces,
  exec,
  hostLinkName,
  ipBatch,
  namespaceName,
  namespacesAvailable,
  NETNS_ETC_DIR,
  registerExitCleanup,
  releaseBlockClaim,
  removeEtcNetnsIfEmpty,
  type Availability,
  type ExitCleanupEntry,
  type StaleCleanupResult,
} from './netns';
import { createTestCa, type TestCa } from '../testCa';

export type { Availability, StaleCleanupResult } from './netns';
export type { DnsFault, DnsQueryRecord } from './dns';

/** Where a name leads. */
export type NameTarget =
  /** A sandbox server on 127.0.0.1:<port> (host), reached on port 443 of the name's address. */
  | { port: number }
  /** A CNAME to another name (resolved in the same view). */
  | { cname: string }
  | 'blackhole'
  | 'refused'
  | 'tls-mismatch';

export interface NameSpec {
  fqdn: string;
  target: NameTarget;
  /**
   * Address to hand out (IPv4 inside the namespaces: 10.224.0.0/16 for `names`, 198.51.100.0/24
   * for `publicNames`). Default: one address per distinct target, allocated from those ranges.
   */
  address?: string;
}

export interface PrivateNetworkOptions {
  /** The private DNS zone: these names resolve only inside the VNet namespace. */
  names?: NameSpec[];
  /**
   * Public DNS: these names resolve in both namespaces to public-looking addresses, except that
   * inside, a private-zone record of the same name wins (as a linked private DNS zone does).
   */
  publicNames?: NameSpec[];
  /** Sandbox ports reachable as 127.0.0.1:<port> inside both namespaces (Entra, OIDC, IMDS, ARM…). */
  loopbackPorts?: number[];
  /** CA that issues the TLS-mismatch endpoint's certificate (pass `sandbox.context.ca`). Default: a new CA (`caPem`). */
  ca?: TestCa;
  /** DNS names on the TLS-mismatch certificate. Default ['other-host.sandbox.test']. */
  tlsMismatchCertificateNames?: string[];
  /** Resolver options written to the namespaces' resolv.conf. Default timeout 1 s, 2 attempts. */
  resolver?: { timeoutSeconds?: number; attempts?: number };
}

export interface RunOptions {
  /** Run in the VNet namespace (true) or the outside one (false). */
  inside: boolean;
  /** Environment of the process, as for child_process.spawn (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Kill (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  input?: string | Buffer;
  cwd?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface NamespaceInfo {
  /** `ip netns` name. */
  readonly name: string;
  /** Address of the namespace's end of its veth. */
  readonly address: string;
  /** Address of the host's end: DNS server and relay. */
  readonly hostAddress: string;
}

export interface ConnectionRecord {
  view: 'inside' | 'outside';
  /** Address and port the client connected to inside the namespace. */
  address: string;
  port: number;
  /** Sandbox port on 127.0.0.1 it was carried to. */
  targetPort: number;
  at: Date;
}

type View = 'inside' | 'outside';
type Scope = 'private' | 'public';

/** VNet range the private-endpoint addresses come from (the AKS default node subnet). */
const PRIVATE_RANGE = { base: '10.224.0.', first: 4, last: 249 };
/** Public-looking addresses: TEST-NET-2 (RFC 5737), only ever assigned inside our namespaces. */
const PUBLIC_RANGE = { base: '198.51.100.', first: 4, last: 249 };
const SPECIAL = {
  private: { refused: '10.224.0.253', blackhole: '10.224.0.254' },
  public: { refused: '198.51.100.253', blackhole: '198.51.100.254' },
} as const;
/** Documentation MAC (RFC 7042) for the blackhole neighbour: never the MAC of bh1, so bh1 drops the frames. */
const BLACKHOLE_MAC = '00:00:5e:00:53:01';
/** Host-side /30 pairs come from here (a /29 per network: inside /30 then outside /30). */
const VETH_POOL = '10.250.0.0/16';
const BUILTIN_NAMES = {
  blackhole: 'blackhole.sandbox.test',
  refused: 'refused.sandbox.test',
  tlsMismatch: 'tls-mismatch.sandbox.test',
} as const;

let networkCounter = 0;
let staleCleanupDone = false;
const blocksInUse = new Set<number>();

interface NameRecord {
  spec: NameSpec;
  /** The DNS answer. */
  dns: DnsRecord;
}

class NamespaceRuntime implements NamespaceInfo {
  relay?: net.Server;
  dns?: DnsServer;
  agent?: ChildProcess;
  agentStderr = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  readonly relaySockets = new Set<net.Socket>();
  /** Address → sandbox port its :443 forwarder (run by the agent) leads to. */
  readonly listening = new Map<string, number>();

  constructor(
    readonly view: View,
    readonly name: string,
    readonly hostLink: string,
    readonly address: string,
    readonly hostAddress: string,
  ) {}

  onAgentLine(line: string, onEvent: (event: Record<string, unknown>) => void): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve();
      else p.reject(new Error(`network agent in ${this.name}: ${String(msg.error)}`));
      return;
    }
    onEvent(msg);
  }

  command(op: string, extra: Record<string, unknown> = {}): Promise<void> {
    const agent = this.agent;
    if (!agent?.stdin || agent.exitCode !== null)
      return Promise.reject(new Error(`network agent in ${this.name} is not running: ${this.agentStderr.trim()}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`network agent in ${this.name} did not answer '${op}' within 10 s: ${this.agentStderr.trim()}`));
      }, 10_000);
      this.pending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      agent.stdin!.write(`${JSON.stringify({ id, op, ...extra })}\n`);
    });
  }

  failPending(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

export class PrivateNetwork {
  /** Every DNS query either namespace's resolver sent, in arrival order. */
  readonly dnsQueries: DnsQueryRecord[] = [];
  /** Every TCP connection accepted on a forwarded address inside a namespace. */
  readonly connections: ConnectionRecord[] = [];
  /** PEM of the CA that issued the TLS-mismatch certificate (`options.ca`'s when given). */
  readonly caPem: string;
  /** Addresses and names of the special endpoints. */
  readonly endpoints = {
    port: 443,
    blackhole: { fqdn: BUILTIN_NAMES.blackhole, privateAddress: SPECIAL.private.blackhole, publicAddress: SPECIAL.public.blackhole },
    refused: { fqdn: BUILTIN_NAMES.refused, privateAddress: SPECIAL.private.refused, publicAddress: SPECIAL.public.refused },
    tlsMismatch: { fqdn: BUILTIN_NAMES.tlsMismatch, certificateNames: [] as string[] },
  };

  private readonly records: Record<Scope, Map<string, NameRecord>> = { private: new Map(), public: new Map() };
  private readonly faults = new Map<string, { fault: DnsFault; views: Set<View> }>();
  /** `${scope}|${targetKey}` → address. */
  private readonly allocated = new Map<string, string>();
  private readonly allowedPorts = new Set<number>();
  private readonly children = new Set<ChildProcess>();
  private readonly namespaces: Record<View, NamespaceRuntime>;
  private readonly exitEntry: ExitCleanupEntry;
  private readonly unregisterExit: () => void;
  private mismatchServer?: https.Server;
  private readonly mismatchSockets = new Set<net.Socket>();
  private mismatchPort = 0;
  private stopped?: Promise<void>;
  private readonly block: number;
  private readonly ca: TestCa;

  private constructor(
    private readonly options: PrivateNetworkOptions,
    index: number,
    block: number,
    private readonly claimFile: string,
  ) {
    this.block = block;
    const base = parseIpv4Range(VETH_POOL)!.network + block * 8;
    const make = (view: View, offset: number): NamespaceRuntime => {
      const role = view === 'inside' ? 'in' : 'out';
      return new NamespaceRuntime(
        view,
        namespaceName(process.pid, index, role),
        hostLinkName(process.pid, index, role),
        formatIpv4(base + offset + 2),
        formatIpv4(base + offset + 1),
      );
    };
    this.namespaces = { inside: make('inside', 0), outside: make('outside', 4) };
    const ca = options.ca ?? createTestCa();
    this.caPem = ca.certPem;
    this.endpoints.tlsMismatch.certificateNames = options.tlsMismatchCertificateNames ?? ['other-host.sandbox.test'];
    this.ca = ca;
    this.exitEntry = {
      namespaces: [this.namespaces.inside.name, this.namespaces.outside.name],
      hostLinks: [this.namespaces.inside.hostLink, this.namespaces.outside.hostLink],
      etcDirs: [this.etcDir('inside'), this.etcDir('outside')],
      pids: new Set(),
      claimFile,
    };
    this.unregisterExit = registerExitCleanup(this.exitEntry);
  }

  /** Whether namespaces can be used here (root, iproute2, unshare, veth). Callers skip with `reason` otherwise. */
  static available(): Promise<Availability> {
    return namespacesAvailable();
  }

  /** Removes namespaces, veths, /etc/netns dirs and processes left by test processes that no longer run. */
  static async cleanupStale(options: { includeLive?: boolean } = {}): Promise<StaleCleanupResult> {
    return cleanupStaleNamespaces(options);
  }

  static async start(options: PrivateNetworkOptions = {}): Promise<PrivateNetwork> {
    const availability = await namespacesAvailable();
    if (!availability.ok) throw new Error(`PrivateNetwork unavailable: ${availability.reason}`);
    if (!staleCleanupDone) {
      staleCleanupDone = true;
      await cleanupStaleNamespaces();
    }
    const { block, claimFile } = await allocateBlock();
    const network = new PrivateNetwork(options, networkCounter++, block, claimFile);
    try {
      await network.setUp();
    } catch (err) {
      await network.stop().catch(() => undefined);
      throw err;
    }
    return network;
  }

  /** The VNet namespace. */
  get inside(): NamespaceInfo {
    return this.namespace(true);
  }

  /** The namespace outside the VNet. */
  get outside(): NamespaceInfo {
    return this.namespace(false);
  }

  namespace(inside: boolean): NamespaceInfo {
    const ns = inside ? this.namespaces.inside : this.namespaces.outside;
    return { name: ns.name, address: ns.address, hostAddress: ns.hostAddress };
  }

  /** `{ command: 'ip', args: ['netns', 'exec', <ns>, command, ...args] }` for callers that spawn themselves. `stop()` kills whatever still runs in the namespaces. */
  spawnArgs(inside: boolean, command: string, args: string[] = []): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.namespace(inside).name, command, ...args] };
  }

  /** spawnArgs for a Node process: `nodeArgs(true, ['tasks/X/index.js'])`. */
  nodeArgs(inside: boolean, scriptAndArgs: string[]): { command: string; args: string[] } {
    return this.spawnArgs(inside, process.execPath, scriptAndArgs);
  }

  /** Starts a process in a namespace (tracked: killed by `stop()`). */
  spawn(command: string, args: string[], options: Omit<RunOptions, 'timeoutMs' | 'input'>): ChildProcess {
    if (this.stopped) throw new Error('PrivateNetwork is stopped');
    const { command: cmd, args: full } = this.spawnArgs(options.inside, command, args);
    const child = spawn(cmd, full, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    if (child.pid) this.exitEntry.pids.add(child.pid);
    child.once('exit', () => {
      this.children.delete(child);
      if (child.pid) this.exitEntry.pids.delete(child.pid);
    });
    return child;
  }

  /** Runs a process in a namespace and collects its output (`ip netns exec` execs the command, so a timeout kills it directly). */
  run(command: string, args: string[], options: RunOptions): Promise<RunResult> {
    const started = Date.now();
    const child = this.spawn(command, args, options);
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      child.stdout!.on('data', (c: Buffer) => out.push(c));
      child.stderr!.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? 60_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          timedOut,
          durationMs: Date.now() - started,
        });
      });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(options.input ?? '');
    });
  }

  /** `run(process.execPath, scriptAndArgs, options)`. */
  runNode(scriptAndArgs: string[], options: RunOptions): Promise<RunResult> {
    return this.run(process.execPath, scriptAndArgs, options);
  }

  /** Adds (or replaces) DNS records; new targets get addresses and forwarders. */
  async addNames(scope: Scope, specs: NameSpec[]): Promise<void> {
    const listeners: Record<View, { address: string; port: number; targetPort: number }[]> = { inside: [], outside: [] };
    const addresses: Record<View, string[]> = { inside: [], outside: [] };
    for (const spec of specs) {
      const fqdn = normalizeDnsName(spec.fqdn);
      const target = spec.target;
      if (typeof target === 'object' && 'cname' in target) {
        this.records[scope].set(fqdn, { spec, dns: { type: 'CNAME', target: normalizeDnsName(target.cname) } });
        continue;
      }
      const address = this.addressFor(scope, spec);
      this.records[scope].set(fqdn, { spec, dns: { type: 'A', addresses: [address] } });
      const targetPort = target === 'tls-mismatch' ? this.mismatchPort : typeof target === 'object' ? target.port : undefined;
      if (targetPort === undefined) continue; // blackhole / refused: nothing listens
      this.allowedPorts.add(targetPort);
      const views: View[] = scope === 'private' ? ['inside'] : ['inside', 'outside'];
      for (const view of views) {
        const ns = this.namespaces[view];
        const existing = ns.listening.get(address);
        if (existing === targetPort) continue;
        if (existing !== undefined)
          throw new Error(`${spec.fqdn}: address ${address} already leads to port ${existing}, not ${targetPort}`);
        ns.listening.set(address, targetPort);
        addresses[view].push(address);
        listeners[view].push({ address, port: 443, targetPort });
      }
    }
    await Promise.all(
      (['inside', 'outside'] as const).map(async (view) => {
        const ns = this.namespaces[view];
        if (addresses[view].length)
          await ipBatch(
            addresses[view].map((a) => `addr add ${a}/32 dev lo`),
            { netns: ns.name },
          );
        if (listeners[view].length) await ns.command('listen', { listeners: listeners[view] });
      }),
    );
  }

  /** Removes a DNS record (the name then gets NXDOMAIN in that scope), e.g. "private DNS zone not linked". */
  removeName(scope: Scope, fqdn: string): void {
    this.records[scope].delete(normalizeDnsName(fqdn));
  }

  /** Makes the namespaces' DNS misbehave for one name (`undefined` clears). Default: both views. */
  setDnsFault(fqdn: string, fault: DnsFault | undefined, views: View[] = ['inside', 'outside']): void {
    const name = normalizeDnsName(fqdn);
    if (!fault) this.faults.delete(name);
    else this.faults.set(name, { fault, views: new Set(views) });
  }

  /** What the resolver in a namespace gets for a name (CNAMEs followed); undefined for NXDOMAIN. */
  addressOf(fqdn: string, inside: boolean): string | undefined {
    let name = normalizeDnsName(fqdn);
    for (let i = 0; i < 8; i++) {
      const rec = this.lookup(inside ? 'inside' : 'outside', name);
      if (!rec) return undefined;
      if (rec.type === 'A') return rec.addresses[0];
      name = rec.target;
    }
    return undefined;
  }

  /** Removes everything: processes in the namespaces, servers, veths, namespaces, /etc/netns dirs. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.tearDown();
    return this.stopped;
  }

  // -----------------------------------------------------------------------------------------

  private etcDir(view: View): string {
    return path.join(NETNS_ETC_DIR, this.namespaces[view].name);
  }

  private lookup(view: View, name: string): DnsRecord | undefined {
    if (view === 'inside') {
      const priv = this.records.private.get(name);
      if (priv) return priv.dns;
    }
    return this.records.public.get(name)?.dns;
  }

  private addressFor(scope: Scope, spec: NameSpec): string {
    const target = spec.target;
    const special = SPECIAL[scope];
    if (target === 'blackhole') return special.blackhole;
    if (target === 'refused') return special.refused;
    const range = scope === 'private' ? PRIVATE_RANGE : PUBLIC_RANGE;
    if (spec.address) {
      const allowed = scope === 'private' ? '10.224.0.0/16' : '198.51.100.0/24';
      if (!ipv4InRange(spec.address, allowed)) throw new Error(`NameSpec.address ${spec.address} for ${spec.fqdn} must be in ${allowed}`);
      return spec.address;
    }
    const key = `${scope}|${target === 'tls-mismatch' ? 'tls-mismatch' : `port:${(target as { port: number }).port}`}`;
    const existing = this.allocated.get(key);
    if (existing) return existing;
    const used = new Set([...this.allocated.values()]);
    for (let i = range.first; i <= range.last; i++) {
      const candidate = `${range.base}${i}`;
      if (!used.has(candidate)) {
        this.allocated.set(key, candidate);
        return candidate;
      }
    }
    throw new Error(`No free ${scope} addresses left`);
  }

  private async setUp(): Promise<void> {
    const options = this.options;
    const resolver = { timeoutSeconds: options.resolver?.timeoutSeconds ?? 1, attempts: options.resolver?.attempts ?? 2 };
    await this.startMismatchServer();
    for (const port of options.loopbackPorts ?? []) this.allowedPorts.add(port);

    const nsswitch = await readNsswitch();
    const hostname = os.hostname();
    const { inside, outside } = this.namespaces;

    // Host side, one batch: namespaces, veth pairs (namespace ends created in place), addresses.
    await ipBatch(
      [inside, outside].flatMap((ns) => [
        `netns add ${ns.name}`,
        `link add ${ns.hostLink} type veth peer name eth0 netns ${ns.name}`,
        `addr add ${ns.hostAddress}/30 dev ${ns.hostLink}`,
        `link set ${ns.hostLink} up`,
      ]),
    );
    for (const ns of [inside, outside]) {
      try {
        fs.writeFileSync(`/proc/sys/net/ipv6/conf/${ns.hostLink}/disable_ipv6`, '1');
      } catch {
        /* no IPv6 */
      }
    }

    await Promise.all(
      [inside, outside].map(async (ns) => {
        const dir = this.etcDir(ns.view);
        await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
        await Promise.all([
          fsp.writeFile(
            path.join(dir, 'resolv.conf'),
            [
              `# Private AKS Deploy sandbox: ${ns.name} (${ns.view === 'inside' ? 'inside' : 'outside'} the VNet)`,
              `nameserver ${ns.hostAddress}`,
              `options timeout:${resolver.timeoutSeconds} attempts:${resolver.attempts}`,
              '',
            ].join('\n'),
          ),
          fsp.writeFile(
            path.join(dir, 'hosts'),
            ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${hostname}`, ''].join('\n'),
          ),
          fsp.writeFile(path.join(dir, 'nsswitch.conf'), nsswitch),
        ]);
        const specials = ns.view === 'inside' ? [SPECIAL.private, SPECIAL.public] : [SPECIAL.public];
        await ipBatch(
          [
            'link set lo up',
            `addr add ${ns.address}/30 dev eth0`,
            'link set eth0 up',
            'link add bh0 type veth peer name bh1',
            'link set bh0 up',
            'link set bh1 up',
            ...specials.flatMap((s) => [
              `addr add ${s.refused}/32 dev lo`,
              `route add ${s.blackhole}/32 dev bh0`,
              `neigh replace ${s.blackhole} lladdr ${BLACKHOLE_MAC} dev bh0 nud permanent`,
            ]),
          ],
          { netns: ns.name },
        );
        await this.startHostServices(ns);
        await this.startAgent(ns);
      }),
    );

    const loopback = (options.loopbackPorts ?? []).map((port) => ({ address: '127.0.0.1', port, targetPort: port }));
    await Promise.all([inside, outside].map((ns) => (loopback.length ? ns.command('listen', { listeners: loopback }) : Promise.resolve())));

    // The scenario's names first, so they get the first addresses of each range (10.224.0.4, …).
    const builtins: NameSpec[] = [
      { fqdn: BUILTIN_NAMES.blackhole, target: 'blackhole' },
      { fqdn: BUILTIN_NAMES.refused, target: 'refused' },
      { fqdn: BUILTIN_NAMES.tlsMismatch, target: 'tls-mismatch' },
    ];
    await this.addNames('private', [...(options.names ?? []), ...builtins]);
    await this.addNames('public', [...(options.publicNames ?? []), ...builtins]);
  }

  private async startMismatchServer(): Promise<void> {
    const cert = this.ca.issueServerCertificate(this.endpoints.tlsMismatch.certificateNames, []);
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`sandbox: this server's certificate names ${this.endpoints.tlsMismatch.certificateNames.join(', ')}\n`);
    });
    server.on('connection', (s: net.Socket) => {
      this.mismatchSockets.add(s);
      s.on('close', () => this.mismatchSockets.delete(s));
    });
    server.on('tlsClientError', () => undefined);
    this.mismatchServer = server;
    this.mismatchPort = await listenOn(server, '127.0.0.1', 0);
  }

  /** Relay (namespace → 127.0.0.1:<allowed port>) and DNS server on the host end of the namespace's veth. */
  private async startHostServices(ns: NamespaceRuntime): Promise<void> {
    const relay = net.createServer((socket) => this.onRelayConnection(ns, socket));
    ns.relay = relay;
    await listenOn(relay, ns.hostAddress, 0);
    ns.dns = await DnsServer.start({
      address: ns.hostAddress,
      view: ns.view,
      log: this.dnsQueries,
      lookup: (name) => this.lookup(ns.view, name),
      fault: (name) => {
        const f = this.faults.get(name);
        return f && f.views.has(ns.view) ? f.fault : undefined;
      },
    });
  }

  private onRelayConnection(ns: NamespaceRuntime, socket: net.Socket): void {
    ns.relaySockets.add(socket);
    socket.on('close', () => ns.relaySockets.delete(socket));
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(0x0a);
      if (nl < 0) {
        if (head.length > 16) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const port = Number(head.subarray(0, nl).toString('ascii'));
      const rest = head.subarray(nl + 1);
      // Only the sandbox's own servers, only on loopback.
      if (!this.allowedPorts.has(port)) {
        socket.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port });
      ns.relaySockets.add(upstream);
      upstream.on('close', () => {
        ns.relaySockets.delete(upstream);
        socket.destroy();
      });
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
      upstream.once('connect', () => {
        if (rest.length) upstream.write(rest);
        socket.pipe(upstream);
        upstream.pipe(socket);
        socket.resume();
      });
    };
    socket.on('data', onData);
  }

  private async startAgent(ns: NamespaceRuntime): Promise<void> {
    const script = path.join(__dirname, 'netnsAgent.js');
    const agent = spawn('ip', ['netns', 'exec', ns.name, process.execPath, script], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        PAD_RELAY_HOST: ns.hostAddress,
        PAD_RELAY_PORT: String((ns.relay!.address() as net.AddressInfo).port),
        PAD_DISABLE_IPV6: 'eth0,bh0,bh1',
      },
    });
    ns.agent = agent;
    if (agent.pid) this.exitEntry.pids.add(agent.pid);
    agent.stderr!.on('data', (c: Buffer) => {
      ns.agentStderr = (ns.agentStderr + c.toString('utf8')).slice(-4000);
    });
    agent.stdin!.on('error', () => undefined);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`network agent in ${ns.name} did not start within 10 s: ${ns.agentStderr.trim()}`)),
        10_000,
      );
      agent.once('exit', (code, signal) => {
        clearTimeout(timer);
        const err = new Error(`network agent in ${ns.name} exited (${code ?? signal}): ${ns.agentStderr.trim()}`);
        ns.failPending(err);
        reject(err);
      });
      agent.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      const rl = readline.createInterface({ input: agent.stdout! });
      rl.on('line', (line) =>
        ns.onAgentLine(line, (event) => {
          if (event.event === 'ready') {
            clearTimeout(timer);
            resolve();
          } else if (event.event === 'connection') {
            this.connections.push({
              view: ns.view,
              address: String(event.address),
              port: Number(event.port),
              targetPort: Number(event.targetPort),
              at: new Date(),
            });
          }
        }),
      );
    });
    await ready;
  }

  private async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    const namespaces = [this.namespaces.inside, this.namespaces.outside];

    // 1. Processes: run()/spawn() children, agents, then anything else still inside (spawnArgs users).
    const exits: Promise<unknown>[] = [];
    const killChild = (child: ChildProcess | undefined): void => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      exits.push(new Promise((resolve) => child.once('exit', resolve)));
      child.kill('SIGKILL');
    };
    for (const child of this.children) killChild(child);
    for (const ns of namespaces) killChild(ns.agent);
    await attempt(async () => {
      for (const ns of namespaces) {
        const pids = await exec('ip', ['netns', 'pids', ns.name], { timeoutMs: 5000 }).catch(() => undefined);
        for (const pid of (pids?.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    });
    await Promise.race([Promise.all(exits), delay(5000)]);

    // 2. Servers in this process.
    for (const ns of namespaces) {
      for (const s of ns.relaySockets) s.destroy();
      await attempt(() => closeServer(ns.relay));
      await attempt(() => ns.dns?.close());
    }
    for (const s of this.mismatchSockets) s.destroy();
    await attempt(() => closeServer(this.mismatchServer));

    // 3. Kernel objects and files. Deleting the host end removes the pair at once (a namespace's
    //    own cleanup is deferred by the kernel).
    await attempt(() =>
      ipBatch([...namespaces.map((ns) => `link del ${ns.hostLink}`), ...namespaces.map((ns) => `netns del ${ns.name}`)], { force: true }),
    );
    for (const ns of namespaces) await attempt(() => fsp.rm(this.etcDir(ns.view), { recursive: true, force: true }));
    removeEtcNetnsIfEmpty();

    this.unregisterExit();
    blocksInUse.delete(this.block);
    releaseBlockClaim(this.claimFile);
    if (errors.length) throw new AggregateError(errors, `PrivateNetwork.stop: ${errors.length} step(s) failed`);
  }
}

// ---------------------------------------------------------------------------------------------

/** Picks a /29 in 10.250.0.0/16 that no host address or route overlaps and no other network (of any test process) has claimed. */
async function allocateBlock(): Promise<{ block: number; claimFile: string }> {
  const [addrs, routes] = await Promise.all([
    exec('ip', ['-4', '-o', 'addr', 'show'], { timeoutMs: 5000 }),
    exec('ip', ['-4', 'route', 'show', 'table', 'all'], { timeoutMs: 5000 }),
  ]);
  const taken: Ipv4Range[] = [];
  for (const m of addrs.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) {
    const r = parseIpv4Range(m[1]);
    if (r && r.prefix >= 8) taken.push(r);
  }
  for (const line of routes.stdout.split('\n')) {
    const dst = line
      .trim()
      .split(/\s+/)
      .find((w, i) => i < 2 && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(w));
    const r = dst ? parseIpv4Range(dst) : undefined;
    if (r && r.prefix >= 8 && !(r.network >>> 24 === 127)) taken.push(r);
  }
  const pool = parseIpv4Range(VETH_POOL)!;
  const blocks = 2 ** (32 - pool.prefix) / 8;
  const start = (process.pid * 97 + networkCounter * 7919) % blocks;
  for (let i = 0; i < blocks; i++) {
    const block = (start + i) % blocks;
    if (block === 0 || blocksInUse.has(block)) continue;
    const range: Ipv4Range = { network: pool.network + block * 8, prefix: 29, mask: 0xfffffff8, text: '' };
    if (taken.some((t) => ipv4RangesOverlap(t, range))) continue;
    const claimFile = claimBlock(block);
    if (!claimFile) continue;
    blocksInUse.add(block);
    return { block, claimFile };
  }
  throw new Error(`No free /29 left in ${VETH_POOL}`);
}

async function readNsswitch(): Promise<string> {
  let text = '';
  try {
    text = await fsp.readFile('/etc/nsswitch.conf', 'utf8');
  } catch {
    /* none */
  }
  // Only files + DNS: nss modules such as `resolve` (systemd-resolved over D-Bus) or mdns would
  // answer from outside the namespace.
  const hostsLine = 'hosts:          files dns';
  if (/^hosts:.*$/m.test(text)) return text.replace(/^hosts:.*$/m, hostsLine);
  return `${text}${text && !text.endsWith('\n') ? '\n' : ''}${hostsLine}\n`;
}

function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server || !server.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
