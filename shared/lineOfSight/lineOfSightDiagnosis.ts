import type { EndpointProbe, EndpointResult } from './lineOfSight';
import { deniedIpOf, registryMessage } from '../azure/acr/acrDenied';
import { isPrivateAddress } from './lineOfSight';

export interface LineOfSightDiagnosis {
  ok: boolean;
  code: string;
  /** What failed and why, in the pipeline author's terms. */
  reason: string;
  fix: string;
}

export interface DiagnosisContext {
  kind: 'aksApiServer' | 'acrLoginServer' | 'acrDataEndpoint';
  /** The cluster or registry name, for commands in the fix. */
  resourceName: string;
  /** For AKS: is the cluster private, and does it filter by authorized IP ranges? */
  privateCluster?: boolean;
  authorizedIpRanges?: boolean;
}

/** An endpoint to probe before the job acts, with what the diagnosis needs to know of it. */
export interface PreflightTarget {
  probe: EndpointProbe;
  context: DiagnosisContext;
}

const isPrivateLinkName = (host: string) => /\.privatelink\./i.test(host);

/** The private DNS zone a private name lives in: `x.y.privatelink.eastus.azmk8s.io` → `privatelink.eastus.azmk8s.io`. */
export function privateDnsZoneOf(host: string): string {
  const i = host.toLowerCase().indexOf('privatelink.');
  return i >= 0 ? host.slice(i) : host;
}

/**
 * Names the likely cause and the fix of a failed line-of-sight probe. Pure: the probe result and
 * what is known about the resource in, one explanation out.
 */
export function diagnoseLineOfSight(result: EndpointResult, ctx: DiagnosisContext): LineOfSightDiagnosis {
  const { host, port, label } = result.probe;
  const failed = result.steps.find((s) => !s.ok);
  const aks = ctx.kind === 'aksApiServer';
  const otherRoute = aks ? ' or let the task deploy through AKS run command (route: auto or runCommand)' : '';
  if (!failed) {
    const privateName = isPrivateLinkName(host) || ctx.privateCluster;
    const publicAnswer = privateName && result.addresses.length > 0 && !result.addresses.some(isPrivateAddress);
    return publicAnswer
      ? {
          ok: true,
          code: 'PRIVATE_NAME_PUBLIC_ADDRESS',
          reason: `${label} ${host} answers, but at public address ${result.addresses.join(', ')}: traffic is not taking the private endpoint.`,
          fix: `Check the agent's DNS: the private zone ${privateDnsZoneOf(host)} should answer with the private endpoint's address.`,
        }
      : {
          ok: true,
          code: 'REACHABLE',
          reason: `${label} ${host} answers the agent (${result.http ? `HTTP ${result.http.status}` : 'ok'}).`,
          fix: '',
        };
  }
  const code = failed.errorCode ?? '';
  const viaProxy = result.probe.route?.kind === 'proxy' ? result.probe.route.proxy : undefined;
  if (viaProxy && failed.step === 'tcp') return diagnoseProxyTunnel(result, new URL(viaProxy.proxyUrl).host, code, otherRoute);
  // Through the proxy the agent resolves nothing: the far end is whatever the proxy reached.
  const server = viaProxy
    ? `The server the proxy ${new URL(viaProxy.proxyUrl).host} reached for ${host}`
    : `The server at ${result.addresses[0]}`;
  switch (failed.step) {
    case 'dns':
      if (isPrivateLinkName(host) || (aks && ctx.privateCluster)) {
        return {
          ok: false,
          code: 'PRIVATE_DNS_UNRESOLVED',
          reason: `The agent cannot resolve ${host} (${code}): the private DNS zone ${privateDnsZoneOf(host)} is not linked to the agent's VNet or reachable through its DNS forwarder, or this is a Microsoft-hosted agent outside the VNet.`,
          fix: `Link ${privateDnsZoneOf(host)} to the agent's VNet (or forward that zone to Azure DNS 168.63.129.16), or run the job on a self-hosted agent inside the VNet${otherRoute}.`,
        };
      }
      return {
        ok: false,
        code: 'DNS_UNRESOLVED',
        reason: `The agent cannot resolve ${host} (${code})${aks ? ': the cluster may have no public FQDN (enablePrivateClusterPublicFQDN is off)' : ''}.`,
        fix: `Check the agent's DNS settings and that ${host} exists${otherRoute}.`,
      };
    case 'tcp':
      if (code === 'ECONNREFUSED') {
        return {
          ok: false,
          code: 'TCP_REFUSED',
          reason: `${result.addresses[0]}:${port} refused the connection: the name points at an address where ${label} does not listen (a stale DNS record, or a removed private endpoint).`,
          fix: `Check the A record of ${host} against the private endpoint's current address.`,
        };
      }
      if (aks && ctx.authorizedIpRanges && !ctx.privateCluster) {
        return {
          ok: false,
          code: 'AUTHORIZED_IP_RANGES',
          reason: `No answer from ${host}:${port} within the deadline: the API server's authorized IP ranges do not include the agent's egress IP.`,
          fix: `Add the agent's egress IP for the job with AcrNetworkRuleSync (targetType: aksAuthorizedIpRanges), or: az aks update -n ${ctx.resourceName} -g <resource group> --api-server-authorized-ip-ranges <existing>,<agent ip>/32.`,
        };
      }
      return {
        ok: false,
        code: 'TCP_BLOCKED',
        reason: `No answer from ${result.addresses[0]}:${port} within the deadline (${code}): a network security group, firewall or route drops the agent's traffic, or the agent's VNet is not peered with the ${aks ? "cluster's" : "registry endpoint's"}.`,
        fix: `Allow TCP ${port} from the agent's subnet to ${result.addresses[0]} (NSG, Azure Firewall, UDRs, peering)${otherRoute}.`,
      };
    case 'tls':
      if (/ALTNAME|HOSTNAME|CERT_ALTNAME/i.test(code) || /altnames|does not match/i.test(failed.detail)) {
        return {
          ok: false,
          code: 'TLS_NAME_MISMATCH',
          reason: `${server} presented a certificate for another name than ${host}: the name resolves to the wrong endpoint, or a proxy intercepts the connection.`,
          fix: `Make ${host} resolve to ${label}'s own address and exclude it from TLS inspection (proxy bypass for *.azmk8s.io / *.azurecr.io).`,
        };
      }
      return {
        ok: false,
        code: 'TLS_UNTRUSTED',
        reason: `The certificate presented for ${host} does not chain to the ${aks ? "cluster's CA" : 'trusted roots'} (${code}): a TLS-inspecting proxy or firewall sits in between.`,
        fix: `Exclude ${host} from TLS inspection, or give the agent the inspecting proxy's root CA.`,
      };
    case 'http': {
      const status = result.http?.status;
      const deniedIp = deniedIpOf(result.http?.body ?? '');
      if (status === 403 && deniedIp) {
        return {
          ok: false,
          code: 'ACR_FIREWALL_DENIED',
          reason: `The registry's firewall denies the agent's egress IP ${deniedIp}.`,
          fix: `Open it for this job with AcrNetworkRuleSync, or: az acr network-rule add --name ${ctx.resourceName} --ip-address ${deniedIp}; or reach the registry through its private endpoint from inside the VNet.`,
        };
      }
      if (status === 403 && /public network access/i.test(registryMessage(result.http?.body ?? ''))) {
        return {
          ok: false,
          code: 'ACR_PUBLIC_ACCESS_DISABLED',
          reason: `The registry refuses public clients: public network access is disabled, and the agent reached it from outside its private endpoint.`,
          fix: `Run the job on a self-hosted agent in a VNet with the registry's private endpoint (and the privatelink.azurecr.io zone linked).`,
        };
      }
      return {
        ok: false,
        code: failed.errorCode ? 'HTTP_FAILED' : 'HTTP_UNEXPECTED_STATUS',
        reason: `${label} ${host} ${status ? `answered HTTP ${status}` : `did not answer the HTTP request (${code})`} where ${result.probe.reachableStatuses.join(' or ')} was expected: something in between (a proxy or gateway) answers instead.`,
        fix: `Check proxies and gateways between the agent and ${host}.`,
      };
    }
  }
}

