/**
 * A minimal OpenAPI v2 (swagger) document for the sandbox API server, in the protobuf encoding
 * kubectl asks for (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, gnostic
 * openapi_v2.Document) and in JSON.
 *
 * kubectl up to 1.28 checks through OpenAPI v2 whether a PATCH operation accepts the
 * `fieldValidation` query parameter (later versions read OpenAPI v3, see kubernetesResources.ts);
 * without the document, `kubectl apply` fails with "failed to download openapi". Like the v3
 * documents, it carries paths and operations but no definitions: kubectl then computes strategic
 * merge patches from its compiled-in types.
 *
 * Field numbers: google/gnostic openapiv2/OpenAPIv2.proto.
 */
import { resourcePath, type ResourceCatalog } from './resources';

/** What kubectl asks for (Accept); the response Content-Type uses '.' instead of '@' (Go's mime parser rejects '@'). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

// --- protobuf wire format (length-delimited and varint fields only) ---------------------------

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function bytesField(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(payload.length), payload]);
}

function str(field: number, value: string): Buffer {
  return bytesField(field, Buffer.from(value, 'utf8'));
}

function msg(field: number, ...parts: Buffer[]): Buffer {
  return bytesField(field, Buffer.concat(parts));
}

function bool(field: number, value: boolean): Buffer {
  return Buffer.concat([varint(field << 3), varint(value ? 1 : 0)]);
}

// --- gnostic openapi_v2 messages ----------------------------------------------------------------

/** Operation.parameters (8) → ParametersItem.parameter (1) → Parameter.non_body_parameter (2) → query_parameter_sub_schema (3) */
function queryParameter(name: string): Buffer {
  return msg(8, msg(1, msg(2, msg(3, str(2, 'query'), str(4, name), str(6, 'string'), bool(20, true)))));
}

/** Operation.vendor_extension (13) → NamedAny { name (1), value (2) → Any.yaml (2) } */
function vendorExtension(name: string, yaml: string): Buffer {
  return msg(13, str(1, name), msg(2, str(2, yaml)));
}

/** Operation.responses (9) → Responses.response_code (1) → NamedResponseValue { name, value → ResponseValue.response (1) → Response.description (1) } */
function okResponse(): Buffer {
  return msg(9, msg(1, str(1, '200'), msg(2, msg(1, str(1, 'OK')))));
}

interface V2Path {
  path: string;
  operations: Array<{
    method: 'get' | 'put' | 'post' | 'delete' | 'patch';
    operationId: string;
    consumes?: string[];
    query: string[];
    gvk: { group: string; version: string; kind: string };
  }>;
}

const OPERATION_FIELD = { get: 2, put: 3, post: 4, delete: 5, patch: 8 } as const;

function v2Paths(catalog: ResourceCatalog): V2Path[] {
  const paths: V2Path[] = [];
  const writeParams = ['dryRun', 'fieldManager', 'fieldValidation'];
  for (const t of catalog.all()) {
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const collection = resourcePath(t, t.namespaced ? '{namespace}' : undefined);
    paths.push({
      path: collection,
      operations: [
        { method: 'get', operationId: `list${t.kind}`, query: [], gvk },
        { method: 'post', operationId: `create${t.kind}`, query: writeParams, gvk },
      ],
    });
    const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
    paths.push({
      path: `${collection}/{name}`,
      operations: [
        { method: 'get', operationId: `read${t.kind}`, query: [], gvk },
        { method: 'put', operationId: `replace${t.kind}`, query: writeParams, gvk },
        { method: 'patch', operationId: `patch${t.kind}`, consumes: patchTypes, query: [...writeParams, 'force'], gvk },
        { method: 'delete', operationId: `delete${t.kind}`, query: ['dryRun'], gvk },
      ],
    });
  }
  return paths;
}

function gvkYaml(gvk: { group: string; version: string; kind: string }): string {
  return `group: ${JSON.stringify(gvk.group)}\nkind: ${gvk.kind}\nversion: ${gvk.version}\n`;
}

export function openApiV2Protobuf(catalog: ResourceCatalog, kubernetesVersion: string): Buffer {
  const pathItems = v2Paths(catalog).map((p) =>
    msg(
      2,
      str(1, p.path),
      msg(
        2,
        ...p.operations.map((op) =>
          msg(
            OPERATION_FIELD[op.method],
            str(5, op.operationId),
            ...(op.consumes ?? []).map((c) => str(7, c)),
            ...op.query.map(queryParameter),
            okResponse(),
            vendorExtension('x-kubernetes-group-version-kind', gvkYaml(op.gvk)),
          ),
        ),
      ),
    ),
  );
  return Buffer.concat([
    str(1, '2.0'),
    msg(2, str(1, 'Kubernetes'), str(2, `v${kubernetesVersion.replace(/^v/, '')}`)),
    msg(8, ...pathItems),
  ]);
}

export function openApiV2Json(catalog: ResourceCatalog, kubernetesVersion: string): object {
  const paths: Record<string, object> = {};
  for (const p of v2Paths(catalog)) {
    const item: Record<string, object> = {};
    for (const op of p.operations) {
      item[op.method] = {
        operationId: op.operationId,
        ...(op.consumes ? { consumes: op.consumes } : {}),
        parameters: op.query.map((name) => ({ uniqueItems: true, type: 'string', name, in: 'query' })),
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-group-version-kind': op.gvk,
      };
    }
    paths[p.path] = item;
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: `v${kubernetesVersion.replace(/^v/, '')}` }, paths, definitions: {} };
}
