// A self-signed CA and a serving certificate for the admission webhook, without dependencies:
// a minimal DER encoder for X.509 v3 (RFC 5280) with ECDSA P-256 keys, signed with crypto.sign.
// Node can verify certificates (crypto.X509Certificate) but not create them.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

// ---- DER ----

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bitString = (b: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian bytes (minimal encoding). */
function integer(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && bytes[i + 1]! < 0x80) i++;
  let b = bytes.subarray(i);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

function name(commonName: string): Buffer {
  return seq(
    set(seq(oid(OID.organization), utf8('sidewall'))),
    set(seq(oid(OID.commonName), utf8(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

// ---- certificates ----

export interface CertificateOptions {
  commonName: string;
  /** Validity in days from now (starts one hour in the past, for clock skew). */
  days: number;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

interface Issuer {
  commonName: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function issue(
  subject: CertificateOptions,
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  issuer: Issuer,
  extensions: Buffer[],
  now: Date,
): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, 16 bytes, never a leading zero
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + subject.days * 86400_000);
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    name(issuer.commonName),
    seq(time(notBefore), time(notAfter)),
    name(subject.commonName),
    keys.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer.privateKey); // ECDSA: DER-encoded (r, s)
  return seq(tbs, algorithm, bitString(signature));
}

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** A self-signed CA certificate (basicConstraints CA, pathLen 0; keyCertSign + cRLSign). */
export function createCertificateAuthority(options: CertificateOptions, now = new Date()): IssuedCertificate {
  const keys = keyPair();
  const ski = keyId(keys.publicKey);
  const der = issue(
    options,
    keys,
    { commonName: options.commonName, ...keys },
    [
      extension(OID.basicConstraints, true, seq(bool(true), integer(Buffer.from([0])))),
      extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)), // keyCertSign(5), cRLSign(6)
      extension(OID.subjectKeyIdentifier, false, octets(ski)),
    ],
    now,
  );
  return { certPem: toPem('CERTIFICATE', der), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, ...keys };
}

/** A TLS server certificate for `dnsNames`, issued by `ca`. */
export function createServingCertificate(
  ca: IssuedCertificate & { commonName?: string },
  options: CertificateOptions & { dnsNames: string[]; caCommonName: string },
  now = new Date(),
): IssuedCertificate {
  if (options.dnsNames.length === 0) throw new Error('a serving certificate needs at least one DNS name');
  const keys = keyPair();
  const san = seq(...options.dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii')))); // [2] dNSName
  const der = issue(
    options,
    keys,
    { commonName: options.caCommonName, privateKey: ca.privateKey, publicKey: ca.publicKey },
    [
      extension(OID.basicConstraints, true, seq()),
      extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)), // digitalSignature(0)
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, san),
      extension(OID.subjectKeyIdentifier, false, octets(keyId(keys.publicKey))),
      extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyId(ca.publicKey)))), // [0] keyIdentifier
    ],
    now,
  );
  return { certPem: toPem('CERTIFICATE', der), keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, ...keys };
}
