import { createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest } from '@azure/core-rest-pipeline';
import { agentHttpSettingsFor } from './agentHttpSettings';
import { DeadlineExceededError, withDeadline } from './deadline';

const httpClient = createDefaultHttpClient();

/** One anonymous GET from the agent, through the agent's proxy and with its CA, within a deadline. */
export async function agentGet(url: string, deadlineMs: number): Promise<{ status: number; body: string }> {
  const pipeline = createPipelineFromOptions({
    ...agentHttpSettingsFor(url),
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'PrivateAksDeploy' },
  });
  return withDeadline(
    deadlineMs,
    async (abortSignal) => {
      const res = await pipeline.sendRequest(httpClient, createPipelineRequest({ url, method: 'GET', abortSignal, timeout: deadlineMs }));
      return { status: res.status, body: (res.bodyAsText ?? '').slice(0, 4096) };
    },
    () => new DeadlineExceededError(`GET ${url}`, deadlineMs),
  );
}
