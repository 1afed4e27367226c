/**
 * Azure Instance Metadata Service, managed identity token endpoint (plain HTTP, like the real one).
 *
 *   GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=<r>[&client_id=|object_id=|msi_res_id=]
 *       Metadata: true
 *
 * @azure/identity 4.x hands managed identity to @azure/msal-node, whose IMDS source reads the
 * endpoint from AZURE_POD_IDENTITY_AUTHORITY_HOST (`<value>/metadata/identity/oauth2/token`).
 * When that variable is set, @azure/identity also skips its IMDS availability probe; without it
 * (DefaultAzureCredential) the probe is a GET of the token path with no query and no Metadata
 * header, which this server answers with IMDS's 400, i.e. "available".
 *
 * msal-node requests `/metadata/identity/oauth2/token/` (trailing slash); both forms are served.
 * Note that @azure/identity retries IMDS 404 and 410 answers (5 times, from 800 ms, 410 from 3 s),
 * so a 404 fault injected on 'imds' makes ManagedIdentityCredential slow, not failing.
 *
 * Error bodies are IMDS's: {"error":"invalid_request","error_description":"..."}.
 */
import { FaultInjector } from '../faults';
import { RequestLog } from '../requestLog';
import { canonicalResource, type EntraService } from './entra';
import type { ResolvedPrincipal, ResolvedScenario } from '../scenario';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';

export const IMDS_TOKEN_PATH = '/metadata/identity/oauth2/token';

export interface ImdsOptions {
  scenario: ResolvedScenario;
  entra: EntraService;
  log: RequestLog;
  faults: FaultInjector;
  preferredPort?: number;
}

const imdsError = (status: number, description: string, note?: Record<string, string>): SandboxResponse => ({
  status,
  headers: { Server: 'IMDS/150.870.65.1475' },
  body: { error: 'invalid_request', error_description: description },
  note,
});

export class ImdsService {
  private server!: ServiceServer;

  private constructor(private readonly options: ImdsOptions) {}

  static async start(options: ImdsOptions): Promise<ImdsService> {
    const service = new ImdsService(options);
    service.server = await ServiceServer.start({
      service: 'imds',
      log: options.log,
      faults: options.faults,
      preferredPort: options.preferredPort,
      handler: (req) => service.handle(req),
      faultBody: (status) => ({
        error: 'service_unavailable',
        error_description: `IMDS is temporarily unavailable (injected HTTP ${status}).`,
      }),
    });
    return service;
  }

  /** `http://127.0.0.1:<port>`: the value for AZURE_POD_IDENTITY_AUTHORITY_HOST. */
  get endpoint(): string {
    return this.server.origin;
  }

  get port(): number {
    return this.server.port;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private handle(req: SandboxRequest): SandboxResponse {
    // msal-node requests the token path with a trailing slash ('/metadata/identity/oauth2/token/').
    if (req.path.replace(/\/$/, '') !== IMDS_TOKEN_PATH) {
      return { status: 404, headers: { Server: 'IMDS/150.870.65.1475' }, body: { error: 'Not found' } };
    }
    if (req.method !== 'GET') {
      return { status: 405, headers: { Allow: 'GET' }, body: { error: 'Method not allowed' } };
    }
    if ((req.header('metadata') ?? '').toLowerCase() !== 'true') {
      return imdsError(400, 'Required metadata header not specified', { error: 'missing_metadata_header' });
    }
    const q = req.url.searchParams;
    if (!q.get('api-version')) return imdsError(400, "Required query variable 'api-version' is missing", { error: 'missing_api_version' });
    const resourceParam = q.get('resource');
    if (!resourceParam) return imdsError(400, "Required query variable 'resource' is missing", { error: 'missing_resource' });

    const identities = this.options.scenario.principals.filter((p) => p.managedIdentity);
    const clientId = q.get('client_id') ?? q.get('clientid');
    const objectId = q.get('object_id');
    const resourceId = q.get('msi_res_id') ?? q.get('mi_res_id');
    let identity: ResolvedPrincipal | undefined;
    if (clientId) identity = identities.find((p) => p.clientId.toLowerCase() === clientId.toLowerCase());
    else if (objectId) identity = identities.find((p) => p.objectId.toLowerCase() === objectId.toLowerCase());
    else if (resourceId) identity = identities.find((p) => p.resourceId?.toLowerCase() === resourceId.toLowerCase());
    else {
      identity = identities.find((p) => p.systemAssigned);
      if (!identity && identities.length > 1) {
        return imdsError(
          400,
          'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request',
          { error: 'ambiguous_identity' },
        );
      }
      identity ??= identities[0];
    }
    const selector: Record<string, string> = clientId ? { clientId } : objectId ? { objectId } : resourceId ? { resourceId } : {};
    if (!identity) return imdsError(400, 'Identity not found', { ...selector, error: 'identity_not_found' });

    const resource = canonicalResource(resourceParam);
    const minted = this.options.entra.mintAccessToken(identity, resource, '2');
    return {
      status: 200,
      headers: { Server: 'IMDS/150.870.65.1475' },
      // IMDS returns every number as a string.
      body: {
        access_token: minted.accessToken,
        client_id: identity.clientId,
        expires_in: String(minted.expiresIn),
        expires_on: String(minted.expiresOn),
        ext_expires_in: String(minted.expiresIn),
        not_before: String(minted.notBefore),
        resource: resourceParam,
        token_type: 'Bearer',
      },
      note: { clientId: identity.clientId, principal: identity.name, resource, result: 'issued' },
    };
  }
}
