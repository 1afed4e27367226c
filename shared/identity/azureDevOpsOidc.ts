import * as tl from 'azure-pipelines-task-lib/task';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import { ExplainedError, messageOf } from '../pipeline/explainedError';
import { registerSecret } from '../pipeline/secrets';
import { agentHttpSettingsFor } from '../net/agentHttpSettings';
import { endpointAuthorizationParameters } from '../connection/azureRmConnection';
import { decodeJwtClaims, stringClaim } from './jwtClaims';

/** What the last OIDC token presented to Entra ID said about us: the pair a federated credential must match. */
export interface PresentedFederatedIdentity {
  issuer?: string;
  subject?: string;
  audience?: string;
  expiresOn?: Date;
}

const OIDC_API_VERSION = '7.1';
const ATTEMPT_TIMEOUT_MS = 15_000;
/** An OIDC token is handed out again only within this window of being fetched… */
const REUSE_WINDOW_MS = 30_000;
/** …and only while it has this much life left, so Entra ID never receives one about to expire. */
const REUSE_MARGIN_MS = 120_000;

/** The job's token for calling Azure DevOps: the agent hands it to every task as the SystemVssConnection endpoint. */
export function systemAccessToken(): string | undefined {
  const token = endpointAuthorizationParameters('SystemVssConnection')('AccessToken') || process.env.SYSTEM_ACCESSTOKEN;
  registerSecret(token);
  return token || undefined;
}

/** System.OidcRequestUri, or the same URL built from the job's coordinates on agents that predate it. */
export function oidcRequestUri(): string | undefined {
  const direct = tl.getVariable('System.OidcRequestUri');
  if (direct) return direct;
  const collection = tl.getVariable('System.CollectionUri') || tl.getVariable('System.TeamFoundationCollectionUri');
  const project = tl.getVariable('System.TeamProjectId');
  const hub = tl.getVariable('System.HostType');
  const plan = tl.getVariable('System.PlanId');
  const job = tl.getVariable('System.JobId');
  if (!collection || !project || !hub || !plan || !job) return undefined;
  const base = collection.endsWith('/') ? collection : `${collection}/`;
  return `${base}${project}/_apis/distributedtask/hubs/${hub}/plans/${plan}/jobs/${job}/oidctoken`;
}

/**
 * Asks Azure DevOps for a fresh OIDC token for one service connection, every time it is called.
 * The token lives about ten minutes; asking anew for each Entra token exchange is what keeps a
 * long job from failing with AADSTS700024.
 */
export class AzureDevOpsOidcTokenSource {
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  /** Issuer and subject of the last token handed to Entra ID, for the identity report and mismatch errors. */
  lastPresented: PresentedFederatedIdentity | undefined;
  /** The explained failure of the last request, if it failed: @azure/identity wraps callback errors. */
  lastFailure: ExplainedError | undefined;
  requestCount = 0;
  private recent: { token: string; fetchedAtMs: number; expiresAtMs: number } | undefined;

  constructor(
    private readonly connectionId: string,
    private readonly requestUri: string,
    private readonly accessToken: string,
  ) {
    const settings = agentHttpSettingsFor(requestUri);
    this.pipeline = createPipelineFromOptions({
      ...settings,
      retryOptions: { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 4_000 },
      userAgentOptions: { userAgentPrefix: 'PrivateAksDeploy' },
    });
    this.httpClient = createDefaultHttpClient();
  }

  static forConnection(connectionId: string): AzureDevOpsOidcTokenSource {
    const accessToken = systemAccessToken();
    if (!accessToken) {
      throw new ExplainedError({
        what: `Getting an OIDC token for the workload identity federation connection '${connectionId}'`,
        // The agent hands every task the SystemVssConnection endpoint with the job's token
        // (azure-pipelines-agent src/Agent.Worker/TaskRunner.cs, "Add the system endpoint"); the
        // "Allow scripts to access the OAuth token" setting only adds the System.AccessToken
        // variable for scripts (src/Agent.Worker/JobRunner.cs, System.EnableAccessToken).
        reason: 'The task got no job access token (System.AccessToken), which Azure DevOps requires before it issues the connection\'s OIDC token. The agent hands it to every task as the SystemVssConnection endpoint, so the task is not running as a step of an Azure Pipelines agent job.',
        fix: 'Run the task as a step of an Azure Pipelines job (no pipeline setting is needed for tasks); outside an agent, use a connection with a secret, a certificate or a managed identity.',
        code: 'MISSING_SYSTEM_ACCESS_TOKEN',
      });
    }
    const uri = oidcRequestUri();
    if (!uri) {
      throw new ExplainedError({
        what: `Getting an OIDC token for the workload identity federation connection '${connectionId}'`,
        reason: 'The agent set neither System.OidcRequestUri nor the job coordinates (System.CollectionUri, System.TeamProjectId, System.PlanId, System.JobId).',
        fix: 'Update the agent to a current version (workload identity federation needs agent 3.227 or later).',
        code: 'MISSING_OIDC_REQUEST_URI',
      });
    }
    return new AzureDevOpsOidcTokenSource(connectionId, uri, accessToken);
  }

