import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredentialOptions,
} from '@azure/identity';
import type { AzureRmConnection } from '../connection/azureRmConnection';
import { AKS_SERVER_APPLICATION_ID, defaultScopeOf } from '../connection/cloud';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import { agentHttpSettingsFor } from '../../net/agentHttpSettings';
import { ExplainedError, isExplainedError, messageOf } from '../../pipeline/explainedError';
import { registerSecret } from '../../pipeline/secrets';
import { AzureDevOpsOidcTokenSource } from './azureDevOpsOidc';
import { probeAuthorityMetadata } from './authorityProbe';
import { explainTokenFailure } from './entraErrors';
import { decodeJwtClaims } from './jwtClaims';

/** A service connection's credential: one @azure/identity credential whatever the scheme. */
export interface ConnectionCredential {
  connection: AzureRmConnection;
  /** Use this with any Azure SDK client; tokens it hands out are registered for masking. */
  credential: TokenCredential;
  schemeLabel: string;
  /** Present for workload identity federation: the OIDC token source and what it last presented. */
  oidc?: AzureDevOpsOidcTokenSource;
}

export type TokenAudience = 'resourceManager' | 'aksServer';

export interface AcquiredToken extends AccessToken {
  claims: Record<string, unknown>;
}

const DEFAULT_TOKEN_DEADLINE_MS = 60_000;

export function schemeLabelOf(connection: AzureRmConnection): string {
  switch (connection.credential.kind) {
    case 'workloadIdentityFederation':
      return 'workload identity federation';
    case 'servicePrincipalSecret':
      return 'service principal (secret)';
    case 'servicePrincipalCertificate':
      return 'service principal (certificate)';
    case 'managedIdentity':
      return 'managed identity';
  }
}

/** Builds the credential for the connection's scheme. Nothing is written to disk; the certificate stays in memory. */
export function createConnectionCredential(connection: AzureRmConnection): ConnectionCredential {
  const { cloud, tenantId } = connection;
  const options: TokenCredentialOptions & { disableInstanceDiscovery: boolean } = {
    authorityHost: cloud.authorityHost,
    // The authority comes from the connection an administrator created; skipping discovery
    // avoids a call to the public cloud's discovery endpoint that locked-down agents cannot make.
    disableInstanceDiscovery: true,
    ...agentHttpSettingsFor(cloud.authorityHost),
  };
  const source = connection.credential;
  const schemeLabel = schemeLabelOf(connection);
  let inner: TokenCredential;
  let oidc: AzureDevOpsOidcTokenSource | undefined;
  switch (source.kind) {
    case 'workloadIdentityFederation': {
      const tokenSource = AzureDevOpsOidcTokenSource.forConnection(connection.id);
      oidc = tokenSource;
      // The callback runs for every token exchange, so each gets a fresh OIDC token.
      inner = new ClientAssertionCredential(tenantId, source.clientId, () => tokenSource.getToken(), options);
      break;
    }
    case 'servicePrincipalSecret':
      inner = new ClientSecretCredential(tenantId, source.clientId, source.secret, options);
      break;
    case 'servicePrincipalCertificate':
      inner = new ClientCertificateCredential(tenantId, source.clientId, { certificate: source.certificatePem }, options);
      break;
    case 'managedIdentity': {
      // IMDS is link-local: never through the agent's proxy.
      const msiOptions = { ...options, proxyOptions: undefined };
      inner = source.clientId ? new ManagedIdentityCredential(source.clientId, msiOptions) : new ManagedIdentityCredential(msiOptions);
      break;
    }
  }
  const credential: TokenCredential = {
    async getToken(scopes, getTokenOptions) {
      // The Azure SDK's bearer policy asks with enableCae (core-rest-pipeline's bearerTokenAuthenticationPolicy),
      // and @azure/identity keeps CAE and non-CAE tokens in two MSAL caches: asking the same way everywhere
      // keeps one token request per scope per run.
      const token = await inner.getToken(scopes, { ...getTokenOptions, enableCae: true });
      registerSecret(token?.token);
      return token;
    },
  };
  return { connection, credential, schemeLabel, oidc };
}

export function scopeFor(cc: ConnectionCredential, audience: TokenAudience): string {
  return audience === 'aksServer' ? defaultScopeOf(AKS_SERVER_APPLICATION_ID) : defaultScopeOf(cc.connection.cloud.resourceManagerAudience);
}

function audienceLabel(audience: TokenAudience): string {
  return audience === 'aksServer' ? `the AKS API server (${AKS_SERVER_APPLICATION_ID})` : 'Azure Resource Manager';
}

/**
 * Gets a token for Resource Manager or the AKS API server within a deadline, and explains a
 * failure in the pipeline author's terms (AADSTS codes, unreachable authority, missing IMDS).
 */
export async function acquireToken(
  cc: ConnectionCredential,
  audience: TokenAudience,
  deadlineMs: number = DEFAULT_TOKEN_DEADLINE_MS,
): Promise<AcquiredToken> {
  const { connection } = cc;
  const what = `Getting an Entra ID token for ${audienceLabel(audience)} with the connection '${connection.id}' (${cc.schemeLabel})`;
  if (cc.oidc) cc.oidc.lastFailure = undefined;
  try {
    const token = await withDeadline(
      deadlineMs,
      (abortSignal) => cc.credential.getToken(scopeFor(cc, audience), { abortSignal }),
      () => new DeadlineExceededError(`token request to ${connection.cloud.authorityHost}`, deadlineMs),
    );
    if (!token) throw new Error('the credential returned no token');
    return { ...token, claims: decodeJwtClaims(token.token) ?? {} };
  } catch (err) {
    if (isExplainedError(err)) throw err;
    // @azure/identity wraps what the assertion callback threw; the source kept the explained original.
    if (cc.oidc?.lastFailure) throw cc.oidc.lastFailure;
    let message = messageOf(err);
    if (/endpoints_resolution_error/i.test(message)) {
      const probe = await probeAuthorityMetadata(connection.cloud.authorityHost, connection.tenantId);
      if (probe) message = `${message} (${probe})`;
    }
    const explanation = explainTokenFailure(message, {
      connectionId: connection.id,
      schemeLabel: cc.schemeLabel,
      tenantId: connection.tenantId,
      clientId: 'clientId' in connection.credential ? connection.credential.clientId : undefined,
      authorityHost: connection.cloud.authorityHost,
      audienceLabel: audienceLabel(audience),
      presented: cc.oidc?.lastPresented,
      configured:
        connection.credential.kind === 'workloadIdentityFederation'
          ? { issuer: connection.credential.issuer, subject: connection.credential.subject }
          : undefined,
    });
    throw new ExplainedError({ what, ...explanation }, { cause: err });
  }
}
