import * as assert from 'assert';
import { generateKeyPairSync, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { leaksOfRun } from '../support/leakScan';

/**
 * Negative controls for the leak scan every task run goes through (tests/support/taskRun.ts): each
 * fake task output below leaks a secret the way a real defect would, and the scan must say so.
 */
describe('reliability: the leak scan catches every way a secret can reach the log or the temp directory', () => {
  let temp: string;
  beforeEach(() => (temp = fs.mkdtempSync(path.join(os.tmpdir(), 'leak-scan-'))));
  afterEach(() => fs.rmSync(temp, { recursive: true, force: true }));

  const jwt = () =>
    ['eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9', randomBytes(120).toString('base64url'), randomBytes(256).toString('base64url')].join('.');
  const scan = (stdout: string, o: { issued?: string[]; env?: Record<string, string> } = {}) =>
    leaksOfRun(stdout, '', { AGENT_TEMPDIRECTORY: temp, ...o.env }, o.issued ?? []);

  it('a token printed base64-encoded, wherever it sits in the encoded text', () => {
    const token = jwt();
    for (const prefix of ['', 'u', 'us', 'user:']) {
      const header = `Authorization: Basic ${Buffer.from(`${prefix}${token}`).toString('base64')}`;
      assert.strictEqual(scan(`debug ${header}\n`, { issued: [token] }).length, 1, `prefix '${prefix}'`);
    }
    const urlSafe = Buffer.from(`{"t":"${token}"}`).toString('base64url');
    assert.strictEqual(scan(urlSafe, { issued: [token] }).length, 1, 'URL-safe base64');
    const wrapped = Buffer.from(`token=${token}`)
      .toString('base64')
      .match(/.{1,76}/g)!
      .join('\n');
    assert.strictEqual(scan(`${wrapped}\n`, { issued: [token] }).length, 1, 'base64 wrapped at 76 columns');
  });

  it('a secret URL-encoded or JSON-escaped', () => {
    const secret = `Xy8Q~${randomBytes(12).toString('base64')}/+=`; // what an Entra client secret and base64 look like
    assert.strictEqual(scan(`GET /token?client_secret=${encodeURIComponent(secret)}\n`, { issued: [secret] }).length, 1, 'URL-encoded');
    assert.strictEqual(
      scan(`{"client_secret":"${secret.replace(/\//g, '\\/')}"}\n`, { issued: [secret] }).length,
      1,
      'JSON with escaped slashes',
    );
  });

  it('a secret the task made itself (the token broker key it registered), printed elsewhere', () => {
    const key = randomBytes(32).toString('hex');
    assert.deepStrictEqual(scan(`##vso[task.setsecret]${key}\nbroker listening\n`), [], 'the registration alone is no leak');
    assert.strictEqual(scan(`##vso[task.setsecret]${key}\n##vso[task.debug]broker key ${key}\n`).length, 1);
  });

  it("a proxy password the agent handed over, but not task-lib's own debug line of it that the agent masks", () => {
    const env = { SECRET_AGENT_PROXYPASSWORD: `proxy-${randomBytes(8).toString('hex')}`, VSTS_SECRET_VARIABLES: '["Agent.ProxyPassword"]' };
    assert.deepStrictEqual(scan(`##vso[task.debug]Agent.ProxyPassword=${env.SECRET_AGENT_PROXYPASSWORD}\n`, { env }), []);
    assert.strictEqual(
      scan(`##vso[task.issue type=warning;]proxy http://agent:${env.SECRET_AGENT_PROXYPASSWORD}@proxy:3128 refused\n`, { env }).length,
      1,
    );
  });

  it("the connection's secret from its authorization parameters", () => {
    const key = `sp~${randomBytes(16).toString('hex')}`;
    const env = {
      ENDPOINT_AUTH_prod: JSON.stringify({
        scheme: 'ServicePrincipal',
        parameters: {
          serviceprincipalid: '3aa69528-8f21-4afd-8da7-2a341b57d77a',
          serviceprincipalkey: key,
          tenantid: 'a06f2415-d9bc-437b-92d6-deb2b7a9ed80',
        },
      }),
    };
    assert.strictEqual(scan(`client secret ${key}\n`, { env }).length, 1);
    assert.deepStrictEqual(
      scan('client id 3aa69528-8f21-4afd-8da7-2a341b57d77a, tenant a06f2415-d9bc-437b-92d6-deb2b7a9ed80\n', { env }),
      [],
      'ids are not secrets',
    );
  });

  it('a public certificate is no leak; a line of the key next to it is', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const certPem = `-----BEGIN CERTIFICATE-----\n${randomBytes(600)
      .toString('base64')
      .match(/.{1,64}/g)!
      .join('\n')}\n-----END CERTIFICATE-----\n`;
    const connectionPem = certPem + keyPem;
    assert.deepStrictEqual(scan(`trusting:\n${certPem}`, { issued: [connectionPem] }), [], 'a certificate is public');
    assert.strictEqual(scan(`oops ${keyPem.split('\n')[5]}\n`, { issued: [connectionPem] }).length, 1);
  });

  it('a file left in the temp directory holding a token in base64 (a kubeconfig, say)', () => {
    const token = jwt();
    fs.writeFileSync(path.join(temp, 'kubeconfig'), `users:\n- user:\n    token-data: ${Buffer.from(token).toString('base64')}\n`);
    assert.deepStrictEqual(
      scan('', { issued: [token] }).map((f) => f.split(':')[0]),
      ['kubeconfig'],
    );
  });

  it('nothing in a clean run', () => {
    const token = jwt();
    assert.deepStrictEqual(
      scan(`##vso[task.setsecret]${token}\nSigned in to Azure:\n  Object id : 49746132-7c94-448e-aa6d-0a0bbcbcfc60\n`, { issued: [token] }),
      [],
    );
  });
});
