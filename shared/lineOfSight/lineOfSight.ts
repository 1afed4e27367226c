import * as dns from 'dns';
import * as net from 'net';
import * as tls from 'tls';
import * as http from 'http';
import * as https from 'https';
import { basicProxyAuthorization, type AgentProxy, type AgentRoute } from '../net/agentHttpSettings';
import { DeadlineExceededError, withDeadline } from '../net/deadline';

/** One network step from the agent to an endpoint, in the order a client takes them. */
export type ProbeStep = 'dns' | 'tcp' | 'tls' | 'http';

export interface StepResult {
  step: ProbeStep;
  ok: boolean;
  /** What was seen: addresses, the HTTP status, the error code. */
  detail: string;
  /** Node's error code when the step failed (ENOTFOUND, ECONNREFUSED, ETIMEDOUT, ERR_TLS_CERT_ALTNAME_INVALID, …). */
  errorCode?: string;
  ms: number;
}

export interface EndpointProbe {
  /** What the endpoint is to the user: "AKS API server", "ACR login server". */
  label: string;
  host: string;
  port: number;
  /** CAs the endpoint's certificate must chain to (the cluster CA, or public roots plus the agent's CA); Node's roots when omitted. */
  ca?: string[];
  /** The HTTP path asked without credentials: /readyz for AKS, /v2/ for ACR. */
  path: string;
  /** HTTP statuses that prove the endpoint answers the agent (401 = reachable, needs auth). */
  reachableStatuses: number[];
  /** The way kubectl would go: straight (the default), or through the agent's proxy with CONNECT. */
  route?: AgentRoute;
}

export interface EndpointResult {
  probe: EndpointProbe;
  steps: StepResult[];
  /** Addresses the name resolved to. */
  addresses: string[];
  /** The HTTP status and body head, when the HTTP step ran. */
  http?: { status: number; body: string };
  /** Which way the probe went: straight, through the agent's proxy, or straight because the bypass list names the host. */
  route?: AgentRoute['kind'];
  /** The proxy's answer to CONNECT, when it was not 200. */
  proxyStatus?: number;
  ok: boolean;
}

const PRIVATE_V4 = [/^10\./, /^172\.(1[6-9]|2\d|3[01])\./, /^192\.168\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, /^127\./];

/** Whether an address is private (RFC 1918, CGNAT, loopback, IPv6 ULA/loopback). */
export function isPrivateAddress(address: string): boolean {
  if (net.isIPv6(address)) return /^(fc|fd)/i.test(address) || address === '::1';
  return PRIVATE_V4.some((r) => r.test(address));
}

function errorCodeOf(err: unknown): string {
  if (err instanceof DeadlineExceededError) return 'ETIMEDOUT';
  const e = err as { code?: string };
  return e.code ?? 'EUNKNOWN';
}

async function timed<T>(
  step: ProbeStep,
  deadlineMs: number,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value?: T; result: StepResult }> {
  const started = Date.now();
  try {
    const value = await withDeadline(deadlineMs, work, () => new DeadlineExceededError(what, deadlineMs));
    return { value, result: { step, ok: true, detail: '', ms: Date.now() - started } };
  } catch (err) {
    const code = errorCodeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    return { result: { step, ok: false, errorCode: code, detail: message, ms: Date.now() - started } };
  }
}

/**
 * Walks DNS (through the operating system's resolver, as kubectl does), TCP, TLS (with the
 * endpoint's CA and name) and one unauthenticated HTTP request, each within its deadline, and
 * stops at the first step that fails. No credential is sent.
 */
