import type { Explanation } from '../../pipeline/explainedError';
import type { PresentedFederatedIdentity } from './azureDevOpsOidc';

/** What is known when a token request fails, to make the explanation concrete. */
export interface TokenRequestContext {
  connectionId: string;
  /** Human name of the scheme: "workload identity federation", "service principal (secret)", … */
  schemeLabel: string;
  tenantId: string;
  clientId?: string;
  authorityHost: string;
  /** The resource the token was for, e.g. Azure Resource Manager or the AKS API server. */
  audienceLabel: string;
  presented?: PresentedFederatedIdentity;
  /** The issuer and subject the connection says Entra ID expects (Azure DevOps stores them on WIF connections). */
  configured?: { issuer?: string; subject?: string };
}

type Explain = (ctx: TokenRequestContext, code: string) => Omit<Explanation, 'what' | 'code'>;

const app = (ctx: TokenRequestContext) => (ctx.clientId ? `app '${ctx.clientId}'` : 'the application');

const federatedMismatch: Explain = (ctx) => {
  const p = ctx.presented;
  const presented = p ? `issuer '${p.issuer ?? '?'}' and subject '${p.subject ?? '?'}'` : 'the OIDC token from Azure DevOps';
  const expected =
    ctx.configured?.subject && p?.subject && ctx.configured.subject !== p.subject
      ? ` The connection expects subject '${ctx.configured.subject}'.`
      : '';
  return {
    reason: `No federated credential on ${app(ctx)} matches the token Azure DevOps presented: ${presented}.${expected} Issuer and subject must match exactly, and the match is case-sensitive.`,
    fix: `Add or correct a federated credential on ${app(ctx)} with exactly that issuer and subject and audience api://AzureADTokenExchange (az ad app federated-credential create --id ${ctx.clientId ?? '<appId>'} --parameters '{"name":"azure-devops","issuer":"${p?.issuer ?? '<issuer>'}","subject":"${p?.subject ?? '<subject>'}","audiences":["api://AzureADTokenExchange"]}').`,
  };
};

/** Entra ID error codes pipeline authors meet, with what they mean for a service connection. */
const BY_CODE: Record<string, Explain> = {
  AADSTS700213: federatedMismatch,
  AADSTS700211: federatedMismatch,
  AADSTS70021: federatedMismatch,
  AADSTS7002138: federatedMismatch,
  AADSTS700212: (ctx) => ({
    reason: `The federated credential on ${app(ctx)} does not accept the token's audience '${ctx.presented?.audience ?? '?'}'.`,
    fix: "Set the federated credential's audience to api://AzureADTokenExchange.",
  }),
  AADSTS700024: (ctx) => ({
    reason: `The OIDC token was already expired when Entra ID received it${ctx.presented?.expiresOn ? ` (it expired at ${ctx.presented.expiresOn.toISOString()})` : ''}. This task asks for a fresh one for every exchange, so the agent's clock is the likely cause.`,
    fix: "Synchronise the agent machine's clock (NTP); other tasks that cache the OIDC token for the whole job fail the same way on jobs over ten minutes.",
  }),
  AADSTS700016: (ctx) => ({
    reason: `${app(ctx)} does not exist in tenant '${ctx.tenantId}': the connection names the wrong tenant or client id, or the app was deleted.`,
    fix: 'Edit the service connection: check the tenant id and the application (client) id against the app registration or managed identity.',
  }),
  AADSTS7000215: (ctx) => ({
    reason: `Entra ID rejected the client secret of ${app(ctx)}: it is wrong, rotated, or the secret's id was entered instead of its value.`,
    fix: 'Enter the current secret value in the connection, or better, convert the connection to workload identity federation.',
  }),
  AADSTS7000222: (ctx) => ({
    reason: `The client secret of ${app(ctx)} has expired.`,
    fix: 'Create a new secret and update the connection, or convert the connection to workload identity federation.',
  }),
  AADSTS700027: (ctx) => ({
    reason: `Entra ID could not verify the certificate assertion of ${app(ctx)}: the certificate is not registered on the app, or has expired.`,
    fix: "Upload the public certificate of the connection's PEM to the app registration (Certificates & secrets).",
  }),
  AADSTS90002: (ctx) => ({
    reason: `Tenant '${ctx.tenantId}' was not found at ${ctx.authorityHost}: a wrong tenant id, or a connection for another cloud.`,
    fix: "Check the connection's tenant id and environment (Azure Cloud, US Government, China).",
  }),
  // Entra's answer when it is briefly unavailable; identity has already retried it by then.
  AADSTS90033: () => ({
    reason: 'Entra ID kept answering with a transient error (HTTP 5xx) through every retry.',
    fix: 'Run the job again in a few minutes; if it persists, check the Azure status page for Entra ID.',
  }),
  AADSTS90023: () => ({
    reason: 'Entra ID considered the token request malformed.',
    fix: "Check the connection's tenant id and environment; report the trace id to your identity team if it persists.",
  }),
  AADSTS7000112: (ctx) => ({
    reason: `${app(ctx)} is disabled in the tenant.`,
    fix: 'Enable the enterprise application (service principal) or choose another connection.',
  }),
  AADSTS53003: () => ({
    reason:
      "A Conditional Access policy for workload identities blocked the sign-in (often a location policy that does not include the agent's egress IP).",
    fix: "Ask your identity team to allow the agent's network in the workload identity Conditional Access policy.",
  }),
  AADSTS500011: (ctx) => ({
    reason: `The resource ${ctx.audienceLabel} is not known in tenant '${ctx.tenantId}' (a wrong cloud or a missing first-party service principal).`,
    fix: "Check the connection's environment (cloud) and that the resource is available in that tenant.",
  }),
  AADSTS50059: (ctx) => ({
    reason: `Entra ID could not tell the tenant from the request; the connection's tenant id '${ctx.tenantId}' is likely empty or wrong.`,
    fix: 'Set the tenant id on the service connection.',
  }),
};

