/**
 * A task-lib mock run of one task entry point (the tsc output, where registerMock reaches), chosen
 * by MOCK_TASK and MOCK_CASE. Offline: the identity library is replaced by a fake that hands out
 * an unsigned token with known claims, so this checks the entry point's wiring, not Entra ID.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const task = process.env.MOCK_TASK ?? 'PrivateAksDeployV1';
const mockCase = process.env.MOCK_CASE ?? 'signedIn';
const CONNECTION = 'sc-mock';
const CLAIMS = {
  tid: '11111111-1111-1111-1111-111111111111',
  oid: '22222222-2222-2222-2222-222222222222',
  appid: '33333333-3333-3333-3333-333333333333',
};

// Endpoint variables are read into task-lib's vault when it loads: set them first.
function setConnection(scheme: string, parameters: Record<string, string>): void {
  process.env[`ENDPOINT_URL_${CONNECTION}`] = 'https://management.azure.com/';
  process.env[`ENDPOINT_AUTH_${CONNECTION}`] = JSON.stringify({ scheme, parameters });
  process.env[`ENDPOINT_AUTH_SCHEME_${CONNECTION}`] = scheme;
  for (const [k, v] of Object.entries(parameters)) process.env[`ENDPOINT_AUTH_PARAMETER_${CONNECTION}_${k.toUpperCase()}`] = v;
  process.env[`ENDPOINT_DATA_${CONNECTION}_ENVIRONMENT`] = 'AzureCloud';
  process.env[`ENDPOINT_DATA_${CONNECTION}_SUBSCRIPTIONID`] = '44444444-4444-4444-4444-444444444444';
}

switch (mockCase) {
  case 'signedIn':
    setConnection('ServicePrincipal', {
      tenantid: CLAIMS.tid,
      serviceprincipalid: CLAIMS.appid,
      authenticationType: 'spnKey',
      serviceprincipalkey: 'mock-secret-value-0123456789',
    });
    break;
  case 'wrongType':
    setConnection('UsernamePassword', { username: 'u', password: 'p' });
    break;
  case 'wifWithoutAccessToken':
    setConnection('WorkloadIdentityFederation', { tenantid: CLAIMS.tid, serviceprincipalid: CLAIMS.appid });
    break;
}

import mr = require('azure-pipelines-task-lib/mock-run');

const runner = new mr.TaskMockRunner(path.join(__dirname, '..', '..', '..', 'tasks', task, 'index.js'));
if (mockCase !== 'missingConnection') runner.setInput('connectedServiceNameARM', CONNECTION);
if (task === 'PrivateAksDeployV1') {
  // PrivateAksDeploy checks what it is to deploy before it signs in.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-manifests-'));
  fs.writeFileSync(path.join(dir, 'app.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n');
  runner.setInput('manifests', path.join(dir, '*.yaml'));
  runner.setInput('resourceGroupName', 'rg-aks');
  runner.setInput('clusterName', 'aks-prod');
  runner.setInput('namespace', mockCase === 'badNamespace' ? 'Web_Prod' : 'web');
  if (mockCase === 'noManifests') runner.setInput('manifests', path.join(dir, 'nothing-here/*.yaml'));
  // The mock task-lib answers findMatch only from canned answers; match the real files.
  // Loaded lazily by absolute path: task-lib reads inputs when it loads, and the mock owns the module name.
  const realTaskLibPath = require.resolve('azure-pipelines-task-lib/task');
  runner.registerMockExport('findMatch', (...args: unknown[]) => require(realTaskLibPath).findMatch(...args));
}

function fakeToken(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ ...CLAIMS, exp: Math.floor(Date.now() / 1000) + 3600 })}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}
class FakeCredential {
  async getToken() {
    return { token: fakeToken(), expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}
runner.registerMock('@azure/identity', {
  ClientSecretCredential: FakeCredential,
  ClientCertificateCredential: FakeCredential,
  ClientAssertionCredential: FakeCredential,
  ManagedIdentityCredential: FakeCredential,
});
runner.run();
