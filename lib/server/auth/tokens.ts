/**
 * Certificate add tokens: a `token`-class operation in the default project
 * whose metadata holds a random secret, the server fingerprint, its
 * addresses and the request to apply; it runs until redeemed (one use) or
 * cancelled (`DELETE /1.0/operations/{id}`), as in Incus.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CertificatesPost } from '../../api/certificate';
import type { Operation } from '../../api/operation';
import { StatusCode } from '../../api/response';
import { StatusError } from '../errors';
import { expiryFrom } from '../instance/snapshot-names';
import type { OperationRegistry } from '../operations/registry';

/** The request a token carries (what the redeemer may not override). */
export interface TokenRequest {
  name: string;
  type: string;
  restricted: boolean;
  projects: string[];
}

/** Incus's token operation description. */
const DESCRIPTION = 'Certificate add token';

export function createToken(
  ops: OperationRegistry,
  req: CertificatesPost,
  server: { fingerprint: string; addresses: string[]; expiry: string },
): Operation {
  // Incus keeps the whole CertificatesPost; `incus config trust list-tokens` reads its name.
  const request: TokenRequest & CertificatesPost = {
    name: req.name ?? '',
    type: req.type ?? 'client',
    restricted: req.restricted === true,
    projects: req.projects ?? [],
    certificate: '',
    description: req.description ?? '',
    trust_token: '',
    token: true,
  };
  const metadata: Record<string, unknown> = {
    secret: randomBytes(32).toString('hex'),
    fingerprint: server.fingerprint,
    addresses: server.addresses,
    request,
  };
  let expiresAt: Date | null;
  try {
    expiresAt = expiryFrom(new Date(), server.expiry);
  } catch (err) {
    throw new StatusError(500, (err as Error).message);
  }
  if (expiresAt) metadata.expiresAt = expiresAt.toISOString();
  return ops.start({
    class: 'token',
    description: DESCRIPTION,
    project: 'default',
    cancellable: true,
    metadata,
    // Pending until used or revoked: both cancel it.
    run: ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Finds the pending token with this secret and uses it up (cancels it),
 * as Incus's certificateTokenValid.
 * @returns its request, or null when no pending token matches.
 * @throws StatusError 403 "Token has expired" (the token is used up all the same).
 */
export function redeemToken(ops: OperationRegistry, secret: string): TokenRequest | null {
  const op = ops
    .list('default')
    .find((o) => o.class === 'token' && o.status_code === StatusCode.Running && typeof o.metadata?.secret === 'string' && sameSecret(o.metadata.secret, secret));
  if (!op) return null;
  ops.cancel(op.id);
  const md = op.metadata as { expiresAt?: string; request?: Partial<TokenRequest> };
  if (md.expiresAt && Date.now() > Date.parse(md.expiresAt)) throw new StatusError(403, 'Token has expired');
  const r = md.request ?? {};
  return { name: r.name ?? '', type: r.type ?? 'client', restricted: r.restricted === true, projects: r.projects ?? [] };
}
