import * as fs from 'fs';
import * as path from 'path';
import type { Sandbox } from '../sandbox';
import { IMDS_ENDPOINT_ENV } from '../sandbox';
import { agentJobEnv, azureRmConnectionEnv, taskInputsEnv, type ConnectionScheme, type Env } from './agentEnvironment';

export interface SandboxJobOptions {
  /** Sandbox service connection id (WIF) or any id for the other schemes. */
  connectionId: string;
  scheme: ConnectionScheme;
  /** Sandbox principal name behind the connection. */
  principal: string;
  inputs?: Record<string, string>;
  /** Leave out the job's System.AccessToken (as a job without OAuth access would). */
  withoutSystemAccessToken?: boolean;
  /** What the connection holds instead of the principal's real client id / secret (stale or wrong values). */
  clientIdOverride?: string;
  secretOverride?: string;
  /** Override the authority the connection names (e.g. an unreachable one). */
  authorityUrl?: string;
  debug?: boolean;
  /** The agent's proxy (Agent.ProxyUrl) and its bypass list of URL regexes. */
  proxyUrl?: string;
  proxyBypassList?: string[];
  /** A build (or YAML pipeline) job, or a classic release job: where filePath inputs are rooted. */
  hostType?: 'build' | 'release';
  /** This job's Agent.TempDirectory (default: one shared by the sandbox's jobs). */
  tempDirectory?: string;
  /** Pipeline variables by name (`System.JobId`) and secret ones, passed as the agent passes them. */
  variables?: Record<string, string>;
  secretVariables?: Record<string, string>;
  extraEnv?: Env;
}

/**
 * The environment the agent would give a task in a job that uses a sandbox service connection.
 * `inputs` are the step's inputs as a pipeline gives them (an alias such as `azureSubscription`
 * works); runTask completes them from task.json as the agent does (agentStep.ts).
 * The sandbox CA is trusted only the way the agent does it (Agent.CAInfo), never NODE_EXTRA_CA_CERTS,
 * so the tests prove the tasks honour the agent's CA setting.
 */
export function sandboxJobEnv(sandbox: Sandbox, o: SandboxJobOptions): Env {
  const principal = sandbox.principal(o.principal);
  const workFolder = path.join(sandbox.tempDir, 'agent', '_work');
  const tempDirectory = o.tempDirectory ?? path.join(workFolder, '_temp');
  fs.mkdirSync(tempDirectory, { recursive: true });
  const wifConnection = o.scheme === 'WorkloadIdentityFederation' ? sandbox.serviceConnection(o.connectionId) : undefined;
  return {
    ...agentJobEnv({
      tempDirectory,
      workFolder,
      collectionUri: sandbox.collectionUri,
      oidcRequestUri: sandbox.oidcRequestUri,
      systemAccessToken: o.withoutSystemAccessToken ? undefined : sandbox.systemAccessToken,
      caFile: sandbox.caFile,
      debug: o.debug,
      proxyUrl: o.proxyUrl,
      proxyBypassList: o.proxyBypassList,
      hostType: o.hostType,
      variables: o.variables,
      secretVariables: o.secretVariables,
    }),
    ...azureRmConnectionEnv({
      id: o.connectionId,
      scheme: o.scheme,
      tenantId: sandbox.tenantId,
      principal: {
        clientId: o.clientIdOverride ?? principal.clientId,
        secret: o.secretOverride ?? principal.secret,
        certificatePem: principal.certificatePem,
      },
      resourceManagerUrl: sandbox.resourceManagerUrl,
      authorityUrl: o.authorityUrl ?? `${sandbox.authorityHost}/`,
      federated: wifConnection ? { issuer: sandbox.oidcIssuer, subject: wifConnection.subject } : undefined,
      subscriptionId: sandbox.scenario.subscriptionId,
    }),
    // IMDS lives at a link-local address on Azure VMs; @azure/identity's override points it at the sandbox.
    ...(o.scheme === 'ManagedServiceIdentity' ? { [IMDS_ENDPOINT_ENV]: sandbox.imdsEndpoint } : {}),
    ...taskInputsEnv({ connectedServiceNameARM: o.connectionId, ...o.inputs }),
    ...o.extraEnv,
  };
}
