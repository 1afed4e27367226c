/**
 * One loopback HTTP(S) server per sandbox service, with the shared request log and fault
 * mechanism applied uniformly. Services only supply a handler that maps a buffered request to
 * a response description.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ActiveFault, FaultInjector } from './faults';
import { RequestLog, redactQuery, type ServiceName } from './requestLog';

export interface SandboxRequest {
  method: string;
  url: URL;
  /** `url.pathname` with repeated slashes collapsed. */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  /** Body parsed as application/x-www-form-urlencoded. */
  form(): URLSearchParams;
  /** Case-insensitive single header value. */
  header(name: string): string | undefined;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON (Content-Type application/json unless set). */
  body?: string | Buffer | object;
  /** Facts recorded in the request log entry. */
  note?: Record<string, string>;
  /** Escape hatch for streaming responses (later services): write to `res` yourself. */
  raw?: (res: http.ServerResponse) => void | Promise<void>;
}

export type Handler = (req: SandboxRequest) => SandboxResponse | Promise<SandboxResponse>;

export interface ServiceServerOptions {
  service: ServiceName;
  /** TLS key/cert (PEM). Without it the server speaks plain HTTP (IMDS). */
  tls?: { key: string; cert: string };
  handler: Handler;
  log: RequestLog;
  faults: FaultInjector;
  /** Body for injected status faults, shaped like the real service's errors. */
  faultBody?: (status: number) => object;
  /** Port to try first (falls back to a random port if it is taken). */
  preferredPort?: number;
  /** Largest request body accepted (bytes). Default 64 MiB. */
  maxBodyBytes?: number;
}

export class ServiceServer {
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private listeningPort = 0;

  private constructor(
    readonly service: ServiceName,
    private readonly server: http.Server | https.Server,
    private readonly scheme: 'http' | 'https',
  ) {}

  get port(): number {
    return this.listeningPort;
  }

  /** `https://127.0.0.1:<port>` (or `http://` for plain services), no trailing slash. */
  get origin(): string {
    return `${this.scheme}://127.0.0.1:${this.listeningPort}`;
  }

  static async start(options: ServiceServerOptions): Promise<ServiceServer> {
    const holder: { instance?: ServiceServer } = {};
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      void holder.instance?.handle(req, res, options);
    };
    const server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener)
      : http.createServer(listener);
    const instance = new ServiceServer(options.service, server, options.tls ? 'https' : 'http');
    holder.instance = instance;
    server.on('connection', (socket: Socket) => {
      instance.sockets.add(socket);
      socket.on('close', () => instance.sockets.delete(socket));
    });
    // A client that fails the TLS handshake (e.g. does not trust the CA) must not crash the test run.
    server.on('tlsClientError', () => undefined);
    server.on('clientError', (_err, socket) => socket.destroy());
    instance.listeningPort = await listen(server, options.preferredPort);
    return instance;
  }

  /** Stops listening, destroys every open connection (including keep-alive ones) and pending fault timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await done;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, options: ServiceServerOptions): Promise<void> {
    const startedAt = new Date();
    // Concatenate rather than resolve: a path like //subscriptions/… (an SDK joining a scope that
    // starts with '/') would otherwise be read as a protocol-relative URL to host 'subscriptions'.
    const url = new URL(`${this.origin}${req.url ?? '/'}`);
    const path = url.pathname.replace(/\/{2,}/g, '/');
    const method = (req.method ?? 'GET').toUpperCase();
    const record = {
      service: options.service,
      method,
      path,
      query: redactQuery(url.searchParams),
      status: 0,
      startedAt,
      durationMs: 0,
    } as RequestLog[number];
    options.log.push(record);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      record.status = res.headersSent ? res.statusCode : 0;
      record.durationMs = Date.now() - startedAt.getTime();
    };
    res.on('finish', finish);
    res.on('close', finish);

    try {
      const body = await readBody(req, options.maxBodyBytes ?? 64 * 1024 * 1024);
      const fault = options.faults.take(options.service, method, path);
      if (fault) {
        record.fault = fault.id;
        if (fault.delayMs) await this.sleep(fault.delayMs);
        if (this.closed) return;
        if (fault.dropConnection) {
          req.socket.destroy();
          return;
        }
        if (fault.status !== undefined) {
          this.write(res, faultResponse(fault, options));
          return;
        }
      }
      const request: SandboxRequest = {
        method,
        url,
        path,
        headers: req.headers,
        body,
        text: () => body.toString('utf8'),
        form: () => new URLSearchParams(body.toString('utf8')),
        header: (name) => {
          const v = req.headers[name.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        },
      };
      const response = await options.handler(request);
      if (response.note) record.note = response.note;
      if (this.closed) return;
      if (response.raw) {
        res.statusCode = response.status;
        for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
        await response.raw(res);
        return;
      }
      this.write(res, response);
    } catch (err) {
      if (!res.headersSent && !this.closed) {
        this.write(res, {
          status: 500,
          body: { error: 'sandbox_internal_error', error_description: String((err as Error)?.stack ?? err) },
        });
      } else {
        res.destroy();
      }
    }
  }

  private write(res: http.ServerResponse, response: SandboxResponse): void {
    let payload: Buffer;
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    const hasContentType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
    if (response.body === undefined) {
      payload = Buffer.alloc(0);
    } else if (Buffer.isBuffer(response.body)) {
      payload = response.body;
    } else if (typeof response.body === 'string') {
      payload = Buffer.from(response.body, 'utf8');
      if (!hasContentType) headers['Content-Type'] = 'text/plain; charset=utf-8';
    } else {
      payload = Buffer.from(JSON.stringify(response.body), 'utf8');
      if (!hasContentType) headers['Content-Type'] = 'application/json; charset=utf-8';
    }
    headers['Content-Length'] = String(payload.length);
    res.writeHead(response.status, headers);
    res.end(payload);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

function faultResponse(fault: ActiveFault, options: ServiceServerOptions): SandboxResponse {
  const status = fault.status ?? 500;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
  let body: string | object;
  if (fault.body !== undefined) body = fault.body;
  else if (options.faultBody) body = options.faultBody(status);
  else body = { error: { code: `Http${status}`, message: `Injected sandbox fault: HTTP ${status}` } };
  return { status, headers, body, note: { fault: fault.id } };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`Request body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function listen(server: http.Server | https.Server, preferredPort: number | undefined): Promise<number> {
  const attempt = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, '127.0.0.1');
    });
  if (preferredPort === undefined) return attempt(0);
  return attempt(preferredPort).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') throw err;
    return attempt(0);
  });
}
