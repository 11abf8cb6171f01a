/**
 * The CLI's TLS material in its config directory, laid out as Incus's:
 * `client.crt`/`client.key` (made on first need: ECDSA P-384, self-signed,
 * by the system's `openssl`, run asynchronously), optional per-remote
 * `clientcerts/<remote>.crt|.key`, and each remote's pinned server
 * certificate in `servercerts/<remote>.crt`.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A client certificate and key (PEM). */
export interface ClientKeypair {
  cert: string;
  key: string;
}

/** Where a remote's pinned server certificate lives. */
export function serverCertPath(dir: string, remote: string): string {
  return path.join(dir, 'servercerts', `${remote}.crt`);
}

/** The pinned server certificate of `remote`, or undefined when none was stored. */
export function readServerCert(dir: string, remote: string): string | undefined {
  try {
    return fs.readFileSync(serverCertPath(dir, remote), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Stores `pem` as the pinned certificate of `remote`. */
export function writeServerCert(dir: string, remote: string, pem: string): void {
  fs.mkdirSync(path.join(dir, 'servercerts'), { recursive: true, mode: 0o750 });
  fs.writeFileSync(serverCertPath(dir, remote), pem, { mode: 0o644 });
}

/** Forgets the pinned certificate of `remote` (remote remove). */
export function removeServerCert(dir: string, remote: string): void {
  fs.rmSync(serverCertPath(dir, remote), { force: true });
}

const exists = (p: string): boolean => fs.existsSync(p);

/** True when client.crt and client.key are both present. */
export function hasClientCertificate(dir: string): boolean {
  return exists(path.join(dir, 'client.crt')) && exists(path.join(dir, 'client.key'));
}

/** The keypair for `remote`: its own in clientcerts/ if present, else client.crt/key; null when there is none. */
export function readClientKeypair(dir: string, remote?: string): ClientKeypair | null {
  const own = remote ? path.join(dir, 'clientcerts', remote) : '';
  const base = own && exists(`${own}.crt`) && exists(`${own}.key`) ? own : path.join(dir, 'client');
  try {
    return { cert: fs.readFileSync(`${base}.crt`, 'utf8'), key: fs.readFileSync(`${base}.key`, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (err) => reject(new Error(`Failed to run openssl: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`Failed to generate the client certificate: ${stderr.trim()}`))));
  });
}

/**
 * Makes client.crt and client.key unless both exist (Incus's
 * GenerateClientCertificate): written under temporary names and renamed, so
 * an interrupted run never leaves half a pair.
 */
export async function generateClientCertificate(dir: string): Promise<void> {
  if (hasClientCertificate(dir)) return;
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  const user = os.userInfo().username;
  const keyTmp = path.join(dir, `.client.key.tmp${process.pid}`);
  const crtTmp = path.join(dir, `.client.crt.tmp${process.pid}`);
  try {
    await openssl([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-sha384', '-nodes',
      '-keyout', keyTmp, '-out', crtTmp, '-days', '3650',
      '-subj', `/O=Linux Containers/CN=${user}@${os.hostname()}`,
      '-addext', 'extendedKeyUsage=clientAuth',
    ]);
    fs.chmodSync(keyTmp, 0o600);
    fs.renameSync(keyTmp, path.join(dir, 'client.key'));
    fs.renameSync(crtTmp, path.join(dir, 'client.crt'));
  } finally {
    fs.rmSync(keyTmp, { force: true });
    fs.rmSync(crtTmp, { force: true });
  }
}

/** The client keypair, generated first when missing, with Incus's notice on stderr. */
export async function ensureClientKeypair(dir: string, notice: (text: string) => void): Promise<ClientKeypair> {
  if (!hasClientCertificate(dir)) {
    notice('Generating a client certificate. This may take a minute...\n');
    await generateClientCertificate(dir);
  }
  const pair = readClientKeypair(dir);
  if (!pair) throw new Error('Failed to get certificate: client.crt or client.key is missing');
  return pair;
}

/** Moves the pinned certificate along with a renamed remote. */
export function renameServerCert(dir: string, from: string, to: string): void {
  try {
    fs.renameSync(serverCertPath(dir, from), serverCertPath(dir, to));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
