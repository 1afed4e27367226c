import { createDefaultHttpClient, createPipelineRequest, type Pipeline, type PipelineResponse } from '@azure/core-rest-pipeline';
import { ExplainedError } from '../../pipeline/explainedError';
import { withoutTrailingSlash } from '../connection/cloud';
import { ArmCallError, failureOf } from './armErrors';
import { assertArmUrl } from './armClient';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';

/**
 * Resource Manager calls sent as raw JSON through an SDK client's pipeline (its credential, the
 * agent's proxy and CA). Used where a resource must go back exactly as it was read, fields the
 * installed SDK does not model included, and where a write must not be resent by a retry policy.
 */

/** One call's deadline; a long-running operation has its own. */
const CALL_DEADLINE_MS = 30_000;

// The failures of a raw call are armErrors' (the one ARM failure path); named here too for the callers that know them from here.
export { ArmCallError, asArmCallError, failureOf, type ArmCallFailure } from './armErrors';

const httpClient = createDefaultHttpClient();

export async function sendArm(
  pipeline: Pipeline,
  method: 'GET' | 'PATCH' | 'PUT',
  url: string,
  what: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<PipelineResponse> {
  const request = createPipelineRequest({ url, method, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  if (options.body !== undefined) request.headers.set('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(options.headers ?? {})) request.headers.set(name, value);
  return withDeadline(
    CALL_DEADLINE_MS,
    (abortSignal) => {
      request.abortSignal = abortSignal;
      return pipeline.sendRequest(httpClient, request);
    },
    () => new DeadlineExceededError(what, CALL_DEADLINE_MS),
  );
}

/** A pipeline without the retry policy, for writes: a resent write would carry a plan made from an older read. */
export function withoutRetries(pipeline: Pipeline): Pipeline {
  const copy = pipeline.clone();
  copy.removePolicy({ phase: 'Retry' });
  return copy;
}

/**
 * Waits for a long-running operation (Azure-AsyncOperation or Location URL) to finish. It is asked
 * at once and then every 200 ms unless Retry-After says otherwise: the shorter a write is in
 * flight, the less a concurrent writer's older plan can overtake it.
 */
export async function waitForOperation(pipeline: Pipeline, url: string, what: string, deadlineMs: number): Promise<void> {
  const started = Date.now();
  let waitMs = 0;
  for (let poll = 0; ; poll++) {
    if (Date.now() - started > deadlineMs) {
      throw new ExplainedError({
        what,
        reason: `The operation did not finish within ${deadlineMs / 1000} s.`,
        fix: 'Check the resource in the portal (provisioning state), then run again.',
        code: 'ARM_OPERATION_TIMEOUT',
      });
    }
    if (poll > 0) await new Promise((r) => setTimeout(r, waitMs));
    const res = await sendArm(pipeline, 'GET', url, `${what} (polling)`);
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
      throw new ArmCallError({
        statusCode: 200,
        code: error?.code ?? status,
        message: error?.message ?? `The operation ended ${status}.`,
        operationFailed: true,
      });
    }
    const retryAfter = Number(res.headers.get('retry-after'));
    waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : 200;
  }
}

/**
 * One resource read and written as raw JSON at a fixed api-version through an SDK client's pipeline.
 * Writes go without the retry policy (a resent write would carry a plan made from an older read: the
 * caller reads again instead) and wait for their long-running operation.
 */
export class RawArmResource {
  private readonly url: string;
  private readonly writePipeline: Pipeline;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly resourceManagerUrl: string,
    resourceId: string,
    apiVersion: string,
    private readonly label: string,
  ) {
    this.url = `${withoutTrailingSlash(resourceManagerUrl)}${resourceId}?api-version=${apiVersion}`;
    this.writePipeline = withoutRetries(pipeline);
  }

  /** GET; anything but 200 is an ArmCallError. */
  async get(): Promise<PipelineResponse> {
    const res = await sendArm(this.pipeline, 'GET', this.url, `Reading ${this.label}`);
    if (res.status !== 200) throw new ArmCallError(failureOf(res));
    return res;
  }

  /** PATCH or PUT, then the operation's end (Azure-AsyncOperation or Location) within `operationDeadlineMs`. */
  async write(method: 'PATCH' | 'PUT', body: unknown, operationDeadlineMs: number, headers: Record<string, string> = {}): Promise<void> {
    const res = await sendArm(this.writePipeline, method, this.url, `Updating ${this.label}`, { body, headers });
    if (res.status !== 200 && res.status !== 201 && res.status !== 202) throw new ArmCallError(failureOf(res));
    const asyncUrl = res.headers.get('azure-asyncoperation') ?? res.headers.get('location');
    if (asyncUrl) {
      // The poll goes out with the ARM token: only to Resource Manager itself.
      assertArmUrl(asyncUrl, this.resourceManagerUrl, `Waiting for the update of ${this.label}`);
      await waitForOperation(this.pipeline, asyncUrl, `Updating ${this.label}`, operationDeadlineMs);
    }
  }
}
