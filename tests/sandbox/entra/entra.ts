/**
 * Microsoft Entra ID, as far as the client-credentials flows used by Azure DevOps tasks need it.
 *
 * Works with the real @azure/identity 4.x / @azure/msal-node 5.x when they are configured with
 * `authorityHost: sandbox.authorityHost` and `disableInstanceDiscovery: true` (without it MSAL asks
 * https://login.microsoftonline.com/common/discovery/instance, which is hard-coded in msal-common).
 *
 * Routes (tenant = the scenario tenant id, case-insensitive):
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration   (MSAL's first request)
 *   GET  /{tenant}/.well-known/openid-configuration        (v1 metadata)
 *   GET  /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys, /common/discovery/keys
 *   GET  /common/discovery/instance                        (instance discovery, if a client asks)
 *   POST /{tenant}/oauth2/v2.0/token                       (scope=<resource>/.default)
 *   POST /{tenant}/oauth2/token                            (v1: resource=<resource>)
 *
 * Error texts: see ERRORS below; the ones marked "verified" were checked against real Entra
 * responses quoted in public repositories, the others are close approximations.
 */
import * as crypto from 'node:crypto';
import { FaultInjector } from '../faults';
import { decodeJwt, JwtError, signJwt, verifyJwt, type DecodedJwt, type JwtPayload } from './jwt';
import { RequestLog } from '../requestLog';
import { TOKEN_EXCHANGE_AUDIENCE, type ResolvedPrincipal, type ResolvedScenario, type SecretRegistry } from '../scenario';
import { ServiceServer, type SandboxRequest, type SandboxResponse } from '../server';
import { selfSignedCertificate, type IssuedCertificate, type KeyPair } from '../testCa';

export const ARM_SCOPE = 'https://management.azure.com/.default';
/** Application id of the AKS AAD server application ("Azure Kubernetes Service AAD Server"). */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const WIF_DOC = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
const CERT_DOC = 'https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials';
/** Tolerated clock skew for `nbf`. Expiry is enforced without skew so short-lived tokens can be tested. */
const NBF_SKEW_SECONDS = 300;

/**
 * The resource (token audience) a scope asks for: the scope minus `/.default`; a bare-host URL
 * gets its trailing slash, so 'https://management.azure.com/.default' → 'https://management.azure.com/'
 * and the IMDS resource 'https://management.azure.com' → 'https://management.azure.com/'.
 */
export function resourceFromScope(scope: string): string {
  const resource = scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : scope;
  return canonicalResource(resource);
}

export function canonicalResource(resource: string): string {
  if (/^https?:\/\/[^/]+$/i.test(resource)) return `${resource}/`;
  return resource;
}

export interface EntraError {
  status: number;
  error: string;
  code: number;
  message: string;
}

