/**
 * The trust store (`/1.0/certificates`): list, read, add (certificate or
 * token), update, remove; and the pending certificate add tokens, which are
 * `token` operations in the default project. None of these are in a
 * project, so the client's `?project=` is not sent.
 */
import type { Certificate, CertificateAddToken, CertificatePut, CertificatesPost } from '../api/certificate';
import { ZERO_TIME } from '../api/certificate';
import type { Operation as OperationData } from '../api/operation';
import { StatusCode } from '../api/response';
import { IncusClient, type CallOptions, type WithEtag, type WriteOptions } from './client';

const certPath = (fp: string): string => `/1.0/certificates/${encodeURIComponent(fp)}`;

/** The same connection without a default project. */
function unscoped(client: IncusClient): IncusClient {
  return client.project === undefined ? client : new IncusClient({ transport: client.transport });
}

/** GET /1.0/certificates?recursion=1. */
export async function getCertificates(client: IncusClient, opts: CallOptions = {}): Promise<Certificate[]> {
  const env = await unscoped(client).request('GET', '/1.0/certificates', { signal: opts.signal, query: { recursion: 1 } });
  if (env.type !== 'sync') throw new Error('Expected a sync response from GET /1.0/certificates');
  return (env.metadata as Certificate[] | null) ?? [];
}

/** One certificate (by fingerprint or unique prefix) with its ETag. */
export async function getCertificate(client: IncusClient, fingerprint: string, opts: CallOptions = {}): Promise<WithEtag<Certificate>> {
  const env = await unscoped(client).request('GET', certPath(fingerprint), { signal: opts.signal });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${certPath(fingerprint)}`);
  return { value: env.metadata as Certificate, etag: env.etag };
}

/** POST /1.0/certificates: adds a certificate, or (untrusted, with `trust_token`) the caller's own. */
export async function createCertificate(client: IncusClient, post: CertificatesPost, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('POST', '/1.0/certificates', { signal: opts.signal, body: post });
}

/** POST /1.0/certificates {token: true}: the token operation. */
export async function createCertificateToken(client: IncusClient, post: CertificatesPost, opts: CallOptions = {}): Promise<OperationData> {
  const env = await unscoped(client).request('POST', '/1.0/certificates', { signal: opts.signal, body: { ...post, token: true } });
  if (env.type !== 'async') throw new Error('Expected an operation from POST /1.0/certificates');
  return env.operation;
}

export async function updateCertificate(client: IncusClient, fingerprint: string, put: CertificatePut, opts: WriteOptions = {}): Promise<void> {
  await unscoped(client).request('PUT', certPath(fingerprint), { signal: opts.signal, etag: opts.etag, body: put });
}

export async function deleteCertificate(client: IncusClient, fingerprint: string, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('DELETE', certPath(fingerprint), { signal: opts.signal });
}

/**
 * The token a token operation stands for (Incus's ToCertificateAddToken),
 * or null when the operation is not a certificate add token.
 */
export function tokenOfOperation(op: OperationData): CertificateAddToken | null {
  const md = (op.metadata ?? {}) as Record<string, unknown>;
  const request = md.request as { name?: unknown } | undefined;
  if (typeof md.secret !== 'string' || typeof md.fingerprint !== 'string' || !Array.isArray(md.addresses)) return null;
  if (!request || typeof request.name !== 'string') return null;
  return {
    client_name: request.name,
    fingerprint: md.fingerprint,
    addresses: md.addresses.map(String),
    secret: md.secret,
    expires_at: typeof md.expiresAt === 'string' ? md.expiresAt : ZERO_TIME,
  };
}

/** Pending certificate add tokens: running `token` operations of the default project. */
export async function getCertificateTokens(client: IncusClient, opts: CallOptions = {}): Promise<{ op: OperationData; token: CertificateAddToken }[]> {
  const ops = await client.getOperations({ project: 'default', signal: opts.signal });
  const out: { op: OperationData; token: CertificateAddToken }[] = [];
  for (const op of ops) {
    if (op.class !== 'token' || op.status_code !== StatusCode.Running) continue;
    const token = tokenOfOperation(op);
    if (token) out.push({ op, token });
  }
  return out;
}

/** DELETE /1.0/operations/{id}. */
export async function deleteOperation(client: IncusClient, id: string, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('DELETE', `/1.0/operations/${encodeURIComponent(id)}`, { signal: opts.signal });
}
