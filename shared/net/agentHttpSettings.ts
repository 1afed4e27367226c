import * as fs from 'fs';
import * as tls from 'tls';
import * as tl from 'azure-pipelines-task-lib/task';
import type { Agent, ProxySettings, TlsSettings } from '@azure/core-rest-pipeline';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { readSecretVariable, registerSecret } from '../pipeline/secrets';

/** The agent's proxy and trusted-CA settings, in the shape the Azure SDK clients and pipelines take. */
export interface AgentHttpSettings {
  proxyOptions?: ProxySettings;
  tlsOptions?: TlsSettings;
  agent?: Agent;
}

/**
 * A CONNECT proxy agent that verifies the target with the given CAs. https-proxy-agent applies
 * only the request's own TLS options to the target, and the Azure SDK sets none there. The proxy
 * credentials are neither in the proxy URL (https-proxy-agent prints it under DEBUG, URL-encoded)
 * nor in a headers object: with AZURE_LOG_LEVEL=verbose the SDK prints the request's agent as
 * JSON, proxyHeaders included. A function that returns the header serialises to nothing.
 */
class TrustingHttpsProxyAgent extends HttpsProxyAgent<string> {
  constructor(
    proxy: URL,
    private readonly ca: string[],
    proxyAuthorization?: string,
  ) {
    super(proxy, { keepAlive: true, headers: () => (proxyAuthorization ? { 'Proxy-Authorization': proxyAuthorization } : {}) });
  }

  override connect(req: Parameters<HttpsProxyAgent<string>['connect']>[0], opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    return super.connect(req, opts.secureEndpoint ? { ...opts, ca: this.ca } : opts);
  }
}

export interface AgentProxy {
  proxyUrl: string;
  proxyUsername?: string;
  proxyPassword?: string;
  /** CAs an https:// proxy's own certificate must chain to: public roots plus the agent's CA bundle. */
  ca?: string[];
}

/**
 * The agent's proxy for a URL, or undefined when there is none or the URL matches the bypass list
 * (regular expressions, as the agent and task-lib apply them). Read here rather than with
 * task-lib's getHttpProxyConfiguration, which writes the proxy password to the debug log.
 */
export function agentProxyFor(targetUrl: string): AgentProxy | undefined {
  const proxyUrl = tl.getVariable('Agent.ProxyUrl');
  if (!proxyUrl) return undefined;
  if (bypassListMatches(targetUrl)) return undefined;
  const proxyUsername = tl.getVariable('Agent.ProxyUsername') || undefined;
  const proxyPassword = readSecretVariable('Agent.ProxyPassword');
  registerProxyCredentialForms(proxyUsername, proxyPassword);
  return { proxyUrl, proxyUsername, proxyPassword };
}

/**
 * Whether the agent's bypass list (Agent.ProxyBypassList, a JSON list of regular expressions)
 * names the URL. Matched case-insensitively against the URL, as task-lib's
 * getHttpProxyConfiguration does (azure-pipelines-task-lib node/task.ts); the agent itself
 * matches `scheme://host[:port]` (azure-pipelines-agent src/Agent.Sdk/AgentWebProxy.cs,
 * IsMatchInBypassList), which is the form the line-of-sight probes and kubectl's hosts are given in.
 */
export function bypassListMatches(targetUrl: string): boolean {
  let bypass: string[] = [];
  try {
    bypass = JSON.parse(tl.getVariable('Agent.ProxyBypassList') || '[]');
  } catch {
    tl.warning('Agent.ProxyBypassList is not a JSON list; ignoring it.');
  }
  return bypass.some((pattern) => new RegExp(pattern, 'i').test(targetUrl));
}

/**
 * The agent masks the raw proxy password only. Every other form a client can print is registered
 * too: URL-encoded (a proxy URL with credentials, as kubectl gets it in HTTPS_PROXY and
 * core-rest-pipeline builds it without Agent.CAInfo) and the Basic credential (`user:pass` in
 * base64, the Proxy-Authorization header).
 */
function registerProxyCredentialForms(username: string | undefined, password: string | undefined): void {
  if (!password) return;
  registerSecret(encodeURIComponent(password));
  // A WHATWG URL encodes userinfo with its own set (core-rest-pipeline's proxy URL is built that way).
  const asUserinfo = new URL('http://proxy.invalid');
  asUserinfo.password = password;
  registerSecret(asUserinfo.password);
  registerSecret(Buffer.from(`${username ?? ''}:${password}`).toString('base64'));
}

/** The Basic credential the proxy gets in Proxy-Authorization (what https-proxy-agent and Go's net/http send). */
export function basicProxyAuthorization(proxy: AgentProxy): string | undefined {
  return proxy.proxyUsername ? `Basic ${Buffer.from(`${proxy.proxyUsername}:${proxy.proxyPassword ?? ''}`).toString('base64')}` : undefined;
}

/**
 * The PEM of the CA bundle the agent was configured to trust (Agent.CAInfo), if any. Read alone:
 * task-lib's getHttpCertConfiguration also reads Agent.ClientCertPassword, and its getVariable
 * writes every value it reads to the debug log.
 */
export function agentTrustedCaPem(): string | undefined {
  const caFile = tl.getVariable('Agent.CAInfo');
  return caFile && fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : undefined;
}

/** The public roots plus the agent's CA bundle, or undefined when the agent names none (Node's defaults then). */
export function agentTrustedCas(): string[] | undefined {
  const agentCa = agentTrustedCaPem();
  return agentCa ? [...tls.rootCertificates, agentCa] : undefined;
}

