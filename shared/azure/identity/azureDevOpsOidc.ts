import * as tl from 'azure-pipelines-task-lib/task';
// azure-devops-node-api's VsoClient (resource locations, api-version negotiation) over
// typed-rest-client's RestClient, which is what its TaskApi is built on (ClientApiBases.ts). Neither
// WebApi nor TaskApi is imported: WebApi loads every client, TaskApi every task-agent type (and the
// NTLM handler comes with node-api's handler re-exports), ~0.1 MiB per bundle for one POST.
import { VsoClient } from 'azure-devops-node-api/VsoClient';
import { RestClient } from 'typed-rest-client/RestClient';
import { BearerCredentialHandler } from 'typed-rest-client/handlers/bearertoken';
import type { IRequestOptions } from 'typed-rest-client/Interfaces';
import { ExplainedError, messageOf } from '../../pipeline/explainedError';
import { registerSecret } from '../../pipeline/secrets';
import { agentProxyFor, agentTrustedCaPem } from '../../net/agentHttpSettings';
import { DeadlineExceededError, withDeadline } from '../../net/deadline';
import { endpointAuthorizationParameters } from '../connection/azureRmConnection';
import { decodeJwtClaims, stringClaim } from './jwtClaims';

/** What the last OIDC token presented to Entra ID said about us: the pair a federated credential must match. */
export interface PresentedFederatedIdentity {
  issuer?: string;
  subject?: string;
  audience?: string;
  expiresOn?: Date;
}

/** The oidctoken resource's location id and the api-version TaskApi.createOidcToken asks for (azure-devops-node-api 14.1 api/TaskApi.ts). */
const OIDC_TOKEN_LOCATION_ID = '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2';
const OIDC_TOKEN_API_VERSION = '7.2-preview.1';
const ATTEMPT_TIMEOUT_MS = 15_000;
/** Attempts per token: a 5xx, a 429 or a dropped connection is tried again (typed-rest-client retries no POST). */
const ATTEMPTS = 3;
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

/** Where the job's OIDC token is asked for: the collection, and the project, hub, plan and job of this job. */
export interface OidcJobCoordinates {
  collectionUri: string;
  projectId: string;
  hub: string;
  planId: string;
  jobId: string;
}

const OIDC_REQUEST_PATH = /^(.*\/)([^/]+)\/_apis\/distributedtask\/hubs\/([^/]+)\/plans\/([^/]+)\/jobs\/([^/]+)\/oidctoken\/?$/i;

/**
 * The job's coordinates as the platform's own tasks read them (System.CollectionUri,
 * System.TeamProjectId, System.HostType, System.PlanId, System.JobId: azure-pipelines-tasks
 * common-npm-packages/azure-arm-rest azCliUtility getFederatedToken), or read back from
 * System.OidcRequestUri, which the agent builds from the same values.
 */
export function oidcJobCoordinates(): OidcJobCoordinates | undefined {
  const collectionUri = tl.getVariable('System.CollectionUri') || tl.getVariable('System.TeamFoundationCollectionUri');
  const projectId = tl.getVariable('System.TeamProjectId');
  const hub = tl.getVariable('System.HostType');
  const planId = tl.getVariable('System.PlanId');
  const jobId = tl.getVariable('System.JobId');
  if (collectionUri && projectId && hub && planId && jobId) return { collectionUri, projectId, hub, planId, jobId };
  const m = OIDC_REQUEST_PATH.exec(tl.getVariable('System.OidcRequestUri') ?? '');
  return m ? { collectionUri: m[1], projectId: decodeURIComponent(m[2]), hub: m[3], planId: m[4], jobId: m[5] } : undefined;
}

/** System.OidcRequestUri, or the same URL built from the job's coordinates (kubelogin's azurepipelines mode takes the URL). */
export function oidcRequestUri(): string | undefined {
  const direct = tl.getVariable('System.OidcRequestUri');
  if (direct) return direct;
  const c = oidcJobCoordinates();
  if (!c) return undefined;
  const base = c.collectionUri.endsWith('/') ? c.collectionUri : `${c.collectionUri}/`;
  return `${base}${c.projectId}/_apis/distributedtask/hubs/${c.hub}/plans/${c.planId}/jobs/${c.jobId}/oidctoken`;
}

/**
 * Asks Azure DevOps for a fresh OIDC token for one service connection, every time it is called.
 * The token lives about ten minutes; asking anew for each Entra token exchange is what keeps a
 * long job from failing with AADSTS700024.
 */
export class AzureDevOpsOidcTokenSource {
  private readonly rest: RestClient;
  private readonly vsoClient: VsoClient;
  /** Issuer and subject of the last token handed to Entra ID, for the identity report and mismatch errors. */
  lastPresented: PresentedFederatedIdentity | undefined;
  /** The explained failure of the last request, if it failed: @azure/identity wraps callback errors. */
  lastFailure: ExplainedError | undefined;
  requestCount = 0;
  private recent: { token: string; fetchedAtMs: number; expiresAtMs: number } | undefined;

