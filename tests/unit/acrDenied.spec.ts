import * as assert from 'assert';
import { deniedIpOf, registryMessage } from '../../shared/azure/acr/acrDenied';

/**
 * ACR's firewall refusal as the registry writes it: `403 {"errors":[{"code":"DENIED","message":"client
 * with IP \u0027<ip>\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`
 * (MicrosoftDocs/SupportArticles-docs support/azure/azure-container-registry/
 * client-ip-address-not-allowed-access.md; the raw daemon error quoted in docker/build-push-action#1214,
 * apostrophes escaped as \u0027 by ACR's JSON writer).
 */
const acrDenied = (ip: string) =>
  `{"errors":[{"code":"DENIED","message":"client with IP \\u0027${ip}\\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`;

describe("acrDenied: the IP in ACR's firewall refusal", () => {
  const cases: { name: string; body: string; ip: string | undefined }[] = [
    { name: "ACR's body, apostrophes escaped as \\u0027", body: acrDenied('203.0.113.10'), ip: '203.0.113.10' },
    { name: 'an IPv6 address', body: acrDenied('2001:db8::7'), ip: '2001:db8::7' },
    { name: 'the message as plain text (not JSON)', body: "client with IP '198.51.100.4' is not allowed access.", ip: '198.51.100.4' },
    { name: 'case of the words ignored', body: "Client With IP '198.51.100.5' Is Not Allowed Access", ip: '198.51.100.5' },
    {
      name: 'the second of several errors',
      body: '{"errors":[{"code":"X","message":"other"},{"code":"DENIED","message":"client with IP \\u0027192.0.2.9\\u0027 is not allowed access."}]}',
      ip: '192.0.2.9',
    },
    {
      name: 'a 401 challenge body',
      body: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}',
      ip: undefined,
    },
    { name: 'an empty body', body: '', ip: undefined },
    {
      name: 'a DENIED body without an IP',
      body: '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
      ip: undefined,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.ip ?? 'no IP'}`, () => assert.strictEqual(deniedIpOf(c.body), c.ip));
  }

  it('registryMessage joins the messages of a JSON body and keeps any other body as it is', () => {
    assert.strictEqual(registryMessage('{"errors":[{"message":"a"},{"message":"b"},{}]}'), 'a b ');
    assert.strictEqual(registryMessage('<html>502 Bad Gateway</html>'), '<html>502 Bad Gateway</html>');
    assert.strictEqual(registryMessage('{"unexpected":true}'), '{"unexpected":true}');
    assert.match(registryMessage(acrDenied('203.0.113.10')), /^client with IP '203\.0\.113\.10' is not allowed access\./);
  });
});
