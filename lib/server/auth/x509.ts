/** Certificate parsing, fingerprints and Incus's validity checks (node:crypto X509Certificate). */
import { X509Certificate } from 'node:crypto';
import { badRequest } from '../errors';

/** SHA-256 of the DER, lower-case hex without colons, as Incus's CertFingerprint. */
export function fingerprintOf(cert: X509Certificate | Buffer): string {
  const c = Buffer.isBuffer(cert) ? new X509Certificate(cert) : cert;
  return c.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** PEM text for a certificate. */
export function pemOf(cert: X509Certificate): string {
  return cert.toString().trimEnd() + '\n';
}

/**
 * Parses PEM, or base64 DER when the text is not PEM (as Incus accepts both).
 * @throws StatusError 400 "Invalid certificate material: ..." on anything else.
 */
export function parseCertificate(text: string): X509Certificate {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text);
  let der: Buffer;
  if (pem) der = Buffer.from(pem[0].replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  else {
    const b64 = text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw badRequest('illegal base64 data at input byte 0');
    der = Buffer.from(b64, 'base64');
  }
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw badRequest(`Invalid certificate material: ${(err as Error).message}`);
  }
}

/** Incus's certificateValidate: in its validity window, RSA keys of 2048 bits or more. */
export function validateCertificate(cert: X509Certificate, now = Date.now()): void {
  if (now < Date.parse(cert.validFrom)) throw badRequest("The provided certificate isn't valid yet");
  if (now > Date.parse(cert.validTo)) throw badRequest('The provided certificate is expired');
  const key = cert.publicKey;
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw badRequest('RSA key is too weak (minimum of 2048bit)');
  }
}

/** The subject's CN, or "" (a fallback name for a certificate added without one). */
export function commonNameOf(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
}
