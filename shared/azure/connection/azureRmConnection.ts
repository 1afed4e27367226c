import * as tl from 'azure-pipelines-task-lib/task';
import { ExplainedError } from '../../pipeline/explainedError';
import { registerSecret } from '../../pipeline/secrets';
import { agentGet } from '../../net/agentGet';
import { AZURE_STACK, azureStackMetadataUrl, CloudEndpoints, parseAzureStackMetadata, resolveCloudEndpoints } from './cloud';

/** The input every task uses for its Azure Resource Manager service connection (YAML alias: azureSubscription). */
export const CONNECTION_INPUT = 'connectedServiceNameARM';

export type AzureRmCredentialSource =
  | { kind: 'workloadIdentityFederation'; clientId: string; issuer?: string; subject?: string }
  | { kind: 'servicePrincipalSecret'; clientId: string; secret: string }
  | { kind: 'servicePrincipalCertificate'; clientId: string; certificatePem: string }
  | { kind: 'managedIdentity'; clientId?: string };

/** An Azure Resource Manager service connection as the agent hands it to a task. */
export interface AzureRmConnection {
  id: string;
  /** The authorization scheme as Azure DevOps names it. */
  scheme: string;
  tenantId: string;
  subscriptionId?: string;
  subscriptionName?: string;
  cloud: CloudEndpoints;
  credential: AzureRmCredentialSource;
}

/**
 * The connection's subscription, for a task that looks for its resources in it. A connection scoped
 * to a management group or a Machine Learning workspace names none (its scopeLevel is not
 * Subscription; azure-pipelines-agent hands `subscriptionId` only for that scope), and then there is
 * nowhere to look.
 */
export function subscriptionOf(connection: Pick<AzureRmConnection, 'subscriptionId'>, orElse?: string): string {
  if (connection.subscriptionId) return connection.subscriptionId;
  throw new ExplainedError({
    what: 'Reading the service connection',
    reason: 'The connection is not scoped to a subscription (management group or workspace level), so it names no subscription to look in.',
    fix: `Use an Azure Resource Manager connection scoped to the subscription that holds the cluster or registry${orElse ? `, or ${orElse}` : ''}.`,
    code: 'NO_SUBSCRIPTION',
  });
}

/**
 * The connection's authorization parameters, read from the JSON the agent hands over rather than
 * one by one: task-lib's per-parameter getter writes each value, secrets included, to the debug log.
 * Keys are matched case-insensitively, as Azure DevOps spells them both ways.
 */
