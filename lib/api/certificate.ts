/** Trust store wire types (`/1.0/certificates`) and the certificate add token, as Incus spells them. */

/** Certificate types a client may be trusted as. */
export type CertificateType = 'client' | 'metrics';

/** Writable fields of a trusted certificate. */
export interface CertificatePut {
  name: string;
  type: string;
  restricted: boolean;
  projects: string[];
  /** PEM. */
  certificate: string;
  description: string;
}

/** A trusted certificate. */
export interface Certificate extends CertificatePut {
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
}

/** `POST /1.0/certificates`. */
export interface CertificatesPost extends Partial<CertificatePut> {
  /** Redeems a token (untrusted callers). */
  trust_token?: string;
  /** Asks for a token instead of adding a certificate. */
  token?: boolean;
}

/**
 * What `incus config trust add` prints: base64 of this JSON. `expires_at`
 * is Go's zero time when the token does not expire.
 */
export interface CertificateAddToken {
  client_name: string;
  fingerprint: string;
  addresses: string[];
  secret: string;
  expires_at: string;
}

/** Go's zero `time.Time` as JSON. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The token string for a token's fields. */
export function encodeCertificateToken(t: CertificateAddToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64');
}

/**
 * Decodes a token string, with Incus's checks (CertificateTokenDecode).
 * @throws Error when it is not base64 JSON or lacks a field.
 */
export function decodeCertificateToken(input: string): CertificateAddToken {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input) || input.length % 4 !== 0) throw new Error('illegal base64 data');
  const j = JSON.parse(Buffer.from(input, 'base64').toString('utf8')) as Partial<CertificateAddToken> | null;
  if (j === null || typeof j !== 'object') throw new Error('Invalid certificate add token');
  if (!j.client_name || typeof j.client_name !== 'string') throw new Error('No client name in certificate add token');
  if (!Array.isArray(j.addresses) || j.addresses.length < 1) throw new Error('No server addresses in certificate add token');
  if (!j.secret || typeof j.secret !== 'string') throw new Error('No secret in certificate add token');
  if (!j.fingerprint || typeof j.fingerprint !== 'string') throw new Error('No certificate fingerprint in certificate add token');
  return { client_name: j.client_name, fingerprint: j.fingerprint, addresses: j.addresses.map(String), secret: j.secret, expires_at: String(j.expires_at ?? ZERO_TIME) };
}
