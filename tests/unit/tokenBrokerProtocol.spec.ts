import * as assert from 'assert';
import {
  BROKER_KEY_ENV,
  BROKER_URL_ENV,
  brokerAuthorization,
  brokerTokenBody,
  brokerUrl,
  execCredentialApiVersion,
  execCredentialOf,
  parseBrokerTokenBody,
} from '../../shared/azure/aks/tokenBrokerProtocol';

// The broker ↔ exec plugin protocol, both ends from one module. The ExecCredential shape:
// k8s.io/client-go/pkg/apis/clientauthentication/v1 (status.token, status.expirationTimestamp);
// KUBERNETES_EXEC_INFO is what kubectl sets for an exec plugin (client-go plugin/pkg/client/auth/exec).

describe('tokenBrokerProtocol: what the broker and the exec plugin agree on', () => {
  it('the broker listens on loopback, one path; the key goes as a bearer', () => {
    assert.strictEqual(brokerUrl(41234), 'http://127.0.0.1:41234/aks-token');
    assert.strictEqual(brokerAuthorization('k3y'), 'Bearer k3y');
    assert.deepStrictEqual([BROKER_URL_ENV, BROKER_KEY_ENV], ['PRIVATE_AKS_DEPLOY_TOKEN_BROKER', 'PRIVATE_AKS_DEPLOY_TOKEN_BROKER_KEY']);
  });

  it("the broker's answer reads back as it was written", () => {
    const body = brokerTokenBody('eyJ0', Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.deepStrictEqual(JSON.parse(body), { token: 'eyJ0', expiresOn: '2026-01-02T03:04:05.000Z' });
    assert.deepStrictEqual(parseBrokerTokenBody(body), { token: 'eyJ0', expiresOn: '2026-01-02T03:04:05.000Z' });
  });

  for (const bad of ['{}', '{"token":"","expiresOn":"x"}', '{"token":"t"}', '{"token":1,"expiresOn":"x"}']) {
    it(`an answer without a token and expiry (${bad}) is refused`, () => {
      assert.throws(() => parseBrokerTokenBody(bad), /no token and expiry/);
    });
  }

  it('the ExecCredential takes the api version kubectl asks for, v1 otherwise', () => {
    const answer = { token: 't', expiresOn: '2026-01-02T03:04:05.000Z' };
    assert.deepStrictEqual(
      execCredentialOf(answer, JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential' })),
      {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        kind: 'ExecCredential',
        status: { token: 't', expirationTimestamp: '2026-01-02T03:04:05.000Z' },
      },
    );
    for (const info of [undefined, '', 'not json', '{}'])
      assert.strictEqual(execCredentialApiVersion(info), 'client.authentication.k8s.io/v1');
  });
});
