import { createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest } from '@azure/core-rest-pipeline';
import { agentHttpSettingsFor } from '../net/agentHttpSettings';
import { DeadlineExceededError, withDeadline } from '../net/deadline';
import { deniedIpOf } from './acrDenied';

const httpClient = createDefaultHttpClient();

/** One anonymous GET from the agent, through the agent's proxy and with its CA, within a deadline. */
export async function agentGet(url: string, deadlineMs: number): Promise<{ status: number; body: string }> {
  const pipeline = createPipelineFromOptions({ ...agentHttpSettingsFor(url), retryOptions: { maxRetries: 0 }, userAgentOptions: { userAgentPrefix: 'PrivateAksDeploy' } });
  return withDeadline(
    deadlineMs,
    async (abortSignal) => {
      const res = await pipeline.sendRequest(httpClient, createPipelineRequest({ url, method: 'GET', abortSignal, timeout: deadlineMs }));
      return { status: res.status, body: (res.bodyAsText ?? '').slice(0, 4096) };
    },
    () => new DeadlineExceededError(`GET ${url}`, deadlineMs),
  );
}

export type LoginServerAnswer =
  | { kind: 'allowed'; status: number }
  | { kind: 'denied'; ip: string }
  | { kind: 'other'; detail: string };

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
