/**
 * `incus remote get-client-token`: a JWT (ES384 for the usual ECDSA P-384
 * key, else RS256) whose subject is the client certificate's fingerprint,
 * signed with the client key, as Incus's CLI makes it.
 */
import { X509Certificate, createPrivateKey, sign } from 'node:crypto';
import type { ClientKeypair } from './client-cert';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a Go duration string (`90m`, `1h30m`, `24h`).
 * @throws Error with Go's wording for anything else.
 */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let total = 0;
  re.lastIndex = 0;
  while (re.lastIndex < s.length) {
    const m = re.exec(s);
    if (!m) {
      const rest = s.slice(re.lastIndex);
      if (/^[\d.]+$/.test(rest)) throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
      const unit = /^(?:\d+(?:\.\d*)?|\.\d+)([^\d.]+)/.exec(rest)?.[1];
      if (unit) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
      throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
    }
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  return sign * total;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** The signed token, valid from now for `validForMs`. */
export function clientJwt(pair: ClientKeypair, validForMs: number, now = Date.now()): string {
  const cert = new X509Certificate(pair.cert);
  const subject = cert.fingerprint256.replace(/:/g, '').toLowerCase();
  const key = createPrivateKey(pair.key);
  const ec = key.asymmetricKeyType === 'ec';
  const header = { alg: ec ? 'ES384' : 'RS256', typ: 'JWT' };
  const secs = Math.floor(now / 1000);
  const claims = { sub: subject, exp: Math.floor((now + validForMs) / 1000), nbf: secs, iat: secs };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = ec ? sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(sig)}`;
}
