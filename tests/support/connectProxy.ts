import * as http from 'http';
import * as https from 'https';
import * as net from 'net';

/** An HTTP CONNECT proxy on loopback that records which hosts were tunnelled through it. */
export interface RecordingProxy {
  url: string;
  tunnels: string[];
  close(): Promise<void>;
}

/**
 * `hosts` maps a tunnelled `host:port` to where it really is (a public Azure name the sandbox
 * serves on loopback), the way DNS would send the agent there.
 */
export async function startRecordingProxy(
  options: {
    username?: string;
    password?: string;
    hosts?: Record<string, { host: string; port: number }>;
    tls?: { key: string; cert: string };
  } = {},
): Promise<RecordingProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  // An https:// proxy (the agent's proxy URL may name one) speaks CONNECT inside TLS.
  const refuse = (_req: http.IncomingMessage, res: http.ServerResponse) => void res.writeHead(405).end();
  const server = options.tls ? https.createServer(options.tls, refuse) : http.createServer(refuse);
  const expectedAuth =
    options.username !== undefined ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}` : undefined;
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (expectedAuth && req.headers['proxy-authorization'] !== expectedAuth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="sandbox"\r\n\r\n');
      return;
    }
    const mapped = options.hosts?.[(req.url ?? '').toLowerCase()];
    const [host, port] = mapped ? [mapped.host, String(mapped.port)] : (req.url ?? '').split(':');
    tunnels.push(req.url ?? '');
    let established = false;
    const upstream = net.connect(Number(port), host, () => {
      established = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    // A tunnel that cannot be opened gets the answer tinyproxy 1.11 gives (measured: CONNECT to a
    // closed port → `HTTP/1.1 500 Unable to connect`); once open, a failure just cuts the tunnel.
    upstream.on('error', () => (established ? client.destroy() : client.end('HTTP/1.1 500 Unable to connect\r\n\r\n')));
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
