/**
 * Drives the sandbox's identity services through the real @azure/identity credentials.
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import {
  AzurePipelinesCredential,
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredentialOptions,
} from '@azure/identity';
import { AKS_SERVER_APP_ID, ARM_SCOPE, IMDS_ENDPOINT_ENV, startSandbox, type Sandbox, type Scenario } from '../index';
import { decodeJwt, verifyJwt } from './jwt';
import { rawRequest, type RawResponse } from '../../support/rawRequest';

const SC_ID = '0c6a3c61-5f43-4b2f-9f59-2d1b4f0a0001';
const SC_CASE_ID = '0c6a3c61-5f43-4b2f-9f59-2d1b4f0a0002';
const SC_OTHER_ID = '0c6a3c61-5f43-4b2f-9f59-2d1b4f0a0003';
const AKS_SCOPE = `${AKS_SERVER_APP_ID}/.default`;

const scenario: Scenario = {
  principals: [
    { name: 'secret-app' },
    { name: 'cert-app', certificate: true },
    { name: 'wif-app', federated: [{ subject: 'sc://contoso/Deploy Project/AKS-Prod' }] },
    { name: 'vm-identity', managedIdentity: true, systemAssigned: true },
    { name: 'kubelet-identity', managedIdentity: true },
  ],
  serviceConnections: [
    { id: SC_ID, name: 'AKS-Prod', principal: 'wif-app' },
    // Same connection name in another case: the federated credential must not match it.
    { id: SC_CASE_ID, name: 'aks-prod', principal: 'wif-app' },
    { id: SC_OTHER_ID, name: 'Other-Conn', principal: 'wif-app' },
  ],
  azureDevOps: { organization: 'contoso', projectName: 'Deploy Project' },
};

function oidcTokenRequest(
  sandbox: Sandbox,
  connectionId: string | undefined,
  accessToken: string | null = sandbox.systemAccessToken,
): Promise<RawResponse> {
  const query = connectionId ? `?api-version=7.1&serviceConnectionId=${connectionId}` : '?api-version=7.1';
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-TFS-FedAuthRedirect': 'Suppress' };
  if (accessToken !== null) headers.Authorization = `Bearer ${accessToken}`;
  return rawRequest(sandbox, sandbox.oidcRequestUri + query, { method: 'POST', headers });
}

async function fetchOidcToken(sandbox: Sandbox, connectionId: string): Promise<string> {
  const res = await oidcTokenRequest(sandbox, connectionId);
  assert.equal(res.status, 200, res.text);
  return res.json<{ oidcToken: string }>().oidcToken;
}

async function expectRejection(promise: Promise<unknown>, ...fragments: string[]): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    const message = (err as Error).message;
    for (const fragment of fragments) assert.ok(message.includes(fragment), `expected "${fragment}" in: ${message}`);
    return err as Error;
  }
  assert.fail(`expected a rejection containing ${fragments.join(', ')}`);
}

function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return fn().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

describe('sandbox: identity services with the real @azure/identity', function () {
  this.timeout(20_000);
  let sandbox: Sandbox;
  let options: TokenCredentialOptions & { disableInstanceDiscovery: boolean };

  before(async () => {
    const started = Date.now();
    sandbox = await startSandbox(scenario);
    assert.ok(Date.now() - started < 5_000, `sandbox start took ${Date.now() - started} ms`);
    options = {
      authorityHost: sandbox.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: sandbox.tlsOptions(),
      // Fast retries so the fault tests stay quick.
      retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    };
  });

  after(async () => {
    await sandbox?.stop();
  });

  beforeEach(() => {
    sandbox.requests.clear();
    sandbox.faults.clear();
  });

  it('resolves the scenario with generated ids, secrets and certificates', () => {
    const app = sandbox.principal('secret-app');
    assert.match(app.clientId, /^[0-9a-f-]{36}$/);
    assert.match(app.secret ?? '', /^.{3}8Q~.{34}$/);
    const cert = sandbox.principal('cert-app');
    assert.ok(cert.certificatePem?.includes('BEGIN CERTIFICATE') && cert.certificatePem.includes('BEGIN PRIVATE KEY'));
    assert.match(cert.certificateThumbprint ?? '', /^[0-9A-F]{40}$/);
    assert.equal(sandbox.principal('vm-identity').secret, undefined);
    assert.equal(sandbox.serviceConnection(SC_ID).subject, 'sc://contoso/Deploy Project/AKS-Prod');
    assert.equal(sandbox.principal('wif-app').federated[0].issuer, sandbox.oidcIssuer);
    assert.match(sandbox.oidcIssuer, /^https:\/\/127\.0\.0\.1:\d+\/vstoken\/[0-9a-f-]{36}$/);
    assert.match(
      sandbox.oidcRequestUri,
      /^https:\/\/127\.0\.0\.1:\d+\/contoso\/[0-9a-f-]{36}\/_apis\/distributedtask\/hubs\/build\/plans\/[0-9a-f-]{36}\/jobs\/[0-9a-f-]{36}\/oidctoken$/,
    );
    assert.ok(sandbox.oidcRequestUri.startsWith(sandbox.collectionUri));
    assert.throws(() => sandbox.principal('nobody'), /Unknown sandbox principal/);
    assert.ok(existsSync(sandbox.caFile));
  });

  it('rejects inconsistent scenarios', async () => {
    await assert.rejects(
      startSandbox({ principals: [], serviceConnections: [{ id: SC_ID, name: 'x', principal: 'ghost' }] }),
      /unknown principal 'ghost'/,
    );
  });

  it('is trusted only through the sandbox CA (tlsOptions)', async () => {
    const app = sandbox.principal('secret-app');
    const untrusted = new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, {
      authorityHost: sandbox.authorityHost,
      disableInstanceDiscovery: true,
      retryOptions: { maxRetries: 0 },
    });
    // MSAL reports the failed openid-configuration fetch, not the TLS error behind it.
    await expectRejection(untrusted.getToken(ARM_SCOPE), 'endpoints_resolution_error');
    await assert.rejects(
      new Promise((resolve, reject) => {
        https
          .get(`${sandbox.authorityHost}/${sandbox.tenantId}/v2.0/.well-known/openid-configuration`, { agent: false }, resolve)
          .on('error', reject);
      }),
      (err: NodeJS.ErrnoException) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
  });

  it('issues ARM tokens for a client secret, with the expected claims', async () => {
    const app = sandbox.principal('secret-app');
    const token = await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, options).getToken(ARM_SCOPE);
    const { header, payload } = verifyJwt(token.token, sandbox.signingPublicKeyPem);
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid && header.x5t);
    assert.equal(payload.aud, 'https://management.azure.com/');
    assert.equal(payload.iss, sandbox.entraIssuer(sandbox.tenantId));
    assert.equal(payload.tid, sandbox.tenantId);
    assert.equal(payload.oid, app.objectId);
    assert.equal(payload.sub, app.objectId);
    assert.equal(payload.appid, app.clientId);
    assert.equal(payload.azp, app.clientId);
    assert.equal(payload.appidacr, '1');
    assert.equal(payload.idtyp, 'app');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
    assert.ok(typeof payload.uti === 'string' && payload.uti.length > 10);
    assert.ok(Math.abs(token.expiresOnTimestamp - (payload.exp ?? 0) * 1000) < 5_000);
    assert.deepEqual(sandbox.validateAccessToken(token.token, { audience: 'https://management.azure.com' }).appid, app.clientId);
    assert.equal(sandbox.requests.count('entra', '/oauth2/v2.0/token'), 1);
    assert.equal(sandbox.requests.count('entra', '/common/discovery/instance'), 0, 'no instance discovery with disableInstanceDiscovery');
    assert.deepEqual(sandbox.requests.last('entra')?.note, {
      credential: 'secret',
      clientId: app.clientId,
      resource: 'https://management.azure.com/',
      result: 'issued',
    });
    assert.ok(!sandbox.requests.describe().includes(app.secret!), 'the request log holds no secrets');
  });

  it('issues AKS server-app tokens (audience = the AKS AAD server app id)', async () => {
    const app = sandbox.principal('secret-app');
    const token = await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, options).getToken(AKS_SCOPE);
    assert.equal(decodeJwt(token.token).payload.aud, AKS_SERVER_APP_ID);
    assert.throws(() => sandbox.validateAccessToken(token.token, { audience: 'https://management.azure.com/' }), /audience/);
  });

  it('issues tokens for a certificate credential given as in-memory PEM', async () => {
    const app = sandbox.principal('cert-app');
    const token = await new ClientCertificateCredential(
      sandbox.tenantId,
      app.clientId,
      { certificate: app.certificatePem! },
      options,
    ).getToken(ARM_SCOPE);
    const { payload } = verifyJwt(token.token, sandbox.signingPublicKeyPem);
    assert.equal(payload.appid, app.clientId);
    assert.equal(payload.appidacr, '2');
    assert.equal(sandbox.requests.last('entra')?.note?.credential, 'certificate');
  });

  it('rejects a certificate that is not registered on the application (AADSTS700027)', async () => {
    const app = sandbox.principal('secret-app');
    const foreign = sandbox.principal('cert-app').certificatePem!;
    await expectRejection(
      new ClientCertificateCredential(sandbox.tenantId, app.clientId, { certificate: foreign }, options).getToken(ARM_SCOPE),
      'AADSTS700027',
      'is not registered on application',
    );
  });

  it('exchanges an Azure DevOps OIDC token (ClientAssertionCredential + the OIDC endpoint)', async () => {
    const app = sandbox.principal('wif-app');
    let calls = 0;
    const credential = new ClientAssertionCredential(
      sandbox.tenantId,
      app.clientId,
      async () => {
        calls++;
        return fetchOidcToken(sandbox, SC_ID);
      },
      options,
    );
    const token = await credential.getToken(AKS_SCOPE);
    assert.ok(calls >= 1);
    const { payload } = verifyJwt(token.token, sandbox.signingPublicKeyPem);
    assert.equal(payload.aud, AKS_SERVER_APP_ID);
    assert.equal(payload.appid, app.clientId);
    const exchange = sandbox.requests.for('entra', '/oauth2/v2.0/token').at(-1);
    assert.equal(exchange?.note?.credential, 'federated');

    const oidcToken = await fetchOidcToken(sandbox, SC_ID);
    const oidc = decodeJwt(oidcToken).payload;
    assert.equal(oidc.iss, sandbox.oidcIssuer);
    assert.equal(oidc.sub, 'sc://contoso/Deploy Project/AKS-Prod');
    assert.equal(oidc.aud, 'api://AzureADTokenExchange');
    assert.equal((oidc.exp ?? 0) - (oidc.iat ?? 0), 600);
  });

  it('works with AzurePipelinesCredential and SYSTEM_OIDCREQUESTURI', async () => {
    const app = sandbox.principal('wif-app');
    const token = await withEnv({ SYSTEM_OIDCREQUESTURI: sandbox.oidcRequestUri }, () =>
      new AzurePipelinesCredential(sandbox.tenantId, app.clientId, SC_ID, sandbox.systemAccessToken, options).getToken(ARM_SCOPE),
    );
    assert.equal(decodeJwt(token.token).payload.appid, app.clientId);
    assert.equal(sandbox.requests.for('oidc').at(-1)?.query, `api-version=7.1&serviceConnectionId=${SC_ID}`);
  });

  it('refuses a subject that differs only in case (AADSTS7002138, an AADSTS700213 variant)', async () => {
    const app = sandbox.principal('wif-app');
    const credential = new ClientAssertionCredential(sandbox.tenantId, app.clientId, () => fetchOidcToken(sandbox, SC_CASE_ID), options);
    await expectRejection(
      credential.getToken(ARM_SCOPE),
      'AADSTS700213',
      "No matching federated identity record found for presented assertion subject 'sc://contoso/Deploy Project/aks-prod'",
      'matches with case-insensitive comparison',
    );
    assert.equal(sandbox.requests.last('entra')?.note?.error, 'AADSTS7002138');
  });

  it('refuses an unknown subject (AADSTS700213) and an unknown issuer (AADSTS700211)', async () => {
    const wif = sandbox.principal('wif-app');
    await expectRejection(
      new ClientAssertionCredential(sandbox.tenantId, wif.clientId, () => fetchOidcToken(sandbox, SC_OTHER_ID), options).getToken(
        ARM_SCOPE,
      ),
      "AADSTS700213: No matching federated identity record found for presented assertion subject 'sc://contoso/Deploy Project/Other-Conn'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
    );
    const noFic = sandbox.principal('secret-app');
    await expectRejection(
      new ClientAssertionCredential(sandbox.tenantId, noFic.clientId, () => fetchOidcToken(sandbox, SC_ID), options).getToken(ARM_SCOPE),
      `AADSTS700211: No matching federated identity record found for presented assertion issuer '${sandbox.oidcIssuer}'`,
    );
  });

  it('refuses an expired OIDC token (AADSTS700024)', async () => {
    const app = sandbox.principal('wif-app');
    sandbox.scenario.oidcTokenLifetimeSeconds = 0; // expires the second it is issued
    try {
      await expectRejection(
        new ClientAssertionCredential(sandbox.tenantId, app.clientId, () => fetchOidcToken(sandbox, SC_ID), options).getToken(ARM_SCOPE),
        'AADSTS700024: Client assertion is not within its valid time range. Current time: ',
        ', assertion valid from ',
        ', expiry time of assertion ',
      );
    } finally {
      sandbox.scenario.oidcTokenLifetimeSeconds = 600;
    }
  });

  it('refuses a wrong client secret (AADSTS7000215) and an unknown client (AADSTS700016)', async () => {
    const app = sandbox.principal('secret-app');
    await expectRejection(
      new ClientSecretCredential(sandbox.tenantId, app.clientId, 'not-the-secret', options).getToken(ARM_SCOPE),
      `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
    );
    const unknown = '11111111-2222-3333-4444-555555555555';
    await expectRejection(
      new ClientSecretCredential(sandbox.tenantId, unknown, 'whatever', options).getToken(ARM_SCOPE),
      `AADSTS700016: Application with identifier '${unknown}' was not found in the directory '${sandbox.tenantId}'.`,
    );
    const [wrongSecret, unknownClient] = sandbox.requests.for('entra', '/oauth2/v2.0/token');
    assert.equal(wrongSecret.status, 401);
    assert.equal(unknownClient.status, 400);
  });

  it('answers with Entra-shaped error bodies', async () => {
    const app = sandbox.principal('secret-app');
    const res = await rawRequest(sandbox, `${sandbox.authorityHost}/${sandbox.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'client-request-id': 'b4b0a7c2-0000-4000-8000-000000000001' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: 'bad',
        scope: ARM_SCOPE,
      }).toString(),
    });
    assert.equal(res.status, 401);
    const body = res.json<{
      error: string;
      error_description: string;
      error_codes: number[];
      timestamp: string;
      trace_id: string;
      correlation_id: string;
      error_uri: string;
    }>();
    assert.equal(body.error, 'invalid_client');
    assert.deepEqual(body.error_codes, [7000215]);
    assert.equal(body.correlation_id, 'b4b0a7c2-0000-4000-8000-000000000001');
    assert.match(body.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.match(
      body.error_description,
      new RegExp(`^AADSTS7000215: .* Trace ID: ${body.trace_id} Correlation ID: ${body.correlation_id} Timestamp: ${body.timestamp}$`),
    );
    assert.ok(body.error_uri.endsWith('/error?code=7000215'));

    const tenant = await rawRequest(
      sandbox,
      `${sandbox.authorityHost}/00000000-0000-0000-0000-00000000dead/v2.0/.well-known/openid-configuration`,
    );
    assert.equal(tenant.status, 400);
    assert.match(
      tenant.json<{ error_description: string }>().error_description,
      /^AADSTS90002: Tenant '00000000-0000-0000-0000-00000000dead' not found\./,
    );
  });

  it('serves managed identity tokens through IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST)', async () => {
    const vm = sandbox.principal('vm-identity');
    const kubelet = sandbox.principal('kubelet-identity');
    await withEnv({ [IMDS_ENDPOINT_ENV]: sandbox.imdsEndpoint }, async () => {
      const system = await new ManagedIdentityCredential(options).getToken(ARM_SCOPE);
      const systemClaims = verifyJwt(system.token, sandbox.signingPublicKeyPem).payload;
      assert.equal(systemClaims.appid, vm.clientId);
      assert.equal(systemClaims.aud, 'https://management.azure.com/');
      assert.equal(systemClaims.xms_mirid, vm.resourceId);

      const user = await new ManagedIdentityCredential({ ...options, clientId: kubelet.clientId }).getToken(ARM_SCOPE);
      assert.equal(decodeJwt(user.token).payload.oid, kubelet.objectId);

      await expectRejection(
        new ManagedIdentityCredential({ ...options, clientId: '99999999-9999-9999-9999-999999999999' }).getToken(ARM_SCOPE),
        'Identity not found',
      );
    });
    const calls = sandbox.requests.for('imds');
    assert.equal(calls.length, 3);
    assert.ok(calls[1].query.includes(`client_id=${kubelet.clientId}`));
    assert.deepEqual(
      calls.map((c) => c.status),
      [200, 200, 400],
    );
  });

  it('answers IMDS requests like IMDS (Metadata header, numbers as strings)', async () => {
    const probe = await rawRequest(sandbox, `${sandbox.imdsEndpoint}/metadata/identity/oauth2/token`);
    assert.equal(probe.status, 400);
    assert.deepEqual(probe.json(), { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    const ok = await rawRequest(
      sandbox,
      `${sandbox.imdsEndpoint}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent('https://management.azure.com/')}`,
      { headers: { Metadata: 'true' } },
    );
    assert.equal(ok.status, 200);
    const body = ok.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'client_id',
      'expires_in',
      'expires_on',
      'ext_expires_in',
      'not_before',
      'resource',
      'token_type',
    ]);
    for (const key of ['expires_in', 'expires_on', 'ext_expires_in', 'not_before']) assert.equal(typeof body[key], 'string', key);
    assert.equal(body.resource, 'https://management.azure.com/');
  });

  it('guards the OIDC endpoint like Azure DevOps (401 without the job token, 400 for an unknown connection)', async () => {
    assert.equal((await oidcTokenRequest(sandbox, SC_ID, null)).status, 401);
    const wrong = await oidcTokenRequest(sandbox, SC_ID, 'not-the-job-token');
    assert.equal(wrong.status, 401);
    assert.match(wrong.json<{ message: string }>().message, /^TF400813/);
    const unknown = await oidcTokenRequest(sandbox, '12345678-0000-0000-0000-000000000000');
    assert.equal(unknown.status, 400);
    assert.match(unknown.json<{ message: string; typeKey: string }>().message, /12345678-0000-0000-0000-000000000000/);

    const discovery = await rawRequest(sandbox, `${sandbox.oidcIssuer}/.well-known/openid-configuration`);
    const { issuer, jwks_uri } = discovery.json<{ issuer: string; jwks_uri: string }>();
    assert.equal(issuer, sandbox.oidcIssuer);
    const jwks = (await rawRequest(sandbox, jwks_uri)).json<{ keys: Array<{ kid: string; n: string; e: string }> }>();
    const oidcToken = await fetchOidcToken(sandbox, SC_ID);
    const key = jwks.keys.find((k) => k.kid === decodeJwt(oidcToken).header.kid)!;
    const { createPublicKey } = await import('node:crypto');
    verifyJwt(oidcToken, createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e }, format: 'jwk' }));
  });

  it('survives an injected 503 through @azure/identity retries', async () => {
    sandbox.faults.inject('entra', { status: 503, retryAfterSeconds: 0, times: 1, pathIncludes: '/oauth2/v2.0/token' });
    const app = sandbox.principal('secret-app');
    await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, options).getToken(ARM_SCOPE);
    const tokenCalls = sandbox.requests.for('entra', '/oauth2/v2.0/token');
    assert.deepEqual(
      tokenCalls.map((r) => r.status),
      [503, 200],
      sandbox.requests.describe(),
    );
    assert.ok(tokenCalls[0].fault);
    assert.equal(sandbox.faults.pending().length, 0);
  });

  it('survives a dropped connection and applies delays', async () => {
    sandbox.faults.inject('entra', { dropConnection: true, times: 1, pathIncludes: '/oauth2/v2.0/token' });
    sandbox.faults.inject('entra', { delayMs: 150, times: 1, method: 'GET' });
    const app = sandbox.principal('secret-app');
    await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, options).getToken(ARM_SCOPE);
    const [discovery, dropped, ok] = sandbox.requests.for('entra');
    assert.ok(discovery.durationMs >= 140, `delay applied (${discovery.durationMs} ms)`);
    assert.equal(dropped.status, 0);
    assert.equal(ok.status, 200);
  });

  it('lists every secret it handed out or accepted', async () => {
    const app = sandbox.principal('secret-app');
    const token = await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, options).getToken(ARM_SCOPE);
    const oidcToken = await fetchOidcToken(sandbox, SC_ID);
    const secrets = sandbox.issuedSecrets();
    for (const value of [
      app.secret!,
      sandbox.principal('cert-app').certificate!.keyPem,
      sandbox.systemAccessToken,
      token.token,
      oidcToken,
    ]) {
      assert.ok(secrets.includes(value), `missing ${value.slice(0, 12)}…`);
    }
  });
});

describe('sandbox: lifecycle', function () {
  this.timeout(20_000);

  const tcpHandles = (): { servers: number; sockets: number } => {
    const info = process.getActiveResourcesInfo();
    return { servers: info.filter((r) => r === 'TCPServerWrap').length, sockets: info.filter((r) => r === 'TCPSocketWrap').length };
  };

  it('starts quickly again and stop() leaves no open handles, ports or files', async () => {
    const baseline = tcpHandles();
    const started = Date.now();
    const sandbox = await startSandbox({ principals: [{ name: 'app' }, { name: 'mi', managedIdentity: true }] });
    const startMs = Date.now() - started;
    assert.ok(startMs < 3_000, `start took ${startMs} ms`);
    const app = sandbox.principal('app');
    const opts = { authorityHost: sandbox.authorityHost, disableInstanceDiscovery: true, tlsOptions: sandbox.tlsOptions() };
    // Leaves keep-alive connections open on the client side.
    await new ClientSecretCredential(sandbox.tenantId, app.clientId, app.secret!, opts).getToken(ARM_SCOPE);
    await withEnv({ [IMDS_ENDPOINT_ENV]: sandbox.imdsEndpoint }, () => new ManagedIdentityCredential(opts).getToken(ARM_SCOPE));
    assert.ok(tcpHandles().servers >= baseline.servers + 3);

    await sandbox.stop();
    await sandbox.stop(); // idempotent

    const deadline = Date.now() + 2_000;
    let now = tcpHandles();
    while ((now.servers > baseline.servers || now.sockets > baseline.sockets) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      now = tcpHandles();
    }
    assert.deepEqual(now, baseline, `open handles after stop: ${process.getActiveResourcesInfo().join(', ')}`);
    assert.equal(existsSync(sandbox.tempDir), false, 'temp dir removed');
    const port = Number(new URL(sandbox.authorityHost).port);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        reject(new Error('Entra port still accepts connections'));
      });
      socket.on('error', () => resolve());
    });
  });
});
