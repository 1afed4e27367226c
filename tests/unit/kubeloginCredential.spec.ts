import * as assert from 'assert';
import * as tl from 'azure-pipelines-task-lib/task';
import { kubeloginCredential, type KubeloginMode } from '../../shared/azure/aks/kubeloginCredential';
import type { AzureRmConnection, AzureRmCredentialSource } from '../../shared/azure/connection/azureRmConnection';
import { ExplainedError } from '../../shared/pipeline/explainedError';

/**
 * kubelogin's own contract (Azure/kubelogin): login modes `azurepipelines`, `spn`, `msi`,
 * `workloadidentity` (pkg/internal/token/options.go), `--environment` names AzurePublicCloud,
 * AzureChinaCloud, AzureUSGovernmentCloud (docs/book/src/topics/environments.md), and the environment
 * it reads: AAD_SERVICE_PRINCIPAL_CLIENT_ID / _SECRET for spn, AZURESUBSCRIPTION_{TENANT_ID,CLIENT_ID,
 * SERVICE_CONNECTION_ID} and SYSTEM_ACCESSTOKEN / SYSTEM_OIDCREQUESTURI for azurepipelines
 * (pkg/internal/env/variables.go; docs/book/src/concepts/login-modes/azurepipelines.md).
 */
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';
const ACCESS_TOKEN = 'eyJ0eXAiOiJKV1Qi.job-access-token.sig';
const OIDC_URI = 'https://dev.azure.com/contoso/p1/_apis/distributedtask/hubs/build/plans/pl/jobs/jb/oidctoken';
const SECRET = 'Qx8Q~spn-client-secret-value';

function connection(credential: AzureRmCredentialSource, environment = 'AzureCloud'): AzureRmConnection {
  return {
    id: 'prod-arm',
    scheme: 'x',
    tenantId: TENANT,
    cloud: {
      environment,
      resourceManagerUrl: 'https://management.azure.com/',
      authorityHost: 'https://login.microsoftonline.com',
      resourceManagerAudience: 'https://management.core.windows.net/',
    },
    credential,
  };
}
const wif: AzureRmCredentialSource = { kind: 'workloadIdentityFederation', clientId: 'wif-client' };
const spn: AzureRmCredentialSource = { kind: 'servicePrincipalSecret', clientId: 'spn-client', secret: SECRET };
const cert: AzureRmCredentialSource = {
  kind: 'servicePrincipalCertificate',
  clientId: 'cert-client',
  certificatePem: '-----BEGIN CERTIFICATE-----',
};
const msi: AzureRmCredentialSource = { kind: 'managedIdentity', clientId: 'mi-client' };
const systemMsi: AzureRmCredentialSource = { kind: 'managedIdentity' };

/** Runs `work` with stdout captured (registerSecret's ##vso[task.setsecret] lines land there). */
function capture<T>(work: () => T): { result?: T; error?: unknown; out: string } {
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += chunk.toString()), true)) as typeof process.stdout.write;
  tl.setStdStream(process.stdout);
  try {
    return { result: work(), out };
  } catch (error) {
    return { error, out };
  } finally {
    process.stdout.write = write;
  }
}