export async function probeEndpoint(probe: EndpointProbe, stepDeadlineMs: number): Promise<EndpointResult> {
  if (probe.route?.kind === 'proxy') return probeThroughProxy(probe, probe.route.proxy, stepDeadlineMs);
  const steps: StepResult[] = [];
  const done = (extra: Partial<EndpointResult> = {}): EndpointResult => ({
    probe,
    steps,
    addresses: [],
    route: probe.route?.kind ?? 'direct',
    ok: steps.every((s) => s.ok),
    ...extra,
  });

  const lookup = await timed('dns', stepDeadlineMs, `DNS lookup of ${probe.host}`, () =>
    dns.promises.lookup(probe.host, { all: true, verbatim: true }),
  );
  const addresses = (lookup.value ?? []).map((a) => a.address);
  lookup.result.detail = lookup.result.ok ? addresses.join(', ') : lookup.result.detail;
  steps.push(lookup.result);
  if (!lookup.result.ok) return done({ addresses });
  const address = addresses[0];

  const connect = await timed(
    'tcp',
    stepDeadlineMs,
    `TCP connect to ${address}:${probe.port}`,
    (signal) =>
      new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: address, port: probe.port });
        const abort = () => socket.destroy(new DeadlineExceededError('TCP connect', stepDeadlineMs));
        signal.addEventListener('abort', abort, { once: true });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      }),
  );
  connect.result.detail = connect.result.ok ? `${address}:${probe.port} accepted` : connect.result.detail;
  steps.push(connect.result);
  if (!connect.result.ok) return done({ addresses });

  const ca = probe.ca;
  const handshake = await timed(
    'tls',
    stepDeadlineMs,
    `TLS handshake with ${probe.host}`,
    (signal) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: address, port: probe.port, servername: probe.host, ca, ALPNProtocols: ['http/1.1'] });
        signal.addEventListener('abort', () => socket.destroy(), { once: true });
        socket.once('secureConnect', () => {
          const cn = socket.getPeerCertificate()?.subject?.CN ?? '';
          const subject = Array.isArray(cn) ? cn.join(', ') : cn;
          socket.destroy();
          resolve(subject);
        });
        socket.once('error', reject);
      }),
  );
  handshake.result.detail = handshake.result.ok
    ? `certificate for ${probe.host} verified${handshake.value ? ` (CN ${handshake.value})` : ''}`
    : handshake.result.detail;
  steps.push(handshake.result);
  if (!handshake.result.ok) return done({ addresses });

  const request = await timed('http', stepDeadlineMs, `GET ${probe.path} on ${probe.host}`, (signal) =>
    anonymousGet((onResponse) =>
      https.request(
        {
          host: address,
          port: probe.port,
          servername: probe.host,
          path: probe.path,
          method: 'GET',
          ca,
          signal,
          agent: false,
          headers: { Host: probe.host, 'User-Agent': 'PrivateAksDeploy-preflight' },
        },
        onResponse,
      ),
    ),
  );
  steps.push(judgedHttpStep(probe, request));
  return done({ addresses, http: request.value });
}

