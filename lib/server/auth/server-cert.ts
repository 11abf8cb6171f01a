/**
 * The server keypair ($INCUS_DIR/server.crt, server.key): ECDSA P-384 and
 * self-signed, like Incus's, made once on first start by the system's
 * `openssl` (node has no certificate builder), run asynchronously.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { run } from '../images/run';
import { fingerprintOf, pemOf } from './x509';

/** The server's certificate and key as the TLS listener and `GET /1.0` need them. */
export interface ServerKeypair {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, lower-case hex. */
  fingerprint: string;
}

async function readPair(dir: string): Promise<ServerKeypair | null> {
  try {
    const [cert, key] = await Promise.all([readFile(join(dir, 'server.crt'), 'utf8'), readFile(join(dir, 'server.key'), 'utf8')]);
    const x = new X509Certificate(cert);
    return { certPem: pemOf(x), keyPem: key, fingerprint: fingerprintOf(x) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Loads the keypair, generating it first when server.crt or server.key is missing. */
export async function ensureServerKeypair(dir: string): Promise<ServerKeypair> {
  const have = await readPair(dir);
  if (have) return have;
  const host = hostname();
  // Written under temporary names and renamed, so a crash never leaves half a pair.
  const crtTmp = join(dir, '.server.crt.tmp');
  const keyTmp = join(dir, '.server.key.tmp');
  try {
    // Created 0600 first: openssl truncates and keeps the mode, so the key is never readable by others.
    await unlink(keyTmp).catch(() => undefined);
    await writeFile(keyTmp, '', { mode: 0o600, flag: 'wx' });
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-sha384', '-nodes',
      '-keyout', keyTmp, '-out', crtTmp, '-days', '3650',
      '-subj', `/O=Linux Containers/CN=root@${host}`,
      '-addext', `subjectAltName=DNS:${host},IP:127.0.0.1,IP:::1`,
      '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    ]);
    await chmod(keyTmp, 0o600);
    await rename(keyTmp, join(dir, 'server.key'));
    await rename(crtTmp, join(dir, 'server.crt'));
  } finally {
    await unlink(keyTmp).catch(() => undefined);
    await unlink(crtTmp).catch(() => undefined);
  }
  const made = await readPair(dir);
  if (!made) throw new Error('Failed to create the server certificate');
  return made;
}
