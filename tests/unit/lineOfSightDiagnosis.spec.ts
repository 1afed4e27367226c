import * as assert from 'assert';
import type { EndpointResult, ProbeStep, StepResult } from '../../shared/lineOfSight/lineOfSight';
import { diagnoseLineOfSight, privateDnsZoneOf, type DiagnosisContext } from '../../shared/lineOfSight/lineOfSightDiagnosis';

const PRIVATE_HOST = 'aks-prod-1a2b.5e6f.privatelink.eastus.azmk8s.io';

function result(
  host: string,
  failing: { step: ProbeStep; code?: string; detail?: string } | null,
  extra: Partial<EndpointResult> = {},
): EndpointResult {
  const order: ProbeStep[] = ['dns', 'tcp', 'tls', 'http'];
  const steps: StepResult[] = [];
  for (const step of order) {
    const fails = failing?.step === step;
    steps.push({ step, ok: !fails, errorCode: fails ? failing?.code : undefined, detail: fails ? (failing?.detail ?? '') : '', ms: 1 });
    if (fails) break;
  }
  return {
    probe: { label: 'AKS API server', host, port: 443, path: '/readyz', reachableStatuses: [200, 401] },
    steps,
    addresses: failing?.step === 'dns' ? [] : ['10.1.2.4'],
    ok: !failing,
    ...extra,
  };
}

const aks: DiagnosisContext = { kind: 'aksApiServer', resourceName: 'aks-prod', privateCluster: true };

describe('line-of-sight diagnosis', () => {
  const cases: { name: string; r: EndpointResult; ctx?: DiagnosisContext; code: string; reason: RegExp; fix: RegExp }[] = [
    {
      name: 'reachable',
      r: result(PRIVATE_HOST, null, { http: { status: 401, body: '' } }),
      code: 'REACHABLE',
      reason: /answers the agent \(HTTP 401\)/,
      fix: /^$/,
    },
    {
      name: 'private name answered by a public address',
      r: result(PRIVATE_HOST, null, { addresses: ['20.1.2.3'], http: { status: 401, body: '' } }),
      code: 'PRIVATE_NAME_PUBLIC_ADDRESS',
      reason: /public address 20\.1\.2\.3/,
      fix: /privatelink\.eastus\.azmk8s\.io/,
    },
    {
      name: 'private DNS zone not linked',
      r: result(PRIVATE_HOST, { step: 'dns', code: 'ENOTFOUND' }),
      code: 'PRIVATE_DNS_UNRESOLVED',
      reason: /cannot resolve .*ENOTFOUND.*privatelink\.eastus\.azmk8s\.io is not linked.*Microsoft-hosted agent outside the VNet/,
      fix: /Link privatelink\.eastus\.azmk8s\.io.*168\.63\.129\.16.*self-hosted agent.*run command/,
    },
    {
      name: 'public FQDN missing',
      r: result('aks-prod.hcp.eastus.azmk8s.io', { step: 'dns', code: 'ENOTFOUND' }),
      ctx: { ...aks, privateCluster: false },
      code: 'DNS_UNRESOLVED',
      reason: /enablePrivateClusterPublicFQDN/,
      fix: /run command/,
    },
    {
      name: 'blackholed by an NSG',
      r: result(PRIVATE_HOST, { step: 'tcp', code: 'ETIMEDOUT' }),
      code: 'TCP_BLOCKED',
      reason: /No answer from 10\.1\.2\.4:443.*network security group/,
      fix: /Allow TCP 443/,
    },
    {
      name: 'refused',
      r: result(PRIVATE_HOST, { step: 'tcp', code: 'ECONNREFUSED' }),
      code: 'TCP_REFUSED',
      reason: /refused the connection/,
      fix: /A record/,
    },
    {
      name: 'authorized IP ranges',
      r: result('aks-prod.hcp.eastus.azmk8s.io', { step: 'tcp', code: 'ETIMEDOUT' }),
      ctx: { ...aks, privateCluster: false, authorizedIpRanges: true },
      code: 'AUTHORIZED_IP_RANGES',
      reason: /authorized IP ranges do not include the agent's egress IP/,
      fix: /aksAuthorizedIpRanges.*--api-server-authorized-ip-ranges/,
    },
    {
      name: 'TLS name mismatch',
      r: result(PRIVATE_HOST, { step: 'tls', code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
      code: 'TLS_NAME_MISMATCH',
      reason: /certificate for another name/,
      fix: /resolve to/,
    },
    {
      name: 'TLS inspection',
      r: result(PRIVATE_HOST, { step: 'tls', code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      code: 'TLS_UNTRUSTED',
      reason: /cluster's CA.*TLS-inspecting proxy/,
      fix: /Exclude/,
    },
    {
      name: 'ACR firewall',
      // As ACR sends it: the apostrophes JSON-escaped.
      r: result(
        'contosoprod.azurecr.io',
        { step: 'http' },
        {
          http: {
            status: 403,
            body: `{"errors":[{"code":"DENIED","message":"client with IP \\u0027203.0.113.10\\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`,
          },
        },
      ),
      ctx: { kind: 'acrLoginServer', resourceName: 'contosoprod' },
      code: 'ACR_FIREWALL_DENIED',
      reason: /egress IP 203\.0\.113\.10/,
      fix: /AcrNetworkRuleSync.*az acr network-rule add --name contosoprod --ip-address 203\.0\.113\.10/,
    },
    {
      name: 'a gateway answering',
      r: result(PRIVATE_HOST, { step: 'http' }, { http: { status: 502, body: 'Bad gateway' } }),
      code: 'HTTP_UNEXPECTED_STATUS',
      reason: /answered HTTP 502 where 200 or 401 was expected/,
      fix: /proxies/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = diagnoseLineOfSight(c.r, c.ctx ?? aks);
      assert.strictEqual(d.code, c.code);
      assert.strictEqual(d.ok, c.code === 'REACHABLE' || c.code === 'PRIVATE_NAME_PUBLIC_ADDRESS');
      assert.match(d.reason, c.reason);
      assert.match(d.fix, c.fix);
    });
  }

  it('finds the private DNS zone of a private name', () => {
    assert.strictEqual(privateDnsZoneOf(PRIVATE_HOST), 'privatelink.eastus.azmk8s.io');
    assert.strictEqual(privateDnsZoneOf('contosoprod.privatelink.azurecr.io'), 'privatelink.azurecr.io');
  });
});
