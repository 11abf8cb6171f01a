/**
 * The certificate a TLS server presents, read without trusting it (Incus's
 * GetRemoteCertificate), so that `remote add` can show or check its
 * fingerprint before pinning it.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { ConnectionError } from './errors';

/** A server certificate as `remote add` stores it. */
export interface RemoteCertificate {
  /** PEM text. */
  pem: string;
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
}

function pemOf(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Connects to `url` (`https://host:port`), takes the peer certificate and hangs up. */
export function fetchRemoteCertificate(url: string, timeoutMs = 10_000): Promise<RemoteCertificate> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 8443);
  const hostPort = `${u.hostname}:${port}`;
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port, rejectUnauthorized: false, servername: isIP(host) ? undefined : host });
    sock.setTimeout(timeoutMs, () => sock.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
    sock.once('secureConnect', () => {
      const raw = sock.getPeerCertificate(false)?.raw;
      sock.end();
      if (!raw || raw.length === 0) return reject(new Error(`Unable to read remote TLS certificate of ${hostPort}`));
      const { X509Certificate } = require('node:crypto') as typeof import('node:crypto');
      resolve({ pem: pemOf(raw), fingerprint: new X509Certificate(raw).fingerprint256.replace(/:/g, '').toLowerCase() });
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
      reject(new ConnectionError(`Unable to connect to: ${hostPort} ([dial tcp ${hostPort}: ${why}])`, err.code ?? '', url));
    });
  });
}