/**
 * Settings for HTTPS requests to `targetUrl`: the agent's proxy unless the URL is on its bypass
 * list, and the public roots plus the agent's CA bundle (a TLS-inspecting proxy's root, Azure
 * Stack's CA). The Azure SDK ignores tlsOptions once a proxy is set, which is exactly the agent
 * behind an inspecting proxy, so that combination gets a proxy agent that carries the CA itself.
 */
export function agentHttpSettingsFor(targetUrl: string): AgentHttpSettings {
  const proxy = agentProxyFor(targetUrl);
  const extraCa = agentTrustedCaPem();
  const ca = agentTrustedCas();
  if (!proxy) return extraCa && ca ? { tlsOptions: trustedTlsSettings(extraCa, ca) } : {};

  const u = new URL(proxy.proxyUrl);
  if (ca) return { agent: new TrustingHttpsProxyAgent(u, ca, basicProxyAuthorization(proxy)) };
  return {
    proxyOptions: {
      host: `${u.protocol}//${u.hostname}`,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      username: proxy.proxyUsername || undefined,
      password: proxy.proxyPassword || undefined,
    },
  };
}

let trustedTls: { pem: string; settings: TlsSettings } | undefined;

/**
 * The public roots plus the agent's CA bundle as one TLS context, made once per process. Given only
 * `ca`, Node makes a context from the ~140 roots for every connection (tls.connect takes
 * options.secureContext, else tls.createSecureContext(options)): about 15 ms of CPU each, which the
 * bench's CPU profile showed as 56-67 ms of a deploy. The SDK hands tlsOptions to https.Agent, and
 * so to tls.connect, whole.
 */
function trustedTlsSettings(extraCa: string, ca: string[]): TlsSettings {
  if (trustedTls?.pem !== extraCa)
    trustedTls = { pem: extraCa, settings: { ca, secureContext: tls.createSecureContext({ ca }) } as TlsSettings };
  return trustedTls.settings;
}

/**
 * An https.Agent that reaches the target through a CONNECT tunnel on the agent's proxy, with Basic
 * credentials in a header function (never in a URL or a logged object). The request's own TLS
 * options (the target's CA, servername) apply inside the tunnel; `proxy.ca` checks an https:// proxy.
 */
export function proxyTunnelAgent(proxy: AgentProxy): HttpsProxyAgent<string> {
  const authorization = basicProxyAuthorization(proxy);
  return new HttpsProxyAgent(proxy.proxyUrl, {
    ca: proxy.ca,
    headers: () => (authorization ? { 'Proxy-Authorization': authorization } : {}),
  });
}

/** How the agent reaches a host: straight, through its proxy, or straight because the bypass list names it. */
export type AgentRoute = { kind: 'direct' } | { kind: 'bypass' } | { kind: 'proxy'; proxy: AgentProxy };

const isLoopbackHost = (host: string) => /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i.test(host);

/**
 * The route to `https://host:port` that kubectl (Go's net/http) takes with the environment
 * `kubectlProxyEnvironment` gives it: loopback is never proxied (golang.org/x/net/http/httpproxy,
 * useProxy), a host the agent's bypass list names goes direct, everything else through the proxy.
 */
export function agentRouteTo(host: string, port: number): AgentRoute {
  if (!tl.getVariable('Agent.ProxyUrl') || isLoopbackHost(host)) return { kind: 'direct' };
  const proxy = agentProxyFor(hostUrl(host, port));
  return proxy ? { kind: 'proxy', proxy: { ...proxy, ca: agentTrustedCas() } } : { kind: 'bypass' };
}

/** `https://host` or `https://host:port`: the form the agent matches its bypass list against. */
function hostUrl(host: string, port: number): string {
  return port === 443 ? `https://${host}` : `https://${host}:${port}`;
}

/**
 * The agent's proxy for kubectl, which the agent does not export to tasks (it sets only the
 * Agent.Proxy* variables: azure-pipelines-agent src/Agent.Worker/ExecutionContext.cs). Go reads
 * HTTPS_PROXY (credentials as URL userinfo) and NO_PROXY, upper case first (httpproxy.FromEnvironment).
 * NO_PROXY takes host names, domain suffixes, IPs and CIDRs, not regular expressions, so the bypass
 * list is not translated: it is evaluated here for each URL kubectl will contact, and the hosts it
 * names are listed exactly. Both cases of NO_PROXY are set, so that a no_proxy inherited from the
 * machine cannot send the API server another way than the preflight checked.
 */
export function kubectlProxyEnvironment(urls: string[]): Record<string, string> {
  const proxyUrl = tl.getVariable('Agent.ProxyUrl');
  // No API server to reach (kubectl kustomize): the machine's own proxy settings stay as they are.
  if (!proxyUrl || urls.length === 0) return {};
  const bypassed: string[] = [];
  let proxy: AgentProxy | undefined;
  for (const url of urls) {
    const u = new URL(url);
    const route = agentRouteTo(u.hostname, Number(u.port) || 443);
    if (route.kind === 'bypass') bypassed.push(u.hostname);
    if (route.kind === 'proxy') proxy = route.proxy;
  }
  const noProxy = [...new Set(bypassed)].join(',');
  const env: Record<string, string> = { NO_PROXY: noProxy, no_proxy: noProxy };
  // Every host bypassed: leave HTTPS_PROXY out, so the password is not handed to kubectl at all.
  if (proxy) {
    const u = new URL(proxy.proxyUrl);
    if (proxy.proxyUsername) {
      u.username = encodeURIComponent(proxy.proxyUsername);
      u.password = encodeURIComponent(proxy.proxyPassword ?? '');
    }
    env.HTTPS_PROXY = u.toString();
    env.https_proxy = u.toString();
  }
  return env;
}
