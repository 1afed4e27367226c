import type { FirewallTarget } from '../../shared/firewall/firewallTarget';
import { agentGet } from '../../shared/net/agentGet';
import { parseIpv4Range } from '../../shared/net/ipv4';
import { ExplainedError, messageOf } from '../../shared/pipeline/explainedError';
import type { Action } from './inputs';

/**
 * The agent's egress IP: the endpoint's own refusal names it where it can (ACR's 403); otherwise
 * the echo URL tells it. Undefined when the endpoint lets the agent in already and no echo URL is set.
 */
export async function detectAgentIp(target: FirewallTarget, echoUrl: string | undefined, action: Action): Promise<string[] | undefined> {
  const seen = await target.ipFromEndpoint();
  if (seen.ip) {
    console.log(`Agent egress IP: ${seen.ip} (${seen.why}).`);
    return [parseIpv4Range('agent IP', seen.ip).value];
  }
  if (echoUrl) return [await askEchoUrl(echoUrl, seen.why)];
  if (seen.through || action === 'remove') return undefined;
  throw new ExplainedError({
    what: "Detecting the agent's egress IP",
    reason: `${seen.why}.`,
    fix: "Set echoUrl to an HTTPS URL that answers with the caller IP, or set ipSource: explicit with the agent's egress IPs.",
    code: 'AGENT_IP_UNKNOWN',
  });
}

async function askEchoUrl(echoUrl: string, why: string): Promise<string> {
  const res = await agentGet(echoUrl, 15_000).catch((err) => {
    throw new ExplainedError({
      what: `Asking ${echoUrl} for the agent's egress IP`,
      reason: `${why}, and the echo URL failed: ${messageOf(err)}.`,
      fix: 'Check the echo URL, or set ipSource: explicit.',
      code: 'AGENT_IP_UNKNOWN',
    });
  });
  const text = res.body.trim();
  if (res.status !== 200 || !/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    throw new ExplainedError({
      what: `Asking ${echoUrl} for the agent's egress IP`,
      reason: `${why}; the echo URL answered HTTP ${res.status} with no plain IPv4 address.`,
      fix: 'Use an echo URL that answers with the caller IP as plain text, or set ipSource: explicit.',
      code: 'AGENT_IP_UNKNOWN',
    });
  }
  console.log(`Agent egress IP: ${text} (from ${echoUrl}; ${why}).`);
  return parseIpv4Range('agent IP', text).value;
}
