import { agentGet } from '../../net/agentGet';
import { messageOf } from '../../pipeline/explainedError';

const PROBE_TIMEOUT_MS = 10_000;

/**
 * MSAL reports a failed metadata fetch only as "endpoints_resolution_error", hiding why. One
 * request for the tenant's OpenID configuration, through the same proxy and CA settings, tells
 * whether the authority is unreachable, untrusted, or refuses the tenant (AADSTS90002).
 * Returns a description of the failure, or undefined when the metadata loads.
 */
export async function probeAuthorityMetadata(authorityHost: string, tenantId: string): Promise<string | undefined> {
  const url = `${authorityHost}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
  try {
    const response = await agentGet(url, PROBE_TIMEOUT_MS);
    if (response.status === 200) return undefined;
    return `HTTP ${response.status} for ${url}: ${response.body.slice(0, 300)}`;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return `${code ? `${code}: ` : ''}${messageOf(err)}`;
  }
}
