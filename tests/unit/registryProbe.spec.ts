import * as assert from 'assert';
import { registryDataEndpointProbe, registryProbe } from '../../shared/aks/registryProbe';

/**
 * Each cloud's login server suffix: `acr_login_server_endpoint` in the Azure CLI's cloud table
 * (Azure/azure-cli src/azure-cli-core/azure/cli/core/cloud.py: .azurecr.io, .azurecr.us, .azurecr.cn).
 * `/v2/` answers 401 to an anonymous client the firewall lets in (the registry's token challenge) and
 * 403 DENIED to one it does not (MicrosoftDocs/SupportArticles-docs
 * support/azure/azure-container-registry/client-ip-address-not-allowed-access.md).
 * The pure parts of registryProbe; registryEndpoints reads Resource Manager (sandbox specs).
 */
describe('registryProbe: where the preflight looks for a registry', () => {
  const cases: { name: string; registry: string; environment: string; loginServer?: string; host: string }[] = [
    { name: 'public cloud', registry: 'contosoacr', environment: 'AzureCloud', host: 'contosoacr.azurecr.io' },
    { name: 'the name lower-cased, the environment matched case-insensitively', registry: 'ContosoACR', environment: 'azurecloud', host: 'contosoacr.azurecr.io' },
    { name: 'US Government', registry: 'govacr', environment: 'AzureUSGovernment', host: 'govacr.azurecr.us' },
    { name: 'China', registry: 'cnacr', environment: 'AzureChinaCloud', host: 'cnacr.azurecr.cn' },
    { name: 'an unknown environment falls back to azurecr.io', registry: 'stackacr', environment: 'AzureStack', host: 'stackacr.azurecr.io' },
    { name: 'the login server Resource Manager gave wins over the guess', registry: 'contosoacr', environment: 'AzureCloud', loginServer: 'contosoacr-abcd.azurecr.io', host: 'contosoacr-abcd.azurecr.io' },
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
});