  /** A new OIDC token; the callback ClientAssertionCredential invokes for each Entra token exchange. */
  async getToken(abortSignal?: AbortSignal): Promise<string> {
    // @azure/identity asks for the assertion twice per exchange; a token this fresh serves both.
    if (this.recent && this.recent.expiresAtMs - Date.now() > REUSE_MARGIN_MS && Date.now() - this.recent.fetchedAtMs < REUSE_WINDOW_MS) {
      return this.recent.token;
    }
    try {
      const token = await this.requestToken(abortSignal);
      const exp = this.lastPresented?.expiresOn?.getTime() ?? 0;
      this.recent = { token, fetchedAtMs: Date.now(), expiresAtMs: exp };
      this.lastFailure = undefined;
      return token;
    } catch (err) {
      this.lastFailure = err instanceof ExplainedError ? err : undefined;
      throw err;
    }
  }

  private async requestToken(abortSignal?: AbortSignal): Promise<string> {
    const what = `Getting an OIDC token from Azure DevOps for the connection '${this.connectionId}'`;
    const url = `${this.requestUri}?api-version=${OIDC_API_VERSION}&serviceConnectionId=${encodeURIComponent(this.connectionId)}`;
    const request = createPipelineRequest({
      url,
      method: 'POST',
      timeout: ATTEMPT_TIMEOUT_MS,
      abortSignal,
      headers: createHttpHeaders({
        'Content-Type': 'application/json',
        Authorization: `Bearer ${this.accessToken}`,
        // Ask for a status code rather than a sign-in redirect.
        'X-TFS-FedAuthRedirect': 'Suppress',
      }),
    });
    this.requestCount++;
    let status: number;
    let body: string | undefined;
    try {
      const response = await this.pipeline.sendRequest(this.httpClient, request);
      status = response.status;
      body = response.bodyAsText ?? undefined;
    } catch (err) {
      throw new ExplainedError(
        {
          what,
          reason: `Azure DevOps (${new URL(this.requestUri).host}) could not be reached: ${messageOf(err)}.`,
          fix: 'Check the agent\'s outbound access and proxy settings to Azure DevOps.',
          code: 'OIDC_ENDPOINT_UNREACHABLE',
        },
        { cause: err },
      );
    }
    if (status === 401 || status === 403) {
      throw new ExplainedError({
        what,
        reason: `Azure DevOps refused the job's access token (HTTP ${status}).`,
        fix: 'Authorize the service connection for this pipeline and check that the job authorization scope lets it use the connection.',
        code: 'OIDC_REQUEST_REFUSED',
      });
    }
    let oidcToken: string | undefined;
    try {
      oidcToken = body ? JSON.parse(body).oidcToken : undefined;
    } catch {
      oidcToken = undefined;
    }
    if (status !== 200 || typeof oidcToken !== 'string' || !oidcToken) {
      throw new ExplainedError({
        what,
        reason: `Azure DevOps answered HTTP ${status} without an OIDC token${status === 400 || status === 404 ? ': the connection is not a workload identity federation connection of this project, or it was deleted' : ''}.`,
        fix: 'Check that the connection uses workload identity federation and belongs to (or is shared with) this project.',
        code: 'OIDC_TOKEN_MISSING',
      });
    }
    registerSecret(oidcToken);
    const claims = decodeJwtClaims(oidcToken);
    const exp = claims?.exp;
    this.lastPresented = {
      issuer: stringClaim(claims, 'iss'),
      subject: stringClaim(claims, 'sub'),
      audience: stringClaim(claims, 'aud'),
      expiresOn: typeof exp === 'number' ? new Date(exp * 1000) : undefined,
    };
    return oidcToken;
  }
}
