/**
 * The Verity=signature partition's content, as systemd-repart writes it: a compact JSON object
 * {"rootHash","certificateFingerprint","signature"} padded with NULs to the partition, where the
 * signature is OpenSSL's PKCS7_sign(cert, key, NULL, roothash-hex,
 * PKCS7_DETACHED|PKCS7_NOATTR|PKCS7_BINARY) in DER, base64. Without signed attributes the
 * signature covers the content itself, so RSA (PKCS#1 v1.5) signatures are byte-identical to
 * OpenSSL's; ECDSA ones verify the same but are randomised by nature.
 */
import { createHash, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { RepartError } from '../errors.js';

// ---- DER: just what a PKCS#7 SignedData needs ----

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag: number, ...body: Uint8Array[]): Uint8Array {
  const len = body.reduce((a, b) => a + b.length, 0);
  const l = derLength(len);
  const out = new Uint8Array(1 + l.length + len);
  out[0] = tag;
  out.set(l, 1);
  let at = 1 + l.length;
  for (const b of body) { out.set(b, at); at += b.length; }
  return out;
}

const seq = (...b: Uint8Array[]) => tlv(0x30, ...b);
const set = (...b: Uint8Array[]) => tlv(0x31, ...b);
const ctx0 = (...b: Uint8Array[]) => tlv(0xa0, ...b);
const NULL = Uint8Array.of(0x05, 0x00);
const int = (v: number) => tlv(0x02, Uint8Array.of(v));
const octets = (b: Uint8Array) => tlv(0x04, b);

function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const groups = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(out));
}

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
};

/** One element at `at`: its whole encoding and where its contents start and end. */
export function readTlv(b: Uint8Array, at: number): { tag: number; start: number; end: number; whole: Uint8Array } {
  if (at + 2 > b.length) throw new RangeError('truncated DER');
  const tag = b[at]!;
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > b.length) throw new RangeError('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > b.length) throw new RangeError('truncated DER');
  return { tag, start, end, whole: b.subarray(at, end) };
}

/** The issuer Name and serial number of a certificate, as encoded in it (issuerAndSerialNumber). */
export function issuerAndSerial(certDer: Uint8Array): { issuer: Uint8Array; serial: Uint8Array } {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.start);
  let at = tbs.start;
  let el = readTlv(certDer, at);
  if (el.tag === 0xa0) { at = el.end; el = readTlv(certDer, at); } // [0] version
  const serial = el;
  const algorithm = readTlv(certDer, serial.end);
  const issuer = readTlv(certDer, algorithm.end);
  if (serial.tag !== 0x02 || algorithm.tag !== 0x30 || issuer.tag !== 0x30) throw new RangeError('not an X.509 certificate');
  return { issuer: issuer.whole, serial: serial.whole };
}

/** PKCS7_sign(..., PKCS7_DETACHED | PKCS7_NOATTR | PKCS7_BINARY) with sha256. */
export function pkcs7DetachedSign(content: Uint8Array, certDer: Uint8Array, key: KeyObject): Uint8Array {
  let signatureAlgorithm: Uint8Array;
  if (key.asymmetricKeyType === 'rsa') signatureAlgorithm = seq(oid(OID.rsaEncryption), NULL);
  else if (key.asymmetricKeyType === 'ec') signatureAlgorithm = seq(oid(OID.ecdsaWithSha256));
  else throw new RepartError('E_VERITY', `verity signatures need an RSA or EC private key, not ${key.asymmetricKeyType ?? 'this key'}`);
  const digestAlgorithm = seq(oid(OID.sha256), NULL);
  const { issuer, serial } = issuerAndSerial(certDer);
  const signature = sign('sha256', content, key);
  const signerInfo = seq(int(1), seq(issuer, serial), digestAlgorithm, signatureAlgorithm, octets(signature));
  const signedData = seq(int(1), set(digestAlgorithm), seq(oid(OID.data)), ctx0(certDer), set(signerInfo));
  return seq(oid(OID.signedData), ctx0(signedData));
}

/** The SignerInfo parts of a DER PKCS#7 SignedData (the first signer). */
function firstSigner(p7: Uint8Array): { signedAttrs?: Uint8Array; signature: Uint8Array } {
  const ci = readTlv(p7, 0);
  const oidEl = readTlv(p7, ci.start);
  const explicit = readTlv(p7, oidEl.end);
  const sd = readTlv(p7, explicit.start);
  let at = sd.start;
  let signerInfos: ReturnType<typeof readTlv> | undefined;
  while (at < sd.end) {
    const el = readTlv(p7, at);
    if (el.tag === 0x31 && at !== sd.start) signerInfos = el; // the last SET is signerInfos
    at = el.end;
  }
  if (!signerInfos || signerInfos.start === signerInfos.end) throw new RangeError('no signer in the PKCS#7 signature');
  const si = readTlv(p7, signerInfos.start);
  const parts: ReturnType<typeof readTlv>[] = [];
  for (let q = si.start; q < si.end;) { const el = readTlv(p7, q); parts.push(el); q = el.end; }
  // version, issuerAndSerialNumber, digestAlgorithm, [0] signed attributes?, signatureAlgorithm, signature
  const attrs = parts.find((e) => e.tag === 0xa0);
  const signature = parts[parts.length - 1]!;
  if (signature.tag !== 0x04) throw new RangeError('malformed SignerInfo');
  let signedAttrs: Uint8Array | undefined;
  if (attrs) { signedAttrs = Uint8Array.from(attrs.whole); signedAttrs[0] = 0x31; } // signed as a SET
  return { signedAttrs, signature: p7.subarray(signature.start, signature.end) };
}

/**
 * Whether a detached PKCS#7 signature (sha256; with or without signed attributes) over `content`
 * was made by the certificate's key.
 */
export function verifyPkcs7Detached(p7: Uint8Array, content: Uint8Array, certificate: X509Certificate): boolean {
  let signer;
  try { signer = firstSigner(p7); } catch { return false; }
  const key = certificate.publicKey;
  if (!signer.signedAttrs) return verify('sha256', content, key, signer.signature);
  // with signed attributes the signature covers them, and their messageDigest the content
  const digest = createHash('sha256').update(content).digest();
  return Buffer.from(signer.signedAttrs).includes(Buffer.concat([Buffer.of(0x04, digest.length), digest])) && verify('sha256', signer.signedAttrs, key, signer.signature);
}

/** The signature partition's text for a signature made elsewhere (--join-signature=). */
export function joinedSignatureJson(rootHashHex: string, p7: Uint8Array, certificate?: X509Certificate): string {
  return JSON.stringify({
    rootHash: rootHashHex,
    ...(certificate ? { certificateFingerprint: createHash('sha256').update(new Uint8Array(certificate.raw)).digest('hex') } : {}),
    signature: Buffer.from(p7).toString('base64'),
  });
}

export interface VeritySigner {
  certificate: X509Certificate;
  key: KeyObject;
}

/** The text repart writes into the signature partition (before the NUL padding). */
export function veritySignatureJson(rootHashHex: string, signer: VeritySigner): string {
  const der = new Uint8Array(signer.certificate.raw);
  const sig = pkcs7DetachedSign(Buffer.from(rootHashHex, 'ascii'), der, signer.key);
  return JSON.stringify({
    rootHash: rootHashHex,
    certificateFingerprint: createHash('sha256').update(der).digest('hex'),
    signature: Buffer.from(sig).toString('base64'),
  });
}
