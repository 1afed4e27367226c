import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { registryDataEndpointProbe, registryProbe } from '../../shared/lineOfSight/registryProbe';

/**
 * Each cloud's login server suffix: `acr_login_server_endpoint` in the Azure CLI's cloud table
 * (Azure/azure-cli src/azure-cli-core/azure/cli/core/cloud.py: .azurecr.io, .azurecr.us, .azurecr.cn).
 * `/v2/` answers 401 to an anonymous client the firewall lets in (the registry's token challenge) and
 * 403 DENIED to one it does not (MicrosoftDocs/SupportArticles-docs
 * support/azure/azure-container-registry/client-ip-address-not-allowed-access.md).
 * The pure parts of registryProbe; registryEndpoints reads Resource Manager (sandbox specs).
 */
describe('registryProbe: where the preflight looks for a registry', () => {
  // task-lib debug-logs each variable read: kept off the test's output.
  before(() => tl.setStdStream(new Writable({ write: (_chunk, _encoding, done) => done() })));
  after(() => tl.setStdStream(process.stdout));

  const cases: { name: string; registry: string; environment: string; loginServer?: string; host: string }[] = [
    { name: 'public cloud', registry: 'contosoacr', environment: 'AzureCloud', host: 'contosoacr.azurecr.io' },
    {
      name: 'the name lower-cased, the environment matched case-insensitively',
      registry: 'ContosoACR',
      environment: 'azurecloud',
      host: 'contosoacr.azurecr.io',
    },
    { name: 'US Government', registry: 'govacr', environment: 'AzureUSGovernment', host: 'govacr.azurecr.us' },
    { name: 'China', registry: 'cnacr', environment: 'AzureChinaCloud', host: 'cnacr.azurecr.cn' },
    {
      name: 'an unknown environment falls back to azurecr.io',
      registry: 'stackacr',
      environment: 'AzureStack',
      host: 'stackacr.azurecr.io',
    },
    {
      name: 'the login server Resource Manager gave wins over the guess',
      registry: 'contosoacr',
      environment: 'AzureCloud',
      loginServer: 'contosoacr-abcd.azurecr.io',
      host: 'contosoacr-abcd.azurecr.io',
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.host}`, () => {
      const target = registryProbe(c.registry, c.environment, c.loginServer);
      assert.deepStrictEqual(target.context, { kind: 'acrLoginServer', resourceName: c.registry });
      assert.strictEqual(target.probe.host, c.host);
      assert.strictEqual(target.probe.port, 443);
      assert.strictEqual(target.probe.path, '/v2/');
      assert.deepStrictEqual(target.probe.reachableStatuses, [200, 401]);
      assert.strictEqual(target.probe.label, 'ACR login server');
    });
  }

  it('a dedicated data endpoint is probed the same way, under its own label', () => {
    const target = registryDataEndpointProbe('contosoacr', 'contosoacr.westeurope.data.azurecr.io');
    assert.deepStrictEqual(target.context, { kind: 'acrDataEndpoint', resourceName: 'contosoacr' });
    assert.strictEqual(target.probe.host, 'contosoacr.westeurope.data.azurecr.io');
    assert.strictEqual(target.probe.label, 'ACR data endpoint');
    assert.deepStrictEqual(target.probe.reachableStatuses, [200, 401]);
  });

  it('without Agent.CAInfo the probe keeps the default trust (no ca list)', () => {
    assert.strictEqual(registryProbe('contosoacr', 'AzureCloud').probe.ca, undefined);
  });

  it("with Agent.CAInfo (a TLS-inspecting proxy's root) the probe trusts the public roots and that bundle", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'registry-probe-'));
    const bundle = path.join(dir, 'ca.pem');
    fs.writeFileSync(bundle, '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n');
    // The agent hands its settings over as variables, Agent.CAInfo as AGENT_CAINFO (task-lib getVariable).
    process.env.AGENT_CAINFO = bundle;
    try {
      const { probe } = registryDataEndpointProbe('contosoacr', 'contosoacr.westeurope.data.azurecr.io');
      assert.deepStrictEqual(probe.ca, [...tls.rootCertificates, fs.readFileSync(bundle, 'utf8')]);
    } finally {
      delete process.env.AGENT_CAINFO;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
