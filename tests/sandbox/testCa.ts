/**
 * Test certificate authority for the local Azure sandbox.
 *
 * Keys come from node:crypto; certificates are DER-encoded with node-forge's ASN.1
 * module and signed with node:crypto, so any key type node supports can be used on
 * either side (forge's own X.509 writer only handles RSA keys).
 *
 * Key types:
 *   - the CA and TLS server certificates default to EC P-256 (generated in ~1 ms;
 *     RSA-2048 generation takes 100-500 ms on a small CI machine, and a sandbox start
 *     needs several keys). Pass `{ keyType: 'rsa' }` if an RSA CA is needed.
 *   - client certificates are always RSA-2048: MSAL signs client assertions with
 *     PS256/RS256, and jsonwebtoken refuses RSA keys below 2048 bits.
 *
 * Nothing here writes to disk. Keys are held in memory only.
 */
import * as crypto from 'node:crypto';
import * as forge from 'node-forge';
import { base64url } from './entra/jwt';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

export type KeyType = 'rsa' | 'ec';

export interface KeyPair {
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export interface IssuedCertificate {
  /** PEM of the certificate only. */
  certPem: string;
  /** PEM of the private key only (PKCS#8, "BEGIN PRIVATE KEY"). */
  keyPem: string;
  /** Certificate followed by private key, the way an Azure DevOps certificate connection stores it. */
  pem: string;
  /** base64url(SHA-1(DER)): the `x5t` JWT header value. */
  x5t: string;
  /** base64url(SHA-256(DER)): the `x5t#S256` JWT header value. */
  x5tS256: string;
  /** Upper-case hex SHA-1 of the DER, as the Azure portal shows a certificate thumbprint. */
  thumbprint: string;
  /** Upper-case hex SHA-256 of the DER. */
  thumbprintSha256: string;
  der: Buffer;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  notBefore: Date;
  notAfter: Date;
}

export interface TestCa {
  /** PEM of the CA certificate: what clients must trust. */
  readonly certPem: string;
  readonly certificate: IssuedCertificate;
  /** Issues a TLS server certificate with the given DNS names and IP addresses as SANs. */
  issueServerCertificate(names: string[], ips: string[], options?: { keyPair?: KeyPair }): IssuedCertificate;
  /** Issues an RSA-2048 client certificate (usable as an Entra application credential). */
  issueClientCertificate(commonName: string, options?: { keyPair?: KeyPair }): IssuedCertificate;
}

export interface CreateTestCaOptions {
  /** Key type of the CA key and of server certificates issued without an explicit key. Default 'ec'. */
  keyType?: KeyType;
  commonName?: string;
  /** Use this key pair for the CA instead of generating one. */
  keyPair?: KeyPair;
}

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KEY_USAGE = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

export function generateKeyPair(keyType: KeyType): KeyPair {
  if (keyType === 'ec') {
    return crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  }
  return crypto.generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
}

/** Asynchronous key generation (runs on the libuv thread pool, so several keys generate in parallel). */
export function generateKeyPairAsync(keyType: KeyType): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: crypto.KeyObject, privateKey: crypto.KeyObject): void => {
      if (err) reject(err);
      else resolve({ publicKey, privateKey });
    };
    if (keyType === 'ec') crypto.generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
    else crypto.generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, done);
  });
}

export function createTestCa(options: CreateTestCaOptions = {}): TestCa {
  const keyType = options.keyType ?? 'ec';
  const caKeys = options.keyPair ?? generateKeyPair(keyType);
  const caName: Name = [
    [OID.organizationName, 'Private AKS Deploy test sandbox'],
    [OID.commonName, options.commonName ?? `Sandbox Test Root CA ${crypto.randomBytes(4).toString('hex')}`],
  ];
  const caSki = subjectKeyIdentifier(caKeys.publicKey);
  const now = Date.now();
  const caCert = buildCertificate({
    issuer: caName,
    subject: caName,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + 2 * 24 * 60 * 60 * 1000),
    publicKey: caKeys.publicKey,
    signer: caKeys.privateKey,
    extensions: [
      extension(OID.basicConstraints, true, seq([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, '\xff')])),
      extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign, KEY_USAGE.digitalSignature])),
      extension(OID.subjectKeyIdentifier, false, octets(caSki)),
    ],
  });
  const certificate = describeCertificate(caCert, caKeys);

  const issueLeaf = (subject: Name, keys: KeyPair, extra: Asn1[]): IssuedCertificate => {
    const issuedAt = Date.now();
    const der = buildCertificate({
      issuer: caName,
      subject,
      notBefore: new Date(issuedAt - 60 * 60 * 1000),
      notAfter: new Date(issuedAt + 24 * 60 * 60 * 1000),
      publicKey: keys.publicKey,
      signer: caKeys.privateKey,
      extensions: [
        extension(OID.basicConstraints, true, seq([])),
        extension(OID.subjectKeyIdentifier, false, octets(subjectKeyIdentifier(keys.publicKey))),
        extension(OID.authorityKeyIdentifier, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, binary(caSki))])),
        ...extra,
      ],
    });
    return describeCertificate(der, keys);
  };

  return {
    certPem: certificate.certPem,
    certificate,
    issueServerCertificate(names, ips, opts = {}) {
      const keys = opts.keyPair ?? generateKeyPair(keyType);
      const altNames: Asn1[] = [
        ...names.map((n) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, n)),
        ...ips.map((ip) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, binary(ipToBytes(ip)))),
      ];
      const usage =
        keys.privateKey.asymmetricKeyType === 'rsa'
          ? [KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]
          : [KEY_USAGE.digitalSignature];
      return issueLeaf([[OID.commonName, names[0] ?? ips[0] ?? 'sandbox']], keys, [
        extension(OID.keyUsage, true, keyUsageBits(usage)),
        extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth)])),
        extension(OID.subjectAltName, false, seq(altNames)),
      ]);
    },
    issueClientCertificate(commonName, opts = {}) {
      const keys = opts.keyPair ?? generateKeyPair('rsa');
      if (keys.privateKey.asymmetricKeyType !== 'rsa') {
        throw new Error('Client certificates must use RSA keys (MSAL signs assertions with PS256/RS256).');
      }
      return issueLeaf([[OID.commonName, commonName]], keys, [
        extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment])),
        extension(OID.extKeyUsage, false, seq([oid(OID.clientAuth)])),
      ]);
    },
  };
}

