/**
 * The Azure DevOps OIDC token endpoint (the URL agents put in `System.OidcRequestUri`) and the
 * token issuer behind it.
 *
 *   POST /{org}/{projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken
 *        ?api-version=7.1&serviceConnectionId={id}
 *        Authorization: Bearer <System.AccessToken>
 *     → 200 {"oidcToken": "<jwt>"}
 *   OPTIONS /{org}/_apis/distributedtask   (the area's resource locations, asked first by azure-devops-node-api)
 *     → 200 {"count": 1, "value": [{"id": "69a319f4-…", "resourceName": "oidctoken", "routeTemplate": …}]}
 *   GET  /vstoken/{organizationId}/.well-known/openid-configuration
 *   GET  /vstoken/{organizationId}/.well-known/jwks
 *
 * Issued tokens: iss = `https://127.0.0.1:<port>/vstoken/<organizationId>` (shape of
 * https://vstoken.dev.azure.com/<organizationId>), sub = `sc://<org>/<project>/<connection name>`,
 * aud = api://AzureADTokenExchange. Without serviceConnectionId the pipeline's own token is issued
 * (sub = `p://<org>/<project>/pipeline`), as Azure DevOps does.
 *
 * Errors use Azure DevOps' JSON error shape ({"$id","innerException","message","typeName","typeKey","errorCode","eventId"}).
 */
import * as crypto from 'node:crypto';
import { FaultInjector } from '../faults';
import { signJwt } from '../entra/jwt';
import { RequestLog } from '../requestLog';
import { TOKEN_EXCHANGE_AUDIENCE, type ResolvedScenario, type SecretRegistry } from '../scenario';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';
import type { KeyPair } from '../testCa';

export interface AzureDevOpsOidcOptions {
  scenario: ResolvedScenario;
  signingKeys: KeyPair;
  tls: { key: string; cert: string };
  log: RequestLog;
  faults: FaultInjector;
  secrets: SecretRegistry;
}

/**
 * The distributedtask area's locations that the sandbox serves (Azure DevOps lists every resource of
 * the area; only the OIDC token's matters here). The id and route are the ones the clients use:
 * azure-devops-node-api api/TaskApi.ts createOidcToken (location 69a319f4-…, route values
 * scopeIdentifier/hubName/planId/jobId, query serviceConnectionId) and the REST reference
 * (learn.microsoft.com/rest/api/azure/devops/distributedtask/oidctoken/create:
 * POST {organization}/{scopeIdentifier}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/oidctoken).
 * Versions: released at 7.1 (azidentity's AzurePipelinesCredential and kubelogin send api-version=7.1,
 * Azure/azure-sdk-for-go sdk/azidentity/azure_pipelines_credential.go), 7.2-preview.1 requested by
 * azure-devops-node-api 14; minVersion is not known from a source and set to 7.1.
 */
