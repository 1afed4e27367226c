import { AKS_SERVER_APPLICATION_ID, knownCloud } from '../connection/cloud';
import type { AzureRmConnection } from '../connection/azureRmConnection';
import { systemAccessToken, oidcRequestUri } from '../identity/azureDevOpsOidc';
import { ExplainedError, invalidInput } from '../../pipeline/explainedError';
import { registerSecret } from '../../pipeline/secrets';

export type KubeloginMode = 'azurepipelines' | 'workloadidentity' | 'spn' | 'msi';

export interface KubeloginCredential {
  exec: { apiVersion: string; command: string; args: string[]; interactiveMode: 'Never'; provideClusterInfo: false };
  /** What kubelogin reads from its environment: handed to kubectl's process only, never written. */
  env: Record<string, string>;
}

function refuse(reason: string, fix: string): ExplainedError {
  return invalidInput('kubeloginLoginMode', reason, fix, 'KUBELOGIN_MODE_MISMATCH');
}

/**
 * The exec user for teams that standardise on kubelogin: `kubelogin get-token` in a login mode that
 * matches the connection, with its inputs in kubectl's environment. Modes that would need a secret
 * or token written to disk (a certificate file, a federated token file) are refused.
 */
export function kubeloginCredential(connection: AzureRmConnection, mode: KubeloginMode, kubeloginPath = 'kubelogin'): KubeloginCredential {
  const source = connection.credential;
  const environment = knownCloud(connection.cloud.environment)?.kubeloginEnvironment;
  if (!environment) {
    // Any other cloud (AzureStackCloud) kubelogin reads from a file AZURE_ENVIRONMENT_FILEPATH names; naming the
    // public cloud instead would send the connection's credential to the wrong authority.
    throw invalidInput(
      'credentialHelper',
      `kubelogin knows the public, US Government and China clouds by name; the connection's cloud '${connection.cloud.environment}' it would read from an environment file, which this task does not write.`,
      'Use credentialHelper: builtIn, which takes the authority and audience from the connection.',
      'KUBELOGIN_UNSUPPORTED_CLOUD',
    );
  }
  const args = [
    'get-token',
    '--login',
    mode,
    '--server-id',
    AKS_SERVER_APPLICATION_ID,
    '--environment',
    environment,
    '--tenant-id',
    connection.tenantId,
  ];
  const env: Record<string, string> = {};
  switch (mode) {
    case 'azurepipelines': {
      if (source.kind !== 'workloadIdentityFederation') {
        throw refuse(
          `kubelogin's azurepipelines mode needs a workload identity federation connection; '${connection.id}' is ${source.kind}.`,
          'Use credentialHelper builtIn, or the kubelogin mode that matches the connection (spn for a secret, msi for a managed identity).',
        );
      }
      const accessToken = systemAccessToken();
      const requestUri = oidcRequestUri();
      if (!accessToken || !requestUri)
        throw refuse(
          'The job has no System.AccessToken or System.OidcRequestUri, which kubelogin needs.',
          "Run it as a step of an Azure Pipelines agent job: the agent hands every task the job's access token and OIDC request URI (no setting needed).",
        );
      args.push('--client-id', source.clientId);
      Object.assign(env, {
        AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: connection.id,
        AZURESUBSCRIPTION_CLIENT_ID: source.clientId,
        AZURESUBSCRIPTION_TENANT_ID: connection.tenantId,
        SYSTEM_ACCESSTOKEN: accessToken,
        SYSTEM_OIDCREQUESTURI: requestUri,
      });
      break;
    }
    case 'spn':
      if (source.kind !== 'servicePrincipalSecret') {
        throw refuse(
          `kubelogin's spn mode here takes a service principal with a secret; '${connection.id}' is ${source.kind} (a certificate would have to be written to disk for kubelogin).`,
          'Use credentialHelper builtIn, which keeps the certificate in memory.',
        );
      }
      args.push('--client-id', source.clientId);
      registerSecret(source.secret);
      Object.assign(env, { AAD_SERVICE_PRINCIPAL_CLIENT_ID: source.clientId, AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: source.secret });
      break;
    case 'msi':
      if (source.kind !== 'managedIdentity')
        throw refuse(
          `kubelogin's msi mode needs a managed identity connection; '${connection.id}' is ${source.kind}.`,
          'Use credentialHelper builtIn, or the matching kubelogin mode.',
        );
      if (source.clientId) args.push('--client-id', source.clientId);
      break;
    case 'workloadidentity':
      throw refuse(
        "kubelogin's workloadidentity mode reads a federated token from a file, which a pipeline would have to write to disk.",
        'Use azurepipelines mode (it asks Azure DevOps for the token) or credentialHelper builtIn.',
      );
  }
  return {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: kubeloginPath,
      args,
      interactiveMode: 'Never',
      provideClusterInfo: false,
    },
    env,
  };
}