/** Entra error catalogue. */
export const ERRORS = {
  // verified: "Tenant '<t>' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. ..."
  tenantNotFound: (tenant: string, error = 'invalid_request'): EntraError => ({
    status: 400,
    error,
    code: 90002,
    message: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  }),
  // verified (400 unauthorized_client)
  applicationNotFound: (clientId: string, directory: string): EntraError => ({
    status: 400,
    error: 'unauthorized_client',
    code: 700016,
    message: `Application with identifier '${clientId}' was not found in the directory '${directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  // verified (401 invalid_client)
  invalidSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7000215,
    message: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  // verified
  missingCredential: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7000216,
    message: "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
  }),
  // verified
  missingParameter: (name: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  }),
  // verified
  unsupportedGrant: (grant: string): EntraError => ({
    status: 400,
    error: 'unsupported_grant_type',
    code: 70003,
    message: `The app requested an unsupported grant type '${grant}'.`,
  }),
  // verified
  invalidScope: (scope: string): EntraError => ({
    status: 400,
    error: 'invalid_scope',
    code: 1002012,
    message: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  }),
  // approximation
  invalidAssertionType: (): EntraError => ({
    status: 400,
    error: 'invalid_request',
    code: 50027,
    message: `Invalid client_assertion_type. Expected '${CLIENT_ASSERTION_TYPE}'.`,
  }),
  // verified text
  malformedAssertion: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 50027,
    message: 'JWT token is invalid or malformed.',
  }),
  // verified
  certificateNotRegistered: (clientId: string, thumbprintHex: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700027,
    message: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprintHex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${clientId}'].`,
  }),
  // code and first sentence verified, bracketed reason approximated
  invalidSignature: (reason: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700027,
    message: `Client assertion contains an invalid signature. [Reason - ${reason}]`,
  }),
  // verified (Entra prints 7 fractional digits)
  assertionTimeRange: (now: Date, validFrom: Date, expiry: Date): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700024,
    message: `Client assertion is not within its valid time range. Current time: ${iso7(now)}, assertion valid from ${iso7(validFrom)}, expiry time of assertion ${iso7(expiry)}. Review the documentation at ${CERT_DOC} .`,
  }),
  // approximation (AADSTS700021 is the code for an assertion whose iss/sub is not the client_id)
  assertionClientMismatch: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700021,
    message: `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at ${CERT_DOC} .`,
  }),
  // approximation
  assertionAudience: (audience: string, expected: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700027,
    message: `Client assertion failed signature validation. [Reason - The audience '${audience}' of the assertion is not valid, expected '${expected}'.]`,
  }),
  // verified
  federatedIssuer: (issuer: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700211,
    message: `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`,
  }),
  // verified
  federatedAudience: (audience: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700212,
    message: `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`,
  }),
  // verified
  federatedSubject: (subject: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 700213,
    message: `No matching federated identity record found for presented assertion subject '${subject}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`,
  }),
  // first two sentences verified; Entra returns this instead of 700213 when only the case differs
  federatedSubjectCase: (subject: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 7002138,
    message: `No matching federated identity record found for presented assertion subject '${subject}'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`,
  }),
  // code verified, text approximated: Entra could not get signing keys for the issuer
  externalIssuerUnreachable: (issuer: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    code: 50166,
    message: `Request to External OIDC endpoint failed. Issuer: '${issuer}'.`,
  }),
  // approximation: the fault body for injected 5xx
  transient: (): EntraError => ({
    status: 503,
    error: 'temporarily_unavailable',
    code: 90033,
    message: 'A transient error has occurred. Please try again.',
  }),
} as const;

export type AccessTokenFailure = 'malformed' | 'signature' | 'issuer' | 'expired' | 'not_yet_valid' | 'audience';

export class AccessTokenError extends Error {
  constructor(
    readonly reason: AccessTokenFailure,
    message: string,
  ) {
    super(message);
    this.name = 'AccessTokenError';
  }
}

export interface MintedToken {
  accessToken: string;
  expiresIn: number;
  /** Unix seconds. */
  expiresOn: number;
  notBefore: number;
  claims: JwtPayload;
}

export interface EntraServiceOptions {
  scenario: ResolvedScenario;
  signingKeys: KeyPair;
  tls: { key: string; cert: string };
  log: RequestLog;
  faults: FaultInjector;
  secrets: SecretRegistry;
}

type CredentialKind = 'secret' | 'certificate' | 'federated' | 'none';

class EntraFailure extends Error {
  constructor(
    readonly details: EntraError,
    readonly credential: CredentialKind,
  ) {
    super(details.message);
  }
}

export class EntraService {
  readonly signingCertificate: IssuedCertificate;
  /** Key id of the token signing key (`kid` and `x5t` headers; Entra uses the SHA-1 thumbprint). */
  readonly kid: string;
  private readonly externalIssuers = new Map<string, Map<string, crypto.KeyObject>>();
  private server!: ServiceServer;

  private constructor(private readonly options: EntraServiceOptions) {
    this.signingCertificate = selfSignedCertificate('accounts.sandbox.test', options.signingKeys);
    this.kid = this.signingCertificate.x5t;
  }

  static async start(options: EntraServiceOptions): Promise<EntraService> {
    const entra = new EntraService(options);
    entra.server = await ServiceServer.start({
      service: 'entra',
      tls: options.tls,
      log: options.log,
      faults: options.faults,
      handler: (req) => entra.handle(req),
      faultBody: (status) => entra.errorBody({ ...ERRORS.transient(), status }, undefined).body as object,
    });
    return entra;
  }

  get origin(): string {
    return this.server.origin;
  }

  get port(): number {
    return this.server.port;
  }

