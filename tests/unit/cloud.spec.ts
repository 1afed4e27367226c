import * as assert from 'assert';
import {
  acrLoginServerSuffix,
  authorityHostOf,
  azureStackMetadataUrl,
  defaultScopeOf,
  knownCloud,
  parseAzureStackMetadata,
  resolveCloudEndpoints,
} from '../../shared/azure/connection/cloud';

describe('cloud endpoints from a connection', () => {
  it('takes authority and Resource Manager from the connection (sovereign clouds)', () => {
    const c = resolveCloudEndpoints({
      environment: 'AzureUSGovernment',
      resourceManagerUrl: 'https://management.usgovcloudapi.net',
      authorityUrl: 'https://login.microsoftonline.us/',
      resourceManagerAudience: 'https://management.core.usgovcloudapi.net/',
    });
    assert.deepStrictEqual(c, {
      environment: 'AzureUSGovernment',
      resourceManagerUrl: 'https://management.usgovcloudapi.net/',
      authorityHost: 'https://login.microsoftonline.us',
      resourceManagerAudience: 'https://management.core.usgovcloudapi.net/',
    });
  });

  it("fills a known cloud's authority when an older connection lacks it", () => {
    assert.strictEqual(
      resolveCloudEndpoints({ environment: 'AzureChinaCloud', resourceManagerUrl: 'https://management.chinacloudapi.cn/' }).authorityHost,
      'https://login.chinacloudapi.cn',
    );
    assert.strictEqual(resolveCloudEndpoints({}).authorityHost, 'https://login.microsoftonline.com');
  });

  it('uses Resource Manager itself as the audience when none is given', () => {
    assert.strictEqual(
      resolveCloudEndpoints({ resourceManagerUrl: 'https://management.azure.com' }).resourceManagerAudience,
      'https://management.azure.com/',
    );
  });

  it('refuses an unknown cloud without an authority', () => {
    assert.throws(
      () => resolveCloudEndpoints({ environment: 'AzureStack', resourceManagerUrl: 'https://management.local.azurestack.external/' }),
      /gives no Entra ID authority URL/,
    );
  });

  it('keeps only the host of an authority URL with a tenant path', () => {
    assert.strictEqual(authorityHostOf('https://login.windows.net/contoso.onmicrosoft.com/'), 'https://login.windows.net');
  });

  it('builds .default scopes the way Entra ID expects for v1 resources', () => {
    assert.strictEqual(defaultScopeOf('https://management.core.windows.net/'), 'https://management.core.windows.net//.default');
    assert.strictEqual(defaultScopeOf('6dae42f8-4368-4678-94ff-3960e28e3630'), '6dae42f8-4368-4678-94ff-3960e28e3630/.default');
  });

  describe('Azure Stack Hub', () => {
    it('keeps the /adfs path of an AD FS authority, which is no tenant', () => {
      assert.strictEqual(authorityHostOf('https://adfs.local.azurestack.external/adfs/'), 'https://adfs.local.azurestack.external/adfs');
      const c = resolveCloudEndpoints({
        environment: 'AzureStack',
        resourceManagerUrl: 'https://management.local.azurestack.external',
        authorityUrl: 'https://adfs.local.azurestack.external/adfs/',
      });
      assert.strictEqual(c.authorityHost, 'https://adfs.local.azurestack.external/adfs');
      assert.strictEqual(c.adfs, true);
      assert.strictEqual(resolveCloudEndpoints({ authorityUrl: 'https://login.microsoftonline.com/contoso/' }).adfs, undefined);
    });

    it("asks the stamp's metadata/endpoints (api-version 2015-01-01) and reads its login endpoint and audience", () => {
      assert.strictEqual(
        azureStackMetadataUrl('https://management.local.azurestack.external'),
        'https://management.local.azurestack.external/metadata/endpoints?api-version=2015-01-01',
      );
      const body = JSON.stringify({
        galleryEndpoint: 'https://x/',
        graphEndpoint: 'https://graph.windows.net/',
        portalEndpoint: 'https://portal/',
        authentication: {
          loginEndpoint: 'https://adfs.local.azurestack.external/adfs',
          audiences: ['https://management.adfs.azurestack.local/4de154de-f8a8-4017-af41-df619da68155'],
        },
      });
      assert.deepStrictEqual(parseAzureStackMetadata(body), {
        authorityUrl: 'https://adfs.local.azurestack.external/adfs/',
        audience: 'https://management.adfs.azurestack.local/4de154de-f8a8-4017-af41-df619da68155',
      });
      assert.throws(() => parseAzureStackMetadata('{}'), /no authentication\.loginEndpoint/);
    });
  });
});

describe('cloud: the one per-cloud table (azure-cli cloud.py, kubelogin)', () => {
  const rows: Array<[string, string, string | undefined, string | undefined]> = [
    // environment as Azure DevOps names it, authority host, ACR login server suffix, kubelogin environment
    ['AzureCloud', 'https://login.microsoftonline.com', 'azurecr.io', 'AzurePublicCloud'],
    ['AzureUSGovernment', 'https://login.microsoftonline.us', 'azurecr.us', 'AzureUSGovernmentCloud'],
    ['AzureChinaCloud', 'https://login.chinacloudapi.cn', 'azurecr.cn', 'AzureChinaCloud'],
    ['AzureGermanCloud', 'https://login.microsoftonline.de', undefined, undefined],
  ];
  for (const [environment, authorityHost, acr, kubelogin] of rows) {
    it(`${environment}: authority, registry suffix and kubelogin name, in any case`, () => {
      for (const name of [environment, environment.toLowerCase(), environment.toUpperCase()]) {
        const row = knownCloud(name);
        assert.strictEqual(row?.authorityHost, authorityHost);
        assert.strictEqual(row?.acrLoginServerSuffix, acr);
        assert.strictEqual(row?.kubeloginEnvironment, kubelogin);
        assert.strictEqual(resolveCloudEndpoints({ environment: name }).authorityHost, authorityHost);
      }
    });
  }

  it("a cloud the table does not know: no row; registries get the public cloud's suffix", () => {
    assert.strictEqual(knownCloud('AzureStack'), undefined);
    assert.strictEqual(acrLoginServerSuffix('AzureStack'), 'azurecr.io');
    assert.strictEqual(acrLoginServerSuffix('AzureUSGovernment'), 'azurecr.us');
    assert.strictEqual(acrLoginServerSuffix('AzureGermanCloud'), 'azurecr.io');
  });
});
