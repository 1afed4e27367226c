/**
 * Minimal JWS (compact JWT) signing and verification with node:crypto only.
 *
 * Signs RS256 (and PS256 on request); verifies RS256, PS256 and ES256, which covers what the
 * sandbox issues and what MSAL sends (@azure/msal-node signs certificate assertions with
 * PS256 + `x5t#S256` when given a SHA-256 thumbprint, as @azure/identity does).
 */
import * as crypto from 'node:crypto';

export type JwtHeader = { alg?: string; typ?: string; kid?: string; x5t?: string; 'x5t#S256'?: string; x5c?: string[] } & Record<
  string,
  unknown
>;
export type JwtPayload = {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
} & Record<string, unknown>;

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtPayload;
  signature: Buffer;
  /** `base64url(header).base64url(payload)`: the bytes the signature covers. */
  signingInput: string;
}

export class JwtError extends Error {
  constructor(
    message: string,
    readonly reason: 'malformed' | 'algorithm' | 'signature',
  ) {
    super(message);
    this.name = 'JwtError';
  }
}

export type KeyInput = crypto.KeyObject | string | Buffer | crypto.X509Certificate;

export function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

export function signJwt(header: JwtHeader, payload: JwtPayload, privateKey: KeyInput): string {
  const fullHeader: JwtHeader = { typ: 'JWT', ...header, alg: header.alg ?? 'RS256' };
  const signingInput = `${base64url(JSON.stringify(fullHeader))}.${base64url(JSON.stringify(payload))}`;
  const key = toPrivateKey(privateKey);
  let signature: Buffer;
  switch (fullHeader.alg) {
    case 'RS256':
      signature = crypto.sign('sha256', Buffer.from(signingInput), key);
      break;
    case 'PS256':
      signature = crypto.sign('sha256', Buffer.from(signingInput), {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
      });
      break;
    case 'ES256':
      signature = crypto.sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
      break;
    default:
      throw new JwtError(`Unsupported JWT algorithm ${String(fullHeader.alg)}`, 'algorithm');
  }
  return `${signingInput}.${base64url(signature)}`;
}

export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p, i) => i < 2 && p.length === 0)) {
    throw new JwtError('JWT must have three dot-separated parts', 'malformed');
  }
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!isObject(header) || !isObject(payload)) throw new Error('not objects');
    return {
      header: header as JwtHeader,
      payload: payload as JwtPayload,
      signature: Buffer.from(parts[2], 'base64url'),
      signingInput: `${parts[0]}.${parts[1]}`,
    };
  } catch (err) {
    throw new JwtError(`JWT header or payload is not valid base64url JSON: ${(err as Error).message}`, 'malformed');
  }
}

/**
 * Verifies the signature (only the signature: the caller checks claims such as exp/aud/iss,
 * because each sandbox service reports those failures with its own error texts).
 */
export function verifyJwt(token: string, publicKey: KeyInput): DecodedJwt {
  const decoded = decodeJwt(token);
  const key = toPublicKey(publicKey);
  const data = Buffer.from(decoded.signingInput);
  let ok: boolean;
  switch (decoded.header.alg) {
    case 'RS256':
      ok = key.asymmetricKeyType === 'rsa' && crypto.verify('sha256', data, key, decoded.signature);
      break;
    case 'PS256':
      ok =
        key.asymmetricKeyType === 'rsa' &&
        crypto.verify(
          'sha256',
          data,
          {
            key,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO,
          },
          decoded.signature,
        );
      break;
    case 'ES256':
      ok = key.asymmetricKeyType === 'ec' && crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, decoded.signature);
      break;
    default:
      throw new JwtError(`Unsupported JWT algorithm ${String(decoded.header.alg)}`, 'algorithm');
  }
  if (!ok) throw new JwtError('JWT signature is invalid', 'signature');
  return decoded;
}

function toPrivateKey(key: KeyInput): crypto.KeyObject {
  if (key instanceof crypto.KeyObject) return key;
  if (key instanceof crypto.X509Certificate) throw new Error('A certificate cannot sign');
  return crypto.createPrivateKey(key);
}

function toPublicKey(key: KeyInput): crypto.KeyObject {
  if (key instanceof crypto.X509Certificate) return key.publicKey;
  if (key instanceof crypto.KeyObject) return key.type === 'private' ? crypto.createPublicKey(key) : key;
  const text = Buffer.isBuffer(key) ? key.toString('utf8') : key;
  if (text.includes('BEGIN CERTIFICATE')) return new crypto.X509Certificate(text).publicKey;
  return crypto.createPublicKey(key);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
