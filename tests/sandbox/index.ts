/**
 * The local Azure sandbox: loopback servers playing Microsoft Entra ID, the Azure DevOps OIDC
 * endpoint and IMDS (later: ARM, a private AKS API server, ACR), configured by one scenario, with
 * a shared request log and a shared fault mechanism. Production code talks to it unchanged; only
 * URLs differ (authority host, System.OidcRequestUri, IMDS endpoint) and the test CA must be trusted.
 *
 *   const sandbox = await startSandbox({ principals: [{ name: 'deployer' }] });
 *   try { ... } finally { await sandbox.stop(); }
 *
 * Trusting the CA:
 *   - in-process @azure/identity / core-rest-pipeline clients: `tlsOptions: sandbox.tlsOptions()`;
 *   - Node child processes (tasks run by the task runner): NODE_EXTRA_CA_CERTS=sandbox.caFile;
 *   - Go / Python / curl tools: SSL_CERT_FILE / REQUESTS_CA_BUNDLE / --cacert with sandbox.caFile
 *     (these replace the system bundle, so `env()` leaves them out).
 *   `sandbox.env()` returns the variables for a Node child process.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { AzureDevOpsOidcService } from './devops/azureDevOpsOidc';
import { EntraService } from './entra/entra';
import { FaultInjector } from './faults';
import { ImdsService } from './entra/imds';
import type { JwtPayload } from './entra/jwt';
import { leaseRsaKeys } from './entra/keyPool';
import { RequestLog } from './requestLog';
import {
  resolveScenario,
  SecretRegistry,
  type ResolvedPrincipal,
  type ResolvedScenario,
  type ResolvedServiceConnection,
  type Scenario,
} from './scenario';
import { createTestCa, type IssuedCertificate, type TestCa } from './testCa';
import { startAzure, type SandboxAzure } from './azure';
import { PrivateNetwork, type PrivateNetworkOptions } from './network/network';
import { trackLiveSecrets } from './liveSecrets';

export type {
  Scenario,
  PrincipalSpec,
  ServiceConnectionSpec,
  AzureDevOpsSpec,
  FederatedCredentialSpec,
  ResolvedScenario,
  ResolvedPrincipal,
  ResolvedServiceConnection,
} from './scenario';
export type { FaultSpec, ActiveFault } from './faults';
export type { RequestRecord, ServiceName } from './requestLog';
export { FaultInjector } from './faults';
export { RequestLog } from './requestLog';
export { AKS_SERVER_APP_ID, ARM_SCOPE, AccessTokenError, resourceFromScope } from './entra/entra';
export { TOKEN_EXCHANGE_AUDIENCE } from './scenario';
export { decodeJwt, signJwt, verifyJwt } from './entra/jwt';
export { liveIssuedSecrets } from './liveSecrets';

/**
 * Environment variable that points @azure/msal-node's IMDS managed identity source (and therefore
 * @azure/identity's ManagedIdentityCredential) at another IMDS host: `<value>/metadata/identity/oauth2/token`.
 */
export const IMDS_ENDPOINT_ENV = 'AZURE_POD_IDENTITY_AUTHORITY_HOST';

export interface StartOptions {
  /** Generate new RSA keys instead of reusing keys released by sandboxes stopped earlier in this process. */
  freshKeys?: boolean;
  /** Directory under which the sandbox temp dir is created. Default: os.tmpdir(). */
  tempRoot?: string;
  /**
   * Also start the private network (network namespaces inside and outside the VNet, with their own
   * DNS). Needs root; when unavailable, `sandbox.network` stays undefined and `networkUnavailable`
   * says why, so callers can skip with the reason.
   */
  privateNetwork?: boolean;
}

/** What every sandbox service gets; later services (ARM, AKS, ACR) take the same context. */
export interface SandboxContext {
  scenario: ResolvedScenario;
  ca: TestCa;
  /** TLS key/cert for 127.0.0.1 / localhost, issued by the sandbox CA. */
  tls: { key: string; cert: string };
  log: RequestLog;
  faults: FaultInjector;
  secrets: SecretRegistry;
  entra: EntraService;
}