export function aadstsCodeOf(message: string): string | undefined {
  return /\b(AADSTS\d{5,7})\b/.exec(message)?.[1];
}

const NETWORK_ERROR = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|socket hang up)\b/i;
const TLS_ERROR =
  /\b(self[- ]signed certificate|unable to verify the first certificate|UNABLE_TO_GET_ISSUER_CERT|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID|certificate)\b/i;

/**
 * Turns an Entra ID or managed-identity failure into what a pipeline author can act on.
 * Pure: the message text (as @azure/identity reports it) and the context in, an explanation out.
 */
export function explainTokenFailure(message: string, ctx: TokenRequestContext): Omit<Explanation, 'what'> {
  const code = aadstsCodeOf(message);
  if (code) {
    const explain = BY_CODE[code];
    if (explain) return { code, ...explain(ctx, code) };
    const firstLine = /AADSTS\d+:[^\r\n.]*\.?/.exec(message)?.[0] ?? code;
    return {
      code,
      reason: `Entra ID refused the token request: ${firstLine}`,
      fix: `Look up ${code} in the Entra ID error reference and check the connection's application '${ctx.clientId ?? '?'}' in tenant '${ctx.tenantId}'.`,
    };
  }
  if (/ManagedIdentityCredential/i.test(message) || ctx.schemeLabel === 'managed identity') {
    if (/Identity not found|not found|invalid_request|client_id/i.test(message) && !NETWORK_ERROR.test(message)) {
      return {
        code: 'MANAGED_IDENTITY_NOT_ASSIGNED',
        reason: `The agent's Azure VM has no managed identity${ctx.clientId ? ` with client id '${ctx.clientId}'` : ''} assigned.`,
        fix: 'Assign the identity to the agent VM or scale set (az vm identity assign), or use a connection of another type.',
      };
    }
    return {
      code: 'MANAGED_IDENTITY_UNAVAILABLE',
      reason:
        'No managed identity endpoint (IMDS) answered on this agent: managed identity connections need a self-hosted agent on an Azure VM or scale set.',
      fix: 'Run the job on a self-hosted agent in Azure that has the identity assigned, or use a workload identity federation connection.',
    };
  }
  if (/endpoints_resolution_error/i.test(message) && /HTTP 404/.test(message)) {
    return {
      code: 'AUTHORITY_NOT_ENTRA',
      reason: `${ctx.authorityHost} answered, but serves no Entra ID metadata for tenant '${ctx.tenantId}': the connection's authority URL is wrong.`,
      fix: "Edit the service connection's environment (or Azure Stack endpoints) so its authority is the cloud's Entra ID login host.",
    };
  }
  if (TLS_ERROR.test(message) && !NETWORK_ERROR.test(message)) {
    return {
      code: 'AUTHORITY_TLS_UNTRUSTED',
      reason: `The agent does not trust the certificate presented for ${ctx.authorityHost} (a TLS-inspecting proxy, or a private cloud CA).`,
      fix: "Give the agent the proxy's root CA (agent configuration --sslcacert, which sets Agent.CAInfo).",
    };
  }
  if (NETWORK_ERROR.test(message) || /no answer within|endpoints_resolution_error/i.test(message)) {
    return {
      code: 'AUTHORITY_UNREACHABLE',
      reason: `The Entra ID authority ${ctx.authorityHost} is unreachable from the agent (${NETWORK_ERROR.exec(message)?.[1] ?? 'no answer'}).`,
      fix: `Allow outbound HTTPS from the agent to ${new URL(ctx.authorityHost).host}, directly or through the agent's proxy (Agent.ProxyUrl).`,
    };
  }
  return {
    code: 'TOKEN_REQUEST_FAILED',
    reason: `Entra ID gave no usable answer: ${message.split('\n')[0]}`,
    fix: `Check the connection '${ctx.connectionId}' (tenant, application id, credential) and the agent's network path to ${ctx.authorityHost}.`,
  };
}
