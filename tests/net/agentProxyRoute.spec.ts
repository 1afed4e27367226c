import * as assert from 'assert';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import type { AddressInfo } from 'net';
import { agentHttpSettingsFor, agentRouteTo, kubectlProxyEnvironment } from '../../shared/net/agentHttpSettings';
import { createTestCa } from '../sandbox/testCa';

/**
 * The agent's proxy settings (Agent.ProxyUrl, Agent.ProxyUsername, Agent.ProxyBypassList: variables
 * task-lib reads from the environment) turned into the route of a probe and kubectl's environment.
 */
describe("the agent's proxy for probes and kubectl", () => {
  const saved = { ...process.env };
  const api = 'aks-1.abc.privatelink.eastus.azmk8s.io';

  beforeEach(() => {
    process.env.AGENT_PROXYURL = 'http://proxy.corp.example:3128';
    process.env.AGENT_PROXYUSERNAME = 'agent';
    process.env.AGENT_PROXYPASSWORD = 'p@ss/word:1';
    process.env.AGENT_PROXYBYPASSLIST = JSON.stringify(['\\.privatelink\\.', 'login\\.corp\\.example']);
  });
  afterEach(() => {
    for (const k of ['AGENT_PROXYURL', 'AGENT_PROXYUSERNAME', 'AGENT_PROXYPASSWORD', 'AGENT_PROXYBYPASSLIST']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('routes a host through the proxy unless the bypass list names it; loopback never goes to the proxy', () => {
    assert.strictEqual(agentRouteTo('aks-1.hcp.eastus.azmk8s.io', 443).kind, 'proxy');
    assert.strictEqual(agentRouteTo(api, 443).kind, 'bypass');
    assert.strictEqual(agentRouteTo('127.0.0.1', 8443).kind, 'direct');
    assert.strictEqual(agentRouteTo('localhost', 443).kind, 'direct');
    delete process.env.AGENT_PROXYURL;
    assert.strictEqual(agentRouteTo('aks-1.hcp.eastus.azmk8s.io', 443).kind, 'direct');
  });

  it('gives kubectl HTTPS_PROXY with URL-encoded credentials and NO_PROXY listing the bypassed hosts exactly', () => {
    const env = kubectlProxyEnvironment([`https://${api}:443`, 'https://aks-2.hcp.eastus.azmk8s.io:443']);
    assert.strictEqual(env.HTTPS_PROXY, 'http://agent:p%40ss%2Fword%3A1@proxy.corp.example:3128/');
    assert.strictEqual(env.https_proxy, env.HTTPS_PROXY);
    assert.strictEqual(env.NO_PROXY, api);
    // Go reads NO_PROXY, then no_proxy: both set, so a machine-wide no_proxy cannot disagree.
    assert.strictEqual(env.no_proxy, api);
  });

  it("leaves the proxy and its password out of kubectl's environment when every host is bypassed", () => {
    const env = kubectlProxyEnvironment([`https://${api}:443`]);
    assert.strictEqual(env.HTTPS_PROXY, undefined);
    assert.strictEqual(env.NO_PROXY, api);
  });

  it("sets nothing for a kubectl that reaches no API server (kustomize), leaving the machine's settings", () => {
    assert.deepStrictEqual(kubectlProxyEnvironment([]), {});
  });

  it('sets nothing without Agent.ProxyUrl', () => {
    delete process.env.AGENT_PROXYURL;
    assert.deepStrictEqual(kubectlProxyEnvironment([`https://${api}:443`]), {});
  });
});

describe("the agent's CA bundle (Agent.CAInfo) for the SDK clients", () => {
  const saved = process.env.AGENT_CAINFO;
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-ca-'))));
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.AGENT_CAINFO;
    else process.env.AGENT_CAINFO = saved;
  });

  it('is one TLS context made once, not one per connection, and a new one when the bundle changes', async () => {
    const ca = createTestCa();
    process.env.AGENT_CAINFO = path.join(dir, 'ca.pem');
    fs.writeFileSync(process.env.AGENT_CAINFO, ca.certPem);
    const first = agentHttpSettingsFor('https://management.azure.com/').tlsOptions as { ca: string[]; secureContext?: tls.SecureContext };
    assert.ok(first.secureContext, 'no prepared TLS context');
    assert.ok(first.ca.includes(ca.certPem) && first.ca.length > tls.rootCertificates.length);
    assert.strictEqual(agentHttpSettingsFor('https://login.microsoftonline.com/').tlsOptions, first);
    // The context trusts the agent's CA: a server with a certificate it issued is accepted.
    const cert = ca.issueServerCertificate(['localhost'], []);
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_q, s) => s.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(
            {
              host: '127.0.0.1',
              servername: 'localhost',
              port: (server.address() as AddressInfo).port,
              path: '/',
              agent: false,
              secureContext: first.secureContext,
            } as https.RequestOptions,
            (res) => {
              res.setEncoding('utf8');
              let b = '';
              res.on('data', (d) => (b += d));
              res.on('end', () => resolve(b));
            },
          )
          .on('error', reject);
      });
      assert.strictEqual(body, 'ok');
    } finally {
      server.close();
    }
    fs.writeFileSync(process.env.AGENT_CAINFO, createTestCa().certPem);
    assert.notStrictEqual(agentHttpSettingsFor('https://management.azure.com/').tlsOptions, first);
  });
});
