/**
 * The public API server's IP filter (apiServerAccessProfile.authorizedIPRanges) in front of an AKS
 * API server: a TCP listener that forwards the agent's connections when its egress IP is in the
 * ranges in force, and otherwise holds them without a byte in reply, as the real filter drops the
 * agent's packets (the client's TLS handshake times out). A change of the ranges takes effect
 * `propagationSeconds` after ARM applied it; until then the previous ranges decide.
 */
import * as net from 'node:net';
import { ipv4InRange } from '../network/ipv4';

export interface GateOptions {
  targetPort: number;
  /** The cluster's ranges now, before the last change, and when it changed. */
  ranges: () => { current: string[]; previous: string[]; changedAt: number };
  agentEgressIp: () => string;
  propagationSeconds: number;
}

export class AuthorizedRangesGate {
  private readonly sockets = new Set<net.Socket>();
  /** Connections held (dropped by the filter), for tests. */
  dropped = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly options: GateOptions,
  ) {}

  static async start(options: GateOptions): Promise<AuthorizedRangesGate> {
    const holder: { gate?: AuthorizedRangesGate } = {};
    const server = net.createServer((socket) => holder.gate!.accept(socket));
    const gate = new AuthorizedRangesGate(server, options);
    holder.gate = gate;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return gate;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Whether the agent's egress IP gets through now. Empty ranges: no filtering. */
  admitsAgent(now = Date.now()): boolean {
    const { current, previous, changedAt } = this.options.ranges();
    const inForce = now - changedAt >= this.options.propagationSeconds * 1000 ? current : previous;
    const ip = this.options.agentEgressIp();
    return inForce.length === 0 || inForce.some((r) => ipv4InRange(ip, r));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (!this.admitsAgent()) {
      this.dropped++;
      return;
    }
    const upstream = net.connect(this.options.targetPort, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  }

  async close(): Promise<void> {
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await done;
  }
}