export interface Sandbox {
  /** The resolved scenario (live: services read lifetimes from it on every request). */
  readonly scenario: ResolvedScenario;
  readonly tenantId: string;
  /** PEM of the sandbox CA certificate. */
  readonly caPem: string;
  /** Path of a file holding `caPem`, inside `tempDir`. */
  readonly caFile: string;
  /** Temp directory removed by `stop()`; tests may put files there. */
  readonly tempDir: string;
  /** `https://127.0.0.1:<port>`: authorityHost for @azure/identity (with disableInstanceDiscovery: true). */
  readonly authorityHost: string;
  /** System.OidcRequestUri: `https://127.0.0.1:<port>/<org>/<projectId>/_apis/distributedtask/hubs/build/plans/<planId>/jobs/<jobId>/oidctoken`. */
  readonly oidcRequestUri: string;
  /** System.CollectionUri: `https://127.0.0.1:<port>/<org>/`. */
  readonly collectionUri: string;
  /** `iss` of Azure DevOps OIDC tokens: `https://127.0.0.1:<port>/vstoken/<organizationId>`. */
  readonly oidcIssuer: string;
  /** `http://127.0.0.1:<port>`: value for AZURE_POD_IDENTITY_AUTHORITY_HOST. */
  readonly imdsEndpoint: string;
  /** System.AccessToken accepted by the OIDC endpoint. */
  readonly systemAccessToken: string;
  /** PEM (SPKI) of Entra's token signing key. */
  readonly signingPublicKeyPem: string;
  readonly faults: FaultInjector;
  readonly requests: RequestLog;
  readonly services: { entra: EntraService; oidc: AzureDevOpsOidcService; imds: ImdsService };
  readonly context: SandboxContext;
  /** Resource Manager, the AKS API servers and the ACR data endpoints of the scenario. */
  readonly azure: SandboxAzure;
  /** `https://127.0.0.1:<port>/`: the Resource Manager URL of the sandbox's service connections. */
  readonly resourceManagerUrl: string;
  /** The private network, when asked for and available. */
  readonly network?: PrivateNetwork;
  /** Why the private network is not there, when it was asked for. */
  readonly networkUnavailable?: string;

  principal(name: string): ResolvedPrincipal;
  /** By id (case-insensitive) or name. */
  serviceConnection(idOrName: string): ResolvedServiceConnection;
  /** `iss` of access tokens the sandbox Entra issues for the tenant. */
  entraIssuer(tenantId?: string): string;
  /** Validates an access token this sandbox issued; throws AccessTokenError. */
  validateAccessToken(token: string, options?: { audience?: string | string[] }): JwtPayload;
  /** `{ ca: [...tls.rootCertificates, caPem] }` for @azure/identity / core-rest-pipeline `tlsOptions`. */
  tlsOptions(): { ca: string[] };
  /** Environment for a child process that should use the sandbox (CA trust, authority host, IMDS, OIDC). */
  env(): Record<string, string>;
  /** Every secret value handed out or accepted: client secrets, private keys, System.AccessToken, issued access and OIDC tokens, accepted assertions. */
  issuedSecrets(): string[];
  /** Closes every server and connection, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * msal-node caches its managed identity source (and with it the IMDS URL) in a static field for the
 * life of the process. Reusing the IMDS port across sandboxes keeps ManagedIdentityCredential
 * working when several sandboxes run one after another in one mocha process.
 */
let lastImdsPort: number | undefined;

export async function startSandbox(scenario: Scenario, options: StartOptions = {}): Promise<Sandbox> {
  const resolved = resolveScenario(scenario);
  const lease = leaseRsaKeys(options.freshKeys ?? false);
  const certificatePrincipals = scenario.principals.filter((p) => p.certificate).map((p) => p.name);
  const [entraKeys, oidcKeys, ...clientKeys] = await Promise.all([
    lease.take(),
    lease.take(),
    ...certificatePrincipals.map(() => lease.take()),
  ]);

  const ca = createTestCa();
  const serverCert = ca.issueServerCertificate(['localhost'], ['127.0.0.1', '::1']);
  const serverTls = { key: serverCert.keyPem, cert: serverCert.certPem };
  certificatePrincipals.forEach((name, i) => {
    const principal = resolved.principals.find((p) => p.name === name)!;
    const cert: IssuedCertificate = ca.issueClientCertificate(name, { keyPair: clientKeys[i] });
    principal.certificate = cert;
    principal.certificatePem = cert.pem;
    principal.certificateThumbprint = cert.thumbprint;
    principal.certificateThumbprintSha256 = cert.thumbprintSha256;
  });

  const log = new RequestLog();
  const faults = new FaultInjector();
  const secrets = new SecretRegistry();
  const untrackSecrets = trackLiveSecrets(secrets);
  const closers: Array<() => Promise<void>> = [];
  let tempDir: string | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(closers.splice(0).map((close) => close()));
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
    lease.release();
    untrackSecrets();
  };

