import * as assert from 'assert';
import * as https from 'https';
import type { AddressInfo } from 'net';
import { createTestCa } from '../sandbox/testCa';
import { probeEndpoint } from '../../shared/lineOfSight/lineOfSight';
import { diagnoseLineOfSight } from '../../shared/lineOfSight/lineOfSightDiagnosis';
import { startRecordingProxy } from '../support/connectProxy';

/** Real sockets on loopback ('localhost' resolves from the hosts file: no DNS traffic leaves the machine). */
describe('line-of-sight probes on loopback', function () {
  this.timeout(15_000);
  const ca = createTestCa();
  const servers: https.Server[] = [];

  async function serve(names: string[], status: number, body = ''): Promise<number> {
    const cert = ca.issueServerCertificate(names, []);
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => res.writeHead(status).end(body));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  after(() => servers.forEach((s) => s.close()));

  it('walks DNS, TCP, TLS with the cluster CA and an anonymous /readyz (401 = reachable)', async () => {
    const port = await serve(['localhost'], 401, '{"kind":"Status","code":401}');
    const r = await probeEndpoint(
      { label: 'AKS API server', host: 'localhost', port, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401] },
      3_000,
    );
    assert.deepStrictEqual(
      r.steps.map((s) => [s.step, s.ok]),
      [
        ['dns', true],
        ['tcp', true],
        ['tls', true],
        ['http', true],
      ],
    );
    assert.strictEqual(r.http?.status, 401);
    assert.strictEqual(diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks' }).code, 'REACHABLE');
  });

  it('stops at TLS when the certificate names another host', async () => {
    const port = await serve(['api.other.test'], 200);
    const r = await probeEndpoint(
      { label: 'AKS API server', host: 'localhost', port, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401] },
      3_000,
    );
    assert.deepStrictEqual(
      r.steps.map((s) => s.step),
      ['dns', 'tcp', 'tls'],
    );
    assert.strictEqual(r.steps[2].errorCode, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.strictEqual(diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks' }).code, 'TLS_NAME_MISMATCH');
  });

  it('stops at TLS when the certificate does not chain to the cluster CA', async () => {
    const port = await serve(['localhost'], 200);
    const r = await probeEndpoint(
      { label: 'AKS API server', host: 'localhost', port, ca: [createTestCa().certPem], path: '/readyz', reachableStatuses: [200, 401] },
      3_000,
    );
    assert.strictEqual(diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks' }).code, 'TLS_UNTRUSTED');
  });

  it('reports a refused port at once', async () => {
    const port = await serve(['localhost'], 200);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const r = await probeEndpoint(
      { label: 'AKS API server', host: 'localhost', port, path: '/readyz', reachableStatuses: [200, 401] },
      3_000,
    );
    assert.ok(Date.now() - started < 1_000);
    assert.strictEqual(diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks' }).code, 'TCP_REFUSED');
  });

  it('reads the IP ACR saw from its firewall answer', async () => {
    const port = await serve(
      ['localhost'],
      403,
      `{"errors":[{"code":"DENIED","message":"client with IP '203.0.113.10' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`,
    );
    const r = await probeEndpoint(
      { label: 'ACR login server', host: 'localhost', port, ca: [ca.certPem], path: '/v2/', reachableStatuses: [200, 401] },
      3_000,
    );
    const d = diagnoseLineOfSight(r, { kind: 'acrLoginServer', resourceName: 'contosoprod' });
    assert.strictEqual(d.code, 'ACR_FIREWALL_DENIED');
    assert.match(d.fix, /--ip-address 203\.0\.113\.10/);
  });

  describe('through the agent proxy (CONNECT), as kubectl goes with HTTPS_PROXY', () => {
    // A name no resolver knows: only the proxy can take the probe there.
    const host = 'api.private.sandbox.test';

    it('tunnels to a name the agent cannot resolve, and verifies TLS inside the tunnel', async () => {
      const port = await serve([host], 401);
      const proxy = await startRecordingProxy({
        username: 'agent',
        password: 'p@ss word',
        hosts: { [`${host}:443`]: { host: '127.0.0.1', port } },
      });
      try {
        const route = { kind: 'proxy' as const, proxy: { proxyUrl: proxy.url, proxyUsername: 'agent', proxyPassword: 'p@ss word' } };
        const r = await probeEndpoint(
          { label: 'AKS API server', host, port: 443, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401], route },
          3_000,
        );
        assert.deepStrictEqual(
          r.steps.map((s) => [s.step, s.ok]),
          [
            ['tcp', true],
            ['tls', true],
            ['http', true],
          ],
        );
        assert.strictEqual(r.route, 'proxy');
        assert.deepStrictEqual(proxy.tunnels, [`${host}:443`]);
        assert.strictEqual(diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks', privateCluster: true }).code, 'REACHABLE');
      } finally {
        await proxy.close();
      }
    });

    it('speaks to an https:// proxy over TLS, trusting it with the agent CA', async () => {
      const port = await serve([host], 200);
      const proxyCert = ca.issueServerCertificate(['localhost'], ['127.0.0.1']);
      const proxy = await startRecordingProxy({
        tls: { key: proxyCert.keyPem, cert: proxyCert.certPem },
        hosts: { [`${host}:443`]: { host: '127.0.0.1', port } },
      });
      try {
        const route = { kind: 'proxy' as const, proxy: { proxyUrl: proxy.url, ca: [ca.certPem] } };
        const r = await probeEndpoint(
          { label: 'AKS API server', host, port: 443, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401], route },
          3_000,
        );
        assert.deepStrictEqual(
          r.steps.map((s) => [s.step, s.ok]),
          [
            ['tcp', true],
            ['tls', true],
            ['http', true],
          ],
          JSON.stringify(r.steps),
        );
        assert.deepStrictEqual(proxy.tunnels, [`${host}:443`]);
      } finally {
        await proxy.close();
      }
    });

    it('names the proxy when it wants other credentials (407)', async () => {
      const proxy = await startRecordingProxy({ username: 'agent', password: 'right' });
      try {
        const route = { kind: 'proxy' as const, proxy: { proxyUrl: proxy.url, proxyUsername: 'agent', proxyPassword: 'wrong' } };
        const r = await probeEndpoint(
          { label: 'AKS API server', host, port: 443, ca: [ca.certPem], path: '/readyz', reachableStatuses: [200, 401], route },
          3_000,
        );
        const d = diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks', privateCluster: true });
        assert.strictEqual(d.code, 'PROXY_AUTH_FAILED');
        assert.match(
          d.reason,
          new RegExp(`proxy ${new URL(proxy.url).host} refused .*HTTP 407.*CONNECT ${host.replace(/\./g, '\\.')}:443`),
        );
        assert.ok(!`${d.reason} ${d.fix}`.includes('wrong'));
      } finally {
        await proxy.close();
      }
    });

    it('says the proxy is unreachable when nothing listens at Agent.ProxyUrl', async () => {
      const proxy = await startRecordingProxy();
      await proxy.close();
      const route = { kind: 'proxy' as const, proxy: { proxyUrl: proxy.url } };
      const r = await probeEndpoint(
        { label: 'AKS API server', host, port: 443, path: '/readyz', reachableStatuses: [200, 401], route },
        3_000,
      );
      const d = diagnoseLineOfSight(r, { kind: 'aksApiServer', resourceName: 'aks', privateCluster: true });
      assert.strictEqual(d.code, 'PROXY_UNREACHABLE');
      assert.match(d.reason, /ECONNREFUSED/);
    });
  });
});
