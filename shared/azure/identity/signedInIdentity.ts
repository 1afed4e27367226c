import type { ConnectionCredential, AcquiredToken } from './connectionCredential';
import { stringClaim } from './jwtClaims';

/** Who a service connection signs in as, read from the token Entra ID issued. */
export interface SignedInIdentity {
  connectionId: string;
  scheme: string;
  schemeLabel: string;
  environment: string;
  authorityHost: string;
  tenantId: string;
  clientId?: string;
  objectId?: string;
  identityType: 'service principal' | 'managed identity';
  subscriptionId?: string;
  subscriptionName?: string;
  /** For workload identity federation: the issuer and subject of the OIDC token presented to Entra ID. */
  federated?: { issuer?: string; subject?: string };
  tokenExpiresOn: Date;
}

export function describeSignedInIdentity(cc: ConnectionCredential, token: AcquiredToken): SignedInIdentity {
  const { connection } = cc;
  const claims = token.claims;
  return {
    connectionId: connection.id,
    scheme: connection.scheme,
    schemeLabel: cc.schemeLabel,
    environment: connection.cloud.environment,
    authorityHost: connection.cloud.authorityHost,
    tenantId: stringClaim(claims, 'tid') ?? connection.tenantId,
    clientId:
      stringClaim(claims, 'appid') ??
      stringClaim(claims, 'azp') ??
      ('clientId' in connection.credential ? connection.credential.clientId : undefined),
    objectId: stringClaim(claims, 'oid'),
    identityType: connection.credential.kind === 'managedIdentity' ? 'managed identity' : 'service principal',
    subscriptionId: connection.subscriptionId,
    subscriptionName: connection.subscriptionName,
    federated: cc.oidc?.lastPresented ? { issuer: cc.oidc.lastPresented.issuer, subject: cc.oidc.lastPresented.subject } : undefined,
    tokenExpiresOn: new Date(token.expiresOnTimestamp),
  };
}

/** The identity as aligned "name: value" lines, first in every task's log so a wrong connection is obvious. */
export function identityReportLines(id: SignedInIdentity): string[] {
  const rows: [string, string | undefined][] = [
    ['Service connection', id.connectionId],
    ['Scheme', `${id.scheme} (${id.schemeLabel})`],
    ['Cloud', `${id.environment} (${id.authorityHost})`],
    ['Tenant', id.tenantId],
    ['Application (client) id', id.clientId],
    ['Object id', id.objectId],
    ['Identity type', id.identityType],
    ['Subscription', id.subscriptionId ? `${id.subscriptionName ?? ''} (${id.subscriptionId})`.trim() : undefined],
    ['Federated issuer', id.federated?.issuer],
    ['Federated subject', id.federated?.subject],
    ['Token valid until', id.tokenExpiresOn.toISOString()],
  ];
  const present = rows.filter((r): r is [string, string] => !!r[1]);
  const width = Math.max(...present.map(([k]) => k.length));
  return present.map(([k, v]) => `${k.padEnd(width)} : ${v}`);
}
