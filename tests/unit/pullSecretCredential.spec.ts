import * as assert from 'assert';
import { pullSecretLogin, type RegistryConnection } from '../../shared/azure/acr/pullSecretCredential';
import { ExplainedError } from '../../shared/pipeline/explainedError';

const connection = (c: Partial<RegistryConnection> & { params: Record<string, string> }): RegistryConnection => ({
  id: 'docker',
  ...c,
  parameter: (key) => c.params[key],
});

describe('a pull secret from a Docker registry service connection', () => {
  it("any registry: docker-common's registry, username, password and email", () => {
    const login = pullSecretLogin(
      connection({
        registryType: 'Others',
        scheme: 'UsernamePassword',
        params: { registry: 'https://index.docker.io/v1/', username: 'u', password: 'p', email: 'e@x' },
      }),
    );
    assert.deepStrictEqual(login, { server: 'https://index.docker.io/v1/', username: 'u', password: 'p', email: 'e@x', notice: undefined });
  });

  it('an ACR behind a username and password (an admin user or an ACR token) works, with a notice about AcrPull', () => {
    const login = pullSecretLogin(
      connection({ registryType: 'Others', params: { registry: 'contoso.azurecr.io', username: 'tok', password: 'p' } }),
    );
    assert.match(login.notice ?? '', /contoso\.azurecr\.io is an Azure Container Registry: granting AcrPull .* --attach-acr contoso\)/);
  });

  it('an ACR connection with a service principal secret: long-lived, taken, with the notice', () => {
    const login = pullSecretLogin(
      connection({
        registryType: 'ACR',
        scheme: 'ServicePrincipal',
        params: { loginServer: 'Contoso.azurecr.io', serviceprincipalid: 'app', serviceprincipalkey: 'k' },
      }),
    );
    assert.deepStrictEqual(
      { ...login, notice: Boolean(login.notice) },
      {
        server: 'contoso.azurecr.io',
        username: 'app',
        password: 'k',
        email: 'ServicePrincipal@AzureRM',
        notice: true,
      },
    );
  });

  for (const scheme of ['WorkloadIdentityFederation', 'ManagedServiceIdentity']) {
    it(`an ACR connection signing in with ${scheme}: refused, pointing to AcrPull on the kubelet identity`, () => {
      assert.throws(
        () =>
          pullSecretLogin(
            connection({ registryType: 'ACR', scheme, params: { loginServer: 'contoso.azurecr.io', serviceprincipalid: 'app' } }),
          ),
        (e: unknown) =>
          e instanceof ExplainedError &&
          e.code === 'SHORT_LIVED_PULL_SECRET' &&
          /short-lived tokens/.test(e.reason) &&
          /--attach-acr contoso/.test(e.fix),
      );
    });
  }

  it('a connection missing its password is refused naming what is missing', () => {
    assert.throws(
      () => pullSecretLogin(connection({ registryType: 'Others', params: { registry: 'r.example', username: 'u' } })),
      (e: unknown) => e instanceof ExplainedError && e.code === 'INVALID_INPUT' && /no password/.test(e.reason),
    );
  });
});
