/**
 * ACR's data endpoint: firewall (IP rules, CIDRs, public network access, propagation delay) in front
 * of the registry's 401 challenge, with ACR's texts.
 */
import * as assert from 'node:assert/strict';
import * as https from 'node:https';
import { AcrDataEndpoint, CLIENT_IP_HEADER, type AcrNetworkState } from './acrDataEndpoint';
import { FaultInjector } from '../faults';
import { ipv4InRange, parseIpv4Range } from '../network/ipv4';
import { RequestLog } from '../requestLog';
import { createTestCa, type TestCa } from '../testCa';

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function get(origin: string, ca: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, origin), { method, headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const DENIED = (ip: string): string =>
  `{"errors":[{"code":"DENIED","message":"client with IP \\u0027${ip}\\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`;
const UNAUTHORIZED_V2 =
  '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}';

describe('sandbox ACR data endpoint', function () {
  this.timeout(10_000);

  let ca: TestCa;
  let log: RequestLog;
  let state: AcrNetworkState;
  let clock: number;
  let acr: AcrDataEndpoint;

  const change = (mutate: (s: AcrNetworkState) => void): void => {
    mutate(state);
    state.lastNetworkChangeAt = clock;
  };

  before(() => {
    ca = createTestCa();
  });

  beforeEach(async () => {
    log = new RequestLog();
    clock = 1_700_000_000_000;
    state = {
      publicNetworkAccess: 'Enabled',
      networkRuleSet: { defaultAction: 'Deny', ipRules: [{ value: '203.0.113.10', action: 'Allow' }] },
      lastNetworkChangeAt: clock - 60_000,
      firewallPropagationSeconds: 2,
    };
    acr = await AcrDataEndpoint.start({
      registryName: 'ContosoAcr',
      location: 'East US',
      getRegistry: () => state,
      context: { ca, log, faults: new FaultInjector() },
      now: () => clock,
    });
  });

  afterEach(async () => {
    await acr.close();
  });

  it("allowed IP (the agent egress IP by default) → 401 with ACR's challenge and body", async () => {
    const r = await get(acr.origin, ca.certPem, '/v2/');
    assert.equal(r.status, 401);
    assert.equal(
      r.headers['www-authenticate'],
      'Bearer realm="https://contosoacr.azurecr.io/oauth2/token",service="contosoacr.azurecr.io"',
    );
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(r.text, UNAUTHORIZED_V2);
    assert.deepEqual(log.last('acr')?.note, {
      network: 'public',
      clientIp: '203.0.113.10',
      firewall: 'allowed',
      reason: 'ipRule:203.0.113.10',
      auth: 'challenge',
    });
  });

  it('IP not in the rules → 403 DENIED naming the IP (header override per request, clientIp per instance)', async () => {
    const r = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: '198.51.100.23' });
    assert.equal(r.status, 403);
    assert.equal(r.text, DENIED('198.51.100.23'));
    assert.equal(
      (JSON.parse(r.text) as { errors: { message: string }[] }).errors[0].message,
      "client with IP '198.51.100.23' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
    );
    assert.equal(r.headers['www-authenticate'], undefined);

    acr.clientIp = '203.0.113.99';
    const r2 = await get(acr.origin, ca.certPem, '/v2/contoso/web/manifests/1.0');
    assert.equal(r2.status, 403);
    assert.equal(r2.text, DENIED('203.0.113.99'));
  });

  it('repository paths challenge with the repository scope', async () => {
    const pull = await get(acr.origin, ca.certPem, '/v2/contoso/web/manifests/1.0', {}, 'HEAD');
    assert.equal(pull.status, 401);
    assert.equal(
      pull.headers['www-authenticate'],
      'Bearer realm="https://contosoacr.azurecr.io/oauth2/token",service="contosoacr.azurecr.io",scope="repository:contoso/web:pull"',
    );
    const withToken = await get(acr.origin, ca.certPem, '/v2/contoso/web/tags/list', { Authorization: 'Bearer x.y.z' });
    assert.equal(
      withToken.headers['www-authenticate'],
      'Bearer realm="https://contosoacr.azurecr.io/oauth2/token",service="contosoacr.azurecr.io",scope="repository:contoso/web:pull",error="invalid_token"',
    );
    assert.deepEqual(JSON.parse(withToken.text), {
      errors: [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required, visit https://aka.ms/acr/authorization for more information.',
          detail: [{ Type: 'repository', Name: 'contoso/web', Action: 'pull' }],
        },
      ],
    });
  });

  it('IP rules match IPv4 CIDR ranges', async () => {
    change((s) => {
      s.networkRuleSet.ipRules = [{ value: '198.51.100.0/24' }, { value: '203.0.113.128/25' }];
    });
    clock += 2000;
    const cases: Array<[string, number]> = [
      ['198.51.100.0', 401],
      ['198.51.100.255', 401],
      ['198.51.101.0', 403],
      ['203.0.113.200', 401],
      ['203.0.113.127', 403],
      ['203.0.113.10', 403],
    ];
    for (const [ip, status] of cases) {
      const r = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip });
      assert.equal(r.status, status, `${ip}: ${r.text}`);
    }
    assert.ok(ipv4InRange('10.1.2.3', '10.0.0.0/8'));
    assert.ok(ipv4InRange('8.8.8.8', '0.0.0.0/0'));
    assert.ok(ipv4InRange('10.1.2.3', '10.1.2.3'));
    assert.ok(!ipv4InRange('10.1.2.4', '10.1.2.3/32'));
    assert.ok(ipv4InRange('10.1.2.200', '10.1.2.77/24'), 'host bits in a CIDR are ignored');
    assert.equal(parseIpv4Range('10.1.2.3/33'), undefined);
    assert.equal(parseIpv4Range('10.01.2.3'), undefined);
    assert.ok(!ipv4InRange('not-an-ip', '0.0.0.0/0'));
  });

  it('a rule change takes effect firewallPropagationSeconds after lastNetworkChangeAt, not before', async () => {
    const ip = '198.51.100.7';
    assert.equal((await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip })).status, 403);
    change((s) => {
      s.firewallPropagationSeconds = 3;
      s.networkRuleSet.ipRules = [...s.networkRuleSet.ipRules, { value: ip }];
    });
    const changedAt = clock;
    clock = changedAt + 2999;
    const before = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip });
    assert.equal(before.status, 403, 'the previous rule set still applies');
    clock = changedAt + 3000;
    const after = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip });
    assert.equal(after.status, 401);
    assert.equal(log.last('acr')?.note?.reason, `ipRule:${ip}`);

    // Removing it again: still allowed until the removal has propagated.
    change((s) => {
      s.networkRuleSet.ipRules = s.networkRuleSet.ipRules.filter((r) => r.value !== ip);
    });
    clock += 1000;
    assert.equal((await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip })).status, 401);
    clock += 2000;
    assert.equal((await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: ip })).status, 403);
  });

  it('propagation on the real clock (1 s)', async () => {
    await acr.close();
    state.firewallPropagationSeconds = 1;
    acr = await AcrDataEndpoint.start({
      registryName: 'contosoacr',
      getRegistry: () => state,
      context: { ca, log, faults: new FaultInjector() },
    });
    state.networkRuleSet.defaultAction = 'Allow';
    state.lastNetworkChangeAt = Date.now();
    const changedAt = state.lastNetworkChangeAt;
    const first = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: '198.51.100.99' });
    if (Date.now() - changedAt < 1000) assert.equal(first.status, 403);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, changedAt + 1000 - Date.now()) + 20));
    const later = await get(acr.origin, ca.certPem, '/v2/', { [CLIENT_IP_HEADER]: '198.51.100.99' });
    assert.equal(later.status, 401);
    assert.equal(log.last('acr')?.note?.reason, 'defaultActionAllow');
  });

  it('public network access disabled → 403 for every public client; the private endpoint still gets the challenge', async () => {
    change((s) => {
      s.publicNetworkAccess = 'Disabled';
      s.networkRuleSet.defaultAction = 'Allow';
    });
    clock += 2000;
    const pub = await get(acr.origin, ca.certPem, '/v2/');
    assert.equal(pub.status, 403);
    assert.equal(pub.text, DENIED('203.0.113.10'));
    assert.equal(log.last('acr')?.note?.reason, 'publicNetworkAccessDisabled');

    const priv = await get(acr.privateEndpointOrigin, ca.certPem, '/v2/');
    assert.equal(priv.status, 401);
    assert.equal(priv.text, UNAUTHORIZED_V2);
    assert.equal(log.last('acr')?.note?.network, 'private-endpoint');
  });

  it('serves the login server, privatelink and data endpoint names in its certificate', async () => {
    assert.equal(acr.loginServer, 'contosoacr.azurecr.io');
    assert.equal(acr.dataEndpoint, 'contosoacr.eastus.data.azurecr.io');
    for (const servername of ['contosoacr.azurecr.io', 'contosoacr.privatelink.azurecr.io', 'contosoacr.eastus.data.azurecr.io']) {
      const r = await new Promise<number>((resolve, reject) => {
        https
          .get(
            {
              host: '127.0.0.1',
              port: acr.port,
              path: '/v2/',
              servername,
              headers: { host: servername },
              ca: ca.certPem,
              agent: false,
              checkServerIdentity: (host, cert) =>
                cert.subjectaltname?.includes(`DNS:${servername}`) ? undefined : new Error(`no SAN for ${servername}`),
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject);
      });
      assert.equal(r, 401);
    }
  });
});