export const DISTRIBUTED_TASK_LOCATIONS = [
  {
    id: '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2',
    area: 'distributedtask',
    resourceName: 'oidctoken',
    routeTemplate: '{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/jobs/{jobId}/{resource}',
    resourceVersion: 1,
    minVersion: '7.1',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
];

export function vssError(message: string, typeKey: string, typeName: string): object {
  return { $id: '1', innerException: null, message, typeName, typeKey, errorCode: 0, eventId: 3000 };
}

export class AzureDevOpsOidcService {
  /** `kid` of the OIDC signing key (base64url SHA-256 of its SPKI). */
  readonly kid: string;
  private server!: ServiceServer;

  private constructor(private readonly options: AzureDevOpsOidcOptions) {
    const spki = options.signingKeys.publicKey.export({ type: 'spki', format: 'der' });
    this.kid = crypto.createHash('sha256').update(spki).digest('base64url').slice(0, 32);
  }

  static async start(options: AzureDevOpsOidcOptions): Promise<AzureDevOpsOidcService> {
    const service = new AzureDevOpsOidcService(options);
    service.server = await ServiceServer.start({
      service: 'oidc',
      tls: options.tls,
      log: options.log,
      faults: options.faults,
      handler: (req) => service.handle(req),
      faultBody: (status) =>
        vssError(
          `The service is unavailable (injected HTTP ${status}).`,
          'ServiceUnavailableException',
          'Microsoft.VisualStudio.Services.WebApi.ServiceUnavailableException, Microsoft.VisualStudio.Services.WebApi',
        ),
    });
    return service;
  }

  get origin(): string {
    return this.server.origin;
  }

  get issuer(): string {
    return `${this.origin}/vstoken/${this.options.scenario.azureDevOps.organizationId}`;
  }

  /** `System.CollectionUri` / `System.TeamFoundationCollectionUri`: `https://127.0.0.1:<port>/<org>/`. */
  get collectionUri(): string {
    return `${this.origin}/${this.options.scenario.azureDevOps.organization}/`;
  }

  /** `System.OidcRequestUri`: the token URL up to `/oidctoken`, without query. */
  get oidcRequestUri(): string {
    const a = this.options.scenario.azureDevOps;
    return `${this.collectionUri}${a.projectId}/_apis/distributedtask/hubs/${a.hubName}/plans/${a.planId}/jobs/${a.jobId}/oidctoken`;
  }

  get publicKey(): crypto.KeyObject {
    return this.options.signingKeys.publicKey;
  }

  /** A job access token shaped like System.AccessToken (a JWT signed by this service). */
  createSystemAccessToken(): string {
    const a = this.options.scenario.azureDevOps;
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      { typ: 'JWT', alg: 'RS256', x5t: this.kid },
      {
        nameid: crypto.randomUUID(),
        scp: 'app_token',
        aui: crypto.randomUUID(),
        sid: crypto.randomUUID(),
        Build_Id: '1',
        orchid: `${a.planId}.${a.jobId}`,
        iss: 'app.vstoken.visualstudio.com',
        aud: `app.vstoken.visualstudio.com|vso:${a.organizationId}`,
        nbf: now,
        exp: now + 3 * 60 * 60,
      },
      this.options.signingKeys.privateKey,
    );
  }

  /** Signs an OIDC token for arbitrary claims with the issuer's key (for negative tests). */
  signToken(claims: Record<string, unknown>): string {
    return signJwt({ typ: 'JWT', alg: 'RS256', kid: this.kid, x5t: this.kid }, claims, this.options.signingKeys.privateKey);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /**
   * The service's api-version checks against the oidctoken location: above the server's latest
   * version is out of range; above the released version without `-preview` is refused. Texts of
   * Microsoft.VisualStudio.Services.WebApi's resources (ApiVersionOutOfRange,
   * PreviewVersionNotSuppliedMessage; the DLL of Azure DevOps Server 2022, decompiled in
   * mjwrona/decompiled). The lower bound is not checked: no source gives the route's minimum.
   */
  private refuseApiVersion(apiVersion: string): SandboxResponse | undefined {
    const location = DISTRIBUTED_TASK_LOCATIONS[0];
    const m = /^(\d+\.\d+)(-preview(\.\d+)?)?$/.exec(apiVersion.trim());
    if (!m) return undefined;
    const version = Number(m[1]);
    if (version > Number(location.maxVersion)) {
      return {
        status: 400,
        body: vssError(
          `The requested REST API version of ${m[1]} is out of range for this server. The latest REST API version this server supports is ${location.maxVersion}.`,
          'VssVersionOutOfRangeException',
          'Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, Microsoft.VisualStudio.Services.WebApi',
        ),
        note: { error: 'api_version_out_of_range' },
      };
    }
    if (!m[2] && version > Number(location.releasedVersion)) {
      return {
        status: 400,
        body: vssError(
          `The requested version "${m[1]}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${m[1]}-preview"`,
          'VssInvalidPreviewVersionException',
          'Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi',
        ),
        note: { error: 'api_version_preview_required' },
      };
    }
    return undefined;
  }

  private handle(req: SandboxRequest): SandboxResponse {
    const a = this.options.scenario.azureDevOps;
    const parts = req.path.split('/').filter((p) => p.length > 0);

    if (
      req.method === 'GET' &&
      parts[0] === 'vstoken' &&
      parts[1]?.toLowerCase() === a.organizationId.toLowerCase() &&
      parts[2] === '.well-known'
    ) {
      if (parts[3] === 'openid-configuration') {
        return {
          status: 200,
          body: {
            issuer: this.issuer,
            jwks_uri: `${this.issuer}/.well-known/jwks`,
            subject_types_supported: ['public', 'pairwise'],
            response_types_supported: ['id_token'],
            claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'nbf', 'jti', 'org_id', 'prj_id', 'sc_id', 'pln_id', 'job_id'],
            id_token_signing_alg_values_supported: ['RS256'],
            scopes_supported: ['openid'],
          },
        };
      }
      if (parts[3] === 'jwks') {
        const jwk = this.publicKey.export({ format: 'jwk' });
        return {
          status: 200,
          body: { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid: this.kid, x5t: this.kid, n: jwk.n, e: jwk.e }] },
        };
      }
    }

    // OPTIONS /{org}/_apis/distributedtask: the area's resource locations, which
    // azure-devops-node-api asks for before its first call into the area (VsoClient.ts,
    // beginGetAreaLocations: `restClient.options(resolveUrl('_apis/' + area))`, then
    // getVersioningData picks the location by id and negotiates the api-version against it).
    if (
      req.method === 'OPTIONS' &&
      parts.length === 3 &&
      parts[0].toLowerCase() === a.organization.toLowerCase() &&
      parts[1] === '_apis' &&
      parts[2].toLowerCase() === 'distributedtask'
    ) {
      return {
        status: 200,
        headers: { 'X-VSS-E2EID': crypto.randomUUID() },
        body: { count: DISTRIBUTED_TASK_LOCATIONS.length, value: DISTRIBUTED_TASK_LOCATIONS },
      };
    }

    // /{org}/{project}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken
    const isOidcRoute =
      parts.length === 11 &&
      parts[2] === '_apis' &&
      parts[3].toLowerCase() === 'distributedtask' &&
      parts[4] === 'hubs' &&
      parts[6] === 'plans' &&
      parts[8] === 'jobs' &&
      parts[10].toLowerCase() === 'oidctoken';
    if (!isOidcRoute) {
      return {
        status: 404,
        body: vssError(
          `The resource cannot be found. (${req.path})`,
          'ResourceNotFoundException',
          'Microsoft.VisualStudio.Services.WebApi.ResourceNotFoundException, Microsoft.VisualStudio.Services.WebApi',
        ),
      };
    }
    if (req.method !== 'POST') {
      return {
        status: 405,
        headers: { Allow: 'POST' },
        body: vssError(
          `The requested resource does not support http method '${req.method}'.`,
          'HttpMethodNotAllowedException',
          'System.Web.Http.HttpMethodNotAllowedException',
        ),
      };
    }

    // Authentication first, as Azure DevOps does: anything but the job's token is a 401.
    const auth = req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(auth);
    if (!bearer || bearer[1].trim() !== a.systemAccessToken) {
      return {
        status: 401,
        headers: {
          'WWW-Authenticate': 'Bearer, Basic realm="sandbox", TFS-Federated',
          'X-TFS-ProcessId': crypto.randomUUID(),
          'X-VSS-E2EID': crypto.randomUUID(),
        },
        body: vssError(
          'TF400813: Resource not available for anonymous access. Client authentication required.',
          'UnauthorizedRequestException',
          'Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server',
        ),
        note: { error: bearer ? 'invalid_token' : 'missing_token' },
      };
    }

    const apiVersion = req.url.searchParams.get('api-version') ?? /api-version=([^;,\s]+)/.exec(req.header('accept') ?? '')?.[1];
    if (!apiVersion) {
      return {
        status: 400,
        body: vssError(
          'No api-version was supplied for the "POST" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").',
          'VssVersionNotSpecifiedException',
          'Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, Microsoft.VisualStudio.Services.WebApi',
        ),
      };
    }

    const refusedVersion = this.refuseApiVersion(apiVersion);
    if (refusedVersion) return refusedVersion;

    const [org, project, , , , hub, , planId, , jobId] = parts;
    const notFound = (what: string): SandboxResponse => ({
      status: 404,
      body: vssError(
        what,
        'ResourceNotFoundException',
        'Microsoft.VisualStudio.Services.WebApi.ResourceNotFoundException, Microsoft.VisualStudio.Services.WebApi',
      ),
      note: { error: 'not_found' },
    });
    if (org.toLowerCase() !== a.organization.toLowerCase()) return notFound(`Organization '${org}' was not found.`);
    if (project.toLowerCase() !== a.projectId.toLowerCase() && project.toLowerCase() !== a.projectName.toLowerCase()) {
      return notFound(
        `TF200016: The following project does not exist: ${project}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
      );
    }
    if (hub.toLowerCase() !== a.hubName.toLowerCase()) return notFound(`Hub '${hub}' was not found.`);
    if (planId.toLowerCase() !== a.planId.toLowerCase()) return notFound(`Orchestration plan ${planId} not found.`);
    if (jobId.toLowerCase() !== a.jobId.toLowerCase()) return notFound(`Job ${jobId} was not found in plan ${planId}.`);

    const connectionId = req.url.searchParams.get('serviceConnectionId');
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      jti: crypto.randomUUID(),
      aud: TOKEN_EXCHANGE_AUDIENCE,
      org_id: a.organizationId,
      prj_id: a.projectId,
      pln_id: a.planId,
      job_id: a.jobId,
      iss: this.issuer,
      nbf: now,
      iat: now,
      exp: now + this.options.scenario.oidcTokenLifetimeSeconds,
    };
    const note: Record<string, string> = {};
    if (connectionId) {
      const connection = this.options.scenario.serviceConnections.find((c) => c.id.toLowerCase() === connectionId.toLowerCase());
      if (!connection) {
        return {
          status: 400,
          body: vssError(
            `Service connection '${connectionId}' could not be found, or the pipeline is not authorized to use it.`,
            'ServiceEndpointNotFoundException',
            'Microsoft.TeamFoundation.DistributedTask.WebApi.ServiceEndpointNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi',
          ),
          note: { serviceConnectionId: connectionId, error: 'unknown_service_connection' },
        };
      }
      claims.sub = connection.subject;
      claims.sc_id = connection.id;
      note.serviceConnectionId = connection.id;
    } else {
      claims.sub = `p://${a.organization}/${a.projectName}/pipeline`;
      claims.def_id = '1';
    }
    const token = this.signToken(claims);
    this.options.secrets.add(token);
    note.subject = String(claims.sub);
    note.apiVersion = apiVersion;
    return {
      status: 200,
      headers: {
        'Content-Type': `application/json; charset=utf-8; api-version=${apiVersion}`,
        'X-VSS-E2EID': crypto.randomUUID(),
        ActivityId: crypto.randomUUID(),
      },
      body: { oidcToken: token },
      note,
    };
  }
}