export function endpointAuthorizationParameters(id: string): (key: string) => string | undefined {
  const parameters = tl.getEndpointAuthorization(id, true)?.parameters ?? {};
  const byLowerKey = new Map(Object.entries(parameters).map(([k, v]) => [k.toLowerCase(), v]));
  return (key) => byLowerKey.get(key.toLowerCase()) || undefined;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function wrongConnection(id: string, reason: string, fix: string, code = 'WRONG_CONNECTION_TYPE'): ExplainedError {
  return new ExplainedError({ what: `Reading the service connection '${id}'`, reason, fix, code });
}

/**
 * Reads the Azure Resource Manager connection named by the task's connection input. Secrets are
 * registered for masking here, the moment they leave the agent's vault.
 */
export async function readAzureRmConnection(inputName: string = CONNECTION_INPUT): Promise<AzureRmConnection> {
  const id = tl.getInput(inputName, false);
  if (!id) {
    throw new ExplainedError({
      what: `Reading the input '${inputName}' (azureSubscription)`,
      reason: 'No Azure Resource Manager service connection was given.',
      fix: 'Set azureSubscription to the name of an Azure Resource Manager service connection.',
      code: 'MISSING_CONNECTION',
    });
  }
  const auth = endpointAuthorizationParameters(id);
  const data = (key: string) => tl.getEndpointDataParameter(id, key, true) || undefined;

  const scheme = tl.getEndpointAuthorizationScheme(id, true);
  if (!scheme) {
    throw wrongConnection(
      id,
      'The agent handed over no authorization for this connection: it does not exist, is not authorized for this pipeline, or is not an Azure Resource Manager connection.',
      'Check the connection name and authorize it for this pipeline (Project settings > Service connections > Security).',
      'CONNECTION_NOT_FOUND',
    );
  }

  const tenantId = auth('tenantid');
  if (!tenantId) {
    throw wrongConnection(
      id,
      `The connection (scheme '${scheme}') carries no tenant id, so it is not an Azure Resource Manager connection.`,
      'Choose an Azure Resource Manager service connection (workload identity federation, service principal or managed identity).',
    );
  }

  const credential = readCredentialSource(id, scheme, auth, data);
  const environment = data('environment');
  const resourceManagerUrl = tl.getEndpointUrl(id, true) || undefined;
  let authorityUrl = data('environmentAuthorityUrl') || data('activeDirectoryAuthority');
  let audience = data('activeDirectoryServiceEndpointResourceId');
  // Azure Stack Hub: what the connection lacks comes from the stamp's own metadata, as the platform does it.
  if (environment?.toLowerCase() === AZURE_STACK.toLowerCase() && resourceManagerUrl && (!authorityUrl || !audience)) {
    const metadata = await azureStackEndpoints(id, resourceManagerUrl);
    authorityUrl ||= metadata.authorityUrl;
    audience ||= metadata.audience;
  }
  let cloud: CloudEndpoints;
  try {
    cloud = resolveCloudEndpoints({ environment, resourceManagerUrl, authorityUrl, resourceManagerAudience: audience });
  } catch (err) {
    throw wrongConnection(
      id,
      `Its cloud endpoints are incomplete: ${(err as Error).message}.`,
      'Edit the connection and set the environment (or Azure Stack endpoints) again.',
      'CONNECTION_CLOUD_INCOMPLETE',
    );
  }

  // The subscription id goes into every Resource Manager URL: anything but a GUID could point them elsewhere.
  const subscriptionId = data('subscriptionId');
  if (subscriptionId !== undefined && !GUID.test(subscriptionId)) {
    throw wrongConnection(
      id,
      `Its subscription id '${subscriptionId.slice(0, 80)}' is not a GUID.`,
      'Edit the connection and choose the subscription again (its id is a GUID, as the portal shows it).',
      'CONNECTION_INCOMPLETE',
    );
  }

  return {
    id,
    scheme,
    // AD FS has no tenants: @azure/identity addresses it as tenant 'adfs' under the /adfs authority.
    tenantId: cloud.adfs ? 'adfs' : tenantId,
    subscriptionId,
    subscriptionName: data('subscriptionName'),
    cloud,
    credential,
  };
}

function readCredentialSource(
  id: string,
  scheme: string,
  auth: (key: string) => string | undefined,
  data: (key: string) => string | undefined,
): AzureRmCredentialSource {
  const requireClientId = (): string => {
    const clientId = auth('serviceprincipalid');
    if (!clientId) {
      throw wrongConnection(
        id,
        `The ${scheme} connection has no service principal (application) id.`,
        'Edit the connection and set its application (client) id.',
        'CONNECTION_INCOMPLETE',
      );
    }
    if (!GUID.test(clientId)) {
      throw wrongConnection(
        id,
        `Its application (client) id '${clientId}' is not a GUID.`,
        'Edit the connection and set the application (client) id shown on the app registration or managed identity.',
        'CONNECTION_INCOMPLETE',
      );
    }
    return clientId;
  };

  switch (scheme.toLowerCase()) {
    case 'workloadidentityfederation':
      return {
        kind: 'workloadIdentityFederation',
        clientId: requireClientId(),
        issuer: auth('workloadIdentityFederationIssuer'),
        subject: auth('workloadIdentityFederationSubject'),
      };
    case 'serviceprincipal': {
      const clientId = requireClientId();
      if ((auth('authenticationType') || 'spnKey').toLowerCase() === 'spncertificate') {
        const certificatePem = auth('servicePrincipalCertificate');
        registerSecret(certificatePem);
        if (!certificatePem || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certificatePem)) {
          throw wrongConnection(
            id,
            'Its certificate is missing or holds no PEM private key.',
            'Upload a PEM file that holds both the certificate and its private key to the connection.',
            'CONNECTION_INCOMPLETE',
          );
        }
        return { kind: 'servicePrincipalCertificate', clientId, certificatePem };
      }
      const secret = auth('serviceprincipalkey');
      registerSecret(secret);
      if (!secret) {
        throw wrongConnection(
          id,
          'Its client secret is empty.',
          'Edit the connection and enter the secret value (not its id), or switch it to workload identity federation.',
          'CONNECTION_INCOMPLETE',
        );
      }
      return { kind: 'servicePrincipalSecret', clientId, secret };
    }
    case 'managedserviceidentity':
      return { kind: 'managedIdentity', clientId: data('msiclientId') || auth('serviceprincipalid') || undefined };
    case 'publishprofile':
      throw wrongConnection(
        id,
        'It is a publish-profile connection, which can only deploy to one App Service.',
        'Use an Azure Resource Manager connection with workload identity federation, a service principal or a managed identity.',
      );
    default:
      throw wrongConnection(
        id,
        `Its authorization scheme '${scheme}' is not one of an Azure Resource Manager connection.`,
        'Choose an Azure Resource Manager service connection (workload identity federation, service principal or managed identity).',
      );
  }
}

const AZURE_STACK_METADATA_DEADLINE_MS = 30_000;

async function azureStackEndpoints(id: string, resourceManagerUrl: string): Promise<{ authorityUrl: string; audience?: string }> {
  const url = azureStackMetadataUrl(resourceManagerUrl);
  try {
    const res = await agentGet(url, AZURE_STACK_METADATA_DEADLINE_MS);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return parseAzureStackMetadata(res.body);
  } catch (err) {
    throw new ExplainedError(
      {
        what: `Reading the Azure Stack Hub endpoints of the service connection '${id}'`,
        reason: `${url} did not give the stamp's authority (${(err as Error).message}), and the connection names none.`,
        fix: "Check the agent reaches the stamp's Resource Manager endpoint, or edit the connection and set its authority and audience.",
        code: 'AZURE_STACK_METADATA',
      },
      { cause: err },
    );
  }
}
