import * as assert from 'assert';
import {
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import {
  ArmCallError,
  asArmCallError,
  failureOf,
  RawArmResource,
  waitForOperation,
  withoutRetries,
} from '../../shared/azure/arm/rawArmCall';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/**
 * Resource Manager's error body `{"error":{"code","message"}}` and its long-running operations: a write
 * answers 201/202 with `Azure-AsyncOperation` (preferred) or `Location`, the status resource says
 * `InProgress`, `Succeeded`, `Failed` or `Canceled` (with `error` when it failed), and `Retry-After` is in
 * seconds; any other status means still running (a provider's own, e.g. `Running`), and a `Location`
 * poll answers 202 until done (MicrosoftDocs/azure-docs
 * articles/azure-resource-manager/resource-manager-async-operations.md). The calls go through a pipeline
 * the test plays: no network here (the sandbox specs run the same code against the sandbox's ARM).
 */
const ARM = 'https://management.azure.com/';
const REGISTRY = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1';

function response(status: number, body?: unknown, headers: Record<string, string> = {}): PipelineResponse {
  return {
    status,
    headers: createHttpHeaders(headers),
    bodyAsText: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    request: createPipelineRequest({ url: 'https://management.azure.com/x' }),
  };
}

/** A pipeline that answers each request with the next response and records what was asked. */
function scripted(...answers: PipelineResponse[]): Pipeline & { asked: PipelineRequest[] } {
  const asked: PipelineRequest[] = [];
  const pipeline = createEmptyPipeline() as Pipeline & { asked: PipelineRequest[] };
  pipeline.asked = asked;
  pipeline.sendRequest = async (_client, request) => {
    asked.push(request);
    const next = answers.shift();
    if (!next) throw new Error(`unexpected request ${request.method} ${request.url}`);
    return next;
  };
  pipeline.clone = () => pipeline;
  return pipeline;
}

describe('rawArmCall: Resource Manager failures read from the answer', () => {
  const cases: { name: string; res: PipelineResponse; failure: ReturnType<typeof failureOf> }[] = [
    {
      name: "ARM's error body: code and message",
      res: response(409, { error: { code: 'Conflict', message: 'Another operation is in progress.' } }),
      failure: { statusCode: 409, code: 'Conflict', message: 'Another operation is in progress.', retryAfterMs: undefined },
    },
    {
      name: '429 with Retry-After in seconds',
      res: response(429, { error: { code: 'TooManyRequests', message: 'Rate limit exceeded.' } }, { 'retry-after': '7' }),
      failure: { statusCode: 429, code: 'TooManyRequests', message: 'Rate limit exceeded.', retryAfterMs: 7000 },
    },
    {
      name: 'Retry-After that is not a number (an HTTP date) is ignored',
      res: response(503, '', { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }),
      failure: { statusCode: 503, code: undefined, message: '', retryAfterMs: undefined },
    },
    {
      name: 'a body that is not JSON is the message, first line only',
      res: response(502, '<html>Bad Gateway\n</html>'),
      failure: { statusCode: 502, code: undefined, message: '<html>Bad Gateway', retryAfterMs: undefined },
    },
    {
      name: 'JSON without error: the body is the message',
      res: response(500, { status: 'x' }),
      failure: { statusCode: 500, code: undefined, message: '{"status":"x"}', retryAfterMs: undefined },
    },
    {
      name: 'a long message is cut at 500 characters',
      res: response(400, { error: { code: 'InvalidParameter', message: 'y'.repeat(900) } }),
      failure: { statusCode: 400, code: 'InvalidParameter', message: 'y'.repeat(500), retryAfterMs: undefined },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(failureOf(c.res), c.failure));
  }

  it('ArmCallError says the status, code and message', () => {
    assert.strictEqual(
      new ArmCallError({ statusCode: 404, code: 'ResourceNotFound', message: 'gone' }).message,
      'HTTP 404 ResourceNotFound: gone',
    );
    assert.strictEqual(new ArmCallError({ statusCode: 500, message: 'oops' }).message, 'HTTP 500: oops');
  });

  it('asArmCallError turns an SDK RestError into an ArmCallError and leaves other errors alone', () => {
    const converted = asArmCallError(Object.assign(new Error('denied'), { statusCode: 403, code: 'AuthorizationFailed' }));
    assert.ok(converted instanceof ArmCallError);
    assert.deepStrictEqual(converted.failure, { statusCode: 403, code: 'AuthorizationFailed', message: 'denied' });
    const network = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    assert.strictEqual(asArmCallError(network), network);
    assert.strictEqual(asArmCallError(undefined), undefined);
  });

  it('withoutRetries removes only the Retry phase', () => {
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy({ name: 'retry', sendRequest: (r, next) => next(r) }, { phase: 'Retry' });
    pipeline.addPolicy({ name: 'auth', sendRequest: (r, next) => next(r) }, { phase: 'Sign' });
    assert.deepStrictEqual(
      withoutRetries(pipeline)
        .getOrderedPolicies()
        .map((p) => p.name),
      ['auth'],
    );
    assert.deepStrictEqual(
      pipeline.getOrderedPolicies().map((p) => p.name),
      ['retry', 'auth'],
      'the original keeps its retries',
    );
  });
});

describe('rawArmCall: waiting for a long-running operation', () => {
  const OP = 'https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerRegistry/locations/westeurope/operationResults/op1';

  it("Succeeded after a provider's own running status: polled until done", async () => {
    const pipeline = scripted(response(200, { status: 'Running' }), response(200, { status: 'Succeeded' }));
    await waitForOperation(pipeline, OP, 'Updating registry', 10_000);
    assert.strictEqual(pipeline.asked.length, 2);
    assert.ok(pipeline.asked.every((r) => r.method === 'GET' && r.url === OP));
  });

  it('a Location poll: 202 while running, 200 without a body when done', async () => {
    const pipeline = scripted(response(202), response(200));
    await waitForOperation(pipeline, OP, 'Updating registry', 10_000);
    assert.strictEqual(pipeline.asked.length, 2);
  });

  for (const status of ['Failed', 'Canceled']) {
    it(`${status}: an ArmCallError marked operationFailed, with the operation's error`, async () => {
      const pipeline = scripted(response(200, { status, error: { code: 'RegistryUpdateFailed', message: 'The update failed.' } }));
      await assert.rejects(waitForOperation(pipeline, OP, 'Updating registry', 10_000), (err: unknown) => {
        assert.ok(err instanceof ArmCallError);
        assert.deepStrictEqual(err.failure, {
          statusCode: 200,
          code: 'RegistryUpdateFailed',
          message: 'The update failed.',
          operationFailed: true,
        });
        return true;
      });
    });
  }

  it('Failed without an error object: the status is the code', async () => {
    const pipeline = scripted(response(200, { status: 'Failed' }));
    await assert.rejects(
      waitForOperation(pipeline, OP, 'Updating registry', 10_000),
      (err: unknown) =>
        err instanceof ArmCallError && err.failure.code === 'Failed' && err.failure.message === 'The operation ended Failed.',
    );
  });

  it('a refused poll is an ArmCallError from its body', async () => {
    const pipeline = scripted(response(403, { error: { code: 'AuthorizationFailed', message: 'no' } }));
    await assert.rejects(
      waitForOperation(pipeline, OP, 'Updating registry', 10_000),
      (err: unknown) => err instanceof ArmCallError && err.failure.statusCode === 403 && err.failure.code === 'AuthorizationFailed',
    );
  });

  it('still InProgress at the deadline: ARM_OPERATION_TIMEOUT', async () => {
    const pipeline = scripted(response(200, { status: 'InProgress' }), response(200, { status: 'InProgress' }));
    await assert.rejects(waitForOperation(pipeline, OP, 'Updating registry', 50), (err: unknown) => {
      assert.ok(err instanceof ExplainedError);
      assert.strictEqual(err.code, 'ARM_OPERATION_TIMEOUT');
      assert.strictEqual(err.reason, 'The operation did not finish within 0.05 s.');
      return true;
    });
  });
});

describe('rawArmCall: one resource read and written as raw JSON', () => {
  it('get: the URL at the fixed api-version; anything but 200 is an ArmCallError', async () => {
    const pipeline = scripted(response(200, { name: 'acr1' }), response(404, { error: { code: 'ResourceNotFound', message: 'gone' } }));
    const resource = new RawArmResource(pipeline, ARM, REGISTRY, '2019-05-01', "registry 'acr1'");
    assert.strictEqual((await resource.get()).status, 200);
    assert.strictEqual(pipeline.asked[0].url, `https://management.azure.com${REGISTRY}?api-version=2019-05-01`);
    await assert.rejects(resource.get(), (err: unknown) => err instanceof ArmCallError && err.failure.code === 'ResourceNotFound');
  });

  it('write: the body as JSON with its headers, then the Azure-AsyncOperation poll (preferred over Location)', async () => {
    const asyncOp = 'https://management.azure.com/asyncop/1';
    const pipeline = scripted(
      response(202, undefined, { 'azure-asyncoperation': asyncOp, location: 'https://management.azure.com/location/1' }),
      response(200, { status: 'Succeeded' }),
    );
    await new RawArmResource(pipeline, ARM, REGISTRY, '2019-05-01', "registry 'acr1'").write(
      'PATCH',
      { properties: { networkRuleSet: { defaultAction: 'Deny' } } },
      10_000,
      { 'If-Match': '"etag-1"' },
    );
    const [write, poll] = pipeline.asked;
    assert.strictEqual(write.method, 'PATCH');
    assert.strictEqual(write.body, '{"properties":{"networkRuleSet":{"defaultAction":"Deny"}}}');
    assert.strictEqual(write.headers.get('content-type'), 'application/json');
    assert.strictEqual(write.headers.get('if-match'), '"etag-1"');
    assert.strictEqual(poll.url, asyncOp);
  });

  it('write: 200 without an operation URL is done; a 412 is an ArmCallError', async () => {
    const pipeline = scripted(response(200, {}), response(412, { error: { code: 'PreconditionFailed', message: 'eTag mismatch' } }));
    const resource = new RawArmResource(pipeline, ARM, REGISTRY, '2019-05-01', "registry 'acr1'");
    await resource.write('PUT', {}, 10_000);
    await assert.rejects(
      resource.write('PUT', {}, 10_000),
      (err: unknown) => err instanceof ArmCallError && err.failure.statusCode === 412,
    );
    assert.strictEqual(pipeline.asked.length, 2);
  });

  it('write: an operation URL on another host is not polled (ARM_FOREIGN_URL), so the token stays home', async () => {
    const pipeline = scripted(response(202, undefined, { 'azure-asyncoperation': 'https://attacker.example/op' }));
    await assert.rejects(
      new RawArmResource(pipeline, ARM, REGISTRY, '2019-05-01', "registry 'acr1'").write('PATCH', {}, 10_000),
      (err: unknown) => err instanceof ExplainedError && err.code === 'ARM_FOREIGN_URL' && /https:\/\/attacker\.example/.test(err.reason),
    );
    assert.strictEqual(pipeline.asked.length, 1);
  });
});
