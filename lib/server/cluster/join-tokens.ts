/**
 * Cluster join tokens (`POST /1.0/cluster/members`): a `token`-class
 * operation whose metadata a joining server needs (the name it must take,
 * a secret, the cluster certificate's fingerprint, the database members'
 * addresses, the expiry), as Incus's clusterNodesPost. One pending token
 * per name: a new one for the same name cancels the old.
 */
import { randomBytes } from 'node:crypto';
import type { Operation } from '../../api/operation';
import { StatusCode } from '../../api/response';
import { sameSecret, startToken, tokenExpiry } from '../auth/tokens';
import { StatusError } from '../errors';
import type { OperationRegistry } from '../operations/registry';

/** Incus's operation description for a join token (operationtype.ClusterJoinToken). */
export const JOIN_TOKEN_DESCRIPTION = 'Cluster join token';
/** `cluster.join_token_expiry` when unset (Incus's default). */
export const DEFAULT_JOIN_TOKEN_EXPIRY = '3H';
/** Go's zero time.Time, what an unexpiring token's expiresAt holds. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function createJoinToken(ops: OperationRegistry, req: { serverName: string; fingerprint: string; addresses: string[]; expiry: string }): Operation {
  const expiresAt = tokenExpiry(req.expiry);
  for (const op of ops.list('default')) {
    if (op.class !== 'token' || op.status_code !== StatusCode.Running || op.description !== JOIN_TOKEN_DESCRIPTION) continue;
    if (op.metadata?.serverName === req.serverName) ops.cancel(op.id);
  }
  const metadata = {
    serverName: req.serverName,
    secret: randomBytes(32).toString('hex'),
    fingerprint: req.fingerprint,
    addresses: req.addresses,
    expiresAt: expiresAt ? expiresAt.toISOString() : ZERO_TIME,
  };
  return startToken(ops, JOIN_TOKEN_DESCRIPTION, metadata, expiresAt);
}

/**
 * Redeems a join token presented as a trust token (Incus's
 * clusterMemberJoinTokenValid): the running token for that name whose
 * secret matches is cancelled (tokens are single use); false when none.
 */
export function redeemJoinToken(ops: OperationRegistry, serverName: string, secret: string): boolean {
  const op = ops.list('default').find((o) => {
    if (o.class !== 'token' || o.status_code !== StatusCode.Running || o.description !== JOIN_TOKEN_DESCRIPTION) return false;
    const md = o.metadata ?? {};
    return md.serverName === serverName && typeof md.secret === 'string' && sameSecret(md.secret, secret);
  });
  if (!op) return false;
  ops.cancel(op.id);
  const expiresAt = String(op.metadata?.expiresAt ?? ZERO_TIME);
  if (expiresAt !== ZERO_TIME && Date.now() > Date.parse(expiresAt)) throw new StatusError(403, 'Token has expired');
  return true;
}
