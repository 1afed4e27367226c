import * as assert from 'assert';
import { aadstsCodeOf, explainTokenFailure, type TokenRequestContext } from '../../shared/azure/identity/entraErrors';

const ctx: TokenRequestContext = {
  connectionId: 'prod-arm',
  schemeLabel: 'workload identity federation',
  tenantId: 'tenant-1',
  clientId: 'client-1',
  authorityHost: 'https://login.microsoftonline.com',
  audienceLabel: 'Azure Resource Manager',
  presented: {
    issuer: 'https://vstoken.dev.azure.com/org-id',
    subject: 'sc://Contoso/Web/prod-arm',
    audience: 'api://AzureADTokenExchange',
  },
  configured: { issuer: 'https://vstoken.dev.azure.com/org-id', subject: 'sc://contoso/web/prod-arm' },
};

describe('explainTokenFailure', () => {
  const cases: { message: string; code: string; reason: RegExp; fix: RegExp; context?: Partial<TokenRequestContext> }[] = [
    {
      message:
        'ClientAssertionCredential authentication failed. AADSTS700213: No matching federated identity record found for presented assertion subject',
      code: 'AADSTS700213',
      reason:
        /issuer 'https:\/\/vstoken\.dev\.azure\.com\/org-id' and subject 'sc:\/\/Contoso\/Web\/prod-arm'.*expects subject 'sc:\/\/contoso\/web\/prod-arm'.*case-sensitive/,
      fix: /federated-credential create --id client-1.*"subject":"sc:\/\/Contoso\/Web\/prod-arm"/,
    },
    {
      message: 'AADSTS700211: No matching federated identity record found for presented assertion issuer',
      code: 'AADSTS700211',
      reason: /No federated credential/,
      fix: /api:\/\/AzureADTokenExchange/,
    },
    {
      message: 'AADSTS70021: No matching federated identity record found for presented assertion.',
      code: 'AADSTS70021',
      reason: /case-sensitive/,
      fix: /federated credential/,
    },
    {
      message: 'AADSTS7002138: No matching federated identity record found',
      code: 'AADSTS7002138',
      reason: /case-sensitive/,
      fix: /federated credential/,
    },
    {
      message: 'AADSTS700024: Client assertion is not within its valid time range.',
      code: 'AADSTS700024',
      reason: /already expired.*clock/,
      fix: /NTP/,
    },
    {
      message: "AADSTS700016: Application with identifier 'client-1' was not found in the directory 'tenant-1'.",
      code: 'AADSTS700016',
      reason: /does not exist in tenant 'tenant-1'/,
      fix: /tenant id and the application \(client\) id/,
    },
    {
      message: 'AADSTS7000215: Invalid client secret provided.',
      code: 'AADSTS7000215',
      reason: /rejected the client secret.*secret's id/,
      fix: /workload identity federation/,
    },
    {
      message: 'AADSTS7000222: The provided client secret keys for app are expired.',
      code: 'AADSTS7000222',
      reason: /expired/,
      fix: /new secret/,
    },
    {
      message: 'AADSTS700027: Client assertion contains an invalid signature.',
      code: 'AADSTS700027',
      reason: /certificate is not registered/,
      fix: /Certificates & secrets/,
    },
    {
      message: "AADSTS90002: Tenant 'tenant-1' not found.",
      code: 'AADSTS90002',
      reason: /wrong tenant id, or a connection for another cloud/,
      fix: /environment/,
    },
    {
      message: 'AADSTS53003: Access has been blocked by Conditional Access policies.',
      code: 'AADSTS53003',
      reason: /Conditional Access/,
      fix: /egress|network/,
    },
    {
      message: 'AADSTS123456: Something new happened. Trace ID: x',
      code: 'AADSTS123456',
      reason: /Something new happened/,
      fix: /AADSTS123456/,
    },
    {
      message: 'getaddrinfo ENOTFOUND login.microsoftonline.com',
      code: 'AUTHORITY_UNREACHABLE',
      reason: /unreachable.*ENOTFOUND/,
      fix: /outbound HTTPS.*login\.microsoftonline\.com/,
    },
    {
      message: 'token request to https://login.microsoftonline.com: no answer within 60 s',
      code: 'AUTHORITY_UNREACHABLE',
      reason: /no answer/,
      fix: /proxy/,
    },
    {
      message: 'self-signed certificate in certificate chain',
      code: 'AUTHORITY_TLS_UNTRUSTED',
      reason: /does not trust/,
      fix: /sslcacert/,
    },
    {
      message: 'ManagedIdentityCredential: Network unreachable. Message: connect EHOSTUNREACH 169.254.169.254:80',
      code: 'MANAGED_IDENTITY_UNAVAILABLE',
      reason: /IMDS.*self-hosted agent/,
      fix: /self-hosted agent in Azure/,
      context: { schemeLabel: 'managed identity' },
    },
    {
      message: 'ManagedIdentityCredential: The requested identity has not been assigned to this resource. Identity not found',
      code: 'MANAGED_IDENTITY_NOT_ASSIGNED',
      reason: /no managed identity with client id 'client-1'/,
      fix: /az vm identity assign/,
      context: { schemeLabel: 'managed identity' },
    },
    { message: 'something odd', code: 'TOKEN_REQUEST_FAILED', reason: /something odd/, fix: /prod-arm/ },
  ];

  for (const c of cases) {
    it(`${c.code} from "${c.message.slice(0, 50)}…"`, () => {
      const e = explainTokenFailure(c.message, { ...ctx, ...c.context });
      assert.strictEqual(e.code, c.code);
      assert.match(e.reason, c.reason);
      assert.match(e.fix, c.fix);
    });
  }

  it('finds the AADSTS code inside a longer message', () => {
    assert.strictEqual(aadstsCodeOf('AuthenticationError: invalid_client: AADSTS7000215: Invalid client secret'), 'AADSTS7000215');
    assert.strictEqual(aadstsCodeOf('no code here'), undefined);
  });
});
