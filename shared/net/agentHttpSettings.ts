import * as fs from 'fs';
import * as tls from 'tls';
import * as tl from 'azure-pipelines-task-lib/task';
import type { ProxySettings, TlsSettings } from '@azure/core-rest-pipeline';
import { registerSecret } from '../pipeline/secrets';

/** The agent's proxy and trusted-CA settings, in the shape the Azure SDK clients take. */
export interface AgentHttpSettings {
  proxyOptions?: ProxySettings;
  tlsOptions?: TlsSettings;
}

/** The PEM of the CA bundle the agent was configured to trust (Agent.CAInfo), if any. */
export function agentTrustedCaPem(): string | undefined {
  const caFile = tl.getHttpCertConfiguration()?.caFile;
  return caFile && fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : undefined;
}

/**
 * Settings for requests to `targetUrl`: the agent's proxy unless the URL is on its bypass list,
 * and the public roots plus the agent's CA bundle (a TLS-inspecting proxy's root, Azure Stack's CA).
 */
export function agentHttpSettingsFor(targetUrl: string): AgentHttpSettings {
  const settings: AgentHttpSettings = {};
  const proxy = tl.getHttpProxyConfiguration(targetUrl);
  if (proxy?.proxyUrl) {
    const u = new URL(proxy.proxyUrl);
    registerSecret(proxy.proxyPassword);
    settings.proxyOptions = {
      host: `${u.protocol}//${u.hostname}`,
      port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80),
      username: proxy.proxyUsername || undefined,
      password: proxy.proxyPassword || undefined,
    };
  }
  const extraCa = agentTrustedCaPem();
  if (extraCa) settings.tlsOptions = { ca: [...tls.rootCertificates, extraCa] };
  return settings;
}