/** A probe's anonymous GET on whatever transport `send` opens: the status and the first 2 KiB of the body. */
function anonymousGet(
  send: (onResponse: (res: http.IncomingMessage) => void) => http.ClientRequest,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = send((res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < 2048 ? (body += c) : undefined));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** The HTTP step passes on a status that means "reachable" for this endpoint (401 from an API server, say). */
function judgedHttpStep(probe: EndpointProbe, request: { result: StepResult; value?: { status: number } }): StepResult {
  if (request.value) {
    request.result.ok = probe.reachableStatuses.includes(request.value.status);
    request.result.detail = `HTTP ${request.value.status}`;
  }
  return request.result;
}

/** The proxy answered CONNECT with something else than 200. */
class ProxyTunnelRefused extends Error {
  readonly code = 'EPROXYREFUSED';
  constructor(
    readonly status: number,
    statusLine: string,
  ) {
    super(`the proxy answered CONNECT with ${statusLine}`);
  }
}

/**
 * Opens a CONNECT tunnel to host:port through an HTTP(S) proxy, with Basic credentials when the
 * agent has them (what https-proxy-agent and Go's net/http send), and resolves with the socket.
 */
function openTunnel(proxy: AgentProxy, host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const p = new URL(proxy.proxyUrl);
    const proxyPort = Number(p.port) || (p.protocol === 'https:' ? 443 : 80);
    const socket: net.Socket =
      p.protocol === 'https:'
        ? tls.connect({ host: p.hostname, port: proxyPort, servername: net.isIP(p.hostname) ? undefined : p.hostname, ca: proxy.ca })
        : net.connect({ host: p.hostname, port: proxyPort });
    signal.addEventListener('abort', () => socket.destroy(), { once: true });
    const authorization = basicProxyAuthorization(proxy);
    const auth = authorization ? `Proxy-Authorization: ${authorization}\r\n` : '';
    socket.once(p.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
      socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n${auth}\r\n`),
    );
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return head.length > 16_384 ? socket.destroy(new Error('the proxy sent no end of headers')) : undefined;
      socket.off('data', onData);
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      if (status !== 200) {
        socket.destroy();
        reject(new ProxyTunnelRefused(status, statusLine.replace(/^HTTP\/1\.[01] /, 'HTTP ')));
        return;
      }
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('the proxy closed the connection')));
  });
}

/**
 * The probe the way kubectl goes through the agent's proxy: no local DNS (the proxy resolves the
 * name), the tunnel (TCP to the proxy, then CONNECT host:port), TLS with the endpoint's CA inside
 * the tunnel, and the same anonymous request.
 */
async function probeThroughProxy(probe: EndpointProbe, proxy: AgentProxy, stepDeadlineMs: number): Promise<EndpointResult> {
  const steps: StepResult[] = [];
  const proxyAddress = new URL(proxy.proxyUrl).host;
  let proxyStatus: number | undefined;
  const done = (extra: Partial<EndpointResult> = {}): EndpointResult => ({
    probe,
    steps,
    addresses: [],
    route: 'proxy',
    proxyStatus,
    ok: steps.every((s) => s.ok),
    ...extra,
  });

  const tunnel = await timed('tcp', stepDeadlineMs, `CONNECT ${probe.host}:${probe.port} through the proxy ${proxyAddress}`, (signal) =>
    openTunnel(proxy, probe.host, probe.port, signal),
  );
  if (tunnel.result.ok) tunnel.result.detail = `proxy ${proxyAddress} tunnelled to ${probe.host}:${probe.port}`;
  else {
    const refused = tunnel.result.errorCode === 'EPROXYREFUSED';
    if (refused) proxyStatus = Number(/HTTP (\d{3})/.exec(tunnel.result.detail)?.[1] ?? 0);
    tunnel.result.detail = refused
      ? `proxy ${proxyAddress}: ${tunnel.result.detail}`
      : `proxy ${proxyAddress} not reachable: ${tunnel.result.detail}`;
  }
  steps.push(tunnel.result);
  if (!tunnel.value) return done();
  const raw = tunnel.value;

  try {
    const handshake = await timed(
      'tls',
      stepDeadlineMs,
      `TLS handshake with ${probe.host} through the proxy`,
      (signal) =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const socket = tls.connect({ socket: raw, servername: probe.host, ca: probe.ca, ALPNProtocols: ['http/1.1'] });
          signal.addEventListener('abort', () => socket.destroy(), { once: true });
          socket.once('secureConnect', () => resolve(socket));
          socket.once('error', reject);
        }),
    );
    const secure = handshake.value;
    handshake.result.detail = secure ? `certificate for ${probe.host} verified (through the tunnel)` : handshake.result.detail;
    steps.push(handshake.result);
    if (!secure) return done();

    const request = await timed('http', stepDeadlineMs, `GET ${probe.path} on ${probe.host}`, (signal) =>
      anonymousGet((onResponse) =>
        http.request(
          {
            createConnection: () => secure,
            host: probe.host,
            port: probe.port,
            path: probe.path,
            method: 'GET',
            signal,
            headers: { Host: probe.host, 'User-Agent': 'PrivateAksDeploy-preflight', Connection: 'close' },
          },
          onResponse,
        ),
      ),
    );
    steps.push(judgedHttpStep(probe, request));
    return done({ http: request.value });
  } finally {
    raw.destroy();
  }
}
