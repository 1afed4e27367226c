import * as fs from 'fs';
import * as tls from 'tls';
import * as tl from 'azure-pipelines-task-lib/task';
import type { Agent, ProxySettings, TlsSettings } from '@azure/core-rest-pipeline';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { readSecretVariable } from '../pipeline/secrets';

/** The agent's proxy and trusted-CA settings, in the shape the Azure SDK clients and pipelines take. */
export interface AgentHttpSettings {
  proxyOptions?: ProxySettings;
  tlsOptions?: TlsSettings;
  agent?: Agent;
}

/**
 * A CONNECT proxy agent that verifies the target with the given CAs. https-proxy-agent applies
 * only the request's own TLS options to the target, and the Azure SDK sets none there.
 */
class TrustingHttpsProxyAgent extends HttpsProxyAgent<string> {
  constructor(proxy: URL, private readonly ca: string[]) {
    super(proxy, { keepAlive: true });
  }

  override connect(req: Parameters<HttpsProxyAgent<string>['connect']>[0], opts: Parameters<HttpsProxyAgent<string>['connect']>[1]) {
    return super.connect(req, opts.secureEndpoint ? { ...opts, ca: this.ca } : opts);
  }
}

interface AgentProxy {
  proxyUrl: string;
  proxyUsername?: string;
  proxyPassword?: string;
}

/**
 * The agent's proxy for a URL, or undefined when there is none or the URL matches the bypass list
 * (regular expressions, as the agent and task-lib apply them). Read here rather than with
 * task-lib's getHttpProxyConfiguration, which writes the proxy password to the debug log.
 */
export function agentProxyFor(targetUrl: string): AgentProxy | undefined {
  const proxyUrl = tl.getVariable('Agent.ProxyUrl');
  if (!proxyUrl) return undefined;
  let bypass: string[] = [];
  try {
    bypass = JSON.parse(tl.getVariable('Agent.ProxyBypassList') || '[]');
  } catch {
    tl.warning('Agent.ProxyBypassList is not a JSON list; ignoring it.');
  }
  if (bypass.some((pattern) => new RegExp(pattern, 'i').test(targetUrl))) return undefined;
  return { proxyUrl, proxyUsername: tl.getVariable('Agent.ProxyUsername') || undefined, proxyPassword: readSecretVariable('Agent.ProxyPassword') };
}

/** The PEM of the CA bundle the agent was configured to trust (Agent.CAInfo), if any. */
export function agentTrustedCaPem(): string | undefined {
  const caFile = tl.getHttpCertConfiguration()?.caFile;
  return caFile && fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : undefined;
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
  const ca = extraCa ? [...tls.rootCertificates, extraCa] : undefined;
  if (!proxy) return ca ? { tlsOptions: { ca } } : {};

  const u = new URL(proxy.proxyUrl);
  if (ca) {
    if (proxy.proxyUsername) {
      u.username = encodeURIComponent(proxy.proxyUsername);
      u.password = encodeURIComponent(proxy.proxyPassword ?? '');
    }
    return { agent: new TrustingHttpsProxyAgent(u, ca) };
  }
  return {
    proxyOptions: {
      host: `${u.protocol}//${u.hostname}`,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      username: proxy.proxyUsername || undefined,
      password: proxy.proxyPassword || undefined,
    },
  };
}
