import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { Writable } from 'stream';
import * as tl from 'azure-pipelines-task-lib/task';
import { aksApiServerProbe, registryDataEndpointProbe, registryProbe } from '../../shared/lineOfSight/probeTargets';

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

/**
 * The AKS API server's probe, as both PrivateAksDeploy's preflight and ServiceConnectionRoleCheck's
 * in-cluster check build it from the kubeconfig Resource Manager hands out (server, CA, and
 * tls-server-name when kubectl connects by another name: client-go rest.TLSClientConfig.ServerName).
 */
describe('aksApiServerProbe: the API server as kubectl will reach it', () => {
  before(() => tl.setStdStream(new Writable({ write: (_chunk, _encoding, done) => done() })));
  after(() => tl.setStdStream(process.stdout));

  const PRIVATE = 'aks1-dns-1a2b3c4d.8e9f0a1b-2c3d.privatelink.westeurope.azmk8s.io';
  const cases: {
    name: string;
    server: { server: string; caPem?: string; tlsServerName?: string };
    cluster: { name: string; privateCluster?: boolean; authorizedIpRanges?: string[] };
    host: string;
    port: number;
    ca?: string[];
    context: Record<string, unknown>;
  }[] = [
    {
      name: "a private cluster's FQDN with its CA; Resource Manager's facts go to the diagnosis",
      server: { server: `https://${PRIVATE}:443`, caPem: 'CA' },
      cluster: { name: 'aks1', privateCluster: true, authorizedIpRanges: [] },
      host: PRIVATE,
      port: 443,
      ca: ['CA'],
      context: { kind: 'aksApiServer', resourceName: 'aks1', privateCluster: true, authorizedIpRanges: false },
    },
    {
      name: 'a public cluster filtering by authorized ranges, on another port',
      server: { server: 'https://aks2-dns.hcp.westeurope.azmk8s.io:8443' },
      cluster: { name: 'aks2', privateCluster: false, authorizedIpRanges: ['203.0.113.0/24'] },
      host: 'aks2-dns.hcp.westeurope.azmk8s.io',
      port: 8443,
      context: { kind: 'aksApiServer', resourceName: 'aks2', privateCluster: false, authorizedIpRanges: true },
    },
    {
      name: 'by address with tls-server-name: the probe checks the name the certificate carries',
      server: { server: 'https://10.0.0.4:443', tlsServerName: PRIVATE },
      cluster: { name: 'aks1' },
      host: PRIVATE,
      port: 443,
      context: { kind: 'aksApiServer', resourceName: 'aks1', privateCluster: undefined },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { probe, context } = aksApiServerProbe(c.server, c.cluster);
      assert.strictEqual(probe.label, 'AKS API server');
      assert.strictEqual(probe.host, c.host);
      assert.strictEqual(probe.port, c.port);
      assert.deepStrictEqual(probe.ca, c.ca);
      assert.strictEqual(probe.path, '/readyz');
      assert.deepStrictEqual(probe.reachableStatuses, [200, 401]);
      assert.deepStrictEqual(context, c.context);
    });
  }

  it("goes the way kubectl goes: through the agent's proxy, chosen by the server URL's host (the bypass list names it)", () => {
    // The agent's proxy settings reach the task as variables (Agent.ProxyUrl, Agent.ProxyBypassList as JSON).
    process.env.AGENT_PROXYURL = 'http://proxy.contoso.com:8080';
    process.env.AGENT_PROXYBYPASSLIST = JSON.stringify(['10\\.0\\.0\\.4']);
    try {
      assert.strictEqual(aksApiServerProbe({ server: `https://${PRIVATE}:443` }, { name: 'aks1' }).probe.route?.kind, 'proxy');
      assert.strictEqual(
        aksApiServerProbe({ server: 'https://10.0.0.4:443', tlsServerName: PRIVATE }, { name: 'aks1' }).probe.route?.kind,
        'bypass',
      );
    } finally {
      delete process.env.AGENT_PROXYURL;
      delete process.env.AGENT_PROXYBYPASSLIST;
    }
    assert.strictEqual(aksApiServerProbe({ server: `https://${PRIVATE}:443` }, { name: 'aks1' }).probe.route?.kind, 'direct');
  });
});