  /** PEM (SPKI) of the public half of the token signing key. */
  get signingPublicKeyPem(): string {
    return this.options.signingKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** `iss` of access tokens (the sts.windows.net/<tenant>/ shape, on the sandbox host). */
  issuer(tenantId: string): string {
    return `${this.origin}/${tenantId}/`;
  }

  /** `issuer` of the v2.0 OpenID configuration document. */
  openIdIssuer(tenantId: string): string {
    return `${this.origin}/${tenantId}/v2.0`;
  }

  tokenEndpoint(tenantId: string): string {
    return `${this.origin}/${tenantId}/oauth2/v2.0/token`;
  }

  /** Lets federated assertions from `issuer` be verified with these keys (by `kid`). */
  trustIssuer(issuer: string, keys: Array<{ kid: string; publicKey: crypto.KeyObject }>): void {
    this.externalIssuers.set(issuer, new Map(keys.map((k) => [k.kid, k.publicKey])));
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Issues an access token for `principal` (used by the token endpoint and by IMDS). */
  mintAccessToken(principal: ResolvedPrincipal, resource: string, appidacr: '0' | '1' | '2'): MintedToken {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.options.scenario.tokenLifetimeSeconds;
    const issuer = this.issuer(principal.tenantId);
    const claims: JwtPayload = {
      aud: resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      aio: crypto.randomBytes(24).toString('base64url'),
      appid: principal.clientId,
      appidacr,
      azp: principal.clientId,
      azpacr: appidacr,
      idp: issuer,
      idtyp: 'app',
      oid: principal.objectId,
      rh: `0.${crypto.randomBytes(30).toString('base64url')}.`,
      sub: principal.objectId,
      tid: principal.tenantId,
      uti: crypto.randomBytes(16).toString('base64url'),
      ver: '1.0',
    };
    if (principal.managedIdentity && principal.resourceId) claims.xms_mirid = principal.resourceId;
    const accessToken = signJwt({ typ: 'JWT', alg: 'RS256', x5t: this.kid, kid: this.kid }, claims, this.options.signingKeys.privateKey);
    this.options.secrets.add(accessToken);
    return { accessToken, expiresIn: lifetime, expiresOn: now + lifetime, notBefore: now, claims };
  }

  /**
   * Validates an access token this sandbox issued (signature, issuer, lifetime, and audience when
   * given). For the later ARM / AKS / ACR services.
   */
  validateAccessToken(token: string, options: { audience?: string | string[] } = {}): JwtPayload {
    let decoded: DecodedJwt;
    try {
      decoded = verifyJwt(token, this.options.signingKeys.publicKey);
    } catch (err) {
      const reason = err instanceof JwtError && err.reason === 'signature' ? 'signature' : 'malformed';
      throw new AccessTokenError(reason, `Access token rejected: ${(err as Error).message}`);
    }
    const claims = decoded.payload;
    if (typeof claims.tid !== 'string' || claims.iss !== this.issuer(claims.tid)) {
      throw new AccessTokenError('issuer', `Access token issuer '${String(claims.iss)}' is not this sandbox's Entra issuer`);
    }
    const now = Date.now() / 1000;
    if (typeof claims.exp !== 'number' || now >= claims.exp) throw new AccessTokenError('expired', 'Access token has expired');
    if (typeof claims.nbf === 'number' && now + NBF_SKEW_SECONDS < claims.nbf)
      throw new AccessTokenError('not_yet_valid', 'Access token is not yet valid');
    if (options.audience !== undefined) {
      const wanted = (Array.isArray(options.audience) ? options.audience : [options.audience]).map(canonicalResource);
      const aud = typeof claims.aud === 'string' ? canonicalResource(claims.aud) : '';
      if (!wanted.includes(aud))
        throw new AccessTokenError('audience', `Access token audience '${String(claims.aud)}' is not one of ${wanted.join(', ')}`);
    }
    return claims;
  }

  // -----------------------------------------------------------------------------------------

  private findTenant(segment: string): string | undefined {
    return segment.toLowerCase() === this.options.scenario.tenantId.toLowerCase() ? this.options.scenario.tenantId : undefined;
  }

  private handle(req: SandboxRequest): SandboxResponse {
    const parts = req.path.split('/').filter((p) => p.length > 0);
    const route = parts.slice(1).join('/').toLowerCase();
    const tenantSegment = parts[0] ?? '';

    if (req.method === 'GET' && tenantSegment.toLowerCase() === 'common' && route === 'discovery/instance') {
      return this.instanceDiscovery(req);
    }
    if (req.method === 'GET' && (route === 'discovery/v2.0/keys' || route === 'discovery/keys')) {
      if (tenantSegment.toLowerCase() !== 'common' && !this.findTenant(tenantSegment)) {
        return this.errorBody(ERRORS.tenantNotFound(tenantSegment, 'invalid_tenant'), req);
      }
      return { status: 200, body: this.jwks() };
    }
    if (req.method === 'GET' && (route === 'v2.0/.well-known/openid-configuration' || route === '.well-known/openid-configuration')) {
      return this.openIdConfiguration(tenantSegment, route.startsWith('v2.0'), req);
    }
    if (route === 'oauth2/v2.0/token' || route === 'oauth2/token') {
      if (req.method !== 'POST') return { status: 405, headers: { Allow: 'POST' }, body: '' };
      return this.token(req, tenantSegment, route === 'oauth2/v2.0/token' ? 'v2' : 'v1');
    }
    return { status: 404, body: 'Not Found' };
  }

  private jwks(): object {
    const jwk = this.options.signingKeys.publicKey.export({ format: 'jwk' });
    return {
      keys: [
        {
          kty: 'RSA',
          use: 'sig',
          kid: this.kid,
          x5t: this.kid,
          n: jwk.n,
          e: jwk.e,
          x5c: [this.signingCertificate.der.toString('base64')],
          cloud_instance_name: 'microsoftonline.com',
          issuer: `${this.origin}/{tenantid}/v2.0`,
        },
      ],
    };
  }

  private instanceDiscovery(req: SandboxRequest): SandboxResponse {
    const host = new URL(this.origin).host;
    const tenant = this.options.scenario.tenantId;
    return {
      status: 200,
      headers: this.commonHeaders(req),
      body: {
        tenant_discovery_endpoint: `${this.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }

  private openIdConfiguration(tenantSegment: string, v2: boolean, req: SandboxRequest): SandboxResponse {
    const lower = tenantSegment.toLowerCase();
    const generic = lower === 'common' || lower === 'organizations';
    const tenant = generic ? '{tenantid}' : this.findTenant(tenantSegment);
    if (!tenant) return this.errorBody(ERRORS.tenantNotFound(tenantSegment, 'invalid_tenant'), req);
    const base = `${this.origin}/${generic ? tenantSegment : tenant}`;
    const suffix = v2 ? '/v2.0' : '';
    return {
      status: 200,
      headers: { ...this.commonHeaders(req), 'Cache-Control': 'max-age=86400, private' },
      body: {
        token_endpoint: `${base}/oauth2${suffix}/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery${suffix}/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: v2 ? `${this.origin}/${tenant}/v2.0` : `${this.origin}/${tenant}/`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${this.origin}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2${suffix}/authorize`,
        device_authorization_endpoint: `${base}/oauth2${suffix}/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2${suffix}/logout`,
        claims_supported: [
          'sub',
          'iss',
          'aud',
          'exp',
          'iat',
          'auth_time',
          'acr',
          'nonce',
          'preferred_username',
          'name',
          'tid',
          'ver',
          'at_hash',
          'c_hash',
          'email',
        ],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      },
    };
  }

  private token(req: SandboxRequest, tenantSegment: string, version: 'v1' | 'v2'): SandboxResponse {
    const form = req.form();
    const note: Record<string, string> = { credential: 'none' };
    const clientIdForNote = form.get('client_id');
    if (clientIdForNote) note.clientId = clientIdForNote;
    try {
      const tenantId = this.findTenant(tenantSegment);
      if (!tenantId) throw new EntraFailure(ERRORS.tenantNotFound(tenantSegment), 'none');

      const grantType = form.get('grant_type');
      if (!grantType) throw new EntraFailure(ERRORS.missingParameter('grant_type'), 'none');
      if (grantType !== 'client_credentials') throw new EntraFailure(ERRORS.unsupportedGrant(grantType), 'none');

      let clientId = form.get('client_id') ?? undefined;
      let clientSecret = form.get('client_secret') ?? undefined;
      const basic = /^Basic\s+(.+)$/i.exec(req.header('authorization') ?? '');
      if (basic) {
        const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
        const sep = decoded.indexOf(':');
        if (sep > 0) {
          clientId ??= decodeURIComponent(decoded.slice(0, sep));
          clientSecret ??= decodeURIComponent(decoded.slice(sep + 1));
        }
      }
      if (!clientId) throw new EntraFailure(ERRORS.missingParameter('client_id'), 'none');
      note.clientId = clientId;

      let resource: string;
      if (version === 'v2') {
        const scope = form.get('scope');
        if (!scope) throw new EntraFailure(ERRORS.missingParameter('scope'), 'none');
        const scopes = scope.split(/\s+/).filter((s) => s && !['openid', 'profile', 'offline_access'].includes(s));
        if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) throw new EntraFailure(ERRORS.invalidScope(scope), 'none');
        resource = resourceFromScope(scopes[0]);
      } else {
        const r = form.get('resource');
        if (!r) throw new EntraFailure(ERRORS.missingParameter('resource'), 'none');
        resource = canonicalResource(r);
      }
      note.resource = resource;

      const principal = this.options.scenario.principals.find((p) => p.clientId.toLowerCase() === clientId!.toLowerCase());
      if (!principal) throw new EntraFailure(ERRORS.applicationNotFound(clientId, tenantId), 'none');

      const assertion = form.get('client_assertion');
      let credential: CredentialKind;
      if (assertion) {
        if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) throw new EntraFailure(ERRORS.invalidAssertionType(), 'none');
        credential = this.verifyAssertion(assertion, principal, tenantId, version);
        this.options.secrets.add(assertion);
      } else if (clientSecret !== undefined) {
        credential = 'secret';
        if (principal.secret === undefined || principal.secret !== clientSecret) {
          throw new EntraFailure(ERRORS.invalidSecret(principal.clientId), credential);
        }
      } else {
        throw new EntraFailure(ERRORS.missingCredential(), 'none');
      }
      note.credential = credential;

      const minted = this.mintAccessToken(principal, resource, credential === 'secret' ? '1' : '2');
      note.result = 'issued';
      const body: Record<string, unknown> = {
        token_type: 'Bearer',
        expires_in: minted.expiresIn,
        ext_expires_in: minted.expiresIn,
        access_token: minted.accessToken,
      };
      if (version === 'v1') {
        // v1 returns every number as a string, plus expires_on / not_before / resource.
        Object.assign(body, {
          expires_in: String(minted.expiresIn),
          ext_expires_in: String(minted.expiresIn),
          expires_on: String(minted.expiresOn),
          not_before: String(minted.notBefore),
          resource,
        });
      }
      return {
        status: 200,
        headers: { ...this.commonHeaders(req), 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
        body,
        note,
      };
    } catch (err) {
      if (!(err instanceof EntraFailure)) throw err;
      note.credential = err.credential;
      note.error = `AADSTS${err.details.code}`;
      return { ...this.errorBody(err.details, req), note };
    }
  }

  /** Verifies a client assertion: a self-signed certificate assertion or a federated (OIDC) token. */
  private verifyAssertion(assertion: string, principal: ResolvedPrincipal, tenantId: string, version: 'v1' | 'v2'): CredentialKind {
    let decoded: DecodedJwt;
    try {
      decoded = decodeJwt(assertion);
    } catch {
      throw new EntraFailure(ERRORS.malformedAssertion(), 'none');
    }
    const { header, payload } = decoded;
    if (typeof payload.iss !== 'string') throw new EntraFailure(ERRORS.malformedAssertion(), 'none');

    if (payload.iss.toLowerCase() === principal.clientId.toLowerCase()) {
      // Certificate credential: iss = sub = client_id, signed by a registered certificate.
      const cert = principal.certificate;
      const presentedS256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
      const presentedSha1 = typeof header.x5t === 'string' ? header.x5t : undefined;
      const matches =
        cert !== undefined &&
        ((presentedS256 !== undefined && presentedS256 === cert.x5tS256) ||
          (presentedS256 === undefined && presentedSha1 !== undefined && presentedSha1 === cert.x5t));
      if (!matches) {
        const presented = presentedS256 ?? presentedSha1 ?? '';
        throw new EntraFailure(
          ERRORS.certificateNotRegistered(principal.clientId, Buffer.from(presented, 'base64url').toString('hex').toUpperCase()),
          'certificate',
        );
      }
      try {
        verifyJwt(assertion, cert.publicKey);
      } catch {
        throw new EntraFailure(
          ERRORS.invalidSignature(
            `The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${cert.thumbprint}', Found key 'Start=${usDate(cert.notBefore)}, End=${usDate(cert.notAfter)}'`,
          ),
          'certificate',
        );
      }
      if (typeof payload.sub !== 'string' || payload.sub.toLowerCase() !== principal.clientId.toLowerCase()) {
        throw new EntraFailure(ERRORS.assertionClientMismatch(), 'certificate');
      }
      const accepted = [
        this.tokenEndpoint(tenantId),
        `${this.origin}/${tenantId}/oauth2/token`,
        `${this.origin}/${tenantId}/v2.0`,
        `${this.origin}/${tenantId}/`,
      ].map((a) => a.toLowerCase());
      const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter((a): a is string => typeof a === 'string');
      if (!audiences.some((a) => accepted.includes(a.toLowerCase()))) {
        throw new EntraFailure(
          ERRORS.assertionAudience(
            audiences.join(', '),
            version === 'v2' ? this.tokenEndpoint(tenantId) : `${this.origin}/${tenantId}/oauth2/token`,
          ),
          'certificate',
        );
      }
      this.checkTimeRange(payload, 'certificate');
      return 'certificate';
    }

    // Federated credential: a token from an external OIDC issuer trusted by a federated identity credential.
    const issuer = payload.iss;
    const byIssuer = principal.federated.filter((f) => f.issuer === issuer);
    if (byIssuer.length === 0) throw new EntraFailure(ERRORS.federatedIssuer(issuer), 'federated');
    const keys = this.externalIssuers.get(issuer);
    if (!keys || keys.size === 0) throw new EntraFailure(ERRORS.externalIssuerUnreachable(issuer), 'federated');
    const candidates = typeof header.kid === 'string' && keys.has(header.kid) ? [keys.get(header.kid)!] : [...keys.values()];
    if (
      !candidates.some((key) => {
        try {
          verifyJwt(assertion, key);
          return true;
        } catch {
          return false;
        }
      })
    ) {
      throw new EntraFailure(
        ERRORS.invalidSignature(`The key used to sign the presented assertion was not found in the keys published by issuer '${issuer}'.`),
        'federated',
      );
    }
    this.checkTimeRange(payload, 'federated');
    const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter((a): a is string => typeof a === 'string');
    const byAudience = byIssuer.filter((f) => f.audiences.some((a) => audiences.includes(a)));
    if (byAudience.length === 0) throw new EntraFailure(ERRORS.federatedAudience(audiences.join(',') || String(payload.aud)), 'federated');
    const subject = typeof payload.sub === 'string' ? payload.sub : '';
    if (!byAudience.some((f) => f.subject === subject)) {
      if (byAudience.some((f) => f.subject.toLowerCase() === subject.toLowerCase())) {
        throw new EntraFailure(ERRORS.federatedSubjectCase(subject), 'federated');
      }
      throw new EntraFailure(ERRORS.federatedSubject(subject), 'federated');
    }
    return 'federated';
  }