  constructor(
    private readonly connectionId: string,
    private readonly job: OidcJobCoordinates,
    accessToken: string,
  ) {
    // The agent's proxy and CA handed over explicitly: without them azure-devops-node-api's
    // WebApi would read task-lib's globals, and TaskApi alone reads nothing.
    const proxy = agentProxyFor(job.collectionUri);
    const caFile = agentTrustedCaPem() ? tl.getVariable('Agent.CAInfo') : undefined;
    const options: IRequestOptions = {
      socketTimeout: ATTEMPT_TIMEOUT_MS,
      allowRetries: false,
      ...(proxy ? { proxy: { proxyUrl: proxy.proxyUrl, proxyUsername: proxy.proxyUsername, proxyPassword: proxy.proxyPassword } } : {}),
      ...(caFile ? { cert: { caFile } } : {}),
    };
    // A bearer handler for the job's JWT, as getHandlerFromToken picks for it; no credential on a redirect to another origin.
    this.rest = new RestClient('PrivateAksDeploy', undefined, [new BearerCredentialHandler(accessToken, false)], options);
    this.vsoClient = new VsoClient(job.collectionUri, this.rest);
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
        reason:
          "The task got no job access token (System.AccessToken), which Azure DevOps requires before it issues the connection's OIDC token. The agent hands it to every task as the SystemVssConnection endpoint, so the task is not running as a step of an Azure Pipelines agent job.",
        fix: 'Run the task as a step of an Azure Pipelines job (no pipeline setting is needed for tasks); outside an agent, use a connection with a secret, a certificate or a managed identity.',
        code: 'MISSING_SYSTEM_ACCESS_TOKEN',
      });
    }
    const job = oidcJobCoordinates();
    if (!job) {
      throw new ExplainedError({
        what: `Getting an OIDC token for the workload identity federation connection '${connectionId}'`,
        reason:
          'The agent set neither the job coordinates (System.CollectionUri, System.TeamProjectId, System.HostType, System.PlanId, System.JobId) nor System.OidcRequestUri.',
        fix: 'Update the agent to a current version (workload identity federation needs agent 3.227 or later).',
        code: 'MISSING_OIDC_REQUEST_URI',
      });
    }
    return new AzureDevOpsOidcTokenSource(connectionId, job, accessToken);
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

  /**
   * An OIDC token as the platform's tasks ask for it (TaskApi.createOidcToken with the job's ids and
   * the connection id: azure-pipelines-tasks common-npm-packages/azure-arm-rest azCliUtility
   * getFederatedToken), each attempt within its deadline.
   */
  private async requestToken(abortSignal?: AbortSignal): Promise<string> {
    const what = `Getting an OIDC token from Azure DevOps for the connection '${this.connectionId}'`;
    const host = new URL(this.job.collectionUri).host;
    let oidcToken: string | undefined;
    for (let attempt = 1; ; attempt++) {
      this.requestCount++;
      try {
        const answer = await withDeadline(
          ATTEMPT_TIMEOUT_MS,
          () => this.createOidcToken(),
          () => new DeadlineExceededError(`Azure DevOps (${host})`, ATTEMPT_TIMEOUT_MS),
        );
        oidcToken = answer?.oidcToken ?? undefined;
        break;
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        const transient = status === undefined || status === 429 || status >= 500;
        if (transient && attempt < ATTEMPTS && !abortSignal?.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
          continue;
        }
        throw this.explain(what, host, err, status);
      }
    }
    if (typeof oidcToken !== 'string' || !oidcToken) {
      throw new ExplainedError({
        what,
        reason:
          'Azure DevOps answered without an OIDC token: the connection is not a workload identity federation connection of this project, or it was deleted.',
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

  /**
   * TaskApi.createOidcToken's steps (azure-devops-node-api api/TaskApi.ts): the oidctoken location,
   * asked of the collection once (OPTIONS {collection}/_apis/distributedtask, VsoClient.ts), gives the
   * route and the api-version; then a POST of no extra claims, the version in the Accept header.
   */
  private async createOidcToken(): Promise<{ oidcToken?: string } | null> {
    const { projectId, hub, planId, jobId } = this.job;
    const located = await this.vsoClient.getVersioningData(
      OIDC_TOKEN_API_VERSION,
      'distributedtask',
      OIDC_TOKEN_LOCATION_ID,
      { scopeIdentifier: projectId, hubName: hub, planId, jobId },
      { serviceConnectionId: this.connectionId },
    );
    const res = await this.rest.create<{ oidcToken?: string }>(
      located.requestUrl!,
      {},
      { acceptHeader: `application/json;api-version=${located.apiVersion}` },
    );
    return res.result;
  }

  private explain(what: string, host: string, err: unknown, status: number | undefined): ExplainedError {
    if (status === 401 || status === 403) {
      return new ExplainedError({
        what,
        reason: `Azure DevOps refused the job's access token (HTTP ${status}).`,
        fix: 'Authorize the service connection for this pipeline and check that the job authorization scope lets it use the connection.',
        code: 'OIDC_REQUEST_REFUSED',
      });
    }
    if (status !== undefined) {
      return new ExplainedError({
        what,
        reason: `Azure DevOps answered HTTP ${status} without an OIDC token${status === 400 || status === 404 ? ': the connection is not a workload identity federation connection of this project, or it was deleted' : ''} (${messageOf(err).split('\n')[0].slice(0, 200)}).`,
        fix: 'Check that the connection uses workload identity federation and belongs to (or is shared with) this project.',
        code: 'OIDC_TOKEN_MISSING',
      });
    }
    if (/Failed to find api location/i.test(messageOf(err))) {
      return new ExplainedError({
        what,
        reason: `Azure DevOps (${host}) does not offer the OIDC token resource (distributedtask oidctoken): a server without workload identity federation.`,
        fix: 'Use a connection with a secret, a certificate or a managed identity on this server, or run the pipeline in Azure DevOps Services.',
        code: 'OIDC_TOKEN_MISSING',
      });
    }
    return new ExplainedError(
      {
        what,
        reason: `Azure DevOps (${host}) could not be reached: ${messageOf(err)}.`,
        fix: "Check the agent's outbound access and proxy settings to Azure DevOps.",
        code: 'OIDC_ENDPOINT_UNREACHABLE',
      },
      { cause: err },
    );
  }
}
