/**
 * Certificate add tokens: a `token`-class operation in the default project
 * whose metadata holds a random secret, the server fingerprint, its
 * addresses and the request to apply; it runs until redeemed (one use),
 * cancelled (`DELETE /1.0/operations/{id}`) or expired
 * (`core.remote_token_expiry`: cancelled at its `expiresAt`, which Incus's
 * expired-token task does within a minute), as in Incus.
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
  const expiresAt = tokenExpiry(server.expiry);
  if (expiresAt) metadata.expiresAt = expiresAt.toISOString();
  return startToken(ops, DESCRIPTION, metadata, expiresAt);
}

/** When a token made now expires under an expiry expression (null: never); a bad expression is the server's error. */
export function tokenExpiry(expiry: string): Date | null {
  try {
    return expiryFrom(new Date(), expiry);
  } catch (err) {
    throw new StatusError(500, (err as Error).message);
  }
}

/**
 * Starts a `token`-class operation in the default project: pending until
 * used, revoked (DELETE) or expired at `expiresAt`, all three cancelling it.
 */
export function startToken(ops: OperationRegistry, description: string, metadata: Record<string, unknown>, expiresAt: Date | null): Operation {
  return ops.start({
    class: 'token',
    description,
    project: 'default',
    cancellable: true,
    metadata,
    run: ({ id, signal }) =>
      new Promise<void>((resolve) => {
        let stop: (() => void) | undefined;
        signal.addEventListener('abort', () => {
          stop?.();
          resolve();
        }, { once: true });
        if (expiresAt) stop = atTime(expiresAt.getTime(), () => expire(ops, id));
      }),
  });
}

/** Cancels a token at its expiry (never throws: it runs from a timer). */
function expire(ops: OperationRegistry, id: string): void {
  try {
    ops.cancel(id);
  } catch {
    // Already used or revoked a moment before.
  }
}

/** Longest delay setTimeout takes (about 24.8 days); later times are reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Runs `fn` once the wall clock reaches `at` (an unref'd timer, re-armed
 * until then: timers may fire early by the loop's clock, and cap their
 * delay). Returns a function that cancels it.
 */
function atTime(at: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = at - Date.now();
    if (left <= 0) {
      fn();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_DELAY_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether a finished token operation was cancelled at (or after) its expiry, rather than used before it. */
function expiredUnused(op: Operation): boolean {
  const at = op.metadata?.expiresAt;
  return op.status_code === StatusCode.Cancelled && typeof at === 'string' && Date.parse(op.updated_at) >= Date.parse(at);
}

/**
 * Finds the pending token with this secret and uses it up (cancels it),
 * as Incus's certificateTokenValid.
 * @returns its request, or null when no pending token matches.
 * @throws StatusError 403 "Token has expired" (the token is used up all the same,
 *   or was already cancelled at its expiry and is still listed for a moment).
 */
export function redeemToken(ops: OperationRegistry, secret: string): TokenRequest | null {
  const matching = ops
    .list('default')
    // Only certificate add tokens: a cluster join token's secret is no trust token.
    .filter((o) => o.class === 'token' && o.description === DESCRIPTION && typeof o.metadata?.secret === 'string' && sameSecret(o.metadata.secret, secret));
  const op = matching.find((o) => o.status_code === StatusCode.Running);
  if (!op) {
    if (matching.some(expiredUnused)) throw new StatusError(403, 'Token has expired');
    return null;
  }
  ops.cancel(op.id);
  const md = op.metadata as { expiresAt?: string; request?: Partial<TokenRequest> };
  if (md.expiresAt && Date.now() > Date.parse(md.expiresAt)) throw new StatusError(403, 'Token has expired');
  const r = md.request ?? {};
  return { name: r.name ?? '', type: r.type ?? 'client', restricted: r.restricted === true, projects: r.projects ?? [] };
}