  private checkTimeRange(payload: JwtPayload, credential: CredentialKind): void {
    const now = new Date();
    const nowSeconds = now.getTime() / 1000;
    const exp = typeof payload.exp === 'number' ? payload.exp : 0;
    const nbf = typeof payload.nbf === 'number' ? payload.nbf : typeof payload.iat === 'number' ? payload.iat : 0;
    if (nowSeconds >= exp || nowSeconds + NBF_SKEW_SECONDS < nbf) {
      throw new EntraFailure(ERRORS.assertionTimeRange(now, new Date(nbf * 1000), new Date(exp * 1000)), credential);
    }
  }

  private commonHeaders(req: SandboxRequest | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      'x-ms-request-id': crypto.randomUUID(),
      'x-ms-ests-server': '2.1.0 - sandbox',
    };
    const clientRequestId = req?.header('client-request-id');
    if (clientRequestId) headers['client-request-id'] = clientRequestId;
    return headers;
  }

  /** Entra's JSON error body: description carries "Trace ID / Correlation ID / Timestamp". */
  errorBody(e: EntraError, req: SandboxRequest | undefined): SandboxResponse {
    const traceId = crypto.randomUUID();
    const correlationId = req?.header('client-request-id') ?? crypto.randomUUID();
    const timestamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    return {
      status: e.status,
      headers: { ...this.commonHeaders(req), 'x-ms-request-id': traceId, 'Cache-Control': 'no-store, no-cache' },
      body: {
        error: e.error,
        error_description: `AADSTS${e.code}: ${e.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [e.code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.origin}/error?code=${e.code}`,
      },
    };
  }
}

/** ISO 8601 with 7 fractional digits, as Entra prints times. */
function iso7(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** "MM/DD/YYYY HH:MM:SS", as Entra prints certificate validity. */
function usDate(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(date.getUTCMonth() + 1)}/${p(date.getUTCDate())}/${date.getUTCFullYear()} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}`;
}

export { TOKEN_EXCHANGE_AUDIENCE };
