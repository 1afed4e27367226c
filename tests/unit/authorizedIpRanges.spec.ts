import * as assert from 'assert';
import { createEmptyPipeline, createHttpHeaders, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import type { ContainerServiceClient } from '@azure/arm-containerservice';
import { AuthorizedRangesClient, CLUSTER_API_VERSION } from '../../shared/azure/aks/authorizedIpRanges';
import { ExplainedError } from '../../shared/pipeline/explainedError';

const ARM = 'https://management.azure.com';
const CLUSTER_ID =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1';

/** A ContainerServiceClient whose pipeline answers from `answer` and records what was sent. */
function stubClient(answer: (req: PipelineRequest) => { status: number; body?: unknown; headers?: Record<string, string> }): {
  client: ContainerServiceClient;
  sent: PipelineRequest[];
} {
  const sent: PipelineRequest[] = [];
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy({
    name: 'stub',
    async sendRequest(request): Promise<PipelineResponse> {
      sent.push(request);
      const a = answer(request);
      return {
        request,
        status: a.status,
        headers: createHttpHeaders(a.headers),
        bodyAsText: a.body === undefined ? undefined : JSON.stringify(a.body),
      };
    },
  });
  return { client: { pipeline } as unknown as ContainerServiceClient, sent };
}

const cluster = (eTag?: string) => ({
  id: CLUSTER_ID,
  name: 'clustername1',
  ...(eTag ? { eTag } : {}),
  properties: { apiServerAccessProfile: { authorizedIPRanges: ['203.0.113.0/24'] } },
});

describe('AKS authorized ranges: the HTTP layer', () => {
  it('reads and writes at an api-version whose PUT defines If-Match, sending the eTag verbatim as az aks update --if-match does', async () => {
    assert.strictEqual(CLUSTER_API_VERSION, '2024-10-01');
    const { client, sent } = stubClient((req) =>
      req.method === 'GET' ? { status: 200, body: cluster('beywbwei') } : { status: 200, body: cluster('new') },
    );
    const ranges = new AuthorizedRangesClient(client, `${ARM}/`, CLUSTER_ID);
    const doc = await ranges.read();
    assert.strictEqual(doc.eTag, 'beywbwei');
    await ranges.write(doc, { ipRules: ['203.0.113.0/24', '198.51.100.7/32'], tags: {} });
    const put = sent.find((r) => r.method === 'PUT')!;
    assert.strictEqual(put.url, `${ARM}${CLUSTER_ID}?api-version=2024-10-01`);
    assert.strictEqual(put.headers.get('if-match'), 'beywbwei');
  });

  it('writes nothing when the cluster comes without an eTag (the field is optional in the spec): explained', async () => {
    const { client, sent } = stubClient(() => ({ status: 200, body: cluster(), headers: { etag: '"from-a-header"' } }));
    const ranges = new AuthorizedRangesClient(client, ARM, CLUSTER_ID);
    const doc = await ranges.read();
    assert.strictEqual(doc.eTag, undefined, 'an ETag response header is not the resource eTag');
    await assert.rejects(ranges.write(doc, { ipRules: ['198.51.100.7/32'], tags: {} }), (err: unknown) => {
      assert.ok(err instanceof ExplainedError);
      assert.strictEqual(err.code, 'AKS_NO_ETAG');
      assert.match(err.message, /without an eTag .*Nothing was changed/);
      return true;
    });
    assert.deepStrictEqual(
      sent.map((r) => r.method),
      ['GET'],
    );
  });
});