  let entra: EntraService;
  let oidc: AzureDevOpsOidcService;
  let imds: ImdsService;
  try {
    entra = await EntraService.start({ scenario: resolved, signingKeys: entraKeys, tls: serverTls, log, faults, secrets });
    closers.push(() => entra.close());
    [oidc, imds] = await Promise.all([
      AzureDevOpsOidcService.start({ scenario: resolved, signingKeys: oidcKeys, tls: serverTls, log, faults, secrets }),
      ImdsService.start({ scenario: resolved, entra, log, faults, preferredPort: lastImdsPort }),
    ]);
    closers.push(
      () => oidc.close(),
      () => imds.close(),
    );
    lastImdsPort = imds.port;
    tempDir = await fs.mkdtemp(path.join(options.tempRoot ?? os.tmpdir(), 'aks-deploy-sandbox-'));
  } catch (err) {
    await closeAll();
    throw err;
  }

  const caFile = path.join(tempDir, 'sandbox-ca.pem');
  await fs.writeFile(caFile, ca.certPem, { mode: 0o600 });

  // Second resolution pass: things that need keys and listening ports.
  resolved.azureDevOps.systemAccessToken ||= oidc.createSystemAccessToken();
  for (const principal of resolved.principals) {
    for (const credential of principal.federated) credential.issuer ||= oidc.issuer;
  }
  entra.trustIssuer(oidc.issuer, [{ kid: oidc.kid, publicKey: oidc.publicKey }]);

  secrets.add(resolved.azureDevOps.systemAccessToken);
  for (const principal of resolved.principals) {
    secrets.add(principal.secret);
    if (principal.certificate) {
      secrets.add(principal.certificate.pem);
      secrets.add(principal.certificate.keyPem);
      // The first base64 line of the key: found in any dump of the key, whatever its line endings.
      secrets.add(principal.certificate.keyPem.split('\n')[1]);
    }
  }