describe('kubeloginCredential: the kubelogin exec user for the connection', () => {
  const saved = { token: process.env.SYSTEM_ACCESSTOKEN, uri: process.env.SYSTEM_OIDCREQUESTURI };
  beforeEach(() => {
    process.env.SYSTEM_ACCESSTOKEN = ACCESS_TOKEN;
    process.env.SYSTEM_OIDCREQUESTURI = OIDC_URI;
  });
  after(() => {
    for (const [key, value] of [
      ['SYSTEM_ACCESSTOKEN', saved.token],
      ['SYSTEM_OIDCREQUESTURI', saved.uri],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  const accepted: {
    name: string;
    source: AzureRmCredentialSource;
    mode: KubeloginMode;
    environment?: string;
    args: string[];
    env: Record<string, string>;
    registered: string[];
  }[] = [
    {
      name: "azurepipelines for workload identity federation: the job's token and OIDC URI in the environment only",
      source: wif,
      mode: 'azurepipelines',
      args: [
        'get-token',
        '--login',
        'azurepipelines',
        '--server-id',
        AKS_SERVER_APP,
        '--environment',
        'AzurePublicCloud',
        '--tenant-id',
        TENANT,
        '--client-id',
        'wif-client',
      ],
      env: {
        AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: 'prod-arm',
        AZURESUBSCRIPTION_CLIENT_ID: 'wif-client',
        AZURESUBSCRIPTION_TENANT_ID: TENANT,
        SYSTEM_ACCESSTOKEN: ACCESS_TOKEN,
        SYSTEM_OIDCREQUESTURI: OIDC_URI,
      },
      registered: [ACCESS_TOKEN],
    },
    {
      name: 'spn for a secret: the secret in the environment and registered, never an argument',
      source: spn,
      mode: 'spn',
      environment: 'AzureUSGovernment',
      args: [
        'get-token',
        '--login',
        'spn',
        '--server-id',
        AKS_SERVER_APP,
        '--environment',
        'AzureUSGovernmentCloud',
        '--tenant-id',
        TENANT,
        '--client-id',
        'spn-client',
      ],
      env: { AAD_SERVICE_PRINCIPAL_CLIENT_ID: 'spn-client', AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: SECRET },
      registered: [SECRET],
    },
    {
      name: "msi with a user-assigned identity's client id, China cloud",
      source: msi,
      mode: 'msi',
      environment: 'AzureChinaCloud',
      args: [
        'get-token',
        '--login',
        'msi',
        '--server-id',
        AKS_SERVER_APP,
        '--environment',
        'AzureChinaCloud',
        '--tenant-id',
        TENANT,
        '--client-id',
        'mi-client',
      ],
      env: {},
      registered: [],
    },
    {
      name: "msi with the system-assigned identity in the US Government cloud: no --client-id, the cloud by kubelogin's name",
      source: systemMsi,
      mode: 'msi',
      environment: 'AzureUSGovernment',
      args: [
        'get-token',
        '--login',
        'msi',
        '--server-id',
        AKS_SERVER_APP,
        '--environment',
        'AzureUSGovernmentCloud',
        '--tenant-id',
        TENANT,
      ],
      env: {},
      registered: [],
    },
  ];
  for (const c of accepted) {
    it(c.name, () => {
      const { result, error, out } = capture(() => kubeloginCredential(connection(c.source, c.environment), c.mode, '/opt/kubelogin'));
      assert.ifError(error);
      assert.deepStrictEqual(result!.exec, {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: '/opt/kubelogin',
        args: c.args,
        interactiveMode: 'Never',
        provideClusterInfo: false,
      });
      assert.deepStrictEqual(result!.env, c.env);
      for (const secret of [SECRET, ACCESS_TOKEN])
        assert.ok(!result!.exec.args.some((a) => a.includes(secret)), 'a secret on the command line');
      assert.deepStrictEqual(
        [...out.matchAll(/^##vso\[task\.setsecret\](.*)$/gm)].map((m) => m[1]),
        c.registered,
      );
    });
  }

  it('refuses a cloud kubelogin knows only from an environment file (Azure Stack Hub), rather than naming the public cloud', () => {
    // kubelogin's --environment names AzurePublicCloud, AzureChinaCloud and AzureUSGovernmentCloud; any other
    // (AzureStackCloud) is read from the file AZURE_ENVIRONMENT_FILEPATH names (Azure/kubelogin docs, environments).
    const { error } = capture(() => kubeloginCredential(connection(msi, 'AzureStack'), 'msi'));
    assert.ok(error instanceof ExplainedError, String(error));
    assert.strictEqual(error.code, 'KUBELOGIN_UNSUPPORTED_CLOUD');
    assert.strictEqual(error.what, "Reading the input 'credentialHelper'");
    assert.match(error.reason, /'AzureStack'/);
    assert.match(error.fix, /credentialHelper: builtIn/);
  });

  it('the command defaults to kubelogin on PATH', () => {
    assert.strictEqual(capture(() => kubeloginCredential(connection(msi), 'msi')).result!.exec.command, 'kubelogin');
  });

  const refused: { name: string; source: AzureRmCredentialSource; mode: KubeloginMode; reason: RegExp; fix: RegExp; unset?: boolean }[] = [
    {
      name: 'azurepipelines with a secret connection',
      source: spn,
      mode: 'azurepipelines',
      reason: /needs a workload identity federation connection; 'prod-arm' is servicePrincipalSecret\./,
      fix: /credentialHelper builtIn/,
    },
    {
      name: 'azurepipelines outside a job (no System.AccessToken or OIDC URI)',
      source: wif,
      mode: 'azurepipelines',
      unset: true,
      reason: /no System\.AccessToken or System\.OidcRequestUri/,
      fix: /Azure Pipelines agent job/,
    },
    {
      name: 'spn with a certificate connection (kubelogin would need the key on disk)',
      source: cert,
      mode: 'spn',
      reason: /servicePrincipalCertificate \(a certificate would have to be written to disk/,
      fix: /in memory/,
    },
    {
      name: 'spn with workload identity federation',
      source: wif,
      mode: 'spn',
      reason: /'prod-arm' is workloadIdentityFederation/,
      fix: /builtIn/,
    },
    {
      name: 'msi with a service principal',
      source: spn,
      mode: 'msi',
      reason: /needs a managed identity connection; 'prod-arm' is servicePrincipalSecret\./,
      fix: /matching kubelogin mode/,
    },
    {
      name: 'workloadidentity (a federated token file on disk)',
      source: wif,
      mode: 'workloadidentity',
      reason: /reads a federated token from a file/,
      fix: /azurepipelines mode/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      if (c.unset) {
        delete process.env.SYSTEM_ACCESSTOKEN;
        delete process.env.SYSTEM_OIDCREQUESTURI;
      }
      const { error, out } = capture(() => kubeloginCredential(connection(c.source), c.mode));
      assert.ok(error instanceof ExplainedError, String(error));
      assert.strictEqual(error.code, 'KUBELOGIN_MODE_MISMATCH');
      assert.strictEqual(error.what, "Reading the input 'kubeloginLoginMode'");
      assert.match(error.reason, c.reason);
      assert.match(error.fix, c.fix);
      assert.ok(!out.includes(SECRET), 'a refused secret is not even registered');
    });
  }
});
