/**
 * The sandbox network's helper process inside an agent network namespace (started by network.ts
 * as `ip netns exec <ns> node netnsAgent.js`). It listens on addresses that exist only inside the
 * namespace — 127.0.0.1:<sandbox service port> so the sandbox's loopback URLs keep working in
 * there, and the private-endpoint / public-looking addresses the namespace's DNS hands out, port
 * 443 — and carries each connection to the host-side relay, prefixed with one line naming the
 * sandbox port to reach: `<port>\n`. The relay (in the test process) connects to 127.0.0.1:<port>.
 *
 * Protocol: JSON lines. stdin: `{ id, op: 'listen', listeners: [{ address, port, targetPort }] }`,
 * `{ id, op: 'ping' }`. stdout: `{ id, ok, error? }` replies and `{ event: 'connection', … }`.
 * The process exits when stdin closes (so it never outlives the test process that started it).
 *
 * Only Node built-ins: it runs with a minimal environment.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as readline from 'node:readline';

interface Listener {
  address: string;
  port: number;
  targetPort: number;
}

interface Command {
  id: number;
  op: 'listen' | 'ping';
  listeners?: Listener[];
}

function main(): void {
  const relayHost = process.env.PAD_RELAY_HOST;
  const relayPort = Number(process.env.PAD_RELAY_PORT);
  if (!relayHost || !relayPort) {
    process.stderr.write('netnsAgent: PAD_RELAY_HOST / PAD_RELAY_PORT not set\n');
    process.exit(2);
  }
  // IPv6 link-local chatter (router solicitations, DAD) on the veths is pointless here.
  for (const dev of (process.env.PAD_DISABLE_IPV6 ?? '').split(',').filter(Boolean)) {
    try {
      fs.writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '1');
    } catch {
      /* IPv6 may be compiled out */
    }
  }

  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const write = (obj: object): void => {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  };

  const onConnection = (listener: Listener, client: net.Socket): void => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    write({
      event: 'connection',
      address: listener.address,
      port: listener.port,
      targetPort: listener.targetPort,
      remoteAddress: client.remoteAddress,
    });
    const upstream = net.connect({ host: relayHost, port: relayPort });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.write(`${listener.targetPort}\n`);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = (listener: Listener): Promise<void> =>
    new Promise((resolve, reject) => {
      const server = net.createServer((socket) => onConnection(listener, socket));
      server.once('error', reject);
      server.listen({ host: listener.address, port: listener.port }, () => {
        server.off('error', reject);
        servers.push(server);
        resolve();
      });
    });

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let command: Command;
    try {
      command = JSON.parse(line) as Command;
    } catch {
      return;
    }
    if (command.op === 'ping') {
      write({ id: command.id, ok: true });
      return;
    }
    if (command.op === 'listen') {
      Promise.all((command.listeners ?? []).map(listen)).then(
        () => write({ id: command.id, ok: true }),
        (err: Error) => write({ id: command.id, ok: false, error: String(err?.message ?? err) }),
      );
    }
  });
  rl.on('close', () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    process.exit(0);
  });
  write({ event: 'ready', pid: process.pid });
}

if (require.main === module) main();