/**
 * The tunnel through the agent's proxy failed: the proxy is not there, wants other credentials, or
 * will not (or cannot) reach the host. A private name resolves only inside the VNet, so a proxy
 * outside it answers CONNECT with an error (tinyproxy and Squid say 500/502/503).
 */
function diagnoseProxyTunnel(result: EndpointResult, proxy: string, code: string, otherRoute: string): LineOfSightDiagnosis {
  const { host, port } = result.probe;
  const bypass = `add ${host} to the agent's proxy bypass list (.proxybypass) if the agent has its own line of sight to it`;
  const status = result.proxyStatus;
  if (status === 407) {
    return {
      ok: false,
      code: 'PROXY_AUTH_FAILED',
      reason: `The agent's proxy ${proxy} refused the agent's proxy credentials (HTTP 407) for CONNECT ${host}:${port}.`,
      fix: `Configure the agent with the proxy's user name and password (config --proxyusername/--proxypassword), or ${bypass}.`,
    };
  }
  if (status !== undefined) {
    return {
      ok: false,
      code: 'PROXY_TUNNEL_REFUSED',
      reason: `The agent's proxy ${proxy} answered CONNECT ${host}:${port} with HTTP ${status}: the proxy cannot resolve or reach ${host} (a private name resolves only inside the VNet), or its rules refuse it.`,
      fix: `Let the proxy resolve and reach ${host} on TCP ${port}, or ${bypass}${otherRoute}.`,
    };
  }
  return {
    ok: false,
    code: 'PROXY_UNREACHABLE',
    reason: `The agent's proxy ${proxy} did not open a tunnel to ${host}:${port} (${code}): the proxy is down, or not reachable from the agent.`,
    fix: `Check the agent's proxy setting (Agent.ProxyUrl: config --proxyurl or the agent's .proxy file) and that the proxy runs, or ${bypass}${otherRoute}.`,
  };
}