/** Issues a self-signed certificate for a signing key (how Entra publishes its token signing keys in x5c). */
export function selfSignedCertificate(commonName: string, keys: KeyPair): IssuedCertificate {
  const name: Name = [[OID.commonName, commonName]];
  const now = Date.now();
  const der = buildCertificate({
    issuer: name,
    subject: name,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + 2 * 24 * 60 * 60 * 1000),
    publicKey: keys.publicKey,
    signer: keys.privateKey,
    extensions: [extension(OID.basicConstraints, true, seq([]))],
  });
  return describeCertificate(der, keys);
}

/** SHA-1 / SHA-256 thumbprints of a DER (or PEM) certificate, in the encodings JWT headers and portals use. */
export function certificateThumbprints(cert: Buffer | string): {
  x5t: string;
  x5tS256: string;
  thumbprint: string;
  thumbprintSha256: string;
} {
  const der = typeof cert === 'string' ? pemToDer(cert) : cert;
  const sha1 = crypto.createHash('sha1').update(der).digest();
  const sha256 = crypto.createHash('sha256').update(der).digest();
  return {
    x5t: base64url(sha1),
    x5tS256: base64url(sha256),
    thumbprint: sha1.toString('hex').toUpperCase(),
    thumbprintSha256: sha256.toString('hex').toUpperCase(),
  };
}

export function pemToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new Error('No PEM certificate found');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

export function derToPem(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// ASN.1 helpers

type Name = Array<[string, string]>;

interface CertificateSpec {
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  publicKey: crypto.KeyObject;
  signer: crypto.KeyObject;
  extensions: Asn1[];
}

function describeCertificate(der: Buffer, keys: KeyPair): IssuedCertificate {
  const certPem = derToPem(der);
  const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const x509 = new crypto.X509Certificate(der);
  return {
    certPem,
    keyPem,
    pem: certPem + keyPem,
    ...certificateThumbprints(der),
    der,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

function buildCertificate(spec: CertificateSpec): Buffer {
  const signatureAlgorithm = signatureAlgorithmFor(spec.signer);
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f; // positive INTEGER
  if (serial[0] === 0) serial[0] = 0x01; // minimal encoding
  const spki = asn1.fromDer(binary(spec.publicKey.export({ type: 'spki', format: 'der' })));
  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, binary(serial)),
    signatureAlgorithm.asn1,
    nameToAsn1(spec.issuer),
    seq([time(spec.notBefore), time(spec.notAfter)]),
    nameToAsn1(spec.subject),
    spki,
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(spec.extensions)]),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = crypto.sign('sha256', tbsDer, spec.signer);
  const cert = seq([
    tbs,
    signatureAlgorithm.asn1,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + binary(signature)),
  ]);
  return Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
}

function signatureAlgorithmFor(key: crypto.KeyObject): { asn1: Asn1 } {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { asn1: seq([oid(OID.sha256WithRSAEncryption), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]) };
    case 'ec':
      return { asn1: seq([oid(OID.ecdsaWithSHA256)]) };
    default:
      throw new Error(`Unsupported signing key type ${key.asymmetricKeyType}`);
  }
}

function nameToAsn1(name: Name): Asn1 {
  return seq(
    name.map(([type, value]) =>
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
        seq([oid(type), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(value))]),
      ]),
    ),
  );
}

function time(date: Date): Asn1 {
  return date.getUTCFullYear() >= 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date));
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts: Asn1[] = [oid(id)];
  if (critical) parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, '\xff'));
  parts.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(value).getBytes()));
  return seq(parts);
}

function keyUsageBits(bits: number[]): Asn1 {
  let value = 0;
  for (const bit of bits) value |= 0x80 >> bit; // bit 0 is the most significant bit of the first byte
  let unused = 0;
  while (unused < 7 && (value & (1 << unused)) === 0) unused++;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(unused, value));
}

function subjectKeyIdentifier(publicKey: crypto.KeyObject): Buffer {
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
  const spki = asn1.fromDer(binary(publicKey.export({ type: 'spki', format: 'der' })));
  const bitString = (spki.value as Asn1[])[1].value as string;
  return crypto
    .createHash('sha1')
    .update(Buffer.from(bitString.slice(1), 'binary'))
    .digest();
}

function seq(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

function oid(value: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

function octets(value: Buffer): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, binary(value));
}

function binary(value: Buffer): string {
  return value.toString('binary');
}

function ipToBytes(ip: string): Buffer {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return Buffer.from(ip.split('.').map((p) => Number(p)));
  if (ip === '::1') {
    const b = Buffer.alloc(16);
    b[15] = 1;
    return b;
  }
  throw new Error(`Unsupported IP address for a SAN: ${ip}`);
}
