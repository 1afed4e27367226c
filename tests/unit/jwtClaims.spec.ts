import * as assert from 'assert';
import { decodeJwtClaims, stringClaim } from '../../shared/azure/identity/jwtClaims';

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const jwt = (payload: unknown) => `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(payload)}.c2lnbmF0dXJl`;

describe("jwtClaims: a JWT's claims for reports, unverified", () => {
  const cases: { name: string; token: string; claims: Record<string, unknown> | undefined }[] = [
    {
      name: 'three parts, JSON payload',
      token: jwt({ oid: 'o-1', tid: 't-1', exp: 1700000000 }),
      claims: { oid: 'o-1', tid: 't-1', exp: 1700000000 },
    },
    // RFC 7515 §2: base64url, so '-' and '_' rather than '+' and '/'.
    { name: 'a payload whose base64url uses - and _', token: jwt({ n: '>>>???' }), claims: { n: '>>>???' } },
    { name: 'two parts', token: `${b64url({})}.${b64url({ a: 1 })}`, claims: undefined },
    { name: 'four parts (a JWE has five, never three)', token: `a.${b64url({ a: 1 })}.c.d`, claims: undefined },
    { name: 'payload not JSON', token: `a.${b64url('not json')}.c`, claims: undefined },
    { name: 'payload JSON null', token: `a.${b64url('null')}.c`, claims: undefined },
    { name: 'payload a JSON string', token: `a.${b64url('"s"')}.c`, claims: undefined },
    { name: 'an opaque token', token: 'opaque-access-token', claims: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(decodeJwtClaims(c.token), c.claims));
  }

  it('stringClaim gives only string claims', () => {
    const claims = { upn: 'a@b', exp: 5, roles: ['x'] };
    assert.strictEqual(stringClaim(claims, 'upn'), 'a@b');
    assert.strictEqual(stringClaim(claims, 'exp'), undefined);
    assert.strictEqual(stringClaim(claims, 'roles'), undefined);
    assert.strictEqual(stringClaim(claims, 'missing'), undefined);
    assert.strictEqual(stringClaim(undefined, 'upn'), undefined);
  });
});
