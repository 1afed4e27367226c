import { agentGet } from '../../net/agentGet';
import { deniedIpOf } from './acrDenied';

export type LoginServerAnswer = { kind: 'allowed'; status: number } | { kind: 'denied'; ip: string } | { kind: 'other'; detail: string };

/**
 * What the registry's firewall says to the agent: `/v2/` answers 401 (or 200) when the agent gets
 * through, `403 client with IP '<ip>' is not allowed access` when it does not, naming the IP the
 * registry saw. No credential is sent.
 */
export async function askLoginServer(loginServer: string, deadlineMs = 15_000): Promise<LoginServerAnswer> {
  try {
    const res = await agentGet(`https://${loginServer}/v2/`, deadlineMs);
    if (res.status === 401 || res.status === 200) return { kind: 'allowed', status: res.status };
    const ip = res.status === 403 ? deniedIpOf(res.body) : undefined;
    if (ip) return { kind: 'denied', ip };
    return { kind: 'other', detail: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { kind: 'other', detail: `${e.code ?? ''} ${e.message ?? String(err)}`.trim() };
  }
}