  const context: SandboxContext = { scenario: resolved, ca, tls: serverTls, log, faults, secrets, entra };
  let azure: SandboxAzure;
  let network: PrivateNetwork | undefined;
  let networkUnavailable: string | undefined;
  try {
    azure = await startAzure(context, tempDir);
    closers.push(() => azure.close());
    if (options.privateNetwork) {
      const availability = await PrivateNetwork.available();
      if (availability.ok) {
        network = await PrivateNetwork.start(
          privateNetworkOptions(azure, [entra.port, Number(new URL(oidc.origin).port), imds.port, azure.arm.port], ca),
        );
        const started = network;
        closers.unshift(() => started.stop());
      } else {
        networkUnavailable = availability.reason;
      }
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  let stopped: Promise<void> | undefined;

  const sandbox: Sandbox = {
    scenario: resolved,
    tenantId: resolved.tenantId,
    caPem: ca.certPem,
    caFile,
    tempDir,
    authorityHost: entra.origin,
    oidcRequestUri: oidc.oidcRequestUri,
    collectionUri: oidc.collectionUri,
    oidcIssuer: oidc.issuer,
    imdsEndpoint: imds.endpoint,
    get systemAccessToken() {
      return resolved.azureDevOps.systemAccessToken;
    },
    signingPublicKeyPem: entra.signingPublicKeyPem,
    faults,
    requests: log,
    services: { entra, oidc, imds },
    context,
    azure,
    resourceManagerUrl: `${azure.arm.origin}/`,
    network,
    networkUnavailable,
    principal(name) {
      const principal = resolved.principals.find((p) => p.name === name);
      if (!principal) throw new Error(`Unknown sandbox principal '${name}' (known: ${resolved.principals.map((p) => p.name).join(', ')})`);
      return principal;
    },
    serviceConnection(idOrName) {
      const connection = resolved.serviceConnections.find((c) => c.id.toLowerCase() === idOrName.toLowerCase() || c.name === idOrName);
      if (!connection) throw new Error(`Unknown sandbox service connection '${idOrName}'`);
      return connection;
    },
    entraIssuer(tenantId = resolved.tenantId) {
      return entra.issuer(tenantId);
    },
    validateAccessToken(token, opts) {
      return entra.validateAccessToken(token, opts);
    },
    tlsOptions() {
      return { ca: [...tls.rootCertificates, ca.certPem] };
    },
    env() {
      return {
        NODE_EXTRA_CA_CERTS: caFile,
        AZURE_AUTHORITY_HOST: entra.origin,
        [IMDS_ENDPOINT_ENV]: imds.endpoint,
        SYSTEM_OIDCREQUESTURI: oidc.oidcRequestUri,
        SYSTEM_COLLECTIONURI: oidc.collectionUri,
        SYSTEM_TEAMFOUNDATIONCOLLECTIONURI: oidc.collectionUri,
        SYSTEM_TEAMPROJECTID: resolved.azureDevOps.projectId,
        SYSTEM_TEAMPROJECT: resolved.azureDevOps.projectName,
        SYSTEM_PLANID: resolved.azureDevOps.planId,
        SYSTEM_JOBID: resolved.azureDevOps.jobId,
        SYSTEM_HOSTTYPE: resolved.azureDevOps.hubName,
        SYSTEM_ACCESSTOKEN: resolved.azureDevOps.systemAccessToken,
      };
    },
    issuedSecrets() {
      return secrets.list();
    },
    stop() {
      stopped ??= closeAll();
      return stopped;
    },
  };
  return sandbox;
}

/**
 * The DNS of the scenario: private FQDNs of clusters and the registries' private-endpoint names
 * resolve only inside the VNet; public FQDNs and login servers resolve everywhere (inside, the
 * private zone wins, as a linked private DNS zone does).
 */
function privateNetworkOptions(azure: SandboxAzure, loopbackPorts: number[], ca: TestCa): PrivateNetworkOptions {
  const names: PrivateNetworkOptions['names'] = [];
  const publicNames: PrivateNetworkOptions['publicNames'] = [];
  for (const record of azure.state.clusters) {
    const server = azure.clusters.get(record.name)!;
    if (record.privateFqdn) names.push({ fqdn: record.privateFqdn, target: { port: server.port } });
    if (record.fqdn) publicNames.push({ fqdn: record.fqdn, target: { port: server.port } });
  }
  for (const record of azure.state.registries) {
    const endpoint = azure.registries.get(record.name)!;
    const privateLink = record.loginServer.replace(/\.azurecr\.io$/, '.privatelink.azurecr.io');
    names.push(
      { fqdn: privateLink, target: { port: endpoint.privateEndpointPort } },
      { fqdn: record.loginServer, target: { port: endpoint.privateEndpointPort } },
    );
    publicNames.push({ fqdn: record.loginServer, target: { port: endpoint.port } });
    if (record.dataEndpointEnabled) {
      names.push({ fqdn: endpoint.dataEndpoint, target: { port: endpoint.privateEndpointPort } });
      publicNames.push({ fqdn: endpoint.dataEndpoint, target: { port: endpoint.port } });
    }
  }
  return { names, publicNames, loopbackPorts, ca };
}
