import { createDefaultHttpClient, createPipelineRequest, type Pipeline, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { ExplainedError } from '../pipeline/explainedError';
import { DeadlineExceededError, withDeadline } from '../net/deadline';

/**
 * The registry's network rule set and tags, read and written as raw JSON at an api-version whose
 * model carries `virtualNetworkRules` (GA 2019-05-01, field `id`). The installed SDK (2025-11-01)
 * has no such field, and ACR replaces the whole rule set on PATCH: a PATCH through the SDK would
 * drop every VNet rule. So the rule set goes back whole (defaultAction, ipRules and
 * virtualNetworkRules as read), with the tags in the same PATCH.
 */
export const NETWORK_API_VERSION = '2019-05-01';

/** One call's deadline; the PATCH's long-running operation has its own. */
const CALL_DEADLINE_MS = 30_000;
const LRO_DEADLINE_MS = 120_000;

export interface RegistryNetworkState {
  id: string;
  sku: string;
  loginServer: string;
  /** As served at 2019-05-01; kept verbatim so nothing we do not model is lost. */
  networkRuleSet: { defaultAction?: string; ipRules?: { action?: string; value: string }[]; virtualNetworkRules?: unknown[]; [k: string]: unknown };
  tags: Record<string, string>;
}

export interface ArmCallFailure {
  statusCode: number;
  code?: string;
  message: string;
  /** What a 429 or 503 asked for in Retry-After. */
  retryAfterMs?: number;
}

export class ArmCallError extends Error {
  constructor(readonly failure: ArmCallFailure) {
    super(`HTTP ${failure.statusCode}${failure.code ? ` ${failure.code}` : ''}: ${failure.message}`);
    this.name = 'ArmCallError';
  }
}

function failureOf(res: PipelineResponse): ArmCallFailure {
  let code: string | undefined;
  let message = res.bodyAsText ?? '';
  try {
    const body = JSON.parse(res.bodyAsText ?? '{}') as { error?: { code?: string; message?: string } };
    code = body.error?.code;
    message = body.error?.message ?? message;
  } catch {
    /* not JSON */
  }
  const retryAfter = Number(res.headers.get('retry-after'));
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  return { statusCode: res.status, code, message: message.split('\n')[0].slice(0, 500), retryAfterMs };
}

const httpClient = createDefaultHttpClient();

async function send(pipeline: Pipeline, method: 'GET' | 'PATCH', url: string, what: string, body?: unknown): Promise<PipelineResponse> {
  const request = createPipelineRequest({ url, method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (body !== undefined) request.headers.set('Content-Type', 'application/json');
  return withDeadline(
    CALL_DEADLINE_MS,
    (abortSignal) => {
      request.abortSignal = abortSignal;
      return pipeline.sendRequest(httpClient, request);
    },
    () => new DeadlineExceededError(what, CALL_DEADLINE_MS),
  );
}

export class RegistryNetworkClient {
  readonly resourceUrl: string;
  private readonly readPipeline: Pipeline;
  /**
   * Writes go without the SDK's retry policy: a PATCH resent after a 429 would carry a rule set
   * planned from an older read. The caller reads again and plans afresh instead.
   */
  private readonly writePipeline: Pipeline;

  constructor(
    client: ContainerRegistryManagementClient,
    resourceManagerUrl: string,
    readonly registryId: string,
  ) {
    this.resourceUrl = `${resourceManagerUrl.replace(/\/+$/, '')}${registryId}`;
    this.readPipeline = client.pipeline;
    this.writePipeline = client.pipeline.clone();
    this.writePipeline.removePolicy({ phase: 'Retry' });
  }

  async read(): Promise<RegistryNetworkState> {
    const res = await send(this.readPipeline, 'GET', `${this.resourceUrl}?api-version=${NETWORK_API_VERSION}`, 'Reading the registry');
    if (res.status !== 200) throw new ArmCallError(failureOf(res));
    return stateOf(JSON.parse(res.bodyAsText ?? '{}'));
  }

  /** PATCHes the whole rule set and the tags, and waits for the operation to finish. */
  async write(networkRuleSet: RegistryNetworkState['networkRuleSet'], tags: Record<string, string>): Promise<void> {
    const res = await send(this.writePipeline, 'PATCH', `${this.resourceUrl}?api-version=${NETWORK_API_VERSION}`, 'Updating the registry', { tags, properties: { networkRuleSet } });
    if (res.status !== 200 && res.status !== 201 && res.status !== 202) throw new ArmCallError(failureOf(res));
    const asyncUrl = res.headers.get('azure-asyncoperation') ?? res.headers.get('location');
    if (!asyncUrl || res.status === 200) return;
    await this.pollOperation(asyncUrl);
  }

  private async pollOperation(url: string): Promise<void> {
    const started = Date.now();
    // Asked at once, then every 200 ms: the shorter a write is in flight, the less a concurrent
    // job's write planned from an older read can overtake it.
    let waitMs = 0;
    for (let poll = 0; ; poll++) {
      if (Date.now() - started > LRO_DEADLINE_MS) {
        throw new ExplainedError({
          what: 'Updating the registry network rule set',
          reason: `The operation did not finish within ${LRO_DEADLINE_MS / 1000} s.`,
          fix: 'Check the registry in the portal (provisioning state), then run again.',
          code: 'ACR_UPDATE_TIMEOUT',
        });
      }
      if (poll > 0) await new Promise((r) => setTimeout(r, waitMs));
      const res = await send(this.readPipeline, 'GET', url, 'Polling the registry update');
      if (res.status >= 400) throw new ArmCallError(failureOf(res));
      let status = res.status === 202 ? 'InProgress' : 'Succeeded';
      let error: { code?: string; message?: string } | undefined;
      if (res.bodyAsText) {
        try {
          const body = JSON.parse(res.bodyAsText) as { status?: string; error?: { code?: string; message?: string } };
          status = body.status ?? status;
          error = body.error;
        } catch {
          /* keep the status from the code */
        }
      }
      if (/^succeeded$/i.test(status)) return;
      if (/^(failed|canceled|cancelled)$/i.test(status)) {
        throw new ArmCallError({ statusCode: 200, code: error?.code ?? status, message: error?.message ?? `The update ended ${status}.` });
      }
      const retryAfter = Number(res.headers.get('retry-after'));
      waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : 200;
    }
  }
}

function stateOf(json: Record<string, unknown>): RegistryNetworkState {
  const properties = (json.properties ?? {}) as Record<string, unknown>;
  const set = (properties.networkRuleSet ?? {}) as RegistryNetworkState['networkRuleSet'];
  return {
    id: String(json.id ?? ''),
    sku: String((json.sku as { name?: string } | undefined)?.name ?? ''),
    loginServer: String(properties.loginServer ?? ''),
    networkRuleSet: { ...set, ipRules: [...(set.ipRules ?? [])], virtualNetworkRules: [...(set.virtualNetworkRules ?? [])] },
    tags: Object.fromEntries(Object.entries((json.tags ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
  };
}

/** The plain IP rule values of a rule set (Allow rules). */
export function ipRuleValues(state: RegistryNetworkState): string[] {
  return (state.networkRuleSet.ipRules ?? []).map((r) => r.value);
}

/** The rule set with new IP rule values, everything else (VNet rules, defaultAction) as read. */
export function withIpRules(state: RegistryNetworkState, values: string[]): RegistryNetworkState['networkRuleSet'] {
  return { ...state.networkRuleSet, ipRules: values.map((value) => ({ action: 'Allow', value })) };
}
